package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The main job on the embedded default: the capture is replayed through
// the appliance and the dashboard answers on localhost, secure by default.
func TestDemoServesTheDashboard(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "demo.pcap")
	require.NoError(t, os.WriteFile(path, demoCapture, 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type readyInfo struct {
		addr  net.Addr
		token string
	}
	ready := make(chan readyInfo, 1)
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, dir, path, "127.0.0.1:0", &logs, func(a net.Addr, tok string) { ready <- readyInfo{a, tok} })
	}()
	var info readyInfo
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("demo stopped: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not come up")
	}
	assert.NotEmpty(t, info.token, "first start asks for a setup token, never a default password")
	assert.Contains(t, logs.String(), "replayed the embedded capture: 1237 packets")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	base := "https://" + info.addr.String()
	resp, err := client.Get(base + "/api/inventory")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, err = client.Get(base + "/")
	require.NoError(t, err)
	var page bytes.Buffer
	page.ReadFrom(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, strings.ToLower(page.String()), "otwatch")
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not stop")
	}
}

func TestDemoRecords(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	var errb bytes.Buffer
	go func() {
		cmdDemo([]string{"--records"}, w, &errb)
		w.Close()
	}()
	var out bytes.Buffer
	out.ReadFrom(r)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Greater(t, len(lines), 400)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	assert.Equal(t, "modbus", rec["proto"])
}
