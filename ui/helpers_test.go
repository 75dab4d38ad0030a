package ui_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/ui"
	"github.com/otwatch/otwatch/ui/fake"
	"golang.org/x/crypto/bcrypt"
)

const testPassword = "correct horse battery staple"

// testCaptures are the open-licence captures in testdata (see PROVENANCE.md).
func testCaptures(t testing.TB) []string {
	files, err := filepath.Glob("testdata/*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in testdata: %v", err)
	}
	sort.Strings(files)
	return files
}

func replayed(t testing.TB) *fake.Backend {
	b := fake.New()
	if err := b.Replay(0.5, testCaptures(t)...); err != nil {
		t.Fatal(err)
	}
	return b
}

func newServer(t testing.TB, b ui.Backend, dir string) *ui.Server {
	srv, err := ui.New(ui.Config{StateDir: dir, Version: "test", Policy: ui.AuthPolicy{BcryptCost: bcrypt.MinCost},
		Logf: func(string, ...any) {}}, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// client drives the handler in memory, carrying cookies by hand (they are
// Secure, and httptest's recorder is not TLS).
type client struct {
	t       testing.TB
	h       http.Handler
	cookies map[string]string
	csrf    string
	bearer  string
	addr    string // the peer address requests come from
}

func newClient(t testing.TB, h http.Handler) *client {
	return &client{t: t, h: h, cookies: map[string]string{}, addr: "192.0.2.10:40000"}
}

func (c *client) do(method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "https://otwatch.test"+path, rd)
	req.RemoteAddr = c.addr
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return rec
}

func (c *client) json(method, path, body string, hdr map[string]string, out any) int {
	rec := c.do(method, path, body, hdr)
	if out != nil && rec.Code < 300 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body.String())
		}
	}
	return rec.Code
}

// login logs in through the API (pre-session CSRF, then session CSRF).
func (c *client) login(user, password string) int {
	var pre struct{ CSRF string }
	c.json("GET", "/api/login", "", nil, &pre)
	var sess struct{ CSRF string }
	code := c.json("POST", "/api/login", `{"user":"`+user+`","password":"`+password+`"}`, map[string]string{ui.CSRFHeader: pre.CSRF}, &sess)
	c.csrf = sess.CSRF
	return code
}
