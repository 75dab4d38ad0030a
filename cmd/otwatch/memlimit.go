package main

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
)

// The Go runtime lets the heap grow to twice what is live before it
// collects: with a million learned keys that is hundreds of megabytes a
// 1 GiB appliance does not have. otwatch therefore gives the runtime a
// soft memory limit of a fifth of the machine's memory (205 MiB on a 1 GiB
// box: the state file's map, the binary and the kernel's cache need the
// rest), under which the collector works harder rather than grow.
// GOMEMLIMIT, when set, rules instead.
func init() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercentFor(0))
		armHeapFloor()
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if total := memTotal(); total > 0 {
		debug.SetMemoryLimit(max(total/5, 128<<20))
	}
}

// heapFloor is the heap the collector lets grow before it collects, however
// little is live. With the runtime's own floor (4 MiB) a short run that
// keeps tens of MiB collects again and again (six times, a fifth of the
// CPU time of a read of the nDPI DNP3 input with --db). 32 MiB is little
// beside even a 1 GiB box's memory limit, which still rules above it, and
// it is paid once: a run's heap peaks nearer the floor (fresh pages touched
// once) instead of being collected every few MiB. Once more than half
// of it is live the runtime's rule (twice what is live) applies unchanged,
// so the million-key state is collected as before.
const heapFloor = 32 << 20

// gcPercentFor is the GOGC that puts the next collection at heapFloor when
// live bytes survived the last one (the default 100 once that is further).
func gcPercentFor(live uint64) int {
	if live < 1<<20 {
		return heapFloor / (4 << 20) * 100 // nothing collected yet: the runtime's floor is 4 MiB at 100
	}
	if live >= heapFloor/2 {
		return 100
	}
	return int(heapFloor*100/live) - 100
}

// gcCycle is an object made only to be collected: its finalizer runs once
// after each collection, sets the next one's GOGC from what survived, and
// makes the next gcCycle.
type gcCycle struct{ _ *byte }

func armHeapFloor() {
	runtime.SetFinalizer(&gcCycle{}, func(*gcCycle) {
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(live)
		if live[0].Value.Kind() == metrics.KindUint64 {
			debug.SetGCPercent(gcPercentFor(live[0].Value.Uint64()))
		}
		armHeapFloor()
	})
}

// memTotal reads MemTotal from /proc/meminfo, 0 when it cannot.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
