package baseline

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otwatch/otwatch/protocols"
)

// TestRateAcrossTheEpoch: a rate counts the same wherever its events fall:
// in the first second of 1970 (a capture from a device without a clock,
// or retimed to start at zero), before 1970 (a damaged record, the zero
// time.Time), or today. The counts of the short and the long window at
// each event are compared with the same events shifted to 2026.
func TestRateAcrossTheEpoch(t *testing.T) {
	steps := []time.Duration{0, 30 * time.Millisecond, 120 * time.Millisecond, 250 * time.Millisecond,
		900 * time.Millisecond, 1100 * time.Millisecond, 1150 * time.Millisecond, 3 * time.Second,
		9900 * time.Millisecond, 10200 * time.Millisecond, 12 * time.Second}
	counts := func(start int64) (out [][2]uint32) {
		var r rate
		for _, d := range steps {
			s, l := r.add(start + int64(d))
			out = append(out, [2]uint32{s, l})
		}
		return out
	}
	want := counts(t0.UnixNano())
	require.Equal(t, [2]uint32{4, 4}, want[3], "four events within 250 ms")
	require.Equal(t, [2]uint32{4, 7}, want[6], "1.15 s: the short window holds 200 ms to 1.2 s")
	require.Equal(t, [2]uint32{1, 4}, want[10], "12 s: the long window holds 2.1 s to 12.1 s (the events at 3, 9.9, 10.2 and 12 s)")
	bw := int64(bucketWidth)
	for _, start := range []int64{0, int64(50 * time.Millisecond), int64(time.Second), -int64(5 * time.Second),
		-int64(time.Hour) - 30, time.Time{}.UnixNano(), -bw * longBuckets * 3} {
		// the same events today, at the same place in their buckets
		off := (start%bw + bw) % bw
		assert.Equal(t, counts(t0.UnixNano()+off), counts(start), "events from %d ns", start)
	}
}

// TestWritesAtTheEpoch: a learning model counts the writes of a capture
// that starts at time zero, and one given a transaction whose time is the
// zero time.Time (a record that lost its time), without failing.
func TestWritesAtTheEpoch(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	m := New(Config{Mode: ModeLearn})
	for i := range 6 {
		tx := mtx("10.0.0.1", "10.0.0.2", 0, protocols.OpWrite, 6, "holding_register", 5, 1, 7)
		tx.RequestTime = epoch.Add(time.Duration(i) * 150 * time.Millisecond)
		m.Observe(tx)
	}
	l := m.assets[netip.MustParseAddr("10.0.0.2")].links[linkKey{m.clients.id(netip.MustParseAddr("10.0.0.1"), false), m.strs.id("modbus", false)}]
	require.NotNil(t, l)
	assert.Equal(t, uint32(6), l.rates[rateWrites].MaxShort, "six writes within 750 ms")
	assert.True(t, l.rates[rateWrites].Partial, "less than 10 s of writes learned")
	late := mtx("10.0.0.1", "10.0.0.2", 0, protocols.OpWrite, 6, "holding_register", 5, 1, 7)
	late.RequestTime = epoch.Add(10050 * time.Millisecond)
	m.Observe(late)
	assert.False(t, l.rates[rateWrites].Partial, "10.05 s after the first write at 0: a whole 10 s of them learned")

	zero := mtx("10.0.0.1", "10.0.0.3", 0, protocols.OpWrite, 6, "holding_register", 5, 1, 7)
	zero.RequestTime = time.Time{}
	assert.NotPanics(t, func() { m.Observe(zero); m.Accept(zero) })
}
