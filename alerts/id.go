package alerts

import (
	"time"
)

// idHash names alerts and incidents: FNV-1a (64 bits) over the fields,
// each string followed by a zero byte and each number as 8 bytes, then
// the MurmurHash3 finaliser, so that every bit of the id depends on every
// input bit. An id names a record, it does not seal it (the evidence log's
// SHA-256 does): the same fields give the same id in every run, and the
// fields that make an alert's id include the engine's sequence number, so
// two alerts of one run never share their inputs. It costs a few hundred
// instructions where a SHA-256 of the formatted fields cost 8,000, on a
// path a flood of alerts runs for each one.
type idHash uint64

const (
	fnvOffset64 idHash = 14695981039346656037
	fnvPrime64  idHash = 1099511628211
)

func newIDHash() idHash { return fnvOffset64 }

func (h idHash) str(s string) idHash {
	for i := 0; i < len(s); i++ {
		h = (h ^ idHash(s[i])) * fnvPrime64
	}
	return h * fnvPrime64 // the zero byte after the string: "ab","c" is not "a","bc"
}

func (h idHash) num(n uint64) idHash {
	for i := 0; i < 8; i++ {
		h = (h ^ idHash(byte(n>>(8*i)))) * fnvPrime64
	}
	return h
}

// sum is the finalised hash.
func (h idHash) sum() uint64 {
	x := uint64(h)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// hex writes the sum's first n bytes (high byte first) as 2n hex digits after prefix.
func (h idHash) hex(prefix string, n int) string {
	const digits = "0123456789abcdef"
	var buf [24]byte
	b := append(buf[:0], prefix...)
	x := h.sum()
	for i := 0; i < n; i++ {
		c := byte(x >> (56 - 8*i))
		b = append(b, digits[c>>4], digits[c&15])
	}
	return string(b)
}

// alertID is stable across runs: the same deviation at the same time gets the same id.
func alertID(kind, key string, ts time.Time, n uint64) string {
	return newIDHash().str(kind).str(key).num(uint64(ts.UnixNano())).num(n).hex("", 8)
}

// incidentID names the incident a source opened at ts.
func incidentID(source string, ts time.Time) string {
	return newIDHash().str(source).num(uint64(ts.UnixNano())).hex("inc-", 6)
}
