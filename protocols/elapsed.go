package protocols

import (
	"math"
	"time"
)

// Elapsed is now.Sub(since) for packet times, in integer nanoseconds.
// time.Time's Sub checks its own result for overflow with an Add and an
// Equal, and Add handles the monotonic clock packet times never carry: on
// the paths every transaction takes (learning periods, request timeouts,
// the detectors' ticks) the two were a few percent of a run. Like Sub, it
// saturates: a zero since (year 1) is as long ago as a Duration reaches, a
// zero now as far before, two zero times are none apart.
func Elapsed(now, since time.Time) time.Duration {
	switch {
	case since.IsZero() && now.IsZero():
		return 0
	case since.IsZero():
		return math.MaxInt64
	case now.IsZero():
		return math.MinInt64
	}
	a, b := now.UnixNano(), since.UnixNano()
	d := a - b
	// the difference of two int64 overflows only when their signs differ
	if (a >= 0) != (b >= 0) && (d >= 0) != (a >= 0) {
		if a >= 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return time.Duration(d)
}
