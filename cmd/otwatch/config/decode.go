package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/otwatch/otwatch/learning/baseline"
)

// decoder walks the YAML node tree against the schema, collecting errors.
type decoder struct {
	file string
	errs Errors
}

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// The patterns are compiled on first use: every otwatch command links this
// package, few read a configuration.
var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) })

func (d *decoder) decode(src []byte) *Config {
	c := Default()
	if d.tabs(src) {
		return c
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		d.errorf(nil, "interfaces", "required: the file is empty")
		return c
	}
	if err != nil {
		msg := err.Error()
		line := 0
		if m := yamlLine().FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
		return c
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		d.errorf(&extra, "", "a second YAML document: the file must hold one")
		return c
	}
	if len(doc.Content) != 1 {
		d.errorf(&doc, "", "empty document")
		return c
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		d.errorf(root, "interfaces", "required: the file holds no keys")
		return c
	}
	var sawInterfaces bool
	top, checkZones := d.zoneFields(&c.Segmentation)
	top["interfaces"] = func(n *yaml.Node, key string) {
		sawInterfaces = true
		c.Interfaces = d.interfaces(n, key)
	}
	d.mapping(root, "", top.with(fields{
		"capture": func(n *yaml.Node, key string) {
			d.mapping(n, key, fields{
				"fanout":          d.boolean(&c.Capture.Fanout),
				"snap_len":        d.integer(&c.Capture.SnapLen, 64, 262144),
				"ring_block_size": d.size(&c.Capture.RingBlockSize, 4096, 1<<30),
				"ring_blocks":     d.integer(&c.Capture.RingBlocks, 1, 4096),
				"allow_addressed": d.boolean(&c.Capture.AllowAddressed),
				"prepare":         d.boolean(&c.Capture.Prepare),
				"merge_vlans":     d.boolean(&c.Capture.MergeVLANs),
			})
		},
		"management": func(n *yaml.Node, key string) {
			d.mapping(n, key, fields{"listen": d.address(&c.Management.Listen, true),
				"dashboard": d.optionalAddress(&c.Management.Dashboard)})
		},
		"database": func(n *yaml.Node, key string) {
			d.mapping(n, key, fields{
				"path":                d.path(&c.Database.Path),
				"checkpoint_interval": d.duration(&c.Database.CheckpointInterval, time.Second, 24*time.Hour),
			})
		},
		"learning": func(n *yaml.Node, key string) {
			d.mapping(n, key, fields{
				"mode":       d.oneOf((*string)(&c.Learning.Mode), string(baseline.ModeAuto), string(baseline.ModeLearn), string(baseline.ModeDetect)),
				"period":     d.duration(&c.Learning.Period, time.Minute, 365*24*time.Hour),
				"stable_for": d.duration(&c.Learning.StableFor, 0, 365*24*time.Hour),
			})
		},
		"limits": func(n *yaml.Node, key string) {
			l := &c.Limits
			d.mapping(n, key, fields{
				"max_flows":          d.integer(&l.MaxFlows, 1, 1<<24),
				"max_flow_buffer":    d.size(&l.MaxFlowBuffer, 1024, 1<<30),
				"max_total_buffer":   d.size(&l.MaxTotalBuffer, 1<<16, 1<<34),
				"max_out_of_order":   d.integer(&l.MaxOutOfOrder, 1, 1<<16),
				"idle_timeout":       d.duration(&l.IdleTimeout, time.Second, 7*24*time.Hour),
				"probe_window":       d.size(&l.ProbeWindow, 16, 1<<20),
				"max_frag_datagrams": d.integer(&l.MaxFragDatagrams, 1, 1<<20),
				"frag_timeout":       d.duration(&l.FragTimeout, time.Second, time.Hour),
			})
		},
		"syslog": func(n *yaml.Node, key string) {
			c.Syslog = d.syslogs(n, key)
		},
		"advisories": func(n *yaml.Node, key string) {
			d.mapping(n, key, fields{"alert_cvss": d.score(&c.Advisories.AlertCVSS), "keyring": d.regularFile(&c.Advisories.Keyring)})
		},
		"evidence": func(n *yaml.Node, key string) {
			e := &c.Evidence
			d.mapping(n, key, fields{
				"dir":                  d.path(&e.Dir),
				"before":               d.integer(&e.Before, 0, 10000),
				"after":                d.integer(&e.After, 0, 10000),
				"max_bytes":            d.size64(&e.MaxBytes, 1<<20, 1<<50),
				"max_files_per_minute": d.integer(&e.MaxPerMinute, 1, 100000),
			})
		},
	}))
	checkZones()
	if !sawInterfaces && len(d.errs) == 0 {
		d.errorf(root, "interfaces", "required: name at least one monitor interface")
	}
	// stable_for defaults to a quarter of the period (as in learning/baseline).
	if c.Learning.StableFor == 0 {
		c.Learning.StableFor = c.Learning.Period / 4
	}
	if c.Capture.RingBlockSize < c.Capture.SnapLen+4096 && len(d.errs) == 0 {
		d.errorf(root, "capture.ring_block_size", "%d bytes cannot hold a %d-byte frame (snap_len) and its header", c.Capture.RingBlockSize, c.Capture.SnapLen)
	}
	if c.Capture.RingBlockSize%4096 != 0 && len(d.errs) == 0 {
		d.errorf(root, "capture.ring_block_size", "%d is not a multiple of the 4096-byte page", c.Capture.RingBlockSize)
	}
	return c
}

