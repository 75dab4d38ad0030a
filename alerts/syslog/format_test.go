package syslog

import (
	"encoding/json"
	"github.com/otwatch/otwatch/protocols"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/otwatch/otwatch/alerts"
)

// RFC 5424 §6.5: the four examples, byte for byte ("BOM" is U+FEFF in UTF-8).
func TestFrame5424RFCExamples(t *testing.T) {
	const bom = "\xEF\xBB\xBF"
	minus7 := time.FixedZone("", -7*3600)
	evntSD := []SDElement{{ID: "exampleSDID@32473", Params: []Param{{"iut", "3"}, {"eventSource", "Application"}, {"eventID", "1011"}}}}
	tests := []struct {
		name string
		h    Header
		sd   []SDElement
		msg  string
		want string
	}{
		{"example1 no SD", Header{Facility: 4, Severity: 2, Time: time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
			Hostname: "mymachine.example.com", AppName: "su", MsgID: "ID47"}, nil,
			bom + "'su root' failed for lonvick on /dev/pts/8",
			"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " + bom + "'su root' failed for lonvick on /dev/pts/8"},
		{"example2 microseconds and offset", Header{Facility: 20, Severity: 5, Time: time.Date(2003, 8, 24, 5, 14, 15, 3000, minus7),
			Hostname: "192.0.2.1", AppName: "myproc", ProcID: "8710"}, nil,
			"%% It's time to make the do-nuts.",
			"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts."},
		{"example3 SD and message", Header{Facility: 20, Severity: 5, Time: time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
			Hostname: "mymachine.example.com", AppName: "evntslog", MsgID: "ID47"}, evntSD,
			bom + "An application event log entry...",
			`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ` + bom + "An application event log entry..."},
		{"example4 two SD elements no message", Header{Facility: 20, Severity: 5, Time: time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
			Hostname: "mymachine.example.com", AppName: "evntslog", MsgID: "ID47"},
			append(append([]SDElement{}, evntSD...), SDElement{ID: "examplePriority@32473", Params: []Param{{"class", "high"}}}), "",
			`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`},
		{"nanoseconds cut to microseconds, nil values", Header{Facility: 16, Severity: 3, Time: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)}, nil, "x",
			"<131>1 2026-01-02T03:04:05.123456Z - - - - - x"},
		{"no time", Header{Facility: 1, Severity: 6}, nil, "", "<14>1 - - - - - -"},
		{"SD value escapes (§6.3.3)", Header{Facility: 16, Severity: 4}, []SDElement{{ID: "otwatch@32473", Params: []Param{{"m", `a"b\c]d`}}}}, "",
			`<132>1 - - - - - [otwatch@32473 m="a\"b\\c\]d"]`},
		{"header fields cut to printable ASCII and their lengths", Header{Facility: 16, Severity: 4, Hostname: "a b\tc", MsgID: strings.Repeat("k", 40)}, nil, "",
			"<132>1 - abc - - " + strings.Repeat("k", 32) + " -"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Frame5424(tc.h, tc.sd, tc.msg)
			if got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
			if _, err := parse5424(got); err != nil {
				t.Fatalf("own parser rejects it: %v", err)
			}
		})
	}
}

