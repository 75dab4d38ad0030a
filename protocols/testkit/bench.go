package testkit

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
)

// BenchPair measures a session's own cost per exchange: s is fed req
// (client to server) and resp (server to client), each as its own
// segment, b.N times. Give s an Env with a Pool to leave the
// transactions' allocation out, as the pipeline recycles them. It fails
// when s does not consume both whole.
func BenchPair(b *testing.B, s protocols.Session, req, resp []byte) {
	for _, m := range []struct {
		dir  protocols.Direction
		data []byte
	}{{protocols.ClientToServer, req}, {protocols.ServerToClient, resp}} {
		if n, err := s.Feed(m.dir, m.data, Packet(1)); n != len(m.data) || err != nil {
			b.Fatalf("%v: consumed %d of %d bytes, %v", m.dir, n, len(m.data), err)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(req) + len(resp)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Feed(protocols.ClientToServer, req, Packet(1))
		s.Feed(protocols.ServerToClient, resp, Packet(2))
	}
}