// fields maps each key of a mapping to its handler (node, dotted key).
type fields map[string]func(*yaml.Node, string)

// with adds more's handlers to fs.
func (fs fields) with(more fields) fields {
	for k, h := range more {
		fs[k] = h
	}
	return fs
}

// mapping checks n is a mapping, every key known and given once, and runs
// the handlers. A null value (key with nothing after it) keeps the default.
func (d *decoder) mapping(n *yaml.Node, path string, fs fields) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, nameOr(path), "want a mapping of keys, got %s", describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			d.errorf(k, nameOr(path), "key %s is not a plain name", describe(k))
			continue
		}
		key := k.Value
		if path != "" {
			key = path + "." + k.Value
		}
		if first, ok := seen[k.Value]; ok {
			d.errorf(k, key, "given twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		h, ok := fs[k.Value]
		if !ok {
			d.errorf(k, key, "unknown key%s (known: %s)", suggest(k.Value, fs), strings.Join(sortedKeys(fs), ", "))
			continue
		}
		if v.Kind == yaml.AliasNode || v.Anchor != "" {
			d.errorf(v, key, "anchors and aliases are not supported")
			continue
		}
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			continue // keep the default
		}
		h(v, key)
	}
}

func nameOr(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

func sortedKeys(fs fields) []string {
	keys := make([]string, 0, len(fs))
	for k := range fs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// suggest names a known key one edit away, for typos.
func suggest(key string, fs fields) string {
	for k := range fs {
		if editDistance(key, k) <= 2 {
			return fmt.Sprintf(", did you mean %q?", k)
		}
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describe names a node's kind for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	case "!!int":
		return "the integer " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "nothing"
	}
	return fmt.Sprintf("%q (%s)", n.Value, n.ShortTag())
}

// scalar checks n is a scalar of the tag; false after reporting otherwise.
func (d *decoder) scalar(n *yaml.Node, key, tag, want string) bool {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != tag {
		d.errorf(n, key, "want %s, got %s", want, describe(n))
		return false
	}
	return true
}

func (d *decoder) boolean(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		if !d.scalar(n, key, "!!bool", "true or false") {
			return
		}
		*dst = n.Value == "true"
		if n.Value != "true" && n.Value != "false" {
			d.errorf(n, key, "want true or false, got %q", n.Value)
		}
	}
}

func (d *decoder) integer(dst *int, lo, hi int) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		if !d.scalar(n, key, "!!int", "an integer") {
			return
		}
		v, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil || v < int64(lo) || v > int64(hi) {
			d.errorf(n, key, "%s is out of range %d…%d", n.Value, lo, hi)
			return
		}
		*dst = int(v)
	}
}

// score reads a CVSS base score, 0.0…10.0.
func (d *decoder) score(dst *float64) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") {
			d.errorf(n, key, "want a CVSS score such as 9.0, got %s", describe(n))
			return
		}
		v, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || v < 0 || v > 10 {
			d.errorf(n, key, "%s is out of range 0.0…10.0", n.Value)
			return
		}
		*dst = v
	}
}

func (d *decoder) duration(dst *time.Duration, lo, hi time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		if !d.scalar(n, key, "!!str", `a duration such as "30s", "15m" or "2h"`) {
			return
		}
		v, err := time.ParseDuration(n.Value)
		if err != nil {
			d.errorf(n, key, `%q is not a duration such as "30s", "15m" or "2h"`, n.Value)
			return
		}
		if v < lo || v > hi {
			d.errorf(n, key, "%s is out of range %s…%s", n.Value, lo, hi)
			return
		}
		*dst = v
	}
}

var sizeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]+)\s*(B|KiB|MiB|GiB|TiB)?$`) })

// sizeValue reads a byte size: an integer, or a string with a binary unit.
func (d *decoder) sizeValue(n *yaml.Node, key string, lo, hi int64) (int64, bool) {
	const want = `a size in bytes such as 65536 or "64KiB" (units B, KiB, MiB, GiB, TiB)`
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!str") {
		d.errorf(n, key, "want %s, got %s", want, describe(n))
		return 0, false
	}
	m := sizeRE().FindStringSubmatch(n.Value)
	if m == nil {
		d.errorf(n, key, "want %s, got %q", want, n.Value)
		return 0, false
	}
	v, err := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[m[2]]
	if err != nil || v > math.MaxInt64>>shift || v<<shift < lo || v<<shift > hi {
		d.errorf(n, key, "%s is out of range %d…%d bytes", n.Value, lo, hi)
		return 0, false
	}
	return v << shift, true
}

func (d *decoder) size(dst *int, lo, hi int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		if v, ok := d.sizeValue(n, key, lo, hi); ok {
			*dst = int(v)
		}
	}
}

func (d *decoder) size64(dst *int64, lo, hi int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		if v, ok := d.sizeValue(n, key, lo, hi); ok {
			*dst = v
		}
	}
}

func (d *decoder) str(n *yaml.Node, key, want string) (string, bool) {
	if !d.scalar(n, key, "!!str", want) {
		return "", false
	}
	if n.Value == "" {
		d.errorf(n, key, "want %s, got an empty string", want)
		return "", false
	}
	return n.Value, true
}

func (d *decoder) oneOf(dst *string, choices ...string) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		want := "one of " + strings.Join(choices, ", ")
		v, ok := d.str(n, key, want)
		if !ok {
			return
		}
		if !slices.Contains(choices, v) {
			d.errorf(n, key, "%q is not %s", v, want)
			return
		}
		*dst = v
	}
}

func (d *decoder) path(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		if v, ok := d.str(n, key, "a file path"); ok {
			*dst = v
		}
	}
}

// address checks host:port with a numeric port; an empty host is allowed
// only for listen addresses.
func (d *decoder) address(dst *string, listen bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		v, ok := d.str(n, key, `an address "host:port"`)
		if !ok {
			return
		}
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			d.errorf(n, key, "%q is not host:port", v)
			return
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			d.errorf(n, key, "%q: port %q is not a number 1…65535", v, port)
			return
		}
		if host == "" && !listen {
			d.errorf(n, key, "%q names no host", v)
			return
		}
		*dst = v
	}
}

// optionalAddress is a listen address, or "" / "off" to disable the listener.
func (d *decoder) optionalAddress(dst *string) func(*yaml.Node, string) {
	listen := d.address(dst, true)
	return func(n *yaml.Node, key string) {
		if n.Kind == yaml.ScalarNode && (n.Value == "" || n.Value == "off") {
			*dst = ""
			return
		}
		listen(n, key)
	}
}

// interfaces reads the list of monitor interface names.
// tabs reports every line indented with a tab: YAML forbids them, and the
// YAML library's message ("found character that cannot start any token")
// does not say so.
func (d *decoder) tabs(src []byte) bool {
	found := false
	for i, line := range strings.Split(string(src), "\n") {
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		if strings.Contains(indent, "\t") && strings.TrimSpace(line) != "" {
			d.errs = append(d.errs, &Error{File: d.file, Line: i + 1,
				Msg: "a tab in the indentation: YAML indents with spaces only (replace the tab with spaces)"})
			found = true
		}
	}
	return found
}

func (d *decoder) interfaces(n *yaml.Node, key string) []string {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "want a list of interface names, got %s", describe(n))
		return nil
	}
	var out []string
	for i, item := range n.Content {
		ikey := fmt.Sprintf("%s[%d]", key, i)
		v, ok := d.str(item, ikey, "an interface name")
		if !ok {
			continue
		}
		switch {
		case len(v) >= 16 || strings.ContainsAny(v, "/: \t") || v == "." || v == "..":
			d.errorf(item, ikey, "%q is not an interface name", v)
		case slices.Contains(out, v):
			d.errorf(item, ikey, "%q is listed twice", v)
		case isLoopback(v):
			d.errorf(item, ikey, "%q is the loopback interface: no plant traffic passes there (name the SPAN or TAP port)", v)
		default:
			out = append(out, v)
		}
	}
	if len(n.Content) == 0 {
		d.errorf(n, key, "required: name at least one monitor interface")
	}
	return out
}

// isLoopback: "lo", or an interface of this machine flagged loopback.
func isLoopback(name string) bool {
	if name == "lo" {
		return true
	}
	ifi, err := net.InterfaceByName(name)
	return err == nil && ifi.Flags&net.FlagLoopback != 0
}

var (
	nameRE     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`) })
	facilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
		"authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
)

