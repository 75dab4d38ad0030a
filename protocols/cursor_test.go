package protocols

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math"
	"testing"
)

// cursorOp is one read of a cursor test: its name, the n of Take/Skip,
// and what it must return (a number, or the bytes of Take in hex; "nil"
// for a nil slice).
type cursorOp struct {
	op   string
	n    int
	want uint64
	hex  string
}

// apply runs one read, returning the number read or the bytes taken.
func (o cursorOp) apply(c *Cursor) (uint64, []byte) {
	switch o.op {
	case "u8":
		return uint64(c.U8()), nil
	case "u16le":
		return uint64(c.U16LE()), nil
	case "u16be":
		return uint64(c.U16BE()), nil
	case "u32le":
		return uint64(c.U32LE()), nil
	case "u32be":
		return uint64(c.U32BE()), nil
	case "u64le":
		return c.U64LE(), nil
	case "u64be":
		return c.U64BE(), nil
	case "take":
		return 0, c.Take(o.n)
	case "skip":
		c.Skip(o.n)
	case "fail":
		c.Fail()
	}
	return 0, nil
}

func TestCursor(t *testing.T) {
	cases := []struct {
		name   string
		in     string // hex
		ops    []cursorOp
		failed bool
		left   int
	}{
		{"each width little-endian",
			"01" + // U8
				"0201" + // U16LE 0x0102
				"04030201" + // U32LE 0x01020304
				"0807060504030201", // U64LE 0x0102030405060708
			[]cursorOp{{op: "u8", want: 1}, {op: "u16le", want: 0x0102}, {op: "u32le", want: 0x01020304},
				{op: "u64le", want: 0x0102030405060708}}, false, 0},
		{"each width big-endian",
			"0102" + // U16BE 0x0102
				"01020304" + // U32BE
				"0102030405060708" + // U64BE
				"ff", // left unread
			[]cursorOp{{op: "u16be", want: 0x0102}, {op: "u32be", want: 0x01020304},
				{op: "u64be", want: 0x0102030405060708}}, false, 1},
		{"take and skip",
			"aabb" + // taken
				"cc" + // skipped
				"dd", // taken
			[]cursorOp{{op: "take", n: 2, hex: "aabb"}, {op: "skip", n: 1}, {op: "take", n: 1, hex: "dd"},
				{op: "take", n: 0, hex: ""}}, false, 0},
		{"short read fails and sticks",
			"010203", // three bytes: a U32 does not fit
			[]cursorOp{{op: "u32le", want: 0}, {op: "u8", want: 0}, {op: "take", n: 0, hex: "nil"}}, true, 0},
		{"a short U16 at the end",
			"0102" + // U16BE
				"03", // one byte left
			[]cursorOp{{op: "u16be", want: 0x0102}, {op: "u16le", want: 0}}, true, 0},
		{"a short U64",
			"01020304050607", // seven bytes
			[]cursorOp{{op: "u64be", want: 0}}, true, 0},
		{"take past the end",
			"0102",
			[]cursorOp{{op: "take", n: 3, hex: "nil"}, {op: "u8", want: 0}}, true, 0},
		{"negative take",
			"0102",
			[]cursorOp{{op: "take", n: -1, hex: "nil"}}, true, 0},
		{"skip past the end",
			"0102",
			[]cursorOp{{op: "skip", n: 3}, {op: "u8", want: 0}}, true, 0},
		{"negative skip",
			"0102",
			[]cursorOp{{op: "skip", n: -2}}, true, 0},
		{"a decoder's own failure sticks",
			"0102",
			[]cursorOp{{op: "u8", want: 1}, {op: "fail"}, {op: "u8", want: 0}}, true, 0},
		{"empty input",
			"",
			[]cursorOp{{op: "take", n: 0, hex: ""}, {op: "u8", want: 0}}, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := hex.DecodeString(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if in == nil {
				in = []byte{}
			}
			c := NewCursor(in)
			for i, o := range tc.ops {
				v, b := o.apply(&c)
				if v != o.want {
					t.Errorf("read %d (%s): got %#x, want %#x", i, o.op, v, o.want)
				}
				if o.op != "take" {
					continue
				}
				if o.hex == "nil" {
					if b != nil {
						t.Errorf("read %d: take(%d) = %x, want nil", i, o.n, b)
					}
				} else if b == nil || hex.EncodeToString(b) != o.hex {
					t.Errorf("read %d: take(%d) = %x (nil %v), want %s", i, o.n, b, b == nil, o.hex)
				}
			}
			if c.Failed() != tc.failed || c.Len() != tc.left || len(c.Rest()) != tc.left {
				t.Errorf("failed %v, %d left (rest %d); want %v, %d", c.Failed(), c.Len(), len(c.Rest()), tc.failed, tc.left)
			}
		})
	}
}

// TestCursorTakeCapacity: a slice Take returns cannot be appended into the
// bytes after it.
func TestCursorTakeCapacity(t *testing.T) {
	in := []byte{1, 2, 3, 4}
	c := NewCursor(in)
	b := c.Take(2)
	_ = append(b, 9)
	if in[2] != 3 || cap(b) != 2 {
		t.Fatalf("append through a taken slice changed the input: % x (cap %d)", in, cap(b))
	}
	if r := c.Rest(); &r[0] != &in[2] {
		t.Fatal("Rest does not alias the input")
	}
}

// TestCursorZero: the zero Cursor is empty and fails on the first read.
func TestCursorZero(t *testing.T) {
	var c Cursor
	if c.Len() != 0 || c.Failed() {
		t.Fatal("zero cursor not empty")
	}
	if c.U8() != 0 || !c.Failed() {
		t.Fatal("a read from the zero cursor did not fail")
	}
}

