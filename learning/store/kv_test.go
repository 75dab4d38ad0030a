package store

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestTxWriterKeepsWhatItWasGiven: a writer remembers its last bucket and
// copies keys and values into shared slabs. What reaches the file must be
// what each Put was given, whatever the caller does with its slices after,
// and a bucket deleted and made again must not be written through the
// remembered one.
func TestTxWriterKeepsWhatItWasGiven(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "kv.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	large := bytes.Repeat([]byte{7}, slabChunk) // beside the slab
	want := map[string]map[string][]byte{"a": {}, "b": {}}
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		slot, err := tx.CreateBucket([]byte("slot"))
		if err != nil {
			return err
		}
		w := &txWriter{slot: slot, fill: 0.95}
		key, val := make([]byte, 8), make([]byte, 100)
		put := func(bucket string, i int, v []byte) {
			key = append(key[:0], byte(i>>8), byte(i), 'k')
			val = append(val[:0], v...)
			require.NoError(t, w.Put([]byte(bucket), key, val))
			want[bucket][string(key)] = append([]byte(nil), v...)
			for j := range key { // the caller reuses its buffers
				key[j] = 0xFF
			}
			for j := range val {
				val[j] = 0xFF
			}
		}
		for i := 0; i < 3000; i++ { // many slabs' worth, two buckets in turn
			put([]string{"a", "b"}[i%3%2], i, bytes.Repeat([]byte{byte(i)}, 1+i%97))
		}
		put("b", 5000, large)
		put("a", 5001, []byte("before the delete")) // a is the bucket remembered
		require.NoError(t, w.DeleteBucket([]byte("a")))
		want["a"] = map[string][]byte{}
		put("a", 6000, []byte("after the delete"))
		return nil
	}))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		slot := tx.Bucket([]byte("slot"))
		for name, recs := range want {
			got := map[string][]byte{}
			require.NoError(t, slot.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
				got[string(k)] = append([]byte(nil), v...)
				return nil
			}))
			require.Equal(t, recs, got, "bucket %s", name)
		}
		return nil
	}))
}
