package protocols

import (
	"encoding/binary"
	"math"
	"time"
)

// The state file's binary records (what otwatch keeps for itself, never
// an interchange format) are built of a few field forms, written by the
// Append functions below and read back by the Cursor methods beside them:
// unsigned integers as uvarints, signed ones as zig-zag varints, strings
// and byte strings as a uvarint length and the bytes, flags as one byte,
// times as a varint of Unix nanoseconds plus one (0: the zero time) and
// float64 as its 8 bits little-endian (NaN and the infinities kept). A
// record starts with its format byte, so a later format can be told from
// this one.

// AppendRecString appends s as a state-record string.
func AppendRecString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendRecBool appends v as a flag byte.
func AppendRecBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendRecTime appends t as a state-record time (to the nanosecond, in UTC
// when read back; the zero time stays zero).
func AppendRecTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano()+1)
}

// AppendRecFloat appends f's 8 bits.
func AppendRecFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// Uvarint reads an unsigned varint.
func (c *Cursor) Uvarint() uint64 {
	v, n := binary.Uvarint(c.b)
	if n <= 0 {
		c.Fail()
		return 0
	}
	c.b = c.b[n:]
	return v
}

// Varint reads a signed (zig-zag) varint.
func (c *Cursor) Varint() int64 {
	u := c.Uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// Int reads a signed varint that must fit an int (32 bits on armv7); a
// larger one fails the cursor and reads as 0.
func (c *Cursor) Int() int {
	v := c.Varint()
	if int64(int(v)) != v {
		c.Fail()
		return 0
	}
	return int(v)
}

// Int32 reads a signed varint that must fit an int32.
func (c *Cursor) Int32() int32 {
	v := c.Varint()
	if int64(int32(v)) != v {
		c.Fail()
		return 0
	}
	return int32(v)
}

// Bounded reads an unsigned varint that must be at most max (a field of a
// narrower type); a larger one fails the cursor and reads as 0.
func (c *Cursor) Bounded(max uint64) uint64 {
	v := c.Uvarint()
	if v > max {
		c.Fail()
		return 0
	}
	return v
}

// Count reads a length or an element count, which cannot be more than the
// bytes left (each element takes at least one), so a damaged record
// cannot make its reader allocate much.
func (c *Cursor) Count() int { return int(c.Bounded(uint64(len(c.b)))) }

// Bytes reads a state-record byte string, aliasing the record.
func (c *Cursor) Bytes() []byte { return c.Take(c.Count()) }

// Str reads a state-record string (a copy).
func (c *Cursor) Str() string {
	b := c.Bytes()
	if len(b) == 0 {
		return ""
	}
	return string(b)
}

// Bool reads a flag byte; anything but 0 or 1 fails the cursor.
func (c *Cursor) Bool() bool {
	switch c.U8() {
	case 0:
		return false
	case 1:
		return true
	}
	c.Fail()
	return false
}

// Time reads a state-record time.
func (c *Cursor) Time() time.Time {
	v := c.Varint()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v-1).UTC()
}

// Float reads a float64's 8 bits.
func (c *Cursor) Float() float64 { return math.Float64frombits(c.U64LE()) }
