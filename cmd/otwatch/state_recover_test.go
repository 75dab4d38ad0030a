package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/otwatch/otwatch/learning/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnreadableStateDoesNotBlind: a state file torn into garbage, or one
// whose records no longer load, is kept aside and a new state started, so
// the daemon watches on (and says what was lost); a file another program
// owns, or one being used, is never touched.
func TestUnreadableStateDoesNotBlind(t *testing.T) {
	var logs bytes.Buffer
	logf := func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) }
	loads := 0
	load := func(db *store.Store) error { loads++; return nil }

	// garbage where the state file should be
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte{0xa5}, 64<<10), 0o600))
	db, lost, err := openStateFile(path, load, logf)
	require.NoError(t, err)
	assert.Contains(t, lost, "learning starts again")
	require.NoError(t, db.Close())
	aside, _ := filepath.Glob(path + ".unreadable-*")
	require.Len(t, aside, 1, "the unreadable file is kept")
	kept, _ := os.ReadFile(aside[0])
	assert.Equal(t, bytes.Repeat([]byte{0xa5}, 64<<10), kept, "kept as it was")

	// a good file opens as it is
	db, lost, err = openStateFile(path, load, logf)
	require.NoError(t, err)
	assert.Empty(t, lost)
	require.NoError(t, db.Close())

	// records that no longer load: aside too, the second load is on a new file
	loads = 0
	failOnce := func(db *store.Store) error {
		loads++
		if loads == 1 {
			return fmt.Errorf("state %q unreadable: record cut short", "baseline")
		}
		return nil
	}
	db, lost, err = openStateFile(path, failOnce, logf)
	require.NoError(t, err)
	assert.Equal(t, 2, loads)
	assert.Contains(t, lost, "record cut short")
	require.NoError(t, db.Close())

	// someone else's bbolt file: refused, not moved
	other := filepath.Join(dir, "other.db")
	s, err := store.Open(other)
	require.NoError(t, err)
	_, _, err = openStateFile(other, load, logf)
	require.ErrorIs(t, err, store.ErrInUse, "held by another process: refused")
	s.Close()
	matches, _ := filepath.Glob(other + ".unreadable-*")
	assert.Empty(t, matches, "a held file is never moved")
}
