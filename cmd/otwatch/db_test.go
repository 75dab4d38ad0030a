package main

import (
	"path/filepath"
	"testing"

	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDBCompact: otwatch db compact rewrites a learned state file, which
// then loads as before; while another process holds it, it refuses.
func TestDBCompact(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	code, _, stderr := runCmd("--quiet", "--mode", "learn", "--db", db, golden)
	require.Equal(t, 0, code, stderr)
	code, out, errb := runArgs("db", "compact", "--db", db)
	require.Equal(t, 0, code, errb)
	assert.Contains(t, out, "MiB →")
	mon, s := loadMonitor(t, db, baseline.ModeDetect)
	assert.Positive(t, mon.model.Keys(), "the compacted file still holds the baseline")
	code, _, errb = runArgs("db", "compact", "--db", db)
	assert.Equal(t, 2, code)
	assert.Contains(t, errb, "stop the daemon first")
	require.NoError(t, s.Close())
}
