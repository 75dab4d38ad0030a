package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/alerts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateFixture = flag.Bool("update", false, "rewrite "+kindsFixture+" from the plant's alerts")

// kindsFixture holds one real alert of each kind the plant raises: the
// syslog tests send them through rsyslog and syslog-ng.
const kindsFixture = "../../alerts/syslog/testdata/alerts_by_kind.jsonl"

// plantAlerts learns the plant, then detects on what follows, with its
// zones, and returns the alerts written.
func plantAlerts(t *testing.T) []*alerts.Alert {
	dir := t.TempDir()
	learn, detect := filepath.Join(dir, "learn.pcap"), filepath.Join(dir, "detect.pcap")
	plantCaptures(t, learn, detect)
	zones := filepath.Join(dir, "zones.yaml")
	require.NoError(t, os.WriteFile(zones, []byte("zones:\n  - {name: cell, networks: [10.1.0.1/32], level: 1}\n"+
		"  - {name: scada, networks: [10.1.0.2/32], level: 2}\nconduits:\n  - {from: scada, to: cell, protocols: [modbus]}\n"), 0o644))
	db, out := filepath.Join(dir, "state.db"), filepath.Join(dir, "alerts.jsonl")
	code, _, errb := runCmd("--quiet", "--mode", "learn", "--db", db, "--zones", zones, learn)
	require.Equal(t, 0, code, errb)
	code, _, errb = runCmd("--quiet", "--mode", "detect", "--db", db, "--zones", zones, "--alerts", out, detect)
	require.Equal(t, 0, code, errb)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var list []*alerts.Alert
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var a alerts.Alert
		require.NoError(t, json.Unmarshal([]byte(line), &a), line)
		list = append(list, &a)
	}
	return list
}

// Every alert the monitor raises carries the hosts its kind promises
// (alerts.KindParties): a SIEM finds the destination of every network
// alert — the scanned host, the conversation's peer, the address claimed,
// the client a rogue DHCP server answered — in CEF dst/dpt, LEEF
// dst/dstPort and the JSON server.
func TestAlertsCarryTheirParties(t *testing.T) {
	list := plantAlerts(t)
	byKind := map[string][]*alerts.Alert{}
	for _, a := range list {
		byKind[a.Kind] = append(byKind[a.Kind], a)
		p, ok := alerts.KindParties(a.Kind)
		require.True(t, ok, "%s has no parties", a.Kind)
		switch {
		case p.Destination == "":
			assert.Nil(t, a.Server, "%s has no destination: %s", a.Kind, a.Message)
		case a.Server == nil:
			assert.True(t, p.Sometimes, "%s lacks its destination (%s): %s", a.Kind, p.Destination, a.Message)
		default:
			assert.NotEmpty(t, a.Server.IP, "%s: %s", a.Kind, a.Message)
			if p.DestPort {
				assert.NotZero(t, a.Server.Port, "%s: the destination port (%s)", a.Kind, p.Destination)
			}
		}
		if p.Source == "" {
			assert.Nil(t, a.Client, "%s has no source", a.Kind)
		}
	}
	dest := func(kind string) *alerts.Endpoint {
		require.NotEmpty(t, byKind[kind], "the plant raises %s; it raised %v", kind, kindsOf(byKind))
		return byKind[kind][0].Server
	}
	// the network kinds, destination by destination
	assert.Equal(t, &alerts.Endpoint{IP: "10.1.0.1", Port: 80}, dest("new_conversation"), "the PLC's web server")
	assert.Equal(t, &alerts.Endpoint{IP: "10.1.0.66", Port: 4444}, dest("controller_outbound"), "the peer the PLC called")
	assert.Equal(t, &alerts.Endpoint{IP: "10.1.0.1"}, dest("port_scan"), "the scanned PLC")
	assert.Equal(t, &alerts.Endpoint{IP: "10.1.0.1", MAC: "00:0e:8c:00:00:01"}, dest("arp_spoofing"), "the address claimed, at its owner's MAC")
	assert.Equal(t, &alerts.Endpoint{IP: "10.1.0.51", Port: 68, MAC: "02:00:00:00:00:51"}, dest("rogue_dhcp"), "the client offered an address")
	assert.Equal(t, &alerts.Endpoint{IP: "10.1.0.1", Port: 502}, dest("identity_conflict"), "the PLC reporting new firmware")
	assert.Equal(t, "10.1.0.1", dest("cyclic_stopped").IP, "the PLC no longer polled")
	assert.Equal(t, "10.1.0.2", byKind["cyclic_stopped"][0].Client.IP, "by the HMI")
	assert.Nil(t, dest("host_sweep"), "a sweep has no one destination")
	assert.Nil(t, dest("new_host"))
	for _, kind := range []string{"write_from_new_client", "force_listen_only", "zone_violation"} {
		d := dest(kind)
		assert.Equal(t, "10.1.0.1", d.IP, kind)
		assert.Equal(t, uint16(502), d.Port, kind)
	}

	// one alert per kind, for the syslog tests against real daemons
	var fixture bytes.Buffer
	for _, kind := range kindsOf(byKind) {
		b, err := json.Marshal(byKind[kind][0])
		require.NoError(t, err)
		fixture.Write(append(b, '\n'))
	}
	if *updateFixture {
		require.NoError(t, os.WriteFile(kindsFixture, fixture.Bytes(), 0o644))
	}
	// the fixture is what the plant raises now, up to wording: same kinds,
	// same hosts
	b, err := os.ReadFile(kindsFixture)
	require.NoError(t, err, "go test ./cmd/otwatch -run TestAlertsCarryTheirParties -update writes it")
	var kept []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var a alerts.Alert
		require.NoError(t, json.Unmarshal([]byte(line), &a))
		kept = append(kept, a.Kind)
		now := byKind[a.Kind]
		if assert.NotEmpty(t, now, "%s is in the fixture but the plant no longer raises it (-update)", a.Kind) {
			assert.Equal(t, a.Client, now[0].Client, "%s: source (run with -update if this is intended)", a.Kind)
			assert.Equal(t, a.Server, now[0].Server, "%s: destination (run with -update if this is intended)", a.Kind)
		}
	}
	assert.Equal(t, kindsOf(byKind), kept, "the fixture holds every kind the plant raises (-update)")
}

func kindsOf(m map[string][]*alerts.Alert) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
