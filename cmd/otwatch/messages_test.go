package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each input read cannot use gets a message naming what it is, on one line.

func TestReadEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.pcap")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	code, out, errb := runCmd("--records", "-", path)
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Equal(t, "otwatch read: "+path+": an empty file (0 bytes), not a capture\n", errb)
}

func TestReadDirectory(t *testing.T) {
	dir := t.TempDir()
	code, _, errb := runCmd(dir)
	assert.Equal(t, 2, code)
	assert.Equal(t, "otwatch read: "+dir+": a directory, not a capture file (give the captures in it, e.g. "+dir+"/*.pcap)\n", errb)
}

// A gzip-compressed capture is read as it is: the same records.
func TestReadGzipCapture(t *testing.T) {
	data, err := os.ReadFile(golden)
	require.NoError(t, err)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(data)
	require.NoError(t, zw.Close())
	path := filepath.Join(t.TempDir(), "capture.pcap.gz")
	require.NoError(t, os.WriteFile(path, z.Bytes(), 0o644))
	code, plain, errb := runCmd("--records", "-", "--quiet", golden)
	require.Equal(t, 0, code, errb)
	code, zipped, errb := runCmd("--records", "-", "--quiet", path)
	require.Equal(t, 0, code, errb)
	assert.Empty(t, errb)
	assert.Equal(t, plain, zipped)
	assert.Equal(t, 24, strings.Count(zipped, "\n"))

	// xz is named, with the command that undoes it
	xz := filepath.Join(t.TempDir(), "capture.pcap.xz")
	require.NoError(t, os.WriteFile(xz, append([]byte{0xFD, '7', 'z', 'X', 'Z', 0, 0, 4}, make([]byte, 64)...), 0o644))
	code, _, errb = runCmd(xz)
	assert.Equal(t, 2, code)
	assert.Equal(t, 1, strings.Count(errb, "\n"), errb)
	assert.Contains(t, errb, xz+": compressed with xz: decompress it first (xz -d "+xz+")")
}

// A capture with a header and no packet is not silent, even with --quiet.
func TestReadHeaderOnlyCapture(t *testing.T) {
	data, err := os.ReadFile(golden)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "header-only.pcap")
	require.NoError(t, os.WriteFile(path, data[:24], 0o644))
	code, out, errb := runCmd("--quiet", "--records", "-", path)
	assert.Equal(t, 0, code, "nothing is damaged")
	assert.Empty(t, out)
	assert.Equal(t, "otwatch read: "+path+": no packets in this capture, only its header\n", errb)
	// among others, it is named and the rest is read
	code, out, errb = runCmd("--quiet", "--records", "-", path, golden)
	assert.Equal(t, 0, code)
	assert.Equal(t, 24, strings.Count(out, "\n"))
	assert.Contains(t, errb, path+": no packets")
}

// The summary reads right for one and for many.
func TestSummaryEnglish(t *testing.T) {
	m := newMonitor(baseline.Config{}, inventory.Limits{}, nil)
	assert.Equal(t, "  inventory     0 assets, 0 links\n  alerts        0 alerts\n  baseline      0 assets, 0 keys\n", m.summary(0))
	m.engine.Raised["plc_stop"] = 1
	m.engine.Folded = 1
	assert.Contains(t, m.summary(1), "  alerts        1 alert: plc_stop=1; 1 repeat folded into them\n")
	assert.Equal(t, "1 alert", plural(1, "alert", "alerts"))
	assert.Equal(t, "2 alerts", plural(2, "alert", "alerts"))
	assert.Equal(t, "0 alerts", plural(0, "alert", "alerts"))
}

