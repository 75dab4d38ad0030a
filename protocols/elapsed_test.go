package protocols

import (
	"math"
	"testing"
	"time"
)

// Elapsed must agree with time.Time.Sub on every pair of times a capture or
// a loaded state can hold, including the zero time and the saturated ends.
func TestElapsedAgreesWithSub(t *testing.T) {
	base := time.Date(2020, 3, 10, 19, 51, 54, 123456789, time.UTC)
	times := []time.Time{
		{}, base, base.Add(time.Nanosecond), base.Add(-time.Nanosecond), base.Add(time.Hour),
		base.Add(-30 * time.Second), time.Unix(0, 0).UTC(), time.Unix(0, 1).UTC(), time.Unix(0, -1).UTC(),
		time.Unix(0, math.MaxInt64).UTC(), time.Unix(0, math.MinInt64).UTC(), base.In(time.FixedZone("x", 3600)),
	}
	for _, now := range times {
		for _, since := range times {
			if got, want := Elapsed(now, since), now.Sub(since); got != want {
				t.Errorf("Elapsed(%v, %v) = %v, Sub says %v", now, since, got, want)
			}
		}
	}
}

func BenchmarkElapsed(b *testing.B) {
	now, since := time.Unix(0, 1583869914123456789).UTC(), time.Unix(0, 1583869900000000000).UTC()
	var n time.Duration
	for b.Loop() {
		n += Elapsed(now, since)
	}
	_ = n
}

func BenchmarkSub(b *testing.B) {
	now, since := time.Unix(0, 1583869914123456789).UTC(), time.Unix(0, 1583869900000000000).UTC()
	var n time.Duration
	for b.Loop() {
		n += now.Sub(since)
	}
	_ = n
}
