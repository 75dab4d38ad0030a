package protocols

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Mix is the high and low words of the 128-bit product, folded; seeds are
// random and never zero.
func TestMixAndSeeds(t *testing.T) {
	require.Equal(t, uint64(0x1_0000_0001), Mix(1<<32, 1<<32|1)) // product 2^64 + 2^32
	require.Equal(t, uint64(6), Mix(2, 3))
	seen := map[uint64]bool{}
	for range 64 {
		s := NewSeed()
		require.NotZero(t, s)
		require.False(t, seen[s], "a seed repeated")
		seen[s] = true
	}
}
