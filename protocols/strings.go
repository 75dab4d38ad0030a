package protocols

import "hash/maphash"

// Strings hands out strings made from wire bytes, keeping the two last seen
// in each of a fixed number of buckets: a text that repeats on the wire (an
// OPC UA NodeId polled every second, a DNP3 outstation's IIN rendered as
// text, a command's parameters) is allocated once instead of once per
// transaction. It is bounded (2*stringBuckets strings of at most
// maxStringLen bytes; longer ones are not kept) and not safe for concurrent use: the
// pipeline owns one and passes it to its sessions through Env. A nil
// *Strings allocates every string, so decoders work without one.
type Strings struct {
	seed    maphash.Seed
	buckets [stringBuckets][2]string // most recent first
}

const (
	stringBuckets = 512 // a power of two
	maxStringLen  = 256
)

// NewStrings returns an empty table.
func NewStrings() *Strings { return &Strings{seed: maphash.MakeSeed()} }

// Bytes returns string(b), without allocating when the same text was made
// recently.
func (s *Strings) Bytes(b []byte) string {
	if s == nil || len(b) > maxStringLen {
		return string(b)
	}
	if len(b) == 0 {
		return ""
	}
	// Two per bucket, so that two texts used in turn that hash alike do not
	// push each other out. string(b) in a comparison does not allocate (in
	// a switch it does, beyond 32 bytes).
	k := &s.buckets[maphash.Bytes(s.seed, b)&(stringBuckets-1)]
	if k[0] == string(b) {
		return k[0]
	}
	if k[1] == string(b) {
		k[0], k[1] = k[1], k[0]
		return k[0]
	}
	k[0], k[1] = string(b), k[0]
	return k[0]
}

// Printable is the package's Printable, kept like Bytes.
func (s *Strings) Printable(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c >= 0x7F {
			return Printable(b) // escaped text is rare: not kept
		}
	}
	return s.Bytes(b)
}
