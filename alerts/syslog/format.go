// Package syslog sends otwatch alerts to a SIEM over syslog: RFC 5424 or RFC
// 3164 headers, UDP, TCP with octet-counting framing (RFC 6587) or TLS (RFC
// 5425), and CEF, LEEF 2.0 or JSON payloads. Every destination has its own
// disk-backed queue (bbolt), so alerts raised while the SIEM is unreachable
// are kept, survive a restart and are delivered in order on reconnect.
//
// The formatters and the framing are written here rather than taken from a
// library: they are small, and the Go syslog clients at hand (log/syslog,
// srslog) neither queue on disk nor speak CEF or LEEF.
package syslog

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/otwatch/otwatch/alerts"
)

// Product identification written in CEF and LEEF headers. cmd/otwatch may
// set ProductVersion from its build version.
var (
	ProductVendor  = "otwatch"
	ProductName    = "otwatch"
	ProductVersion = "dev"
)

// LEEFDelimiter separates LEEF 2.0 attributes. A printable character is used
// rather than the default tab because rsyslog and syslog-ng relays escape
// control characters (a tab arrives as "#011").
const LEEFDelimiter = '^'

// SyslogSeverity maps an alert severity (1..10) to a syslog severity (RFC
// 5424 §6.2.1): 9-10 critical(2), 7-8 error(3), 5-6 warning(4),
// 3-4 notice(5), 1-2 informational(6). Emergency and alert (0, 1) are left
// to the system itself.
func SyslogSeverity(sev int) int {
	switch {
	case sev >= 9:
		return 2
	case sev >= 7:
		return 3
	case sev >= 5:
		return 4
	case sev >= 3:
		return 5
	default:
		return 6
	}
}

// FormatJSON is the alert as RECORDS.md's alert line (one line of JSON).
func FormatJSON(a *alerts.Alert) string {
	b, err := json.Marshal(a)
	if err != nil { // only a malformed Values can do this
		c := *a
		c.Values = nil
		b, _ = json.Marshal(&c)
	}
	return string(b)
}

// field is one key/value of the CEF and LEEF extensions, in a fixed order.
type field struct{ key, value string }

// fields lists the alert's attributes with the CEF keys; leefKey renames
// where LEEF has its own predefined key.
func fields(a *alerts.Alert) []field {
	var f []field
	add := func(k, v string) {
		if v != "" {
			f = append(f, field{k, v})
		}
	}
	add("externalId", a.ID)
	add("cat", a.Kind)
	if !a.TS.IsZero() {
		add("rt", strconv.FormatInt(a.TS.UnixMilli(), 10))
	}
	if c := a.Client; c != nil {
		add("src", c.IP)
		if c.Port != 0 {
			add("spt", strconv.Itoa(int(c.Port)))
		}
		add("smac", c.MAC)
	}
	if s := a.Server; s != nil {
		add("dst", s.IP)
		if s.Port != 0 {
			add("dpt", strconv.Itoa(int(s.Port)))
		}
		add("dmac", s.MAC)
	}
	add("app", a.Proto)
	add("act", a.Op)
	if a.Code != nil {
		add("cn1Label", "code")
		add("cn1", strconv.Itoa(*a.Code))
	}
	add("cn2Label", "baseSeverity")
	add("cn2", strconv.Itoa(a.BaseSeverity))
	if a.Repeats > 0 {
		add("cnt", strconv.FormatUint(a.Repeats+1, 10))
	}
	if a.Unit != "" {
		add("cs1Label", "unit")
		add("cs1", a.Unit)
	}
	if len(a.Targets) > 0 {
		b, _ := json.Marshal(a.Targets)
		add("cs2Label", "targets")
		add("cs2", string(b))
	}
	if len(a.Mitre) > 0 {
		add("cs3Label", "mitre")
		add("cs3", strings.Join(a.Mitre, ","))
	}
	if a.Incident != "" {
		add("cs4Label", "incident")
		add("cs4", a.Incident)
	}
	if len(a.Frames) > 0 {
		fr := make([]string, len(a.Frames))
		for i, n := range a.Frames {
			fr[i] = strconv.FormatUint(n, 10)
		}
		add("cs5Label", "frames")
		add("cs5", strings.Join(fr, ","))
	}
	if len(a.Values) > 0 {
		add("cs6Label", "values")
		add("cs6", string(a.Values))
	}
	if a.Key != "" {
		add("flexString1Label", "key")
		add("flexString1", a.Key)
	}
	if a.Asset != "" {
		add("flexString2Label", "asset")
		add("flexString2", a.Asset)
	}
	if a.Learning {
		add("flexNumber1Label", "learning")
		add("flexNumber1", "1")
	}
	add("reason", a.Regulation)
	add("msg", a.Message)
	return f
}

