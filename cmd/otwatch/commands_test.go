package main

import (
	"bytes"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/alerts/evidence"
	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/otwatch/otwatch/ui"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBaselineExportImportDiff(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	code, _, stderr := runCmd("--quiet", "--mode", "learn", "--db", db, "--records", filepath.Join(dir, "r.jsonl"), golden)
	require.Equal(t, 0, code, stderr)

	var out, errb bytes.Buffer
	require.Equal(t, 0, cmdBaseline([]string{"export", "--db", db}, &out, &errb), errb.String())
	exported := out.String()
	assert.Contains(t, exported, `"server": "127.0.0.1"`)
	assert.Contains(t, exported, `"op": "write"`)
	file := filepath.Join(dir, "approved.json")
	require.NoError(t, os.WriteFile(file, out.Bytes(), 0o644))

	// the export is stable: exporting again gives the same bytes
	out.Reset()
	require.Equal(t, 0, cmdBaseline([]string{"export", "--db", db}, &out, &errb))
	assert.Equal(t, exported, out.String())

	// no difference against itself; a removed function shows as one line
	out.Reset()
	require.Equal(t, 0, cmdBaseline([]string{"diff", "--db", db, file}, &out, &errb))
	assert.Equal(t, "no difference: the baseline learned in "+db+" and "+file+" hold the same baseline\n", out.String())
	edited := strings.Replace(exported, `"code": 22`, `"code": 122`, 1)
	require.NoError(t, os.WriteFile(file, []byte(edited), 0o644))
	out.Reset()
	require.Equal(t, 0, cmdBaseline([]string{"diff", "--db", db, file}, &out, &errb))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2, out.String())
	assert.True(t, strings.HasPrefix(lines[0], "+ ") && strings.Contains(lines[0], "write 122"), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "- ") && strings.Contains(lines[1], "write 22"), lines[1])

	// import validates and names the problem; a valid file is accepted
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(exported, `"op": "write"`, `"op": "scribble"`, 1)), 0o644))
	errb.Reset()
	assert.Equal(t, 2, cmdBaseline([]string{"import", "--db", db, bad}, &out, &errb))
	assert.Contains(t, errb.String(), `op "scribble": not an operation`)
	assert.Equal(t, 0, cmdBaseline([]string{"import", "--db", db, file}, &out, &errb), errb.String())
	out.Reset()
	require.Equal(t, 0, cmdBaseline([]string{"diff", "--db", db, file}, &out, &errb))
	assert.True(t, strings.HasPrefix(out.String(), "no difference: "), "the imported file is now the baseline: %s", out.String())
	// two files
	out.Reset()
	require.Equal(t, 0, cmdBaseline([]string{"diff", file, file}, &out, &errb))
	assert.Equal(t, "no difference: "+file+" and "+file+" hold the same baseline\n", out.String())
}

func TestAlertsListAndMarkNormal(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	// learn on one capture, detect on another device's traffic
	code, _, stderr := runCmd("--quiet", "--mode", "learn", "--db", db, golden)
	require.Equal(t, 0, code, stderr)
	code, _, stderr = runCmd("--quiet", "--mode", "detect", "--db", db, "--alerts", filepath.Join(dir, "a.jsonl"),
		"../../protocols/modbus/testdata/suricata_modbus.pcap")
	require.Equal(t, 0, code, stderr)

	var out, errb bytes.Buffer
	require.Equal(t, 0, cmdAlerts([]string{"list", "--db", db}, &out, &errb), errb.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.NotEmpty(t, lines)
	var id string
	for _, l := range lines {
		if strings.Contains(l, `"kind":"new_link"`) {
			id = l[strings.Index(l, `"id":"`)+6:]
			id = id[:strings.Index(id, `"`)]
		}
	}
	require.NotEmpty(t, id, "a new_link alert: %s", out.String())
	out.Reset()
	require.Equal(t, 0, cmdAlerts([]string{"normal", "--db", db, id}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "marked normal")
	out.Reset()
	require.Equal(t, 0, cmdBaseline([]string{"export", "--db", db}, &out, &errb))
	assert.Contains(t, out.String(), `"client": "10.0.0.57"`, "the marked link joined the baseline")
	out.Reset()
	require.Equal(t, 0, cmdAlerts([]string{"incidents", "--db", db}, &out, &errb))
	assert.Contains(t, out.String(), `"narrative"`)
	assert.Equal(t, 2, cmdAlerts([]string{"normal", "--db", db, "nope"}, &out, &errb))
}

func TestRunRefusesABadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "otwatch.conf")
	require.NoError(t, os.WriteFile(path, []byte("interfaces:\n  - eth1\nlearning:\n  mdoe: detect\n"), 0o644))
	var out, errb bytes.Buffer
	assert.Equal(t, 2, cmdRun([]string{"--config", path}, &out, &errb))
	assert.Contains(t, errb.String(), path+":4: learning.mdoe: unknown key")
	errb.Reset()
	assert.Equal(t, 2, cmdConfig([]string{"check", path}, &out, &errb))
	assert.Contains(t, errb.String(), "did you mean \"mode\"")
}

