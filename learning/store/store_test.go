package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

type counter struct{ N int }

func (c *counter) MarshalState() ([]byte, error) { return json.Marshal(c) }
func (c *counter) UnmarshalState(b []byte) error { return json.Unmarshal(b, c) }

func TestCheckpointAndLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Checkpoint(map[string]Component{"a": &counter{7}, "b": &counter{9}}))
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	a, b, c := &counter{}, &counter{}, &counter{42}
	require.NoError(t, s.Load(map[string]Component{"a": a, "b": b, "c": c}))
	assert.Equal(t, 7, a.N)
	assert.Equal(t, 9, b.N)
	assert.Equal(t, 42, c.N, "a component without a snapshot keeps its state")
}

func TestCorruptAndForeignFilesAreNamed(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.db")
	require.NoError(t, os.WriteFile(text, []byte("hello, not a database"), 0o644))
	_, err := Open(text)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), text)

	big := filepath.Join(dir, "garbage.db")
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i * 31)
	}
	require.NoError(t, os.WriteFile(big, junk, 0o644))
	_, err = Open(big)
	assert.ErrorIs(t, err, ErrCorrupt)

	foreign := filepath.Join(dir, "other.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("users")); return err }))
	require.NoError(t, db.Close())
	_, err = Open(foreign)
	assert.ErrorIs(t, err, ErrForeign)

	// a file from a future schema
	future := filepath.Join(dir, "future.db")
	s, err := Open(future)
	require.NoError(t, err)
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) }))
	require.NoError(t, s.Close())
	_, err = Open(future)
	assert.ErrorIs(t, err, ErrSchema)
}

func TestBadSnapshotIsReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketState).Put([]byte("a"), []byte("{not json")) }))
	err = s.Load(map[string]Component{"a": &counter{}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `state "a" unreadable`)
}

// A read-only open shares the file with other readers, never writes or
// creates it, and gives ErrInUse within its timeout while a writer holds it.
func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	w, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, w.Checkpoint(map[string]Component{"a": &counter{7}}))
	_, err = OpenReadOnly(path, 100*time.Millisecond)
	assert.ErrorIs(t, err, ErrInUse, "the writer holds it")
	require.NoError(t, w.Close())

	before, _ := os.Stat(path)
	r1, err := OpenReadOnly(path, time.Second)
	require.NoError(t, err)
	r2, err := OpenReadOnly(path, time.Second)
	require.NoError(t, err, "readers share the file")
	a := &counter{}
	require.NoError(t, r2.Load(map[string]Component{"a": a}))
	assert.Equal(t, 7, a.N)
	r1.Close()
	r2.Close()
	after, _ := os.Stat(path)
	assert.Equal(t, before.ModTime(), after.ModTime(), "nothing written")

	_, err = OpenReadOnly(filepath.Join(dir, "missing.db"), time.Second)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.NoFileExists(t, filepath.Join(dir, "missing.db"), "never created")

	foreign := filepath.Join(dir, "other.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("users")); return err }))
	require.NoError(t, db.Close())
	_, err = OpenReadOnly(foreign, time.Second)
	assert.ErrorIs(t, err, ErrForeign)
}