// leefKeys renames CEF keys to LEEF 2.0 predefined or otwatch keys; the
// CEF label keys are dropped since LEEF keys are self-describing.
var leefKeys = map[string]string{
	"externalId": "alertId", "cat": "cat", "src": "src", "spt": "srcPort", "smac": "srcMAC",
	"dst": "dst", "dpt": "dstPort", "dmac": "dstMAC", "app": "app", "act": "op", "cn1": "code",
	"cn2": "baseSev", "cnt": "count", "cs1": "unit", "cs2": "targets", "cs3": "mitre",
	"cs4": "incident", "cs5": "frames", "cs6": "values", "flexString1": "key",
	"flexString2": "asset", "flexNumber1": "learning", "reason": "reason", "msg": "msg",
}

// FormatCEF renders the alert as an ArcSight Common Event Format line:
// CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension.
func FormatCEF(a *alerts.Alert) string {
	var b strings.Builder
	b.WriteString("CEF:0|")
	for _, h := range []string{ProductVendor, ProductName, ProductVersion, a.Kind, title(a.Kind)} {
		b.WriteString(cefHeader(h))
		b.WriteByte('|')
	}
	b.WriteString(strconv.Itoa(clampSeverity(a.Severity, 0)))
	b.WriteByte('|')
	for i, f := range fields(a) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.key)
		b.WriteByte('=')
		b.WriteString(cefValue(f.value))
	}
	return b.String()
}

// FormatLEEF renders the alert as IBM QRadar LEEF 2.0:
// LEEF:2.0|Vendor|Product|Version|EventID|^|key=value^key=value.
func FormatLEEF(a *alerts.Alert) string {
	var b strings.Builder
	b.WriteString("LEEF:2.0|")
	for _, h := range []string{ProductVendor, ProductName, ProductVersion, a.Kind} {
		b.WriteString(leefHeader(h))
		b.WriteByte('|')
	}
	b.WriteByte(LEEFDelimiter)
	b.WriteByte('|')
	first := true
	put := func(k, v string) {
		if !first {
			b.WriteByte(LEEFDelimiter)
		}
		first = false
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(leefValue(v))
	}
	put("sev", strconv.Itoa(clampSeverity(a.Severity, 1)))
	if !a.TS.IsZero() {
		put("devTime", a.TS.UTC().Format("2006-01-02T15:04:05.000-0700"))
		put("devTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSZ")
	}
	for _, f := range fields(a) {
		if k, ok := leefKeys[f.key]; ok {
			if k == "learning" {
				f.value = "true"
			}
			put(k, f.value)
		}
	}
	return b.String()
}

func clampSeverity(s, lo int) int {
	if s < lo {
		return lo
	}
	if s > 10 {
		return 10
	}
	return s
}

// title is a kind as a human event name: "plc_stop" -> "plc stop".
func title(kind string) string { return strings.ReplaceAll(kind, "_", " ") }

// oneLine replaces line breaks, which no syslog payload may carry raw.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// cefHeader escapes a CEF header field: backslash and pipe.
func cefHeader(s string) string {
	return strings.NewReplacer(`\`, `\\`, `|`, `\|`).Replace(oneLine(s))
}

// cefValue escapes a CEF extension value: backslash, equals sign, line breaks.
func cefValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(s)
}

// leefHeader keeps a LEEF header field free of pipes.
func leefHeader(s string) string {
	return strings.NewReplacer(`|`, `_`).Replace(oneLine(s))
}

// leefValue keeps a LEEF value on one line and free of the delimiter (LEEF
// defines no escape: a delimiter inside a value becomes a space).
func leefValue(s string) string {
	s = oneLine(s)
	if strings.IndexByte(s, LEEFDelimiter) >= 0 {
		s = strings.ReplaceAll(s, string(rune(LEEFDelimiter)), " ")
	}
	return s
}

// Payload renders the alert in the named format ("cef", "leef", "json").
func Payload(format string, a *alerts.Alert) string {
	switch format {
	case "leef":
		return FormatLEEF(a)
	case "json":
		return FormatJSON(a)
	default:
		return FormatCEF(a)
	}
}

// now is replaced by tests.
var now = time.Now
