package modbus

import (
	"net/netip"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type recorder struct {
	env       protocols.Env
	client    protocols.Endpoint
	server    protocols.Endpoint
	txs       []protocols.Transaction
	anomalies []string
}

func newRecorder(transport protocols.Transport) *recorder {
	r := &recorder{
		client: protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 40000, LinkAddress: -1},
		server: protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: 502, LinkAddress: -1},
	}
	r.env = protocols.Env{Transport: transport, Client: &r.client, Server: &r.server,
		EmitFunc:    func(t *protocols.Transaction) { r.txs = append(r.txs, *t) },
		AnomalyFunc: func(name string, _ protocols.Packet) { r.anomalies = append(r.anomalies, name) }}
	return r
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func pk(frame uint64) protocols.Packet {
	return protocols.Packet{Frame: frame, Time: t0.Add(time.Duration(frame) * time.Millisecond)}
}

// feed offers data like the pipeline does: unconsumed bytes come back with the next chunk.
type feeder struct {
	s    *session
	rest [2][]byte
}

func (f *feeder) feed(t *testing.T, dir protocols.Direction, data []byte, frame uint64) {
	buf := append(f.rest[dir], data...)
	n, err := f.s.Feed(dir, buf, pk(frame))
	require.NoError(t, err)
	require.LessOrEqual(t, n, len(buf))
	f.rest[dir] = append([]byte(nil), buf[n:]...)
}

func TestSessionPipelinedOutOfOrderResponses(t *testing.T) {
	r := newRecorder(protocols.TCP)
	f := &feeder{s: newSession(&r.env)}
	// two requests in one segment: tid 1 reads, tid 2 writes
	f.feed(t, protocols.ClientToServer, hx(t, `
		0001 0000 0006 01 | tid 1, len 6, unit 1
		03 0000 0002      | read 2 holding registers at 0
		0002 0000 0006 01 | tid 2
		06 0010 002a      | write 42 to register 16`), 1)
	require.Empty(t, r.txs)
	// responses arrive in reverse order; the second is split across segments
	f.feed(t, protocols.ServerToClient, hx(t, `0002 0000 0006 01 06 0010 002a | echo of tid 2
		0001 0000 0007`), 2)
	require.Len(t, r.txs, 1)
	assert.Equal(t, uint64(2), r.txs[0].ID)
	assert.Equal(t, protocols.OpWrite, r.txs[0].Op)
	assert.Equal(t, uint64(1), r.txs[0].RequestFrame)
	assert.Equal(t, uint64(2), r.txs[0].ResponseFrame)
	f.feed(t, protocols.ServerToClient, hx(t, `01 03 04 0001 0002 | rest of tid 1`), 3)
	require.Len(t, r.txs, 2)
	assert.Equal(t, uint64(1), r.txs[1].ID)
	assert.Equal(t, uint64(3), r.txs[1].ResponseFrame)
	assert.Equal(t, protocols.OutcomeOK, r.txs[1].Outcome)
	assert.Empty(t, r.txs[1].Anomalies)
}

func TestSessionCloseReportsNoResponse(t *testing.T) {
	r := newRecorder(protocols.TCP)
	s := newSession(&r.env)
	_, err := s.Feed(protocols.ClientToServer, hx(t, `0007 0000 0006 00 05 0001 ff00 | broadcast coil write`), pk(1))
	require.NoError(t, err)
	s.Close(pk(9))
	require.Len(t, r.txs, 1)
	assert.Equal(t, protocols.OutcomeNoResponse, r.txs[0].Outcome)
	assert.True(t, r.txs[0].Broadcast)
	assert.Equal(t, uint64(0), r.txs[0].ResponseFrame)
}

func TestSessionResponseTimeout(t *testing.T) {
	r := newRecorder(protocols.TCP)
	s := newSession(&r.env)
	_, _ = s.Feed(protocols.ClientToServer, hx(t, `0001 0000 0006 01 03 0000 0001`), pk(1))
	late := protocols.Packet{Frame: 2, Time: t0.Add(ResponseTimeout + time.Minute)}
	_, _ = s.Feed(protocols.ClientToServer, hx(t, `0002 0000 0006 01 03 0000 0001`), late)
	require.Len(t, r.txs, 1, "the first request expired when the second came")
	assert.Equal(t, protocols.OutcomeNoResponse, r.txs[0].Outcome)
}

