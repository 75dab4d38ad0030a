package testkit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSources(t *testing.T) {
	fset, files := Sources(t, ".")
	names := map[string]bool{}
	for _, f := range files {
		names[filepath.Base(fset.Position(f.Pos()).Filename)] = true
	}
	assert.True(t, names["sources.go"])
	assert.False(t, names["sources_test.go"], "tests are left out")

	empty := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(empty, "x_test.go"), []byte("package x\n"), 0o644))
	rec := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		Sources(rec, empty)
	}()
	assert.True(t, rec.failed, "a folder without sources fails")
}
