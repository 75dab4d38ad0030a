package pipeline

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// The flow table agrees with a Go map through random adds and deletes that
// grow it, empty it and fill it again: every flow added and not deleted is
// found, nothing else is, and a delete never cuts a probe chain short.
func TestFlowTableAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// a small key space, so adds, finds and deletes of one key interleave
	key := func() flowKey {
		lo := netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(8))})
		hi := netip.AddrFrom4([4]byte{10, 0, 1, byte(rng.IntN(8))})
		if rng.IntN(4) == 0 {
			lo = netip.AddrFrom16([16]byte{0xfe, 0x80, 15: byte(rng.IntN(8))})
		}
		return makeKey(lo, hi, uint16(1024+rng.IntN(20)), 502, uint16(rng.IntN(2)), uint8(6+11*rng.IntN(2)))
	}
	tab := newFlowTable()
	want := map[flowKey]*flow{}
	check := func() {
		require.Equal(t, len(want), tab.len())
		for k, fl := range want {
			require.Same(t, fl, tab.get(k), "key %+v", k)
		}
		held := 0
		for _, fl := range tab.slots {
			if fl != nil {
				held++
				require.Same(t, want[fl.key], fl)
			}
		}
		require.Equal(t, len(want), held)
	}
	for round := range 3 {
		for i := range 20000 {
			k := key()
			fl, ok := want[k]
			require.Equal(t, fl, tab.get(k))
			switch {
			case !ok && (round < 2 || i%3 != 0):
				fl = &flow{key: k}
				tab.put(fl)
				want[k] = fl
			case ok && rng.IntN(3) == 0:
				tab.del(k)
				delete(want, k)
				require.Nil(t, tab.get(k))
			}
			if i%2000 == 0 {
				check()
			}
		}
		check()
		// empty it, then fill it again
		for k := range want {
			tab.del(k)
			delete(want, k)
		}
		check()
		tab.del(key()) // absent: nothing happens
		require.Zero(t, tab.len())
	}
	require.GreaterOrEqual(t, len(tab.slots), 4096, "grew past its first size")
}

// Two pipelines draw different seeds.
func TestFlowTableSeeds(t *testing.T) {
	a, b := newFlowTable(), newFlowTable()
	require.NotEqual(t, a.seed, b.seed)
}