// Facility is the RFC 5424 facility code of a facility name (-1 if unknown).
func Facility(name string) int { return slices.Index(facilities, name) }

func (d *decoder) syslogs(n *yaml.Node, key string) []Syslog {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "want a list of destinations, got %s", describe(n))
		return nil
	}
	var out []Syslog
	names := map[string]int{}
	for i, item := range n.Content {
		ikey := fmt.Sprintf("%s[%d]", key, i)
		s := syslogDefaults()
		var framingSet, tlsSet bool
		var tlsNode *yaml.Node
		before := len(d.errs)
		d.mapping(item, ikey, fields{
			"name": func(n *yaml.Node, key string) {
				v, ok := d.str(n, key, "a name of lower-case letters, digits, - and _")
				if !ok {
					return
				}
				if !nameRE().MatchString(v) {
					d.errorf(n, key, "%q: want lower-case letters, digits, - and _ (at most 32)", v)
					return
				}
				if first, dup := names[v]; dup {
					d.errorf(n, key, "%q is already the name of the destination on line %d", v, first)
					return
				}
				names[v] = n.Line
				s.Name = v
			},
			"network": d.oneOf(&s.Network, "udp", "tcp", "tls"),
			"address": d.address(&s.Address, false),
			"header":  d.oneOf(&s.Header, "rfc5424", "rfc3164"),
			"format":  d.oneOf(&s.Format, "json", "cef", "leef"),
			"framing": func(n *yaml.Node, key string) {
				framingSet = true
				d.oneOf(&s.Framing, "octet-counting", "lf", "none")(n, key)
			},
			"facility":     d.oneOf(&s.Facility, facilities...),
			"min_severity": d.integer(&s.MinSeverity, 1, 10),
			"tls": func(n *yaml.Node, key string) {
				tlsSet, tlsNode = true, n
				d.mapping(n, key, fields{
					"ca_file":     d.regularFile(&s.TLS.CAFile),
					"cert_file":   d.regularFile(&s.TLS.CertFile),
					"key_file":    d.regularFile(&s.TLS.KeyFile),
					"server_name": func(n *yaml.Node, key string) { s.TLS.ServerName, _ = d.str(n, key, "a host name") },
				})
			},
		})
		if len(d.errs) > before || item.Kind != yaml.MappingNode {
			continue
		}
		switch {
		case s.Name == "":
			d.errorf(item, ikey+".name", "required")
		case s.Address == "":
			d.errorf(item, ikey+".address", "required")
		case tlsSet && s.Network != "tls":
			d.errorf(tlsNode, ikey+".tls", "only for network: tls (this destination is %s)", s.Network)
		case (s.TLS.CertFile == "") != (s.TLS.KeyFile == ""):
			d.errorf(tlsNode, ikey+".tls", "cert_file and key_file go together")
		case framingSet && s.Network == "udp" && s.Framing != "none":
			d.errorf(item, ikey+".framing", "%q is for tcp and tls; a udp datagram holds one message (framing: none)", s.Framing)
		case framingSet && s.Network != "udp" && s.Framing == "none":
			d.errorf(item, ikey+".framing", "a %s stream needs octet-counting or lf", s.Network)
		}
		if !framingSet {
			s.Framing = "octet-counting"
			if s.Network == "udp" {
				s.Framing = "none"
			}
		}
		out = append(out, s)
	}
	return out
}

// file checks a path names a readable regular file.
func (d *decoder) regularFile(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		v, ok := d.str(n, key, "a file path")
		if !ok {
			return
		}
		f, err := os.Open(v)
		if err != nil {
			d.errorf(n, key, "%v", err)
			return
		}
		st, err := f.Stat()
		f.Close()
		if err != nil || !st.Mode().IsRegular() {
			d.errorf(n, key, "%s is not a regular file", v)
			return
		}
		*dst = v
	}
}