// RFC 3164 §5.4 examples and §4.1.2 (day padded with a space).
func TestFrame3164RFCExamples(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		msg  string
		want string
	}{
		{"example1", Header{Facility: 4, Severity: 2, Time: time.Date(2003, 10, 11, 22, 14, 15, 0, time.UTC), Hostname: "mymachine", AppName: "su"},
			"'su root' failed for lonvick on /dev/pts/8", "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"},
		{"example2 padded day, no tag", Header{Facility: 1, Severity: 5, Time: time.Date(2003, 2, 5, 17, 32, 18, 0, time.UTC), Hostname: "10.0.0.99"},
			"Use the BFG!", "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!"},
		{"tag with pid", Header{Facility: 16, Severity: 3, Time: time.Date(2026, 12, 1, 1, 2, 3, 0, time.UTC), Hostname: "ot-sensor", AppName: "otwatch", ProcID: "42"},
			"CEF:0|x", "<131>Dec  1 01:02:03 ot-sensor otwatch[42]: CEF:0|x"},
	}
	for _, tc := range tests {
		if got := Frame3164(tc.h, tc.msg); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// RFC 6587 §3.4.1 / RFC 5425 §4.3: MSG-LEN counts octets, not characters.
func TestOctetCount(t *testing.T) {
	if got := OctetCount("<34>1 - - - - - é"); got != "18 <34>1 - - - - - é" {
		t.Fatalf("got %q", got)
	}
}

func TestSyslogSeverity(t *testing.T) {
	want := map[int]int{0: 6, 1: 6, 2: 6, 3: 5, 4: 5, 5: 4, 6: 4, 7: 3, 8: 3, 9: 2, 10: 2, 11: 2}
	for in, out := range want {
		if got := SyslogSeverity(in); got != out {
			t.Errorf("SyslogSeverity(%d) = %d, want %d", in, got, out)
		}
	}
}

func u64p(v uint64) *uint64 { return &v }

// testAlert has every field set, with the characters each format must escape.
func testAlert() *alerts.Alert {
	code := 5
	return &alerts.Alert{
		ID: "3f2a9c0d11e2b7a4", TS: time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.UTC),
		Kind: "write_from_new_client", Severity: 8, Proto: "modbus",
		Client: &alerts.Endpoint{IP: "10.0.0.5", Port: 49152, MAC: "00:11:22:33:44:55"},
		Server: &alerts.Endpoint{IP: "10.0.0.9", Port: 502, MAC: "66:77:88:99:aa:bb"},
		Unit:   "1", Op: "write", Code: &code,
		Targets: []alerts.Target{{Space: "coil", Address: u64p(16), Count: u64p(1)}},
		Values:  json.RawMessage(`[{"addr":16,"value":true}]`),
		Frames:  []uint64{12, 13},
		Message: `write from new client 10.0.0.5 | a=b \ c ^ d` + "\nsecond line",
		Mitre:   []string{"T0855", "T0848"}, Incident: "inc-7",
		BaseSeverity: 8, Regulation: "", Learning: true, Repeats: 2,
		Key: "write_from_new_client/10.0.0.9/10.0.0.5", Asset: "asset-10.0.0.9",
	}
}

// The field mapping table of README.md, checked through the strict parser.
func TestFormatCEFMapping(t *testing.T) {
	a := testAlert()
	line := FormatCEF(a)
	ev, err := parseCEF(line)
	if err != nil {
		t.Fatalf("strict CEF parser: %v\n%s", err, line)
	}
	wantHeader := [7]string{"0", "otwatch", "otwatch", ProductVersion, "write_from_new_client", "write from new client", "8"}
	if ev.Header != wantHeader {
		t.Errorf("header %q, want %q", ev.Header, wantHeader)
	}
	want := map[string]string{
		"externalId": a.ID, "cat": a.Kind, "rt": "1772600767891",
		"src": "10.0.0.5", "spt": "49152", "smac": "00:11:22:33:44:55",
		"dst": "10.0.0.9", "dpt": "502", "dmac": "66:77:88:99:aa:bb",
		"app": "modbus", "act": "write", "cn1Label": "code", "cn1": "5",
		"cn2Label": "baseSeverity", "cn2": "8", "cnt": "3",
		"cs1Label": "unit", "cs1": "1",
		"cs2Label": "targets", "cs2": `[{"space":"coil","address":16,"count":1}]`,
		"cs3Label": "mitre", "cs3": "T0855,T0848", "cs4Label": "incident", "cs4": "inc-7",
		"cs5Label": "frames", "cs5": "12,13", "cs6Label": "values", "cs6": `[{"addr":16,"value":true}]`,
		"flexString1Label": "key", "flexString1": a.Key, "flexString2Label": "asset", "flexString2": a.Asset,
		"flexNumber1Label": "learning", "flexNumber1": "1",
		"msg": a.Message,
	}
	for k, v := range want {
		if ev.Ext[k] != v {
			t.Errorf("%s = %q, want %q", k, ev.Ext[k], v)
		}
	}
	if len(ev.Ext) != len(want) {
		t.Errorf("extension has %d keys, want %d: %v", len(ev.Ext), len(want), ev.Order)
	}
	// header escaping
	ProductVendor = `ven|dor\x`
	defer func() { ProductVendor = "otwatch" }()
	ev, err = parseCEF(FormatCEF(a))
	if err != nil || ev.Header[1] != `ven|dor\x` {
		t.Errorf("header escaping: %v %q", err, ev.Header[1])
	}
}

func TestFormatCEFMinimal(t *testing.T) {
	a := &alerts.Alert{ID: "x", Kind: "new_asset", Severity: 0, Message: "", Frames: []uint64{}}
	ev, err := parseCEF(FormatCEF(a))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Header[6] != "0" || ev.Ext["externalId"] != "x" {
		t.Errorf("%+v", ev)
	}
}