func TestUserAdd(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "otwatch.conf")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf("interfaces:\n  - eth1\ndatabase:\n  path: %s/state.db\n", dir)), 0o644))
	var out, errb bytes.Buffer
	code := cmdUser([]string{"add", "operator", "--role", "viewer", "--config", path}, strings.NewReader("correct horse battery staple\n"), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	b, err := os.ReadFile(filepath.Join(dir, "dashboard", "users.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "operator")
	assert.NotContains(t, string(b), "correct horse", "only a hash is stored")
	assert.Equal(t, 2, cmdUser([]string{"add", "x", "--config", path}, strings.NewReader(""), &out, &errb), "no password")
}

func TestEvidenceVerifyCommand(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, 2, cmdEvidence([]string{"verify", filepath.Join(t.TempDir(), "missing")}, &out, &errb))
	assert.Equal(t, 2, cmdEvidence(nil, &out, &errb))
}

func TestDashboardEvidenceLookup(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Evidence.Dir = dir
	rec, err := evidence.NewRecorder(evidence.Config{Dir: dir})
	require.NoError(t, err)
	d := &daemon{cfg: cfg, evidence: rec}
	b := &dashboardBackend{d: d}
	name := filepath.Join(dir, "20260101T000000.000000000Z_abc123_plc_stop.pcapng")
	require.NoError(t, os.WriteFile(name, []byte("pcapng bytes"), 0o644))
	got, err := b.Evidence("abc123")
	require.NoError(t, err)
	assert.Equal(t, "pcapng bytes", string(got))
	_, err = b.Evidence("other")
	assert.ErrorIs(t, err, ui.ErrNotFound)
	_, err = b.Evidence("../../etc/passwd*")
	assert.ErrorIs(t, err, ui.ErrNotFound, "no path tricks")
}

func TestReloadAppliesLearningModeAndNamesRestartKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "otwatch.conf")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	path := write("interfaces: [eth1]\nlearning:\n  mode: learn\n")
	cfg, err := config.Load(path)
	require.NoError(t, err)
	var logs syncBuffer
	d := &daemon{cfg: cfg, log: log.New(&logs, "", 0), reload: make(chan *config.Config, 1)}
	d.mon = newMonitor(cfg.Learning.Baseline(), inventory.Limits{}, nil)
	d.model = d.mon.model
	assert.False(t, d.mon.zones.Enforced())
	write("interfaces: [eth2]\nlearning:\n  mode: detect\n" +
		"zones: [{name: cell, networks: [10.0.0.0/24]}]\nconduits: [{from: unzoned, to: cell, ops: [read]}]\n")
	d.requestReload(path)
	next := <-d.reload
	d.applyReload(next)
	assert.Equal(t, baseline.ModeDetect, d.model.Config().Mode, "the learning mode changes at once")
	assert.True(t, d.mon.zones.Enforced(), "so do zones and conduits")
	assert.Contains(t, logs.String(), "1 zones, 1 conduits")
	assert.Contains(t, logs.String(), "interfaces", "a change that needs a restart is named")
	// a broken file is refused and the running configuration kept
	write("interfaces: [eth2]\nlearning:\n  mode: sometimes\n")
	d.requestReload(path)
	assert.Len(t, d.reload, 0)
	assert.Contains(t, logs.String(), "reload refused")
}

func TestCheckpointFailureIsAlertedAndMonitoringGoesOn(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	var logs syncBuffer
	d := &daemon{cfg: config.Default(), log: log.New(&logs, "", 0), db: st}
	d.mon = newMonitor(baseline.Config{}, inventory.Limits{}, d.onAlert)
	d.model, d.engine = d.mon.model, d.mon.engine
	require.NoError(t, st.Close()) // the disk went away
	d.checkpoint()
	assert.True(t, d.storageFailing)
	assert.Equal(t, uint64(1), d.engine.Raised["storage_failure"])
	d.checkpoint()
	assert.Equal(t, uint64(1), d.engine.Raised["storage_failure"], "alerted once per failure, not per checkpoint")
	assert.Contains(t, logs.String(), "storage_failure")
}

