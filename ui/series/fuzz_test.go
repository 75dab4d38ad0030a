package series

import (
	"testing"
)

// FuzzDecodeChunk: a chunk read back from disk (damaged by a power cut,
// a bad sector, an older build) decodes or fails cleanly: no panic, every
// bucket inside the chunk, in order. Re-encoding what decoded gives bytes
// that decode to the same buckets.
func FuzzDecodeChunk(f *testing.F) {
	e := newEncoder()
	var seed []byte
	for i, b := range []Bucket{{N: 1, Min: 7, Max: 7, Last: 7}, {N: 60, Min: -1.5, Max: 3e9, Last: 2}, {N: 2, Min: 2, Max: 2.25, Last: 2.25}} {
		seed = e.append(seed, KindValue, int32(i*3), &b)
	}
	f.Add(seed, uint8(KindValue))
	f.Add([]byte{1, 5, 2, 900 % 256, 3}, uint8(KindCount))
	f.Add([]byte{64, 0x40}, uint8(KindValue))
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		k := KindValue
		if kind%2 == 0 {
			k = KindCount
		}
		const start, width = 1 << 40, 1000
		bs, err := decodeChunk(k, start, width, data)
		prev := int64(-1)
		for _, b := range bs {
			if b.T < start || b.T >= start+width*ChunkBuckets || b.T <= prev {
				t.Fatalf("bucket at %d outside the chunk or out of order", b.T)
			}
			prev = b.T
		}
		if err != nil {
			return
		}
		e := newEncoder()
		var enc []byte
		for i := range bs {
			enc = e.append(enc, k, int32((bs[i].T-start)/width), &bs[i])
		}
		again, err := decodeChunk(k, start, width, enc)
		if err != nil || len(again) != len(bs) {
			t.Fatalf("re-encoded chunk: %d buckets, %v", len(again), err)
		}
		for i := range bs {
			a, b := again[i], bs[i]
			if a.T != b.T || a.N != b.N || !same(a.Min, b.Min) || !same(a.Max, b.Max) || !same(a.Last, b.Last) {
				t.Fatalf("bucket %d: %+v, then %+v", i, b, a)
			}
		}
	})
}

func same(a, b float64) bool { return a == b || a != a && b != b }