func TestFormatLEEFMapping(t *testing.T) {
	a := testAlert()
	line := FormatLEEF(a)
	ev, err := parseLEEF(line)
	if err != nil {
		t.Fatalf("strict LEEF parser: %v\n%s", err, line)
	}
	if ev.Vendor != "otwatch" || ev.Product != "otwatch" || ev.EventID != "write_from_new_client" || ev.Delim != '^' {
		t.Errorf("header %+v", ev)
	}
	want := map[string]string{
		"sev": "8", "devTime": "2026-03-04T05:06:07.891+0000", "devTimeFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
		"alertId": a.ID, "cat": a.Kind, "src": "10.0.0.5", "srcPort": "49152", "srcMAC": "00:11:22:33:44:55",
		"dst": "10.0.0.9", "dstPort": "502", "dstMAC": "66:77:88:99:aa:bb", "app": "modbus", "op": "write",
		"code": "5", "baseSev": "8", "count": "3", "unit": "1", "targets": `[{"space":"coil","address":16,"count":1}]`,
		"mitre": "T0855,T0848", "incident": "inc-7", "frames": "12,13", "values": `[{"addr":16,"value":true}]`,
		"key": a.Key, "asset": a.Asset, "learning": "true",
		"msg": `write from new client 10.0.0.5 | a=b \ c   d second line`,
	}
	for k, v := range want {
		if ev.Attr[k] != v {
			t.Errorf("%s = %q, want %q", k, ev.Attr[k], v)
		}
	}
	if len(ev.Attr) != len(want) {
		t.Errorf("%d attributes, want %d: %v", len(ev.Attr), len(want), ev.Attr)
	}
}

func TestFormatJSONIsTheRecord(t *testing.T) {
	a := testAlert()
	got := FormatJSON(a)
	want, _ := json.Marshal(a)
	if got != string(want) || strings.ContainsAny(got, "\r\n") {
		t.Fatalf("got %s", got)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(got), &back); err != nil || back["ts"] != "2026-03-04T05:06:07.891234567Z" {
		t.Fatalf("%v %v", err, back["ts"])
	}
	bad := testAlert()
	bad.Values = json.RawMessage(`{broken`)
	if err := json.Unmarshal([]byte(FormatJSON(bad)), &back); err != nil {
		t.Fatalf("malformed values must not break the line: %v", err)
	}
}

func TestSenderMessage(t *testing.T) {
	now = func() time.Time { return time.Date(2026, 3, 4, 5, 6, 8, 0, time.UTC) }
	defer func() { now = time.Now }()
	s := &Sender{d: Destination{Format: "cef", Framing: "rfc5424", Facility: 16, SDID: DefaultSDID}, host: "sensor1", pid: "77"}
	m, err := parse5424(s.Message(testAlert()))
	if err != nil {
		t.Fatal(err)
	}
	if m.PRI != 16*8+3 || m.Time != "2026-03-04T05:06:08Z" || m.Host != "sensor1" || m.App != "otwatch" || m.ProcID != "77" || m.MsgID != "write_from_new_client" {
		t.Errorf("%+v", m)
	}
	if m.SD != `[otwatch@32473 id="3f2a9c0d11e2b7a4" kind="write_from_new_client" severity="8"]` {
		t.Errorf("SD %s", m.SD)
	}
	if _, err := parseCEF(m.Body); err != nil {
		t.Error(err)
	}
	s.d.Framing, s.d.Format = "rfc3164", "leef"
	got := s.Message(testAlert())
	if !strings.HasPrefix(got, "<131>Mar  4 05:06:08 sensor1 otwatch[77]: LEEF:2.0|") {
		t.Errorf("%s", got)
	}
}

// TestHostileStringsStayEscaped: a device name with a right-to-left
// override, controls, a line separator and a bad byte, as the dissectors
// hand it on (protocols.Printable), reaches the SIEM escaped in every
// format: nothing invisible, nothing that reorders or splits a message.
func TestHostileStringsStayEscaped(t *testing.T) {
	name := protocols.Printable([]byte("admin\u202egnp.exe\u009b31m\x1b\u2028\u2066\xff"))
	a := &alerts.Alert{ID: "x1", TS: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Kind: "identity_conflict", Severity: 6,
		Message: "asset ip:10.0.0.2 reports application_name \"" + name + "\" but \"Pump\" was seen before", Frames: []uint64{},
		Key: "identity_conflict|10.0.0.2", Asset: "10.0.0.2"}
	for _, format := range []string{"cef", "leef", "json"} {
		out := Payload(format, a)
		for _, r := range out {
			if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 ||
				r == 0x2028 || r == 0x2029 || r == utf8.RuneError {
				t.Errorf("%s carries %U: %q", format, r, out)
			}
		}
		if !strings.Contains(out, `u202egnp.exe`) {
			t.Errorf("%s lost the escaped name: %q", format, out)
		}
	}
}
