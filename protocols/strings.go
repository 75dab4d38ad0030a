package protocols

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
)

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
	// rendered remembers texts formatted from a few wire bytes, by those
	// bytes (Recall, Remember).
	rendered [renderedSlots]renderedText
}

type renderedText struct {
	kind      Rendering
	key, text string
}

// Rendering names what a remembered text renders (Recall, Remember): the
// same wire bytes rendered by two decoders are two texts, and one never
// answers for the other.
type Rendering uint8

const (
	_ Rendering = iota
	// RenderS7Item: an S7 item's 12-byte variable specification, rendered
	// as Step 7 writes the address.
	RenderS7Item
	// RenderOPCUANode: an OPC UA NodeId's wire encoding, rendered as its
	// text form (ns=2;s=Pump1).
	RenderOPCUANode
	// RenderDNP3CROB: a DNP3 control relay output block's 11 octets,
	// rendered as its fields (op=latch_on count=1 on=100 off=0 status=0).
	RenderDNP3CROB
)

const (
	stringBuckets = 512 // a power of two
	maxStringLen  = 256
	renderedSlots = 256 // a power of two
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

// Recall returns the text last remembered for key rendered as kind
// (Remember), if its slot still holds it. A decoder whose text is a
// function of a few wire bytes alone (an S7 item's address rendered as
// Step 7 writes it, an OPC UA NodeId's text) then formats it only for the
// keys it has not seen recently, not once per item of every poll.
func (s *Strings) Recall(kind Rendering, key []byte) (string, bool) {
	if r := s.renderedSlot(key); r != nil && r.kind == kind && r.key == string(key) {
		return r.text, true
	}
	return "", false
}

// Remember returns text as Bytes does and remembers it for key rendered as
// kind, in place of what its slot held.
func (s *Strings) Remember(kind Rendering, key, text []byte) string {
	t := s.Bytes(text)
	if r := s.renderedSlot(key); r != nil {
		r.kind, r.key, r.text = kind, string(key), t
	}
	return t
}

// renderedSlot is where key's text is remembered, whatever its rendering
// (Recall compares the kind too); nil for a key not kept (empty, too long,
// or no table).
func (s *Strings) renderedSlot(key []byte) *renderedText {
	if s == nil || len(key) == 0 || len(key) > maxStringLen {
		return nil
	}
	return &s.rendered[maphash.Bytes(s.seed, key)&(renderedSlots-1)]
}

// Printable is the package's Printable, kept like Bytes.
func (s *Strings) Printable(b []byte) string {
	if !printableASCII(b) {
		return Printable(b) // escaped text is rare: not kept
	}
	return s.Bytes(b)
}

// AddrTexts remembers the text of the addresses seen last, one per slot of
// a fixed table: an alert flood names the same few hosts in every alert,
// its endpoints and keys, and each netip.Addr.String made a new string.
// The zero value is ready; a nil *AddrTexts formats every time. Not safe
// for concurrent use: its owner's lock covers it.
type AddrTexts struct {
	slots [addrSlots]addrText
	macs  [macSlots]macText
}

type addrText struct {
	addr netip.Addr
	text string
}

type macText struct {
	mac  [6]byte
	text string
}

const (
	macBits  = 8
	macSlots = 1 << macBits
)

const (
	addrBits  = 10
	addrSlots = 1 << addrBits
)

// Text returns a.String(), made once while a keeps its slot.
func (c *AddrTexts) Text(a netip.Addr) string {
	if c == nil {
		return a.String()
	}
	b := a.As16()
	h := (binary.LittleEndian.Uint64(b[8:]) ^ binary.LittleEndian.Uint64(b[:8])) * 0x9e3779b97f4a7c15
	s := &c.slots[h>>(64-addrBits)]
	if s.addr != a || s.text == "" {
		s.addr, s.text = a, a.String()
	}
	return s.text
}

// MAC returns mac as AppendMAC writes it, made once while mac keeps its
// slot.
func (c *AddrTexts) MAC(mac [6]byte) string {
	if c == nil {
		var buf [17]byte
		return string(AppendMAC(buf[:0], mac))
	}
	h := (uint64(mac[0])<<40 | uint64(mac[1])<<32 | uint64(mac[2])<<24 | uint64(mac[3])<<16 | uint64(mac[4])<<8 | uint64(mac[5])) * 0x9e3779b97f4a7c15
	s := &c.macs[h>>(64-macBits)]
	if s.mac != mac || s.text == "" {
		var buf [17]byte
		s.mac, s.text = mac, string(AppendMAC(buf[:0], mac))
	}
	return s.text
}
