package baseline

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// The learning index finds every key it was given, and no other, across
// its growth, a freeze into the sorted form and a thaw back, against a Go
// map holding the same keys.
func TestPointTableAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() pointKey {
		// few distinct values per field, so keys differ in one field only
		// (a CROB's five fields at one address) as often as in several
		return pointKey{
			address: uint64(rng.IntN(300)),
			pu:      uint32(rng.IntN(3)),
			id:      uint32(rng.IntN(2)),
			space:   uint32(1 + rng.IntN(3)),
			sub:     uint8(rng.IntN(2)),
			bits:    uint8(rng.IntN(2) * 16),
			field:   uint8(rng.IntN(5)),
		}
	}
	var tab pointTable
	want := map[pointKey]float64{}
	learn := func(n int) {
		for range n {
			k := key()
			v := float64(rng.IntN(1000))
			if vm := tab.ref(&k); vm != nil {
				_, ok := want[k]
				require.True(t, ok, "found a key never added: %+v", k)
				vm.Max = v
			} else {
				_, ok := want[k]
				require.False(t, ok, "lost key %+v", k)
				tab.add(k, ValueModel{Max: v})
			}
			want[k] = v
		}
	}
	check := func() {
		require.Equal(t, len(want), tab.len())
		seen := 0
		tab.each(func(k pointKey, vm ValueModel) {
			seen++
			require.Equal(t, want[k], vm.Max, "key %+v", k)
		})
		require.Equal(t, len(want), seen)
		for k, v := range want {
			vm, ok := tab.get(k)
			require.True(t, ok, "key %+v", k)
			require.Equal(t, v, vm.Max)
		}
		absent := pointKey{address: 1 << 40, space: 9}
		_, ok := tab.get(absent)
		require.False(t, ok)
	}
	learn(20000)
	require.Greater(t, len(want), 5000, "the key space is large enough to grow the index several times")
	check()

	tab.freeze()
	require.Nil(t, tab.slots)
	require.True(t, slices.IsSortedFunc(tab.sorted, func(a, b pointEntry) int { return comparePointKeys(a.k, b.k) }))
	require.Equal(t, len(tab.sorted), cap(tab.sorted), "a frozen table keeps no spare room")
	check()

	tab.thaw()
	require.NotNil(t, tab.slots)
	check()
	learn(5000)
	check()
}

// Two tables draw different seeds: what collides in one does not in the other.
func TestPointTableSeeds(t *testing.T) {
	var a, b pointTable
	a.add(pointKey{address: 1, space: 1}, ValueModel{})
	b.add(pointKey{address: 1, space: 1}, ValueModel{})
	require.NotEqual(t, a.seed, b.seed)
	k := pointKey{address: 7, space: 2}
	require.NotEqual(t, k.hash(a.seed), k.hash(b.seed))
}

// Points that come back in the order they were learned are found through
// the entry after the last one, and a key out of that order, or absent, is
// still answered by the index.
func TestPointTableLearnOrder(t *testing.T) {
	var tab pointTable
	keys := make([]pointKey, 50)
	for i := range keys {
		keys[i] = pointKey{address: uint64(i / 5), space: 1, field: uint8(i % 5)}
		tab.add(keys[i], ValueModel{Max: float64(i)})
	}
	for round := range 3 {
		for i, k := range keys {
			vm := tab.ref(&k)
			require.NotNil(t, vm, "round %d key %d", round, i)
			require.Equal(t, float64(i), vm.Max)
			require.Equal(t, int32(i+1), tab.next, "the next lookup tries the entry after this one")
		}
		vm := tab.ref(&keys[17]) // out of order
		require.NotNil(t, vm)
		require.Equal(t, float64(17), vm.Max)
		require.Nil(t, tab.ref(&pointKey{address: 99, space: 1}))
		tab.next = 0
	}
}
