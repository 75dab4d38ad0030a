package store

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReleaseTouchesOnlyTheMap: dropping the mapped pages after a load and
// a checkpoint leaves the heap and the database intact, many times over.
func TestReleaseTouchesOnlyTheMap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	require.NotZero(t, mappingEnd(s.db.Info().Data), "the map is found in /proc/self/maps")
	keep := make([][]byte, 0, 1000)
	for i := 0; i < 200; i++ {
		big := make([]byte, 64<<10)
		for j := range big {
			big[j] = byte(i)
		}
		keep = append(keep, big)
		require.NoError(t, s.Checkpoint(map[string]Component{"c": &counter{i}}))
		c := &counter{}
		require.NoError(t, s.Load(map[string]Component{"c": c}))
		require.Equal(t, i, c.N)
		runtime.GC()
	}
	for i, b := range keep {
		for _, x := range b {
			if x != byte(i) {
				t.Fatalf("heap block %d changed", i)
			}
		}
	}
}
