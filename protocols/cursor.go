package protocols

import "encoding/binary"

// Cursor reads a PDU's fields from a byte slice in place, front to back,
// checking every read against the bytes that remain. Its first failure
// sticks: a read past the end (or a protocol's own Fail) empties it, and
// every later read returns zero values and nil, so a decoder reads a whole
// structure and checks Failed once at the end (the gopcua habit), with no
// length test per field.
//
// Byte order is in the method name (U16LE, U16BE, ...) rather than in a
// field or an interface: each read is a slice test and a load that the
// compiler inlines into the decoder's loop. A protocol's own encodings
// (OPC UA strings and NodeIds, S7comm-plus variable-length integers, CIP
// paths) live in its folder, in a type that embeds Cursor.
//
// The zero Cursor is empty; NewCursor(b) reads b. Slices that Take returns
// alias b and have their capacity cut to their length, so appending to one
// never overwrites the bytes after it.
type Cursor struct {
	b      []byte // the bytes not yet read; nil once failed
	failed bool
}

// NewCursor returns a cursor at the start of b.
func NewCursor(b []byte) Cursor { return Cursor{b: b} }

// Fail marks the cursor failed: it empties it, and Failed reports true
// from now on. Decoders call it for a value that cannot be right (a
// negative length, a count that cannot fit, an unknown encoding).
func (c *Cursor) Fail() { c.b, c.failed = nil, true }

// Failed reports whether a read has run past the end or Fail was called.
func (c *Cursor) Failed() bool { return c.failed }

// Len is the number of bytes not yet read (0 once failed).
func (c *Cursor) Len() int { return len(c.b) }

// Rest returns the bytes not yet read without consuming them (nil once
// failed), for a look ahead or to hand the remainder to another decoder.
func (c *Cursor) Rest() []byte { return c.b }

// Take consumes and returns the next n bytes. When fewer remain, or n is
// negative, the cursor fails and Take returns nil. Take(0) returns an empty,
// non-nil slice unless the cursor has failed (or was made from nil), so a
// decoder can tell an empty field from a missing one.
func (c *Cursor) Take(n int) []byte {
	if uint(n) > uint(len(c.b)) {
		c.Fail()
		return nil
	}
	v := c.b[:n:n]
	c.b = c.b[n:]
	return v
}

// Skip consumes n bytes, failing as Take does.
func (c *Cursor) Skip(n int) { c.Take(n) }

// U8 reads one byte.
func (c *Cursor) U8() byte { return c.next(1)[0] }

// U16LE reads a little-endian 16-bit unsigned integer.
func (c *Cursor) U16LE() uint16 { return binary.LittleEndian.Uint16(c.next(2)) }

// U16BE reads a big-endian 16-bit unsigned integer.
func (c *Cursor) U16BE() uint16 { return binary.BigEndian.Uint16(c.next(2)) }

// U32LE reads a little-endian 32-bit unsigned integer.
func (c *Cursor) U32LE() uint32 { return binary.LittleEndian.Uint32(c.next(4)) }

// U32BE reads a big-endian 32-bit unsigned integer.
func (c *Cursor) U32BE() uint32 { return binary.BigEndian.Uint32(c.next(4)) }

// U64LE reads a little-endian 64-bit unsigned integer.
func (c *Cursor) U64LE() uint64 { return binary.LittleEndian.Uint64(c.next(8)) }

// U64BE reads a big-endian 64-bit unsigned integer.
func (c *Cursor) U64BE() uint64 { return binary.BigEndian.Uint64(c.next(8)) }

// next consumes the n (at most 8) bytes of a fixed-size read. When fewer
// remain it fails the cursor and returns n zero bytes, so the read yields 0.
func (c *Cursor) next(n int) []byte {
	if len(c.b) < n {
		c.Fail()
		return zeros[:n]
	}
	v := c.b[:n]
	c.b = c.b[n:]
	return v
}

// zeros is what a fixed-size read past the end decodes; nothing writes it.
var zeros [8]byte

// UintBE reads b, 1 to 8 bytes, as a big-endian unsigned integer (an S7
// item's element); the common widths are one load each.
func UintBE(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	case 8:
		return binary.BigEndian.Uint64(b)
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// UintLE reads b, 1 to 8 bytes, as a little-endian unsigned integer (a
// CIP atomic element); IntLE as a signed one, sign-extended from its width.
func UintLE(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// IntLE reads b, 1 to 8 bytes, as a little-endian two's-complement integer.
func IntLE(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	shift := 64 - 8*min(len(b), 8)
	return int64(UintLE(b)<<shift) >> shift
}
