package store

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzJournalRecord: any bytes read as a journal record (from a damaged
// file) give entries or errJournal, never a panic; and operations drawn
// from the bytes, packed into a chunk as a checkpoint packs them, read
// back as the same records.
func FuzzJournalRecord(f *testing.F) {
	f.Add([]byte{opChunk, 5, opPut, 1, 'b', 1, 'k'})
	f.Add([]byte{opPut, 1, 'b', 1, 'k', 'v'})
	f.Add([]byte{opChunk, 3, opDeleteBucket, 1, 'b', 4, opDelete, 1, 'b', 0})
	f.Add([]byte("p\x03abc\x02kkvalue"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ov := overlay{}
		if _, err := ov.readRecord(data); err != nil {
			require.ErrorIs(t, err, errJournal)
		}

		// operations from the bytes: op, bucket length, key length, value length, then those bytes
		type rec struct {
			hidden  bool
			records map[string]string
		}
		want := map[string]*rec{}
		w := &journalWriter{limit: 16*len(data) + 64} // one chunk: nothing to flush
		for rest := data; len(rest) >= 4; {
			op := []byte{opPut, opDelete, opDeleteBucket}[int(rest[0])%3]
			bl, kl, vl := int(rest[1]%8)+1, int(rest[2]%8), int(rest[3]%16)
			rest = rest[4:]
			take := func(n int) []byte {
				n = min(n, len(rest))
				b := rest[:n]
				rest = rest[n:]
				return b
			}
			bucket, key, value := take(bl), take(kl), take(vl)
			if op == opDeleteBucket {
				key, value = nil, nil
			}
			if op == opDelete {
				value = nil
			}
			require.NoError(t, w.add(op, bucket, key, value))
			r := want[string(bucket)]
			if r == nil {
				r = &rec{records: map[string]string{}}
				want[string(bucket)] = r
			}
			switch op {
			case opPut:
				r.records[string(key)] = string(value)
			case opDelete:
				r.records[string(key)] = "\x00deleted"
			case opDeleteBucket:
				r.hidden, r.records = true, map[string]string{}
			}
		}
		if w.n == 0 {
			return
		}
		got := overlay{}
		n, err := got.readRecord(w.chunk)
		require.NoError(t, err)
		assert.Equal(t, w.n, n)
		require.Len(t, got, len(want))
		for b, r := range want {
			ob := got[b]
			require.NotNil(t, ob, "bucket %q", b)
			assert.Equal(t, r.hidden, ob.hidden, "bucket %q", b)
			require.Len(t, ob.records, len(r.records), "bucket %q", b)
			for k, v := range r.records {
				gv, ok := ob.records[k]
				require.True(t, ok, "bucket %q key %q", b, k)
				if v == "\x00deleted" {
					assert.Nil(t, gv)
				} else {
					assert.True(t, bytes.Equal([]byte(v), gv), "bucket %q key %q", b, k)
				}
			}
		}
	})
}

// FuzzFoldPosition: a fold position read from a damaged file is an error
// or a position, never a panic; one written reads back.
func FuzzFoldPosition(f *testing.F) {
	f.Add([]byte{0}, uint64(0), []byte("bucket"), []byte("key"))
	f.Add([]byte{0x80}, uint64(1<<40), []byte{0xff}, []byte{})
	f.Fuzz(func(t *testing.T, raw []byte, copied uint64, bucket, key []byte) {
		decodeFoldAt(raw)
		if len(bucket) == 0 {
			return // none copied yet: written as a count alone
		}
		c, b, k, err := decodeFoldAt(encodeFoldAt(copied, bucket, key))
		require.NoError(t, err)
		assert.Equal(t, copied, c)
		assert.Equal(t, bucket, b)
		assert.True(t, bytes.Equal(key, k))
	})
}
