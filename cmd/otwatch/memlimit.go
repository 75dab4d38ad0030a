package main

import (
	"bufio"
	"os"
	"runtime/debug"
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
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if total := memTotal(); total > 0 {
		debug.SetMemoryLimit(max(total/5, 128<<20))
	}
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