// Responses without their request: ntop__nDPI/tests/cfgs/default/pcap/modbus.pcap
// frames 93-98 (192.168.110.131:2074 polls 192.168.110.138:502). From frame
// 95 on the client sends transaction id 0 every time and the device answers
// with ids 1, 2, ...: its answers match no request. The first frame of the
// capture is a request in the middle of the connection.
func TestSessionUnmatchedResponse(t *testing.T) {
	frames := map[uint64]string{
		93: "00ff 0000 0006 01 03 0001 0001 | tid 255: read 1 register at 1",
		94: "00ff 0000 0005 01 03 02 0000   | its response",
		95: "0000 0000 0006 01 03 0000 0001 | tid 0: read 1 register at 0",
		96: "0001 0000 0005 01 03 02 41c8   | answered as tid 1",
		97: "0000 0000 0006 01 03 0000 0001 | tid 0 again",
		98: "0002 0000 0005 01 03 02 41c8   | answered as tid 2",
	}
	dir := func(n uint64) protocols.Direction { return protocols.Direction((n + 1) % 2) } // odd frames are requests
	for _, tc := range []struct {
		name      string
		startAt   uint64 // first frame the session sees
		gapBefore uint64 // a gap in the request direction before this frame, 0 none
		later     time.Duration
		want      map[uint64][]string // response frame -> anomalies on its transaction
		counted   int                 // modbus.response_without_request
	}{
		{"the device's wrong ids after a matched pair are unmatched", 93, 0, 0,
			map[uint64][]string{94: nil, 96: {"modbus.unmatched_response"}, 98: {"modbus.unmatched_response"}}, 0},
		{"capture starting at a response: it and the wrong ids, with no pair yet, may answer missed requests", 94, 0, 0,
			map[uint64][]string{94: nil, 96: nil, 98: nil}, 3},
		{"no pair seen yet: within the response timeout it may answer a missed request", 96, 0, 0,
			map[uint64][]string{96: nil, 98: nil}, 2},
		{"no pair seen, but later than any missed request could be answered", 95, 0, ResponseTimeout + time.Second,
			map[uint64][]string{96: nil, 98: {"modbus.unmatched_response"}}, 1},
		{"a gap: requests may have been lost in it", 93, 95, 0,
			map[uint64][]string{94: nil, 96: nil, 98: nil}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(protocols.TCP)
			s := newSession(&r.env)
			got := map[uint64][]string{}
			for n := tc.startAt; n <= 98; n++ {
				p := protocols.Packet{Frame: n, Time: t0.Add(time.Duration(n) * time.Millisecond)}
				if n == 98 {
					p.Time = p.Time.Add(tc.later)
				}
				if n == tc.gapBefore {
					s.Gap(protocols.ClientToServer, 12, p)
				}
				_, err := s.Feed(dir(n), hx(t, frames[n]), p)
				require.NoError(t, err)
				if dir(n) == protocols.ServerToClient {
					last := r.txs[len(r.txs)-1]
					require.Equal(t, n, last.ResponseFrame)
					got[n] = last.Anomalies
				}
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.counted, count(r.anomalies, "modbus.response_without_request"))
		})
	}
}

func count(list []string, name string) int {
	n := 0
	for _, s := range list {
		if s == name {
			n++
		}
	}
	return n
}