// The dashboard's settings declare a maintenance window in the daemon's
// engine: a download is lowered and says why, and the daemon logs who.
func TestDashboardMaintenanceWindow(t *testing.T) {
	cfg, err := config.Parse("t.conf", []byte("interfaces: [eth1]\nlearning: {mode: detect}\n"))
	require.NoError(t, err)
	var logs syncBuffer
	var raised []*alerts.Alert
	d := &daemon{cfg: cfg, log: log.New(&logs, "", 0)}
	d.mon = newMonitor(cfg.Learning.Baseline(), inventory.Limits{}, func(a *alerts.Alert) { cp := *a; raised = append(raised, &cp) })
	d.model, d.engine = d.mon.model, d.mon.engine
	b := &dashboardBackend{d: d}
	set := b.Settings()
	set.MaintenanceUntil, set.MaintenanceReason = time.Now().Add(2*time.Hour), "firmware update of PLC 3"
	require.NoError(t, ui.ValidateSettings(set))
	require.NoError(t, b.SetSettings(set, "alice"))
	got := b.Settings()
	assert.Equal(t, "alice", got.MaintenanceBy)
	assert.Contains(t, logs.String(), "operator alice declared a maintenance window until")

	d.mon.observe(&protocols.Transaction{Proto: "s7comm", Op: protocols.OpProgramDownload, CodeName: "download_block",
		Client:      protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.9"), LinkAddress: -1},
		Server:      protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.3"), Port: 102, LinkAddress: -1},
		RequestTime: time.Now(), RequestFrame: 1})
	var download *alerts.Alert
	for _, a := range raised {
		if a.Kind == "program_download" {
			download = a
		}
	}
	require.NotNil(t, download)
	assert.Equal(t, 6, download.Severity)
	assert.Contains(t, download.Regulation, "maintenance window alice declared")

	set.MaintenanceUntil = time.Time{}
	require.NoError(t, b.SetSettings(set, "bob"))
	assert.True(t, b.Settings().MaintenanceUntil.IsZero())
	assert.Contains(t, logs.String(), "operator bob ended the maintenance window")
}

// panicDaemon is a daemon without capture or state, its log and the kinds
// of the alerts it raised kept for the panic tests; sink, when not nil,
// stands between the pipeline and the monitor.
func panicDaemon(t *testing.T, sink func(d *daemon, tx *protocols.Transaction)) (*daemon, *syncBuffer, *[]string) {
	cfg, err := config.Parse("t.conf", []byte("interfaces: [eth1]\n"))
	require.NoError(t, err)
	logs, raised := &syncBuffer{}, &[]string{}
	d := &daemon{cfg: cfg, log: log.New(logs, "", 0)}
	d.mon = newMonitor(cfg.Learning.Baseline(), inventory.Limits{}, func(a *alerts.Alert) { *raised = append(*raised, a.Kind) })
	d.model, d.engine = d.mon.model, d.mon.engine
	observe := d.mon.observe
	if sink != nil {
		observe = func(tx *protocols.Transaction) { sink(d, tx) }
	}
	d.pipe = pipeline.New(pipeline.DefaultLimits(), observe)
	d.mon.logf = d.log.Printf
	d.mon.attach(d.pipe)
	return d, logs, raised
}

// handleGolden runs the golden capture through d's handleFrame.
func handleGolden(t *testing.T, d *daemon) {
	r, err := capture.Open(golden)
	require.NoError(t, err)
	defer r.Close()
	for {
		f, err := r.Next()
		if err != nil {
			break
		}
		d.handleFrame(f)
	}
	d.pipe.Flush()
}

// A panic while handling a captured frame is logged and alerted, and the
// next frames are handled as before.
func TestDaemonSurvivesAPanickingFrame(t *testing.T) {
	d, logs, raised := panicDaemon(t, nil)
	inner := d.pipe.Events
	d.pipe.Events = func(e *pipeline.Event) {
		if e.Kind == pipeline.PacketSeen && e.Decoded.SrcPort == 6666 {
			panic("a bug nobody found yet")
		}
		inner(e)
	}
	d.handleFrame(mustUDPFrame(t, 6666))
	handleGolden(t, d)
	assert.Equal(t, uint64(1), d.mon.panics)
	assert.Contains(t, logs.String(), "internal error on frame 1")
	assert.Contains(t, *raised, "internal_error")
	assert.Equal(t, uint64(24), d.pipe.Stats.TransactionsTotal(), "the capture after it was handled in full")
}