// The alert counts agree everywhere: read's summary (the kinds add up to
// the total), its alert file and alerts list; and in the daemon fed the
// same traffic, the dashboard, /metrics and alerts list (through the
// daemon's socket) agree with each other. (The daemon keeps its model in
// memory from learning to detection where read saves and loads it
// between runs, so the two may differ in what the baseline raises.)
func TestAlertCountsAgree(t *testing.T) {
	dir := t.TempDir()
	learn, detect := filepath.Join(dir, "learn.pcap"), filepath.Join(dir, "detect.pcap")
	plantCaptures(t, learn, detect)
	db, file := filepath.Join(dir, "state.db"), filepath.Join(dir, "alerts.jsonl")
	code, _, errb := runCmd("--quiet", "--mode", "learn", "--db", db, learn)
	require.Equal(t, 0, code, errb)
	code, _, errb = runCmd("--mode", "detect", "--db", db, "--alerts", file, detect)
	require.Equal(t, 0, code, errb)

	// the summary: "alerts  N alerts: kind=n ...", the kinds adding up to N
	m := regexp.MustCompile(`(?m)^  alerts        (\d+) alerts?: (.*?)(; \d+ repeats? folded into them)?$`).FindStringSubmatch(errb)
	require.NotNil(t, m, errb)
	total, _ := strconv.Atoi(m[1])
	summary := map[string]int{}
	sum := 0
	for _, kv := range strings.Fields(m[2]) {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.Atoi(v)
		summary[k] = n
		sum += n
	}
	assert.Equal(t, total, sum, "the kinds add up to the total: %s", m[0])

	kindsOfLines := func(text string) map[string]int {
		out := map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			var a struct{ Kind string }
			require.NoError(t, json.Unmarshal([]byte(line), &a), line)
			out[a.Kind]++
		}
		return out
	}
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, summary, kindsOfLines(string(b)), "the alert file")
	code, list, errb := runArgs("alerts", "list", "--db", db)
	require.Equal(t, 0, code, errb)
	assert.Equal(t, summary, kindsOfLines(list), "alerts list (the detect run's alerts: learning raised none)")

	// the daemon on the same traffic: dashboard, /metrics, alerts list
	daemonDB := filepath.Join(t.TempDir(), "daemon.db")
	d := holdAsDaemon(t, daemonDB)
	d.dash = newDashboardBackend(d)
	d.model.SetMode(baseline.ModeLearn)
	replay(t, d, learn)
	d.model.SetMode(baseline.ModeDetect)
	replay(t, d, detect)
	d.refreshSnapshot(plantT0, nil, nil)
	stats := d.dash.AlertStats(0)
	require.NotZero(t, stats.Total)
	assert.Equal(t, int(d.alertCount), stats.Total, "the dashboard has every alert raised")
	rec := httptest.NewRecorder()
	d.metrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	metrics := map[string]int{}
	for _, mm := range regexp.MustCompile(`(?m)^otwatch_alerts_total\{kind="(\w+)"\} (\d+)$`).FindAllStringSubmatch(rec.Body.String(), -1) {
		metrics[mm[1]], _ = strconv.Atoi(mm[2])
	}
	assert.Equal(t, stats.ByKind, metrics, "/metrics and the dashboard")
	code, list, errb = runArgs("alerts", "list", "--db", daemonDB)
	require.Equal(t, 0, code, errb)
	assert.Equal(t, stats.ByKind, kindsOfLines(list), "alerts list from the running daemon and the dashboard")
	kinds := make([]string, 0, len(summary))
	for k := range summary {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	t.Logf("read: %d alerts in summary, file and list: %v; daemon: %d on the dashboard, in /metrics and alerts list", total, kinds, stats.Total)
}

// replay runs a capture through the daemon as one otwatch read would: a
// pipeline of its own, flushed at the end with the engine.
func replay(t *testing.T, d *daemon, path string) {
	d.pipe = pipeline.New(pipeline.DefaultLimits(), d.mon.observe)
	d.mon.attach(d.pipe)
	require.NoError(t, d.pipe.ReplayFile(path))
	d.pipe.Flush()
	d.engine.Flush()
}
