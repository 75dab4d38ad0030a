package alerts

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRepeatedReadsRightForOneAndMany(t *testing.T) {
	at := t0.Add(90 * time.Second)
	for _, c := range []struct {
		n           uint64
		first, last time.Time
		want        string
	}{
		{1, at, at, "1 more time at 2026-03-01T08:01:30Z"},
		{3, at, at, "3 more times at 2026-03-01T08:01:30Z"},
		{3, at, at.Add(400 * time.Millisecond), "3 more times at 2026-03-01T08:01:30Z"}, // one second as written
		{2, at, at.Add(time.Minute), "2 more times between 2026-03-01T08:01:30Z and 2026-03-01T08:02:30Z"},
	} {
		assert.Equal(t, c.want, repeated(c.n, c.first, c.last))
	}
}

// Repeats fold into one alert whose message reads right, whose evidence
// lists each frame once, and the summary alert Flush writes is counted
// like any alert: Raised adds up to what the sink received.
func TestFoldedRepeatsWordingFramesAndCounts(t *testing.T) {
	e, _, c := newTestEngine(baseline.ModeLearn)
	stop := func(sec float64) *protocols.Transaction {
		return tx("10.0.0.1", "10.0.0.2", sec, protocols.OpStop, 0, "", 0, 0)
	}
	e.Observe(stop(10))
	// one repeat, the same request seen twice (a SPAN duplicate): one frame
	e.Observe(stop(12))
	e.Observe(stop(12))
	e.Flush()
	require.Len(t, c.alerts, 2)
	sum := c.alerts[1]
	assert.Equal(t, "2 more times at 2026-03-01T08:00:12Z: "+c.alerts[0].Message, sum.Message, "not 'between X and X'")
	assert.Equal(t, []uint64{121}, sum.Frames, "each frame once")
	assert.Equal(t, uint64(2), e.Recent()[0].Repeats, "the first alert counts its repeats")
	assert.Equal(t, uint64(2), sum.Repeats)

	// a repeat after the fold window: the next alert carries the earlier one
	e.Observe(stop(20))
	e.Observe(stop(20 + 11*60))
	e.Flush()
	last := c.alerts[len(c.alerts)-1]
	assert.Contains(t, last.Message, "(also 1 more time at 2026-03-01T08:00:20Z)")

	var raised uint64
	for _, n := range e.Raised {
		raised += n
	}
	assert.Equal(t, uint64(len(c.alerts)), raised, "Raised counts every alert the sink got, summaries included")
	assert.Equal(t, uint64(len(c.alerts)), e.Raised["plc_stop"])
	assert.Len(t, e.Recent(), len(c.alerts), "alerts list shows the same alerts")
}

// An alert raised without a transaction carries the hosts it is about:
// cyclic_stopped names the poller (source) and the polled device (destination).
func TestNetworkAlertsCarryTheirEndpoints(t *testing.T) {
	e, _, c := newTestEngine(baseline.ModeAuto)
	e.Raise(finding.Finding{Key: finding.NewKey("port_scan", "10.0.0.9"), Time: t0, Asset: "10.0.0.2", Source: &finding.Host{IP: "10.0.0.9"},
		Dest: &finding.Host{IP: "10.0.0.2", Port: 502}, Frames: []uint64{4, 4, 5}, Message: "scan"})
	require.Len(t, c.alerts, 1)
	a := c.alerts[0]
	c.alerts = nil
	assert.Equal(t, "10.0.0.9", a.Client.IP)
	assert.Equal(t, &Endpoint{IP: "10.0.0.2", Port: 502}, a.Server)
	assert.Equal(t, []uint64{4, 5}, a.Frames)

	// a poll that stops: found by the baseline's clock, no transaction
	e, m, c := newTestEngine(baseline.ModeLearn)
	for i := 0; i < 20; i++ {
		e.Observe(tx("10.0.0.1", "10.0.0.2", float64(i), protocols.OpRead, 3, "holding_register", 0, 4))
	}
	m.SetMode(baseline.ModeDetect)
	for sec := 25.0; sec <= 80; sec += 5 { // the network is heard meanwhile: a silence is no stop
		e.Observe(tx("10.0.0.1", "10.0.0.7", sec, protocols.OpRead, 3, "holding_register", 0, 4))
	}
	stopped := c.first("cyclic_stopped")
	require.NotNil(t, stopped, "%v", c.kinds())
	assert.Equal(t, "10.0.0.1", stopped.Client.IP, "the poller")
	assert.Equal(t, "10.0.0.2", stopped.Server.IP, "the device it stopped polling")

	// a flood of distinct network alerts from one source: the family's
	// alert keeps the destination
	e.Flush()
	c.alerts = nil
	for i := 0; i < 2*familyAlone; i++ {
		e.Raise(finding.Finding{Key: finding.NewKey("mac_changed", "10.0.0.2", fmt.Sprintf("m%d", i)), Time: t0.Add(100 * time.Second), Asset: "10.0.0.2",
			Source: &finding.Host{IP: "10.0.0.66"}, Dest: &finding.Host{IP: "10.0.0.2", MAC: "00:11:22:33:44:55"}, Frames: []uint64{uint64(100 + i)},
			Message: "claimed"})
	}
	e.Flush()
	require.Len(t, c.alerts, familyAlone+2, "one by one, the family's alert, its summary")
	for _, a := range c.alerts {
		assert.Equal(t, &Endpoint{IP: "10.0.0.2", MAC: "00:11:22:33:44:55"}, a.Server, a.Message)
	}
	assert.Contains(t, c.alerts[len(c.alerts)-1].Message, "on 10.0.0.2 at 2026-03-01T08:01:40Z were counted", "not 'between T and T'")

	assert.Nil(t, finding.HostOf(netip.Addr{}), "no address, no host")
	assert.Equal(t, Endpoint{IP: "10.0.0.2"}, hostEndpoint(finding.HostOf(netip.MustParseAddr("10.0.0.2"))))
}