// A panic while a transaction is learned, inventoried or judged is logged
// and alerted, and the flow it came on goes on being followed: the
// transactions after it are handled too.
func TestDaemonSurvivesAPanickingConsumer(t *testing.T) {
	seen := 0
	d, logs, raised := panicDaemon(t, func(d *daemon, tx *protocols.Transaction) {
		if seen++; seen == 3 {
			panic("a bug nobody found yet")
		}
		d.mon.observe(tx)
	})
	handleGolden(t, d)
	assert.Equal(t, uint64(1), d.mon.panics)
	assert.Contains(t, logs.String(), "internal error on a modbus transaction of frame")
	assert.Contains(t, *raised, "internal_error")
	assert.Equal(t, 24, seen, "every transaction of the capture reached the monitor")
	assert.Zero(t, d.pipe.Stats.Anomalies["modbus.dissector_panic"], "the flow was not given up")
}

// mustUDPFrame is one Ethernet/IPv4/UDP frame from the given source port.
func mustUDPFrame(t *testing.T, sport uint16) capture.Frame {
	b := []byte{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00,
		0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		byte(sport >> 8), byte(sport), 0x01, 0xf6, 0, 12, 0, 0, 1, 2, 3, 4}
	return capture.Frame{Data: b, TimeNano: 1e18, LinkType: capture.LinkEthernet, OrigLen: uint32(len(b))}
}

// An addressed monitor interface is refused with one hint, the one that
// applies.
func TestAddressProblemHint(t *testing.T) {
	v4 := addressProblem("eth1", []string{"10.0.0.5/24"}, true)
	assert.Equal(t, "monitor interface eth1 carries IP address 10.0.0.5/24: with an address the host answers ARP and neighbour discovery, "+
		"so it would transmit on the monitored network. Remove it (ip address flush dev eth1), or set capture.allow_addressed: true to monitor anyway", v4)
	v6 := addressProblem("eth1", []string{"fe80::1/64"}, false)
	assert.Contains(t, v6, "carries IP address fe80::1/64")
	assert.Contains(t, v6, "Set capture.prepare: true (the default; it turns IPv6 off on the port)")
	assert.Equal(t, 1, strings.Count(v6, "allow_addressed"), "one hint, not two")
	assert.Contains(t, addressProblem("eth1", []string{"10.0.0.5/24", "fe80::1/64"}, false), "IP addresses 10.0.0.5/24, fe80::1/64: ")
}

// config check says what run would refuse on this machine.
func TestConfigCheckInterfaces(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		path := filepath.Join(dir, "otwatch.conf")
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
		return path
	}
	var out, errb bytes.Buffer
	path := write("interfaces: [otw-nosuch0]\n")
	assert.Equal(t, 2, cmdConfig([]string{"check", path}, &out, &errb))
	assert.Equal(t, path+": monitor interface otw-nosuch0: no such interface on this machine, so run would refuse to start here\n", errb.String())

	errb.Reset()
	path = write("interfaces: [lo]\n")
	assert.Equal(t, 2, cmdConfig([]string{"check", path}, &out, &errb))
	assert.Contains(t, errb.String(), `interfaces[0]: "lo" is the loopback interface`)

	// an interface of this machine with an IPv4 address, if there is one
	var addressed string
	ifs, _ := net.Interfaces()
	for _, ifi := range ifs {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ifi.Flags&net.FlagLoopback == 0 {
				addressed = ifi.Name
			}
		}
	}
	t.Run("addressed interface", func(t *testing.T) {
		if addressed == "" {
			t.Skip("no interface with an IPv4 address on this machine")
		}
		var out, errb bytes.Buffer
		path := write("interfaces: [" + addressed + "]\n")
		assert.Equal(t, 2, cmdConfig([]string{"check", path}, &out, &errb))
		assert.Contains(t, errb.String(), "monitor interface "+addressed+" carries IP address")
		errb.Reset()
		path = write("interfaces: [" + addressed + "]\ncapture: {allow_addressed: true}\n")
		assert.Equal(t, 0, cmdConfig([]string{"check", path}, &out, &errb), errb.String())
		assert.Equal(t, path+": ok\n", out.String())
	})
}
