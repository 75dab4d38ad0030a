package enip

import (
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/frame"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ioDatagram builds a class 1 datagram (CIP Vol. 2, §3-3): item count 2,
// the sequenced address item (connection id, sequence count), the
// connected data item.
func ioDatagram(id, seq uint32, data []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, 2)
	b = binary.LittleEndian.AppendUint16(b, itemSequencedAddress)
	b = binary.LittleEndian.AppendUint16(b, 8)
	b = binary.LittleEndian.AppendUint32(b, id)
	b = binary.LittleEndian.AppendUint32(b, seq)
	b = binary.LittleEndian.AppendUint16(b, itemConnectedData)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

func TestParseIO(t *testing.T) {
	id, seq, ok := parseIO(hx(t, `0200 | two items
		0280 0800 | sequenced address item, 8 bytes
		0306 4b00 | connection id 0x004b0603
		db94 3f00 | sequence count 4166875
		b100 0600 | connected data item, 6 bytes
		0100 0000 0000 | CIP sequence count, run/idle header`))
	require.True(t, ok)
	assert.Equal(t, uint32(0x004b0603), id)
	assert.Equal(t, uint32(4166875), seq)
	good := ioDatagram(7, 1, []byte{1, 2})
	for name, b := range map[string][]byte{
		"short":                  good[:1],
		"one item":               append([]byte{1, 0}, good[2:]...),
		"five items":             append([]byte{5, 0}, good[2:]...),
		"unsequenced address":    append(append(append([]byte(nil), good[:2]...), 0xA1, 0x00), good[4:]...),
		"address of 4 bytes":     append(append(append([]byte(nil), good[:4]...), 4, 0), good[6:]...),
		"unconnected data":       append(append(append([]byte(nil), good[:14]...), 0xB2, 0x00), good[16:]...),
		"data shorter than said": good[:len(good)-1],
		"bytes left over":        append(append([]byte(nil), good...), 0),
		"connection id 0":        ioDatagram(0, 1, nil),
		"an encapsulation":       encap(CmdListIdentity, 0, nil),
	} {
		_, _, ok := parseIO(b)
		assert.False(t, ok, name)
	}
}

func TestIOSequenceGaps(t *testing.T) {
	var c ioSequences
	got := map[uint32]uint64{}
	for _, s := range []struct{ id, seq uint32 }{
		{9, 1}, {9, 2}, {5, 0xFFFFFFFF}, {9, 5}, {9, 5}, {9, 4}, {5, 0}, {9, 6},
	} {
		got[s.id] += c.next(s.id, s.seq)
	}
	// 3 and 4 missing at 5; 4 came late, counted once lost
	assert.Equal(t, map[uint32]uint64{5: 0, 9: 2}, got, "a duplicate or late datagram is no loss, the count wraps")
	assert.Equal(t, []ioSequence{{5, 0}, {9, 6}}, c.conns, "by connection id")
}

func TestIOSequencesBounded(t *testing.T) {
	var c ioSequences
	for id := uint32(1); id <= maxIOConnections+3; id++ {
		c.next(id, 1)
	}
	require.Len(t, c.conns, maxIOConnections)
	assert.Equal(t, uint64(1), c.next(1, 3), "a followed connection still tells its losses")
	assert.Zero(t, c.next(maxIOConnections+2, 9), "beyond the bound: no sequence followed, no loss claimed")
}

// ioCount is what Env.Cyclic reported of one connection.
type ioCount struct{ Packets, Lost uint64 }

// countCyclic makes env's CyclicFunc count what a session reports, per
// connection id.
func countCyclic(env *protocols.Env) map[uint32]*ioCount {
	got := map[uint32]*ioCount{}
	env.CyclicFunc = func(_ *protocols.Env, proto string, conn uint32, lost uint64) {
		if proto != ProtoENIP {
			panic("cyclic I/O reported as " + proto)
		}
		if got[conn] == nil {
			got[conn] = &ioCount{}
		}
		got[conn].Packets++
		got[conn].Lost += lost
	}
	return got
}

// TestIOPerConnectionAgainstTshark feeds the UDP 2222 datagrams of ICSNPP's
// enip_cip_example.pcap (a ControlLogix's cyclic I/O) to a session and
// compares the datagrams and losses per connection with tshark's sequenced
// address items; none becomes a record or an anomaly.
func TestIOPerConnectionAgainstTshark(t *testing.T) {
	path := filepath.Join(corpustest.Dir(t), "cisagov__icsnpp-enip", "tests", "traces", "enip_cip_example.pcap")
	want := map[uint32]*ioCount{}
	last := map[uint32]uint32{}
	for _, r := range corpustest.Fields(t, path, []string{"-Y", "udp.port==2222"}, "enip.cpf.sai.connid", "enip.cpf.sai.seq") {
		id, seq := uint32(corpustest.Int(r[0])), uint32(corpustest.Int(r[1]))
		if want[id] == nil {
			want[id] = &ioCount{}
		} else if seq > last[id]+1 {
			want[id].Lost += uint64(seq - last[id] - 1)
		}
		want[id].Packets++
		last[id] = seq
	}
	require.NotEmpty(t, want, "tshark sees the I/O datagrams")

	rec := newRecorder(protocols.UDP)
	got := countCyclic(&rec.Env)
	s := newSession(&rec.Env)
	rd, err := capture.Open(path)
	require.NoError(t, err)
	defer rd.Close()
	var d frame.Decoded
	for n := uint64(1); ; n++ {
		f, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if frame.Decode(f.LinkType, f.Data, &d) != nil || d.IPProto != 17 || (d.SrcPort != IOPort && d.DstPort != IOPort) {
			continue
		}
		used, err := s.Feed(protocols.ClientToServer, d.Payload, pk(n))
		require.NoError(t, err)
		assert.Equal(t, len(d.Payload), used)
	}
	s.Close(pk(0))
	assert.Equal(t, want, got, "per connection id")
	assert.Empty(t, rec.Txs, "cyclic data is counted, not recorded")
	assert.Empty(t, rec.Anomalies)

	// The pipeline binds the I/O flow to EtherNet/IP: it is no longer unknown.
	_, stats := corpustest.Replay(t, path)
	assert.Zero(t, stats.UnknownFlows)
	assert.Equal(t, uint64(3), stats.IdentifiedFlows[ProtoENIP], "two TCP sessions and the UDP 2222 flow")
	// and counts its datagrams per connection, as tshark does.
	var total pipeline.CyclicTotals
	for _, c := range want {
		total.Connections++
		total.Datagrams += c.Packets
		total.Lost += c.Lost
	}
	assert.Equal(t, total, stats.CyclicIO[ProtoENIP])
	require.Len(t, stats.CyclicConns, len(want))
	for k, c := range stats.CyclicConns {
		assert.Equal(t, pipeline.CyclicCount{Datagrams: want[k.Conn].Packets, Lost: want[k.Conn].Lost}, *c, "connection %#08x", k.Conn)
		assert.Equal(t, uint16(IOPort), k.Server.Port())
	}
}
