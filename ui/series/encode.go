package series

import (
	"encoding/binary"
	"errors"
	"math"
)

// Bucket is one interval of a series: how many observations fell in it
// and, for a value series, the smallest, largest and last of them. For a
// count series Min, Max and Last are the count.
type Bucket struct {
	T    int64 // start, Unix nanoseconds
	N    uint32
	Min  float64
	Max  float64
	Last float64
}

func (b *Bucket) add(v float64) {
	if b.N == 0 {
		b.Min, b.Max = v, v
	} else {
		b.Min, b.Max = math.Min(b.Min, v), math.Max(b.Max, v)
	}
	b.Last = v
	if b.N < math.MaxUint32 {
		b.N++
	}
}

// merge folds a later bucket o into b.
func (b *Bucket) merge(o Bucket) {
	if b.N == 0 {
		*b = Bucket{T: b.T, N: o.N, Min: o.Min, Max: o.Max, Last: o.Last}
		return
	}
	b.Min, b.Max, b.Last = math.Min(b.Min, o.Min), math.Max(b.Max, o.Max), o.Last
	b.N = uint32(min(uint64(b.N)+uint64(o.N), math.MaxUint32))
}

// A chunk is ChunkBuckets consecutive buckets of one tier, encoded one
// after the other:
//
//	uvarint  bucket index - previous bucket index (the first: index + 1)
//	count series: uvarint n
//	value series: header byte, [uvarint n], values
//
// header bits 0-1, 2-3, 4-5: how min, max and last are written (0: equal
// to the previous bucket's last, nothing written; 1: zigzag varint integer;
// 2: float32; 3: float64); bit 6: n is 1 (not written); bit 7: min, max
// and last are equal, written once with the code of bits 0-1.
//
// A register polled every second that does not change costs 2 bytes a
// bucket; a float32 that changes every second 6; a minute of it 15.
const (
	codeSame = iota
	codeInt
	codeF32
	codeF64
	hdrN1     = 1 << 6
	hdrSingle = 1 << 7
)

var errCorrupt = errors.New("series: corrupt chunk")

func valCode(v, prev float64) byte {
	switch {
	case v == prev && math.Signbit(v) == math.Signbit(prev):
		return codeSame
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return codeInt
	case float64(float32(v)) == v || math.IsInf(v, 0):
		return codeF32
	}
	return codeF64
}

func appendVal(dst []byte, code byte, v float64) []byte {
	switch code {
	case codeInt:
		return binary.AppendVarint(dst, int64(v))
	case codeF32:
		return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v)))
	case codeF64:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	}
	return dst
}

// encoder appends buckets to a chunk.
type encoder struct {
	prevIdx  int32
	prevLast float64
}

func newEncoder() encoder { return encoder{prevIdx: -1, prevLast: math.NaN()} }

func (e *encoder) append(dst []byte, kind Kind, idx int32, b *Bucket) []byte {
	dst = binary.AppendUvarint(dst, uint64(idx-e.prevIdx))
	e.prevIdx = idx
	if kind == KindCount {
		return binary.AppendUvarint(dst, uint64(b.N))
	}
	var hdr byte
	if b.N == 1 {
		hdr |= hdrN1
	}
	if b.Min == b.Max && b.Max == b.Last {
		c := valCode(b.Last, e.prevLast)
		dst = append(dst, hdr|hdrSingle|c)
		if b.N != 1 {
			dst = binary.AppendUvarint(dst, uint64(b.N))
		}
		dst = appendVal(dst, c, b.Last)
	} else {
		cmin, cmax, clast := valCode(b.Min, e.prevLast), valCode(b.Max, e.prevLast), valCode(b.Last, e.prevLast)
		dst = append(dst, hdr|cmin|cmax<<2|clast<<4)
		if b.N != 1 {
			dst = binary.AppendUvarint(dst, uint64(b.N))
		}
		dst = appendVal(appendVal(appendVal(dst, cmin, b.Min), cmax, b.Max), clast, b.Last)
	}
	e.prevLast = b.Last
	return dst
}

// decoder reads a chunk's buckets one by one.
type decoder struct {
	data  []byte
	kind  Kind
	start int64 // chunk start
	width int64
	encoder
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.data)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.data = d.data[n:]
	return v
}

func (d *decoder) val(code byte) float64 {
	switch code {
	case codeSame:
		if math.IsNaN(d.prevLast) {
			d.err = errCorrupt
		}
		return d.prevLast
	case codeInt:
		v, n := binary.Varint(d.data)
		if n <= 0 {
			d.err = errCorrupt
			return 0
		}
		d.data = d.data[n:]
		return float64(v)
	case codeF32:
		if len(d.data) < 4 {
			d.err = errCorrupt
			return 0
		}
		v := math.Float32frombits(binary.LittleEndian.Uint32(d.data))
		d.data = d.data[4:]
		return float64(v)
	}
	if len(d.data) < 8 {
		d.err = errCorrupt
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.data))
	d.data = d.data[8:]
	return v
}

// next decodes one bucket; false at the end or on an error (d.err).
func (d *decoder) next(b *Bucket) bool {
	if len(d.data) == 0 || d.err != nil {
		return false
	}
	delta := d.uvarint()
	if d.err != nil || delta == 0 || delta > ChunkBuckets || int64(d.prevIdx)+int64(delta) >= ChunkBuckets {
		d.err = errCorrupt
		return false
	}
	d.prevIdx += int32(delta)
	b.T = d.start + int64(d.prevIdx)*d.width
	if d.kind == KindCount {
		n := d.uvarint()
		b.N = uint32(min(n, math.MaxUint32))
		v := float64(b.N)
		b.Min, b.Max, b.Last = v, v, v
		return d.err == nil
	}
	if len(d.data) == 0 {
		d.err = errCorrupt
		return false
	}
	hdr := d.data[0]
	d.data = d.data[1:]
	b.N = 1
	if hdr&hdrN1 == 0 {
		b.N = uint32(min(d.uvarint(), math.MaxUint32))
	}
	if hdr&hdrSingle != 0 {
		v := d.val(hdr & 3)
		b.Min, b.Max, b.Last = v, v, v
	} else {
		b.Min = d.val(hdr & 3)
		b.Max = d.val(hdr >> 2 & 3)
		b.Last = d.val(hdr >> 4 & 3)
	}
	d.prevLast = b.Last
	return d.err == nil
}

// decodeChunk returns a chunk's buckets.
func decodeChunk(kind Kind, start, width int64, data []byte) ([]Bucket, error) {
	d := decoder{data: data, kind: kind, start: start, width: width, encoder: newEncoder()}
	var out []Bucket
	var b Bucket
	for d.next(&b) {
		out = append(out, b)
	}
	return out, d.err
}
