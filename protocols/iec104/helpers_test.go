package iec104

import (
	"net/netip"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/require"
)

type recorder struct {
	env            protocols.Env
	client, server protocols.Endpoint
	txs            []protocols.Transaction
	anomalies      []string
}

func newRecorder() *recorder {
	r := &recorder{
		client: protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 40000, LinkAddress: -1},
		server: protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: Port, LinkAddress: -1},
	}
	r.env = protocols.Env{Transport: protocols.TCP, Client: &r.client, Server: &r.server,
		EmitFunc:    func(t *protocols.Transaction) { r.txs = append(r.txs, *t.Clone()) },
		AnomalyFunc: func(name string, _ protocols.Packet) { r.anomalies = append(r.anomalies, name) }}
	return r
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func pk(frame uint64) protocols.Packet {
	return protocols.Packet{Frame: frame, Time: t0.Add(time.Duration(frame) * time.Millisecond)}
}

func hx(t testing.TB, listing string) []byte { return testkit.Hex(t, listing) }

// feeder offers data like the pipeline does: unconsumed bytes come back with the next chunk.
type feeder struct {
	s    *session
	rest [2][]byte
}

func (f *feeder) feed(t *testing.T, dir protocols.Direction, data []byte, frame uint64) {
	t.Helper()
	buf := append(f.rest[dir], data...)
	n, err := f.s.Feed(dir, buf, pk(frame))
	require.NoError(t, err)
	require.LessOrEqual(t, n, len(buf))
	f.rest[dir] = append([]byte(nil), buf[n:]...)
}
