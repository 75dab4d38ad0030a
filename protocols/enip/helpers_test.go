package enip

import (
	"encoding/binary"
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

func newRecorder(transport protocols.Transport) *recorder {
	r := &recorder{
		client: protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 40000, LinkAddress: -1},
		server: protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: Port, LinkAddress: -1},
	}
	r.env = protocols.Env{Transport: transport, Client: &r.client, Server: &r.server, Strings: protocols.NewStrings(),
		EmitFunc:    func(t *protocols.Transaction) { r.txs = append(r.txs, *t.Clone()) },
		AnomalyFunc: func(name string, _ protocols.Packet) { r.anomalies = append(r.anomalies, name) }}
	return r
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func pk(frame uint64) protocols.Packet {
	return protocols.Packet{Frame: frame, Time: t0.Add(time.Duration(frame) * time.Millisecond)}
}

func hx(t testing.TB, listing string) []byte { return testkit.Hex(t, listing) }

// encap wraps data in an encapsulation header (session 0x11223344, the given sender context).
func encap(command uint16, context uint64, data []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(data))
	binary.LittleEndian.PutUint16(b, command)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(data)))
	binary.LittleEndian.PutUint32(b[4:], 0x11223344)
	binary.LittleEndian.PutUint64(b[12:], context)
	return append(b, data...)
}

// rrData is SendRRData with a null address item and an unconnected data item.
func rrData(context uint64, cip []byte) []byte {
	b := []byte{0, 0, 0, 0, 0x0a, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(cip)))
	return encap(CmdSendRRData, context, append(b, cip...))
}

// unitData is SendUnitData with a connected address and data item.
func unitData(seq uint16, cip []byte) []byte {
	b := []byte{0, 0, 0, 0, 0, 0, 2, 0, 0xa1, 0, 4, 0, 0x78, 0x56, 0x34, 0x12, 0xb1, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(cip)+2))
	b = binary.LittleEndian.AppendUint16(b, seq)
	return encap(CmdSendUnitData, 0, append(b, cip...))
}

func feed(t *testing.T, s *session, dir protocols.Direction, b []byte, frame uint64) {
	t.Helper()
	n, err := s.Feed(dir, b, pk(frame))
	require.NoError(t, err)
	require.Equal(t, len(b), n)
}
