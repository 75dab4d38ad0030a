package baseline

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKnownHostSet(t *testing.T) {
	t0 := time.Unix(1_424_798_870, 0) // Lemay's capture: the RTUs 192.168.1.101..106
	ip := netip.MustParseAddr
	m := New(Config{Mode: ModeAuto, LearningPeriod: time.Hour})

	assert.True(t, m.LearnHost(ip("192.168.1.103"), t0), "learned while the network learns")
	for _, a := range []string{"0.0.0.0", "255.255.255.255", "224.0.0.252", "ff02::1:2"} {
		assert.False(t, m.LearnHost(ip(a), t0), "%s names no host", a)
		assert.False(t, m.KnownHost(ip(a)))
	}
	assert.True(t, m.KnownHost(ip("::ffff:192.168.1.103")), "a mapped address is the host it maps")

	// hosts heard do not keep auto mode's network learning going
	for i := 1; i < 60; i++ {
		m.LearnHost(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), t0.Add(time.Duration(i)*time.Minute))
	}
	after := t0.Add(time.Hour + time.Minute)
	assert.False(t, m.NetworkLearning(after))
	assert.False(t, m.LearnHost(ip("192.168.1.200"), after), "after learning a new address is not learned")
	assert.False(t, m.KnownHost(ip("192.168.1.200")))
	assert.True(t, m.LearnHost(ip("192.168.1.103"), after), "a learned one stays known")

	// exported with the baseline and restored from it
	b, err := m.MarshalState()
	require.NoError(t, err)
	back := New(Config{Mode: ModeDetect})
	require.NoError(t, back.UnmarshalState(b))
	assert.True(t, back.KnownHost(ip("192.168.1.103")))
	assert.True(t, back.KnownHost(ip("203.0.113.59")))
	assert.False(t, back.LearnHost(ip("192.168.1.201"), after), "detect mode learns no host")

	// learn mode learns whatever the clock says
	learn := New(Config{Mode: ModeLearn})
	assert.True(t, learn.LearnHost(ip("192.168.1.104"), t0.Add(1000*time.Hour)))
}

// Expected peers, on the pattern of QUT's S7 plant: the PLC 10.10.10.10
// re-resolves 10.10.10.11..13 every 60 s (ConveyorBeltOn_Flooding.hmi.pcap
// frames 525, 1348, 2184 ...).
func TestPeers(t *testing.T) {
	t0 := time.Unix(1_481_793_744, 0)
	ip := netip.MustParseAddr
	plc := ip("10.10.10.10")
	for _, tc := range []struct {
		name string
		asks []time.Duration // requests from the PLC for 10.10.10.11
		want bool
	}{
		{"a cache refresh a minute later", []time.Duration{0, 60 * time.Second}, true},
		{"asked once", []time.Duration{0}, false},
		{"retries of an unanswered request", []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Peers
			got := false
			for _, d := range tc.asks {
				got = p.Ask(plc, ip("10.10.10.11"), t0.Add(d))
			}
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("a sweeper's requests prove nothing", func(t *testing.T) {
		var p Peers
		for round := 0; round < 2; round++ {
			for h := 1; h <= 20; h++ {
				assert.False(t, p.Ask(ip("10.10.10.66"), netip.AddrFrom4([4]byte{10, 10, 10, byte(100 + h)}), t0.Add(time.Duration(round)*time.Minute)))
			}
		}
	})
	t.Run("groups and itself are no peers", func(t *testing.T) {
		var p Peers
		for _, target := range []string{"255.255.255.255", "0.0.0.0", "10.10.10.10"} {
			p.Ask(plc, ip(target), t0)
			assert.False(t, p.Ask(plc, ip(target), t0.Add(time.Minute)), target)
		}
	})
}

// Hosts learned from packets are saved by the next checkpoint, also an
// incremental one, and known after a restart.
func TestKnownHostsCheckpointed(t *testing.T) {
	t0 := time.Unix(1_424_798_870, 0)
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(path)
	require.NoError(t, err)
	m := New(Config{Mode: ModeLearn})
	m.LearnHost(netip.MustParseAddr("192.168.1.103"), t0)
	require.NoError(t, st.Checkpoint(map[string]store.Component{"baseline": m})) // the first: full
	m.LearnHost(netip.MustParseAddr("192.168.1.105"), t0.Add(time.Minute))
	require.NoError(t, st.Checkpoint(map[string]store.Component{"baseline": m})) // only what changed
	require.NoError(t, st.Close())

	st, err = store.Open(path)
	require.NoError(t, err)
	defer st.Close()
	back := New(Config{Mode: ModeDetect})
	require.NoError(t, st.Load(map[string]store.Component{"baseline": back}))
	assert.True(t, back.KnownHost(netip.MustParseAddr("192.168.1.103")))
	assert.True(t, back.KnownHost(netip.MustParseAddr("192.168.1.105")), "learned after the first checkpoint")
	assert.False(t, back.KnownHost(netip.MustParseAddr("192.168.1.106")))
}
