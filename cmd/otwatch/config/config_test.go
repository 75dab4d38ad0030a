package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// The committed sample loads, and every value it shows is the default.
func TestSampleIsValidAndShowsDefaults(t *testing.T) {
	c, err := Load("otwatch.conf.example")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Interfaces = []string{"eth1"}
	want.Learning.StableFor = 15 * time.Minute
	want.Syslog = []Syslog{{Name: "siem", Network: "udp", Address: "192.0.2.10:514", Header: "rfc5424", Format: "json",
		Framing: "none", Facility: "local0", MinSeverity: 1}}
	want.Path = "otwatch.conf.example"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("sample:\n got %+v\nwant %+v", c, want)
	}
	if err := Check("otwatch.conf.example"); err != nil {
		t.Error(err)
	}
}

func TestMinimalFileTakesDefaults(t *testing.T) {
	c, err := Parse("min.conf", []byte("interfaces: [eth1, eth2]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Management.Listen != DefaultListen || c.Database.Path != DefaultDatabase ||
		c.Learning.Mode != baseline.ModeAuto || c.Learning.StableFor != DefaultLearningPeriod/4 ||
		c.Limits != pipeline.DefaultLimits() || len(c.Syslog) != 0 || c.Evidence.MaxBytes != DefaultEvidenceMaxBytes ||
		c.Advisories.AlertCVSS != 9.0 {
		t.Errorf("defaults: %+v", c)
	}
	if got := c.Learning.Baseline(); got.LearningPeriod != time.Hour || got.Mode != baseline.ModeAuto {
		t.Errorf("Baseline() = %+v", got)
	}
}

func TestValues(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `
interfaces: [eth1]
capture: {fanout: true, snap_len: 1600, ring_block_size: 64KiB, ring_blocks: 8, merge_vlans: true}
learning: {mode: learn, period: 2h}
limits: {max_flows: 1000, max_flow_buffer: 1MiB, idle_timeout: 90s}
syslog:
  - name: soc
    network: tls
    address: "soc.example.net:6514"
    format: cef
    min_severity: 6
    tls: {ca_file: "` + ca + `"}
  - {name: local, network: tcp, address: "[::1]:514", framing: lf, facility: auth}
evidence: {max_bytes: 10485760, before: 0}
advisories: {alert_cvss: 7, keyring: "` + ca + `"}
`
	c, err := Parse("v.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Capture.Fanout || c.Capture.SnapLen != 1600 || c.Capture.RingBlockSize != 64<<10 || c.Capture.RingBlocks != 8 || !c.Capture.MergeVLANs {
		t.Errorf("capture %+v", c.Capture)
	}
	if c.Learning.Mode != baseline.ModeLearn || c.Learning.Period != 2*time.Hour || c.Learning.StableFor != 30*time.Minute {
		t.Errorf("learning %+v", c.Learning)
	}
	if c.Limits.MaxFlows != 1000 || c.Limits.MaxFlowBuffer != 1<<20 || c.Limits.IdleTimeout != 90*time.Second ||
		c.Limits.ProbeWindow != pipeline.DefaultLimits().ProbeWindow {
		t.Errorf("limits %+v", c.Limits)
	}
	want := []Syslog{
		{Name: "soc", Network: "tls", Address: "soc.example.net:6514", Header: "rfc5424", Format: "cef", Framing: "octet-counting",
			Facility: "local0", MinSeverity: 6, TLS: TLSFiles{CAFile: ca}},
		{Name: "local", Network: "tcp", Address: "[::1]:514", Header: "rfc5424", Format: "json", Framing: "lf", Facility: "auth", MinSeverity: 1},
	}
	if !reflect.DeepEqual(c.Syslog, want) {
		t.Errorf("syslog\n got %+v\nwant %+v", c.Syslog, want)
	}
	if c.Evidence.MaxBytes != 10<<20 || c.Evidence.Before != 0 || c.Evidence.After != DefaultEvidencePackets {
		t.Errorf("evidence %+v", c.Evidence)
	}
	if c.Advisories.AlertCVSS != 7 || c.Advisories.Keyring != ca {
		t.Errorf("advisories %+v", c.Advisories)
	}
	if Facility("auth") != 4 || Facility("local7") != 23 || Facility("nope") != -1 {
		t.Error("Facility codes")
	}
}

// Every error class: the message names the file, the line and the key.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want string // "file:line: key: message" prefix or substring
	}{
		// the file as a whole
		{"empty file", "", "t.conf: interfaces: required: the file is empty"},
		{"only comments", "# nothing\n", "t.conf: interfaces: required: the file is empty"},
		{"null document", "~\n", "t.conf:1: interfaces: required: the file holds no keys"},
		{"syntax error", "interfaces: [eth1\nlimits: {}\n", "t.conf:1: not valid YAML: did not find expected ',' or ']'"},
		{"tab indentation", "interfaces: [eth1]\nlearning:\n\tmode: auto\n", "t.conf:3: a tab in the indentation: YAML indents with spaces only"},
		{"tab after spaces", "interfaces:\n  \t- eth1\n", "t.conf:2: a tab in the indentation"},
		{"loopback interface", "interfaces: [eth1, lo]\n", `t.conf:1: interfaces[1]: "lo" is the loopback interface: no plant traffic passes there`},
		{"two documents", "interfaces: [eth1]\n---\ninterfaces: [eth2]\n", "t.conf:2: a second YAML document"},
		{"top level not a mapping", "- eth1\n", "t.conf:1: (top level): want a mapping of keys, got a list"},
		// keys
		{"unknown top-level key", "interfaces: [eth1]\ninterface: eth2\n", `t.conf:2: interface: unknown key, did you mean "interfaces"?`},
		{"unknown nested key", "interfaces: [eth1]\nlearning:\n  perod: 1h\n", `t.conf:3: learning.perod: unknown key, did you mean "period"? (known: mode, period, stable_for)`},
		{"unknown key in list item", "interfaces: [eth1]\nsyslog:\n  - name: a\n    adress: \"h:514\"\n", `t.conf:4: syslog[0].adress: unknown key`},
		{"duplicate key", "interfaces: [eth1]\nlearning: {mode: learn}\nlearning: {mode: detect}\n", "t.conf:3: learning: given twice (first on line 2)"},
		{"non-string key", "interfaces: [eth1]\n1: x\n", "t.conf:2: (top level): key the integer 1 is not a plain name"},
		{"alias", "interfaces: [eth1]\nlearning: &l {mode: learn}\nevidence: *l\n", "t.conf:2: learning: anchors and aliases are not supported"},
		// required
		{"no interfaces key", "learning: {mode: learn}\n", "t.conf:1: interfaces: required"},
		{"empty interface list", "interfaces: []\n", "t.conf:1: interfaces: required"},
		{"syslog without address", "interfaces: [eth1]\nsyslog:\n  - name: a\n", "t.conf:3: syslog[0].address: required"},
		{"syslog without name", "interfaces: [eth1]\nsyslog:\n  - address: \"h:514\"\n", "t.conf:3: syslog[0].name: required"},
		// kinds and types
		{"interfaces not a list", "interfaces: eth1\n", "t.conf:1: interfaces: want a list of interface names, got the string \"eth1\""},
		{"section not a mapping", "interfaces: [eth1]\nlearning: auto\n", "t.conf:2: learning: want a mapping of keys"},
		{"string for integer", "interfaces: [eth1]\nlimits: {max_flows: many}\n", `t.conf:2: limits.max_flows: want an integer, got the string "many"`},
		{"integer for duration", "interfaces: [eth1]\nlimits: {idle_timeout: 600}\n", `t.conf:2: limits.idle_timeout: want a duration`},
		{"string for boolean", "interfaces: [eth1]\ncapture: {fanout: \"yes\"}\n", `t.conf:2: capture.fanout: want true or false, got the string "yes"`},
		{"number for string", "interfaces: [eth1]\nsyslog:\n  - {name: 7, address: \"h:1\"}\n", "t.conf:3: syslog[0].name: want a name"},
		{"float for integer", "interfaces: [eth1]\nlimits: {max_flows: 1.5}\n", "t.conf:2: limits.max_flows: want an integer, got the number 1.5"},
		{"list for scalar", "interfaces: [eth1]\nmanagement: {listen: [a]}\n", "t.conf:2: management.listen: want an address \"host:port\", got a list"},
		// values
		{"CVSS not a number", "interfaces: [eth1]\nadvisories: {alert_cvss: high}\n", `t.conf:2: advisories.alert_cvss: want a CVSS score such as 9.0, got the string "high"`},
		{"CVSS out of range", "interfaces: [eth1]\nadvisories: {alert_cvss: 10.5}\n", "t.conf:2: advisories.alert_cvss: 10.5 is out of range 0.0…10.0"},
		{"bad mode", "interfaces: [eth1]\nlearning: {mode: learnn}\n", `t.conf:2: learning.mode: "learnn" is not one of auto, learn, detect`},
		{"bad duration", "interfaces: [eth1]\nlearning: {period: 1 hour}\n", `t.conf:2: learning.period: "1 hour" is not a duration`},
		{"duration out of range", "interfaces: [eth1]\nlearning: {period: 10s}\n", "t.conf:2: learning.period: 10s is out of range 1m0s…8760h0m0s"},
		{"negative packet count", "interfaces: [eth1]\nevidence: {before: -5}\n", "t.conf:2: evidence.before: -5 is out of range"},
		{"integer out of range", "interfaces: [eth1]\nsyslog:\n  - {name: a, address: \"h:1\", min_severity: 11}\n", "t.conf:3: syslog[0].min_severity: 11 is out of range 1…10"},
		{"bad size unit", "interfaces: [eth1]\nlimits: {max_total_buffer: 2GB}\n", `t.conf:2: limits.max_total_buffer: want a size in bytes`},
		{"size out of range", "interfaces: [eth1]\nlimits: {max_flow_buffer: 1B}\n", "t.conf:2: limits.max_flow_buffer: 1B is out of range"},
		{"bad interface name", "interfaces: [eth1, \"a/b\"]\n", `t.conf:1: interfaces[1]: "a/b" is not an interface name`},
		{"interface twice", "interfaces:\n  - eth1\n  - eth1\n", `t.conf:3: interfaces[1]: "eth1" is listed twice`},
		{"address without port", "interfaces: [eth1]\nmanagement: {listen: localhost}\n", `t.conf:2: management.listen: "localhost" is not host:port`},
		{"address bad port", "interfaces: [eth1]\nmanagement: {listen: \":http\"}\n", `t.conf:2: management.listen: ":http": port "http" is not a number`},
		{"destination without host", "interfaces: [eth1]\nsyslog:\n  - {name: a, address: \":514\"}\n", `t.conf:3: syslog[0].address: ":514" names no host`},
		{"bad network", "interfaces: [eth1]\nsyslog:\n  - {name: a, network: sctp, address: \"h:1\"}\n", `t.conf:3: syslog[0].network: "sctp" is not one of udp, tcp, tls`},
		{"bad format", "interfaces: [eth1]\nsyslog:\n  - {name: a, format: xml, address: \"h:1\"}\n", `t.conf:3: syslog[0].format: "xml" is not one of`},
		{"bad header", "interfaces: [eth1]\nsyslog:\n  - {name: a, header: rfc9999, address: \"h:1\"}\n", `t.conf:3: syslog[0].header: "rfc9999" is not one of`},
		{"bad facility", "interfaces: [eth1]\nsyslog:\n  - {name: a, facility: local8, address: \"h:1\"}\n", `t.conf:3: syslog[0].facility: "local8" is not one of`},
		{"bad syslog name", "interfaces: [eth1]\nsyslog:\n  - {name: \"My SIEM\", address: \"h:1\"}\n", `t.conf:3: syslog[0].name: "My SIEM": want lower-case`},
		{"duplicate syslog name", "interfaces: [eth1]\nsyslog:\n  - {name: a, address: \"h:1\"}\n  - {name: a, address: \"h:2\"}\n", `t.conf:4: syslog[1].name: "a" is already the name of the destination on line 3`},
		// combinations
		{"framing on udp", "interfaces: [eth1]\nsyslog:\n  - {name: a, address: \"h:1\", framing: lf}\n", `t.conf:3: syslog[0].framing: "lf" is for tcp and tls`},
		{"no framing on tcp", "interfaces: [eth1]\nsyslog:\n  - {name: a, network: tcp, address: \"h:1\", framing: none}\n", "t.conf:3: syslog[0].framing: a tcp stream needs octet-counting or lf"},
		{"tls on udp", "interfaces: [eth1]\nsyslog:\n  - name: a\n    address: \"h:1\"\n    tls: {server_name: h}\n", "t.conf:5: syslog[0].tls: only for network: tls"},
		{"missing tls file", "interfaces: [eth1]\nsyslog:\n  - name: a\n    network: tls\n    address: \"h:1\"\n    tls: {ca_file: /nonexistent/ca.pem}\n", "t.conf:6: syslog[0].tls.ca_file: open /nonexistent/ca.pem: no such file or directory"},
		{"tls directory", "interfaces: [eth1]\nsyslog:\n  - name: a\n    network: tls\n    address: \"h:1\"\n    tls: {ca_file: /}\n", "t.conf:6: syslog[0].tls.ca_file: / is not a regular file"},
		{"ring block too small", "interfaces: [eth1]\ncapture: {ring_block_size: 64KiB}\n", "t.conf:1: capture.ring_block_size: 65536 bytes cannot hold a 65535-byte frame"},
		{"ring block not page multiple", "interfaces: [eth1]\ncapture: {snap_len: 1500, ring_block_size: 10000}\n", "t.conf:1: capture.ring_block_size: 10000 is not a multiple"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("t.conf", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %v is not Errors", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}

// All problems are reported at once, in file order.
func TestErrorsAreCollected(t *testing.T) {
	_, err := Parse("t.conf", []byte("interfaces: [eth1]\nlearning: {mode: x}\nlimits: {max_flows: -1, foo: 1}\n"))
	var es Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	for i, key := range []string{"learning.mode", "limits.max_flows", "limits.foo"} {
		if es[i].Key != key || es[i].Line == 0 || es[i].File != "t.conf" {
			t.Errorf("error %d: %+v, want key %s", i, es[i], key)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	err := Check(filepath.Join(t.TempDir(), "none.conf"))
	if err == nil || !strings.Contains(err.Error(), "none.conf: open") {
		t.Fatalf("Check of a missing file: %v", err)
	}
}

func TestRestartNeeded(t *testing.T) {
	a, err := Parse("a", []byte("interfaces: [eth1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b", []byte("interfaces: [eth1]\nlearning: {mode: detect}\nsyslog: [{name: s, address: \"h:1\"}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if keys := a.RestartNeeded(b); len(keys) != 0 {
		t.Errorf("reloadable change needs restart of %v", keys)
	}
	c, err := Parse("c", []byte("interfaces: [eth2]\nlimits: {max_flows: 5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if keys := a.RestartNeeded(c); !reflect.DeepEqual(keys, []string{"interfaces", "limits"}) {
		t.Errorf("RestartNeeded = %v", keys)
	}
}

// Every line indented with a tab is named; a tab elsewhere (before a
// comment) is YAML's business and allowed.
func TestTabs(t *testing.T) {
	_, err := Parse("t.conf", []byte("interfaces: [eth1]\nlearning:\n\tmode: auto\n\tperiod: 1h\n"))
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 || es[0].Line != 3 || es[1].Line != 4 {
		t.Fatalf("want the two tabbed lines, got %v", err)
	}
	if strings.Count(err.Error(), "YAML indents with spaces only") != 2 {
		t.Errorf("%v", err)
	}
	if _, err := Parse("t.conf", []byte("interfaces: [eth1]\t# the SPAN port\n")); err != nil {
		t.Errorf("a tab before a comment: %v", err)
	}
}

// prepare is on by default: a fresh interface, which Linux gives an IPv6
// link-local address as it comes up, starts silent with the sample's settings.
func TestPrepareByDefault(t *testing.T) {
	c, err := Parse("t.conf", []byte("interfaces: [eth1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Capture.Prepare {
		t.Error("capture.prepare is off by default")
	}
	c, err = Parse("t.conf", []byte("interfaces: [eth1]\ncapture: {prepare: false}\n"))
	if err != nil || c.Capture.Prepare {
		t.Errorf("prepare: false is kept: %v %+v", err, c)
	}
}
