package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Records come back in key order, and through Encode and Decode unchanged.
func TestKVOrderAndRoundTrip(t *testing.T) {
	kv := KV{}
	require.NoError(t, kv.Put([]byte("b"), []byte("2"), []byte("two")))
	require.NoError(t, kv.Put([]byte("b"), []byte("1"), []byte("one")))
	require.NoError(t, kv.Put([]byte("a"), []byte("x"), []byte{}))
	var seen []string
	kv.Buckets(func(name []byte) error {
		return kv.ForEach(name, func(k, v []byte) error {
			seen = append(seen, string(name)+"/"+string(k)+"="+string(v))
			return nil
		})
	})
	assert.Equal(t, []string{"a/x=", "b/1=one", "b/2=two"}, seen)
	assert.Equal(t, kv, Decode(kv.Encode()))
	require.NoError(t, kv.Delete([]byte("b"), []byte("1")))
	require.NoError(t, kv.DeleteBucket([]byte("a")))
	assert.Equal(t, KV{"b": {"2": []byte("two")}}, kv)
	assert.Equal(t, KV{}, Decode([]byte{0, 5, 'a'}), "an incomplete record is dropped")
}
