package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/alerts/syslog"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

const (
	advisoryData = "../../learning/advisories/testdata/"
	snap7Capture = advisoryData + "snap7.pcap" // a real CPU 315-2 PN/DP, firmware V3.2.7
)

func TestAdvisoriesImportListAndExport(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	// a bundle with a broken document: the rest is imported, the broken one named, exit status 1
	bundle := filepath.Join(dir, "bundle")
	require.NoError(t, os.MkdirAll(bundle, 0o755))
	for _, name := range []string{"icsa-19-283-02.json", "icsa-20-070-02.json", "icsa-23-348-15.json"} {
		b, err := os.ReadFile(advisoryData + "csaf/" + name)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(bundle, name), b, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(bundle, "broken.json"), []byte(`{"document": {"csaf_version": "2.0"`), 0o644))
	var out, errb bytes.Buffer
	code := cmdAdvisories([]string{"import", "--db", db, bundle, advisoryData + "kev-excerpt.json"}, &out, &errb)
	assert.Equal(t, 1, code, errb.String())
	assert.Contains(t, errb.String(), "bundle/broken.json: refused: not valid JSON")
	assert.Contains(t, out.String(), "3 advisories added, 0 replaced; KEV catalog 2025.08.25 added")
	audit, err := os.ReadFile(filepath.Join(dir, "dashboard", "audit.log"))
	require.NoError(t, err)
	assert.Contains(t, string(audit), `"action":"advisories_import"`)
	assert.Contains(t, string(audit), "bundle sha256 ")
	assert.Contains(t, string(audit), "1 refused")

	// again, without the broken one: replaced, not duplicated
	require.NoError(t, os.Remove(filepath.Join(bundle, "broken.json")))
	out.Reset()
	errb.Reset()
	require.Equal(t, 0, cmdAdvisories([]string{"import", "--db", db, bundle}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "0 advisories added, 3 replaced")
	assert.Contains(t, out.String(), "the database holds 3 advisories")

	// the capture, read into the same database
	code, _, stderr := runCmd("--quiet", "--db", db, "--alerts", filepath.Join(dir, "alerts.jsonl"), snap7Capture)
	require.Equal(t, 0, code, stderr)
	alertsText, err := os.ReadFile(filepath.Join(dir, "alerts.jsonl"))
	require.NoError(t, err)
	assert.NotContains(t, string(alertsText), "vulnerable_asset", "its worst CVE is 7.5: not critical, not known exploited")

	out.Reset()
	require.Equal(t, 0, cmdAdvisories([]string{"list", "--db", db}, &out, &errb), errb.String())
	text := out.String()
	assert.Contains(t, text, "1     ")
	assert.Contains(t, text, "134.217.61.211")
	assert.Contains(t, text, "ICSA-19-283-02 [high, order number] CVE-2019-10936")
	out.Reset()
	require.Equal(t, 0, cmdAdvisories([]string{"list", "--db", db, "--format", "json"}, &out, &errb))
	var rep struct {
		PatchFirst []struct {
			Rank  int
			IPs   []string
			Score int
		} `json:"patch_first"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Len(t, rep.PatchFirst, 1)
	assert.Equal(t, 1, rep.PatchFirst[0].Rank)

	// the inventory export carries the patch-first list
	out.Reset()
	require.Equal(t, 0, cmdInventory([]string{"export", "--db", db}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), `"patch_first": [`)
	assert.Contains(t, out.String(), `"CVE-2019-10936"`)
	out.Reset()
	require.Equal(t, 0, cmdInventory([]string{"export", "--format", "csv", "--db", db}, &out, &errb), errb.String())
	var patchRow string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "patch,") {
			patchRow = l
		}
	}
	assert.Contains(t, patchRow, "134.217.61.211")
	assert.Contains(t, patchRow, "rank=1;score=")
	assert.Contains(t, patchRow, "CVE-2019-10936")

	// usage and bad input
	assert.Equal(t, 2, cmdAdvisories([]string{"import", "--db", db}, &out, &errb))
	assert.Equal(t, 2, cmdAdvisories([]string{"import", "--db", db, filepath.Join(dir, "absent")}, &out, &errb))
	assert.Equal(t, 2, cmdAdvisories([]string{"frobnicate"}, &out, &errb))
	notDB := filepath.Join(dir, "notes.db")
	require.NoError(t, os.WriteFile(notDB, bytes.Repeat([]byte("x"), 8192), 0o644))
	errb.Reset()
	assert.Equal(t, 2, cmdAdvisories([]string{"import", "--db", notDB, bundle}, &out, &errb))
	assert.Contains(t, errb.String(), "not a readable bbolt database")
}

// TestVulnerableAssetAlert: the monitor raises vulnerable_asset once per new
// alerting CVE, and the CEF line a SIEM receives names the CVE ids.
func TestVulnerableAssetAlert(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	var out, errb bytes.Buffer
	require.Equal(t, 0, cmdAdvisories([]string{"import", "--db", db, advisoryData + "csaf", advisoryData + "kev-excerpt.json"}, &out, &errb), errb.String())
	st, err := store.Open(db)
	require.NoError(t, err)
	defer st.Close()
	var raised []*alerts.Alert // vulnerable_asset only: the capture's stop and writes alert too
	sink := func(a *alerts.Alert) {
		if a.Kind == "vulnerable_asset" {
			raised = append(raised, a)
		}
	}
	m := newMonitor(baseline.Config{Mode: baseline.ModeDetect}, inventory.Limits{}, sink)
	require.NoError(t, m.loadFeed(st))
	p := pipeline.New(pipeline.DefaultLimits(), m.observe)
	m.attach(p)
	require.NoError(t, p.ReplayFile(snap7Capture))
	p.Flush()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.checkVulns(now)
	assert.Empty(t, raised, "CVSS 7.5 is below the default 9.0")
	m.vulns.watch.AlertCVSS = 7.0 // a site that alerts on high severities
	m.tickVulns(now.Add(time.Second))
	assert.Empty(t, raised, "checked every 15 s, not every tick")
	m.tickVulns(now.Add(vulnCheckEvery))
	require.Len(t, raised, 1)
	a := raised[0]
	assert.Equal(t, "vulnerable_asset", a.Kind)
	assert.Equal(t, 7, a.Severity)
	assert.Equal(t, "134.217.61.211", a.Asset)
	assert.Equal(t, []uint64{4, 6}, a.Frames, "the SZL responses that told the order number, firmware and module")
	for _, cve := range []string{"CVE-2019-10936", "CVE-2019-18336"} {
		assert.Contains(t, a.Message, cve)
	}
	assert.Contains(t, a.Message, "patch-first rank 1")
	cef := syslog.FormatCEF(a)
	assert.Contains(t, cef, "|vulnerable_asset|vulnerable asset|")
	assert.Contains(t, cef, "CVE-2019-10936 (CVSS 7.5, ICSA-19-283-02)")
	m.checkVulns(now.Add(time.Hour))
	assert.Len(t, raised, 1, "once")
	// the watch is saved with the other components: a restart repeats nothing
	require.NoError(t, st.Checkpoint(m.components()))
	m2 := newMonitor(baseline.Config{Mode: baseline.ModeDetect}, inventory.Limits{}, sink)
	require.NoError(t, st.Load(m2.components()))
	require.NoError(t, m2.loadFeed(st))
	m2.vulns.watch.AlertCVSS = 7.0
	m2.checkVulns(now.Add(2 * time.Hour))
	assert.Len(t, raised, 1, "restored")
}