func TestSessionGapResynchronises(t *testing.T) {
	r := newRecorder(protocols.TCP)
	f := &feeder{s: newSession(&r.env)}
	f.feed(t, protocols.ClientToServer, hx(t, `0001 0000 0006 01 03`), 1) // partial ADU
	f.s.Gap(protocols.ClientToServer, 100, pk(2))
	f.rest[protocols.ClientToServer] = nil // the pipeline drops the partial PDU on a gap
	// the stream resumes mid-ADU: garbage, then two whole ADUs
	f.feed(t, protocols.ClientToServer, hx(t, `0000 0064 ff 00
		0002 0000 0006 01 10 0000 0001 02 0005 | nope: byte count 2 but length 6 -> looks valid as header
		`), 3)
	f.feed(t, protocols.ClientToServer, hx(t, `0003 0000 0006 01 06 0001 0007`), 4)
	f.s.Close(pk(5))
	var ids []uint64
	for _, tx := range r.txs {
		ids = append(ids, tx.ID)
	}
	assert.Contains(t, ids, uint64(3), "the ADU after the gap is found")
}

func TestSessionRejectsGarbage(t *testing.T) {
	r := newRecorder(protocols.TCP)
	s := newSession(&r.env)
	junk := make([]byte, 2000)
	for i := range junk {
		junk[i] = byte(i*7 + 1)
	}
	_, err := s.Feed(protocols.ClientToServer, junk, pk(1))
	if err == nil {
		// resync is allowed to swallow junk, but must report it
		assert.NotEmpty(t, r.anomalies)
	}
	assert.Empty(t, r.txs)
}

func TestSessionOutstandingCap(t *testing.T) {
	r := newRecorder(protocols.TCP)
	s := newSession(&r.env)
	req := hx(t, `0000 0000 0006 01 03 0000 0001`)
	for i := 0; i < MaxOutstanding+5; i++ {
		req[0], req[1] = byte(i>>8), byte(i)
		_, _ = s.Feed(protocols.ClientToServer, req, pk(uint64(i+1)))
	}
	assert.Equal(t, MaxOutstanding, s.outstanding.Len())
	require.Len(t, r.txs, 5)
	assert.Contains(t, r.txs[0].Anomalies, "modbus.too_many_outstanding")
}

func TestProbe(t *testing.T) {
	d := Dissector
	tests := []struct {
		name string
		data string
		want protocols.ProbeResult
	}{
		{"whole request", `0001 0000 0006 01 03 0000 0001`, protocols.ProbeYes},
		{"scanner function 0", `0000 0000 0006 01 00 0000 0000`, protocols.ProbeYes},
		{"header only", `0001 0000 0006 01`, protocols.ProbeNeedMore},
		{"three bytes", `0001 00`, protocols.ProbeNeedMore},
		{"http on 502", `474554202f20485454502f312e310d0a`, protocols.ProbeNo},
		{"tls hello", `16030100a5010000a10303`, protocols.ProbeNo},
		{"length too big", `0001 0000 0200 01 03 0000 0001`, protocols.ProbeNo},
		{"partial with bad function", `0001 0000 0010 01 1d 00`, protocols.ProbeNo},
		{"two ADUs", `0001 0000 0006 01 03 0000 0001 0002 0000 0006 01 03 0000 0001`, protocols.ProbeYes},
		{"ADU then junk header", `0001 0000 0006 01 03 0000 0001 4142 4344 4546 47`, protocols.ProbeNo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, d.Probe(protocols.ClientToServer, hx(t, tc.data)))
		})
	}
}

// BenchmarkSessionReadPair: one read request and its response, each in
// its own segment, through framing, pairing and decoding; transactions
// are recycled as the pipeline does, so what remains is the session's
// own cost per pair.
func BenchmarkSessionReadPair(b *testing.B) {
	req := testkit.Hex(b, `00 01 00 00 00 06 | tid 1, protocol 0, length 6
		11 03 00 6b 00 02                     | unit 17, read holding registers 107, 2`)
	resp := testkit.Hex(b, `00 01 00 00 00 07 | tid 1, protocol 0, length 7
		11 03 04 02 2b 00 00                  | unit 17, 4 bytes: 555, 0`)
	env := &protocols.Env{Client: &protocols.Endpoint{}, Server: &protocols.Endpoint{}, Pool: &protocols.TxPool{}}
	testkit.BenchPair(b, newSession(env), req, resp)
}
