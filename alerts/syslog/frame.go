package syslog

import (
	"strconv"
	"strings"
	"time"
)

// Header is a syslog message header; empty strings become the NILVALUE "-"
// in RFC 5424 and are left out in RFC 3164.
type Header struct {
	Facility int // 0..23
	Severity int // 0..7 (syslog severity, see SyslogSeverity)
	Time     time.Time
	Hostname string
	AppName  string
	ProcID   string
	MsgID    string
}

// Param is one SD-PARAM.
type Param struct{ Name, Value string }

// SDElement is one RFC 5424 structured data element.
type SDElement struct {
	ID     string // e.g. "otwatch@32473"
	Params []Param
}

// PRI is the priority value facility*8+severity.
func (h Header) PRI() int { return clamp(h.Facility, 0, 23)*8 + clamp(h.Severity, 0, 7) }

func clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// Frame5424 builds an RFC 5424 message:
// <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [SP MSG].
// The timestamp keeps at most microseconds (TIME-SECFRAC is 1*6DIGIT) and
// its own zone offset; header fields are cut to their maximum lengths and
// to printable US-ASCII. msg is written as given (no BOM is added).
func Frame5424(h Header, sd []SDElement, msg string) string {
	var b strings.Builder
	b.WriteByte('<')
	b.WriteString(strconv.Itoa(h.PRI()))
	b.WriteString(">1 ")
	if h.Time.IsZero() {
		b.WriteByte('-')
	} else {
		t := h.Time.Truncate(time.Microsecond)
		b.WriteString(t.Format("2006-01-02T15:04:05.999999Z07:00"))
	}
	for _, f := range []struct {
		s   string
		max int
	}{{h.Hostname, 255}, {h.AppName, 48}, {h.ProcID, 128}, {h.MsgID, 32}} {
		b.WriteByte(' ')
		b.WriteString(printUSASCII(f.s, f.max))
	}
	b.WriteByte(' ')
	if len(sd) == 0 {
		b.WriteByte('-')
	}
	for _, e := range sd {
		b.WriteByte('[')
		b.WriteString(sdName(e.ID))
		for _, p := range e.Params {
			b.WriteByte(' ')
			b.WriteString(sdName(p.Name))
			b.WriteString(`="`)
			b.WriteString(sdValue(p.Value))
			b.WriteByte('"')
		}
		b.WriteByte(']')
	}
	if msg != "" {
		b.WriteByte(' ')
		b.WriteString(msg)
	}
	return b.String()
}

// Frame3164 builds an RFC 3164 (BSD) message:
// <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PROCID]: MSG. The time is written in
// its own location (RFC 3164 expects the sender's local time, no year).
func Frame3164(h Header, msg string) string {
	var b strings.Builder
	b.WriteByte('<')
	b.WriteString(strconv.Itoa(h.PRI()))
	b.WriteByte('>')
	t := h.Time
	if t.IsZero() {
		t = now()
	}
	b.WriteString(t.Format(time.Stamp)) // "Jan _2 15:04:05"
	if host := printUSASCII(h.Hostname, 255); host != "-" {
		b.WriteByte(' ')
		b.WriteString(strings.ReplaceAll(host, " ", ""))
	}
	b.WriteByte(' ')
	if tag := tag3164(h.AppName); tag != "" {
		b.WriteString(tag)
		if h.ProcID != "" {
			b.WriteByte('[')
			b.WriteString(printUSASCII(h.ProcID, 16))
			b.WriteByte(']')
		}
		b.WriteString(": ")
	}
	b.WriteString(msg)
	return b.String()
}

// OctetCount frames one message for a stream transport (RFC 6587 §3.4.1,
// RFC 5425 §4.3): MSG-LEN SP SYSLOG-MSG.
func OctetCount(msg string) string {
	return strconv.Itoa(len(msg)) + " " + msg
}

// tag3164 keeps the TAG alphanumeric and at most 32 characters.
func tag3164(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 32; i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// printUSASCII keeps PRINTUSASCII (33..126) characters up to max; empty is "-".
func printUSASCII(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		if c := s[i]; c >= 33 && c <= 126 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// sdName keeps an SD-NAME: printable US-ASCII except '=', SP, ']' and '"', at
// most 32 characters (the '@' of an enterprise id is allowed in SD-IDs).
func sdName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		if c := s[i]; c >= 33 && c <= 126 && c != '=' && c != ']' && c != '"' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// sdValue escapes a PARAM-VALUE: '"', '\' and ']' get a backslash (RFC 5424 §6.3.3).
func sdValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(oneLine(s))
}