// fixedReads are the fixed-size reads, each with its plain model.
var fixedReads = [...]struct {
	size  int
	read  func(*Cursor) uint64
	model func([]byte) uint64
}{
	{1, func(c *Cursor) uint64 { return uint64(c.U8()) }, func(b []byte) uint64 { return uint64(b[0]) }},
	{2, func(c *Cursor) uint64 { return uint64(c.U16LE()) }, func(b []byte) uint64 { return uint64(binary.LittleEndian.Uint16(b)) }},
	{2, func(c *Cursor) uint64 { return uint64(c.U16BE()) }, func(b []byte) uint64 { return uint64(binary.BigEndian.Uint16(b)) }},
	{4, func(c *Cursor) uint64 { return uint64(c.U32LE()) }, func(b []byte) uint64 { return uint64(binary.LittleEndian.Uint32(b)) }},
	{4, func(c *Cursor) uint64 { return uint64(c.U32BE()) }, func(b []byte) uint64 { return uint64(binary.BigEndian.Uint32(b)) }},
	{8, func(c *Cursor) uint64 { return c.U64LE() }, func(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }},
	{8, func(c *Cursor) uint64 { return c.U64BE() }, func(b []byte) uint64 { return binary.BigEndian.Uint64(b) }},
}

// FuzzCursor runs a script of reads over data and checks every result
// against a plain model of the same reads (an offset into data and a
// failed flag): values, bytes taken, what is left, and that a failure sticks.
// Each script byte is one read: the low 4 bits modulo 9 pick it (the seven
// fixed-size reads, Take, Skip), the high 4 bits are the n of Take and Skip
// (15 meaning -1).
func FuzzCursor(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, []byte{0, 1, 2, 3, 4, 5, 6, 0x27, 0x38, 0})
	f.Add([]byte{1, 2, 3}, []byte{3, 0, 0x07})
	f.Add([]byte{}, []byte{0x07, 0})
	f.Add([]byte{0xff, 0xee}, []byte{0xf7, 0})
	f.Fuzz(func(t *testing.T, data, script []byte) {
		c := NewCursor(data)
		off, failed := 0, false
		for i, s := range script {
			op, n := int(s&15%9), int(s>>4)
			if n == 15 {
				n = -1
			}
			size := n
			if op < len(fixedReads) {
				size = fixedReads[op].size
			}
			fits := !failed && size >= 0 && off+size <= len(data)
			var got, want uint64
			var gotB, wantB []byte
			switch {
			case op < len(fixedReads):
				got = fixedReads[op].read(&c)
				if fits {
					want = fixedReads[op].model(data[off:])
				}
			case op == 7:
				gotB = c.Take(n)
				if fits {
					wantB = data[off : off+n]
				}
				if (gotB == nil) != (wantB == nil) || cap(gotB) != len(gotB) {
					t.Fatalf("step %d: take(%d) = %x (nil %v, cap %d), want %x (nil %v)", i, n, gotB, gotB == nil, cap(gotB), wantB, wantB == nil)
				}
			default:
				c.Skip(n)
			}
			if fits {
				off += size
			} else {
				failed = true
			}
			if got != want || !bytes.Equal(gotB, wantB) {
				t.Fatalf("step %d (%#x): got %#x %x, want %#x %x", i, s, got, gotB, want, wantB)
			}
			left := len(data) - off
			if failed {
				left = 0
			}
			if c.Failed() != failed || c.Len() != left || !bytes.Equal(c.Rest(), data[len(data)-left:]) {
				t.Fatalf("step %d: failed %v, %d left; model %v, %d", i, c.Failed(), c.Len(), failed, left)
			}
		}
	})
}

// BenchmarkCursor reads a 30-byte record of every width, both orders.
func BenchmarkCursor(b *testing.B) {
	rec := make([]byte, 30)
	for i := range rec {
		rec[i] = byte(i)
	}
	var sum uint64
	for i := 0; i < b.N; i++ {
		c := NewCursor(rec)
		sum += uint64(c.U8()) + uint64(c.U16LE()) + uint64(c.U16BE()) + uint64(c.U32LE()) + uint64(c.U32BE())
		sum += c.U64LE() + c.U64BE()
		c.Skip(1)
		if c.Failed() || c.Len() != 0 {
			b.Fatal("record not read whole")
		}
	}
	if sum == 0 {
		b.Fatal("nothing read")
	}
}

// TestWidthReads: UintBE, UintLE and IntLE over every width an S7 item or
// a CIP atomic type has, and an odd one.
func TestWidthReads(t *testing.T) {
	for _, tc := range []struct {
		hex    string
		be, le uint64
		sle    int64
	}{
		{"ff", 0xff, 0xff, -1},
		{"0180", 0x0180, 0x8001, -32767},
		{"010203", 0x010203, 0x030201, 0x030201},
		{"fffffffe", 0xfffffffe, 0xfeffffff, -16777217},
		{"0100000000000080", 0x0100000000000080, 0x8000000000000001, math.MinInt64 + 1},
	} {
		b, _ := hex.DecodeString(tc.hex)
		if be, le, sle := UintBE(b), UintLE(b), IntLE(b); be != tc.be || le != tc.le || sle != tc.sle {
			t.Errorf("%s: BE %#x LE %#x signed %d; want %#x %#x %d", tc.hex, be, le, sle, tc.be, tc.le, tc.sle)
		}
	}
}
