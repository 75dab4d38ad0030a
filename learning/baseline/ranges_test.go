package baseline

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRangeSetMerges(t *testing.T) {
	var s RangeSet
	assert.True(t, s.Add(0, 99))
	assert.True(t, s.Add(100, 199), "adjacent: merged")
	assert.Equal(t, RangeSet{{0, 199}}, s)
	assert.False(t, s.Add(10, 20), "covered")
	assert.True(t, s.Add(300, 310))
	assert.True(t, s.Add(250, 260))
	assert.Equal(t, RangeSet{{0, 199}, {250, 260}, {300, 310}}, s)
	assert.True(t, s.Add(190, 305), "bridges three")
	assert.Equal(t, RangeSet{{0, 310}}, s)
	assert.True(t, s.Covers(5, 310))
	assert.False(t, s.Covers(300, 311))
	assert.True(t, s.Add(400, 400))
	assert.False(t, s.Covers(399, 399))
	assert.True(t, s.Covers(400, 400))
	assert.True(t, s.Add(^uint64(0)-1, ^uint64(0)))
	assert.True(t, s.Covers(^uint64(0), ^uint64(0)))
}

// Add against a plain model, a flag per address: after every add the set
// covers exactly the flagged addresses, as sorted ranges that neither
// overlap nor touch.
func TestRangeSetAgainstAModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var s RangeSet
		var in [130]bool
		for range 40 {
			lo := rng.Uint64N(120)
			hi := lo + rng.Uint64N(10)
			grew := false
			for a := lo; a <= hi; a++ {
				grew = grew || !in[a]
				in[a] = true
			}
			require.Equal(t, grew, s.Add(lo, hi), "round %d: add %d-%d to %v", round, lo, hi, s)
			for i, r := range s {
				require.LessOrEqual(t, r.Lo, r.Hi)
				if i > 0 {
					require.Greater(t, r.Lo, s[i-1].Hi+1, "round %d: %v not merged", round, s)
				}
			}
			for a := range uint64(len(in)) {
				require.Equal(t, in[a], s.Covers(a, a), "round %d: address %d in %v", round, a, s)
			}
			// the gaps of a random span are exactly its addresses not in the set
			glo := rng.Uint64N(125)
			ghi := glo + rng.Uint64N(uint64(len(in))-glo)
			var want []Range
			for a := glo; a <= ghi; a++ {
				switch {
				case in[a]:
				case len(want) > 0 && want[len(want)-1].Hi == a-1:
					want[len(want)-1].Hi = a
				default:
					want = append(want, Range{a, a})
				}
			}
			require.Equal(t, want, s.Gaps(glo, ghi), "round %d: gaps of %d-%d in %v", round, glo, ghi, s)
		}
	}
}
