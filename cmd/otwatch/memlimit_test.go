package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The collector's next goal is the heap floor while little is live, and
// the runtime's own rule (twice what is live) once half the floor is.
func TestGCPercentFor(t *testing.T) {
	goal := func(live uint64) uint64 { return live + live*uint64(gcPercentFor(live))/100 }
	assert.Equal(t, heapFloor/(4<<20)*100, gcPercentFor(0), "the first collection at the floor, not the runtime's 4 MiB")
	for _, live := range []uint64{1 << 20, 3 << 20, heapFloor / 4, heapFloor/2 - 1} {
		assert.InDelta(t, heapFloor, goal(live), float64(live)/100+1, "live %d", live)
	}
	for _, live := range []uint64{heapFloor / 2, 100 << 20, 2 << 30} {
		assert.Equal(t, 100, gcPercentFor(live), "live %d", live)
	}
}

// After each collection the hook sets GOGC from what survived, and arms
// itself again for the next one.
func TestHeapFloorFollowsEachCollection(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	armHeapFloor()
	for range 2 {
		debug.SetGCPercent(-1) // a value the hook replaces
		runtime.GC()
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(live)
		want := gcPercentFor(live[0].Value.Uint64())
		assert.Eventually(t, func() bool {
			got := debug.SetGCPercent(-1)
			return got == want
		}, 5*time.Second, time.Millisecond)
	}
}
