package store

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBlobsReplaceAndSurviveCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.PutBlobs("feed", map[string][]byte{"a": []byte("1"), "b": []byte("2")}))
	require.NoError(t, s.PutBlobs("feed", map[string][]byte{"a": []byte("3"), "b": nil})) // replace one, delete one
	require.NoError(t, s.Checkpoint(map[string]Component{"c": &counter{1}}))
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	got := map[string]string{}
	require.NoError(t, s.Blobs("feed", func(k string, v []byte) error { got[k] = string(v); return nil }))
	assert.Equal(t, map[string]string{"a": "3"}, got)
	require.NoError(t, s.Blobs("absent", func(string, []byte) error { t.Fatal("no keys"); return nil }))
	for _, b := range []string{"", "meta", "state", "kv"} {
		assert.Error(t, s.PutBlobs(b, map[string][]byte{"x": nil}), "bucket %q", b)
	}
	assert.Error(t, s.Blobs("state", func(string, []byte) error { return nil }))
	assert.Error(t, s.PutBlobs("feed", map[string][]byte{"": []byte("x")}))
	c := &counter{}
	require.NoError(t, s.Load(map[string]Component{"c": c}))
	assert.Equal(t, 1, c.N, "components are untouched by blobs")
}
