package testkit

import (
	"net/netip"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// Recorder is an Env for a session under test: a client 10.0.0.1:40000
// and a server 10.0.0.2 on the given port, a shared string table, and
// every emitted transaction (cloned: the session may reuse it) and every
// transaction-less anomaly kept in order.
type Recorder struct {
	Env            protocols.Env
	Client, Server protocols.Endpoint
	Txs            []protocols.Transaction
	Anomalies      []string
}

// NewRecorder returns a recorder for one flow of the transport.
func NewRecorder(transport protocols.Transport, serverPort uint16) *Recorder {
	r := &Recorder{
		Client: protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 40000, LinkAddress: -1},
		Server: protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: serverPort, LinkAddress: -1},
	}
	r.Env = protocols.Env{Transport: transport, Client: &r.Client, Server: &r.Server, Strings: protocols.NewStrings(),
		EmitFunc:    func(t *protocols.Transaction) { r.Txs = append(r.Txs, *t.Clone()) },
		AnomalyFunc: func(name string, _ protocols.Packet) { r.Anomalies = append(r.Anomalies, name) }}
	return r
}

// T0 is the time of frame 0 in Packet.
var T0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Packet numbers frames one millisecond apart from T0.
func Packet(frame uint64) protocols.Packet {
	return protocols.Packet{Frame: frame, Time: T0.Add(time.Duration(frame) * time.Millisecond)}
}
