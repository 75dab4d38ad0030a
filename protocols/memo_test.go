package protocols

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestMemoSlotSplitsAFlowsEndpoints: the two endpoints of a flow take the
// two slots, the same from either direction, for IPv4, IPv6 and addresses
// that differ only in their high or low half.
func TestMemoSlotSplitsAFlowsEndpoints(t *testing.T) {
	pairs := [][2]string{
		{"10.0.0.1", "10.0.0.2"},
		{"10.0.0.2", "192.168.1.1"},
		{"2001:db8::1", "2001:db8::2"},
		{"2001:db8::1", "2001:db9::1"},
		{"2001:db8::ffff:1", "2001:db8:0:0:1::1"},
		{"10.0.0.1", "2001:db8::1"},
		{"0.0.0.0", "255.255.255.255"},
	}
	for _, p := range pairs {
		a, b := netip.MustParseAddr(p[0]), netip.MustParseAddr(p[1])
		sa, sb := MemoSlot(a, b), MemoSlot(b, a)
		assert.NotEqual(t, sa, sb, "%s and %s", a, b)
		assert.Equal(t, a.Less(b), sa == 0, "%s and %s: the lower address takes slot 0", a, b)
	}
}
