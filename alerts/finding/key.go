package finding

import "strings"

// Key names what deviated, stable across runs: repeats of one key fold
// into one alert and its history regulates the alert's severity. Kind is
// the alert kind; Parts distinguish one deviation of the kind from
// another, the asset (or the acting host) first for most kinds:
//
//	new_function: server, client, protocol, unit, code, subcode
//	zone_violation: client, server, protocol, operation
//	mac_changed: address, the two MACs in order
type Key struct {
	Kind  string
	Parts []string
}

// sep joins a key's fields in its string form.
const sep = '|'

// NewKey returns the key of kind distinguished by parts, in order.
func NewKey(kind string, parts ...string) Key { return Key{Kind: kind, Parts: parts} }

// Part returns the i-th part, "" when there is none.
func (k Key) Part(i int) string {
	if i < 0 || i >= len(k.Parts) {
		return ""
	}
	return k.Parts[i]
}

// AppendTo appends the key's string form (String) to b.
func (k Key) AppendTo(b []byte) []byte {
	b = append(b, k.Kind...)
	for _, p := range k.Parts {
		b = append(append(b, sep), p...)
	}
	return b
}

// String is the key as alerts, feedback and the dashboard store it: kind
// and parts joined by '|'.
func (k Key) String() string {
	n := len(k.Kind)
	for _, p := range k.Parts {
		n += 1 + len(p)
	}
	var b strings.Builder
	b.Grow(n) // one allocation: an alert flood makes a key for every finding
	b.WriteString(k.Kind)
	for _, p := range k.Parts {
		b.WriteByte(sep)
		b.WriteString(p)
	}
	return b.String()
}

// ParseKey reads a key's string form: the kind, then at most max parts
// (all of them when max <= 0; past max the last part keeps the rest, '|'
// included, for a last part that may hold anything). Every string is a
// key, so ParseKey(s, n).String() == s; ok is false only for "".
func ParseKey(s string, max int) (k Key, ok bool) {
	if s == "" {
		return Key{}, false
	}
	kind, rest, more := strings.Cut(s, string(sep))
	if !more {
		return Key{Kind: kind}, true
	}
	if max <= 0 {
		max = -1
	}
	return Key{Kind: kind, Parts: strings.SplitN(rest, string(sep), max)}, true
}
