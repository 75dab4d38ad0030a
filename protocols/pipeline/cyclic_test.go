package pipeline

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCyclicIOCounts: cyclic I/O is counted per connection (flow endpoints
// and connection id) and per protocol, bounded, and the summary names the
// connections that lost datagrams, most first.
func TestCyclicIOCounts(t *testing.T) {
	s := newStats()
	plc := &protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.10"), Port: 2222}
	adapter := &protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.20"), Port: 2222}
	env := &protocols.Env{Client: plc, Server: adapter, CyclicFunc: s.countCyclic}
	for i := 0; i < 10; i++ {
		env.Cyclic("enip", 0x100, 0)
	}
	env.Cyclic("enip", 0x100, 3) // its sequence count skipped three
	env.Cyclic("enip", 0x200, 0)
	env.Cyclic("enip", 0x200, 1)
	assert.Equal(t, CyclicTotals{Connections: 2, Datagrams: 13, Lost: 4}, s.CyclicIO["enip"])
	k := CyclicKey{Proto: "enip", Client: netip.MustParseAddrPort("10.0.0.10:2222"), Server: netip.MustParseAddrPort("10.0.0.20:2222"), Conn: 0x100}
	require.NotNil(t, s.CyclicConns[k])
	assert.Equal(t, CyclicCount{Datagrams: 11, Lost: 3}, *s.CyclicConns[k])

	var out bytes.Buffer
	s.WriteSummary(&out, 0)
	assert.Contains(t, out.String(), "cyclic I/O    enip: 2 connections, 13 datagrams, 4 lost\n"+
		"    enip 10.0.0.10:2222 > 10.0.0.20:2222 connection 0x00000100: 11 datagrams, 3 lost\n"+
		"    enip 10.0.0.10:2222 > 10.0.0.20:2222 connection 0x00000200: 2 datagrams, 1 lost\n")

	// Beyond the bound a connection counts in the totals and as a limit hit.
	for c := uint32(0); len(s.CyclicConns) < maxCyclicConns; c++ {
		env.Cyclic("enip", 0x1000+c, 0)
	}
	before := s.CyclicIO["enip"]
	env.Cyclic("enip", 0xFFFFFF, 2)
	assert.Len(t, s.CyclicConns, maxCyclicConns)
	assert.Equal(t, CyclicTotals{Connections: before.Connections, Datagrams: before.Datagrams + 1, Lost: before.Lost + 2}, s.CyclicIO["enip"])
	assert.Equal(t, uint64(1), s.LimitsHit["cyclic_connections"])
}
