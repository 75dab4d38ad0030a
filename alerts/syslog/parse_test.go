package syslog

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Strict parsers used by the tests: they reject anything the CEF and LEEF
// specifications do not allow, so a formatter slip shows up as an error.

type cefEvent struct {
	Header [7]string // version, vendor, product, version, signature id, name, severity
	Ext    map[string]string
	Order  []string
}

var cefKey = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// parseCEF parses "CEF:0|...|...|...|...|...|sev|k=v k=v".
func parseCEF(s string) (*cefEvent, error) {
	if !strings.HasPrefix(s, "CEF:") {
		return nil, fmt.Errorf("no CEF: prefix")
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("raw line break")
	}
	ev := &cefEvent{Ext: map[string]string{}}
	rest := s[len("CEF:"):]
	for i := 0; i < 7; i++ {
		var b strings.Builder
		j := 0
		for ; j < len(rest); j++ {
			c := rest[j]
			if c == '\\' {
				if j+1 >= len(rest) || (rest[j+1] != '\\' && rest[j+1] != '|') {
					return nil, fmt.Errorf("header field %d: bad escape", i)
				}
				b.WriteByte(rest[j+1])
				j++
				continue
			}
			if c == '|' {
				break
			}
			b.WriteByte(c)
		}
		if j >= len(rest) {
			return nil, fmt.Errorf("header field %d: no closing pipe", i)
		}
		ev.Header[i] = b.String()
		rest = rest[j+1:]
	}
	if ev.Header[0] != "0" {
		return nil, fmt.Errorf("version %q", ev.Header[0])
	}
	if sev, err := strconv.Atoi(ev.Header[6]); err != nil || sev < 0 || sev > 10 {
		return nil, fmt.Errorf("severity %q", ev.Header[6])
	}
	// Extension: key=value pairs; a value runs to the space before the next
	// unescaped '=' preceded by a key. Every '=' in a value must be escaped.
	pos := 0
	for pos < len(rest) {
		eq := strings.IndexByte(rest[pos:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("extension: text without key at %d", pos)
		}
		k := rest[pos : pos+eq]
		if !cefKey.MatchString(k) {
			return nil, fmt.Errorf("extension: bad key %q", k)
		}
		pos += eq + 1
		var b strings.Builder
		end := len(rest)
		for j := pos; j < len(rest); j++ {
			c := rest[j]
			if c == '\\' {
				if j+1 >= len(rest) {
					return nil, fmt.Errorf("value of %s: trailing backslash", k)
				}
				switch rest[j+1] {
				case '\\', '=':
					b.WriteByte(rest[j+1])
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				default:
					return nil, fmt.Errorf("value of %s: bad escape \\%c", k, rest[j+1])
				}
				j++
				continue
			}
			if c == '=' {
				// the previous word must be a key that starts after a space
				sp := strings.LastIndexByte(rest[pos:j], ' ')
				if sp < 0 || !cefKey.MatchString(rest[pos+sp+1:j]) {
					return nil, fmt.Errorf("value of %s: unescaped '='", k)
				}
				end = pos + sp
				break
			}
			b.WriteByte(c)
		}
		v := b.String()
		if end < len(rest) {
			// cut what was accumulated beyond the separating space
			v = unescapeCEF(rest[pos:end])
		}
		if _, dup := ev.Ext[k]; dup {
			return nil, fmt.Errorf("duplicate key %s", k)
		}
		ev.Ext[k] = v
		ev.Order = append(ev.Order, k)
		if end >= len(rest) {
			break
		}
		pos = end + 1
	}
	return ev, nil
}

func unescapeCEF(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

type leefEvent struct {
	Vendor, Product, Version, EventID string
	Delim                             byte
	Attr                              map[string]string
}

var leefKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// parseLEEF parses LEEF 2.0: LEEF:2.0|Vendor|Product|Version|EventID|Delim|attrs.
func parseLEEF(s string) (*leefEvent, error) {
	if !strings.HasPrefix(s, "LEEF:2.0|") {
		return nil, fmt.Errorf("no LEEF:2.0 prefix")
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("raw line break")
	}
	parts := strings.SplitN(s[len("LEEF:2.0|"):], "|", 6)
	if len(parts) != 6 {
		return nil, fmt.Errorf("header: %d fields", len(parts))
	}
	ev := &leefEvent{Vendor: parts[0], Product: parts[1], Version: parts[2], EventID: parts[3], Attr: map[string]string{}}
	for i, p := range parts[:4] {
		if p == "" {
			return nil, fmt.Errorf("header field %d empty", i)
		}
	}
	switch d := parts[4]; {
	case len(d) == 1:
		ev.Delim = d[0]
	case strings.HasPrefix(d, "x") || strings.HasPrefix(d, "0x"):
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(d, "0"), "x"), 16, 8)
		if err != nil {
			return nil, fmt.Errorf("delimiter %q", d)
		}
		ev.Delim = byte(n)
	default:
		return nil, fmt.Errorf("delimiter %q", d)
	}
	for _, kv := range strings.Split(parts[5], string(ev.Delim)) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !leefKey.MatchString(k) {
			return nil, fmt.Errorf("attribute %q", kv)
		}
		if _, dup := ev.Attr[k]; dup {
			return nil, fmt.Errorf("duplicate key %s", k)
		}
		ev.Attr[k] = v
	}
	return ev, nil
}

// parse5424 splits an RFC 5424 message into its header fields, structured
// data and message, strictly.
type msg5424 struct {
	PRI                                      int
	Time, Host, App, ProcID, MsgID, SD, Body string
}

func parse5424(s string) (*msg5424, error) {
	m := &msg5424{}
	if !strings.HasPrefix(s, "<") {
		return nil, fmt.Errorf("no PRI")
	}
	end := strings.Index(s, ">1 ")
	if end < 2 || end > 4 {
		return nil, fmt.Errorf("bad PRI/VERSION")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri > 191 {
		return nil, fmt.Errorf("PRI %q", s[1:end])
	}
	m.PRI = pri
	rest := s[end+3:]
	f := strings.SplitN(rest, " ", 6)
	if len(f) < 6 {
		return nil, fmt.Errorf("header fields")
	}
	m.Time, m.Host, m.App, m.ProcID, m.MsgID = f[0], f[1], f[2], f[3], f[4]
	rest = f[5]
	if strings.HasPrefix(rest, "-") {
		m.SD, rest = "-", rest[1:]
	} else {
		// scan SD elements honouring \" \\ \] escapes inside quoted values
		i, inQ := 0, false
		for ; i < len(rest); i++ {
			c := rest[i]
			if inQ {
				if c == '\\' {
					i++
					continue
				}
				if c == '"' {
					inQ = false
				}
				continue
			}
			if c == '"' {
				inQ = true
				continue
			}
			if c == ']' && (i+1 == len(rest) || rest[i+1] != '[') {
				i++
				break
			}
		}
		m.SD, rest = rest[:i], rest[i:]
	}
	if rest != "" {
		if rest[0] != ' ' {
			return nil, fmt.Errorf("no space before MSG")
		}
		m.Body = rest[1:]
	}
	return m, nil
}
