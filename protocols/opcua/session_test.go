package opcua

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
)

const (
	c2s = protocols.ClientToServer
	s2c = protocols.ServerToClient
)

// chunk builds one OPN/MSG/CLO chunk: header, secure header, sequence header, body.
func chunk(typ string, kind byte, channel uint32, secHeader []byte, seq, rid uint32, body []byte) []byte {
	b := append([]byte(typ), kind, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, channel)
	b = append(b, secHeader...)
	b = binary.LittleEndian.AppendUint32(b, seq)
	b = binary.LittleEndian.AppendUint32(b, rid)
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	return b
}

func token(id uint32) []byte { return binary.LittleEndian.AppendUint32(nil, id) }

func asymmetric(policy string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(policy)))
	b = append(b, policy...)
	return append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // no certificate, no thumbprint
}

type recorder struct {
	txs       []protocols.Transaction
	anomalies []string
}

func newTestSession() (*session, *recorder) {
	rec := &recorder{}
	env := &protocols.Env{Transport: protocols.TCP, Client: &protocols.Endpoint{LinkAddress: -1}, Server: &protocols.Endpoint{LinkAddress: -1},
		EmitFunc:    func(t *protocols.Transaction) { rec.txs = append(rec.txs, *t) },
		AnomalyFunc: func(name string, _ protocols.Packet) { rec.anomalies = append(rec.anomalies, name) }}
	return newSession(env), rec
}

func pkt(n uint64) protocols.Packet {
	return protocols.Packet{Frame: n, Time: time.Unix(1700000000, 0).Add(time.Duration(n) * time.Millisecond)}
}

type step struct {
	dir  protocols.Direction
	data []byte
}

// feed offers each step as one packet, keeping unconsumed bytes like the pipeline.
func feed(t *testing.T, s *session, steps []step) {
	t.Helper()
	var pending [2][]byte
	for i, st := range steps {
		pending[st.dir] = append(pending[st.dir], st.data...)
		n, err := s.Feed(st.dir, pending[st.dir], pkt(uint64(i+1)))
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if n < 0 || n > len(pending[st.dir]) {
			t.Fatalf("step %d: consumed %d of %d", i+1, n, len(pending[st.dir]))
		}
		pending[st.dir] = pending[st.dir][n:]
	}
}

var (
	helloMsg = hxs(`48 45 4c 46 38 00 00 00 00 00 00 00 ff ff 00 00 ff ff 00 00 00 00 00 00 00 00 00 00
18 00 00 00 6f 70 63 2e 74 63 70 3a 2f 2f 6c 6f 63 61 6c 68 6f 73 74 3a 34 38 34 30`)
	ackMsg = hxs(`41 43 4b 46 1c 00 00 00 00 00 00 00 ff ff 00 00 ff ff 00 00 00 00 00 00 00 00 00 00`)
)

func hxs(s string) []byte { return hx(nil, s) }

func body(t *testing.T, s string) []byte { return hx(t, s) }

func TestSessionHandshakeAndWrite(t *testing.T) {
	s, rec := newTestSession()
	opnReq := chunk("OPN", 'F', 0, asymmetric(policyNone), 1, 1, body(t, requestCases[6].hex))
	opnResp := chunk("OPN", 'F', 7, asymmetric(policyNone), 1, 1, body(t, `
01 00 c1 01 `+responseHeader+`
00 00 00 00             // ServerProtocolVersion
07 00 00 00 09 00 00 00 // SecurityToken: ChannelId 7, TokenId 9
00 00 00 00 00 00 00 00 80 ee 36 00 // CreatedAt, RevisedLifetime
00 00 00 00             // ServerNonce
`))
	write := chunk("MSG", 'F', 7, token(9), 2, 2, body(t, requestCases[1].hex))
	writeResp := chunk("MSG", 'F', 7, token(9), 2, 2, body(t, responseCases[3].hex))
	clo := chunk("CLO", 'F', 7, token(9), 3, 3, body(t, "01 00 c4 01"+requestHeader))
	feed(t, s, []step{{c2s, helloMsg}, {s2c, ackMsg}, {c2s, opnReq}, {s2c, opnResp}, {c2s, write}, {s2c, writeResp}, {c2s, clo}})
	s.Close(pkt(99))
	if len(rec.txs) != 3 {
		t.Fatalf("%d transactions, want 3: %+v", len(rec.txs), rec.txs)
	}
	opn, w, c := rec.txs[0], rec.txs[1], rec.txs[2]
	if opn.Code != 446 || opn.RequestFrame != 3 || opn.ResponseFrame != 4 || opn.Attr("secure_channel_id") != "7" {
		t.Errorf("opn %+v", opn)
	}
	if w.Code != 673 || w.RequestFrame != 5 || w.ResponseFrame != 6 || w.Unit != "opc.tcp://localhost:4840" ||
		len(w.Values) != 5 || w.Outcome != protocols.OutcomeException || w.ExceptionCode != 0x803b0000 {
		t.Errorf("write %+v", w)
	}
	if c.Code != 452 || c.Op != protocols.OpSession || c.RequestFrame != 7 || c.Outcome != protocols.OutcomeOK {
		t.Errorf("clo %+v", c)
	}
	if len(rec.anomalies) != 0 {
		t.Errorf("anomalies %v", rec.anomalies)
	}
}

func TestSessionMultiChunkAndAbort(t *testing.T) {
	s, rec := newTestSession()
	full := body(t, requestCases[1].hex)
	cut := len(full) / 2
	first := chunk("MSG", 'C', 7, token(9), 10, 5, full[:cut])
	last := chunk("MSG", 'F', 7, token(9), 11, 5, full[cut:])
	aborted := chunk("MSG", 'C', 7, token(9), 12, 6, full[:cut])
	abort := chunk("MSG", 'A', 7, token(9), 13, 6, hxs("00 00 0c 80 ff ff ff ff"))
	resp := chunk("MSG", 'F', 7, token(9), 10, 5, body(t, responseCases[3].hex))
	feed(t, s, []step{{c2s, first}, {c2s, last}, {c2s, aborted}, {c2s, abort}, {s2c, resp}})
	s.Close(pkt(99))
	if len(rec.txs) != 1 {
		t.Fatalf("%d transactions, want 1", len(rec.txs))
	}
	w := rec.txs[0]
	if w.Code != 673 || w.RequestFrame != 2 || w.ResponseFrame != 5 || len(w.Targets) != 4 || len(w.Values) != 5 || len(w.Anomalies) != 0 {
		t.Errorf("reassembled write %+v", w)
	}
	if !contains(rec.anomalies, "opcua.abort_chunk") {
		t.Errorf("anomalies %v, want abort", rec.anomalies)
	}
}

func TestSessionMidStreamGapAndByteByByte(t *testing.T) {
	read := chunk("MSG", 'F', 3, token(1), 20, 40, body(t, requestCases[0].hex))
	resp := chunk("MSG", 'F', 3, token(1), 20, 40, body(t, responseCases[1].hex))
	write := chunk("MSG", 'F', 3, token(1), 22, 42, body(t, requestCases[1].hex))
	// The capture starts inside a message: its tail comes first.
	tail := append(append([]byte{}, write[len(write)-17:]...), read...)
	s, rec := newTestSession()
	feed(t, s, []step{{c2s, tail}, {s2c, resp}})
	// A gap inside the next request: its head is lost, the one after decodes.
	feed(t, s, []step{{c2s, write[:30]}})
	s.Gap(c2s, 100, pkt(10))
	feed(t, s, []step{{c2s, write[130:]}, {c2s, write}})
	s.Close(pkt(99))
	if len(rec.txs) != 2 {
		t.Fatalf("%d transactions, want 2: %+v", len(rec.txs), rec.txs)
	}
	if r := rec.txs[0]; r.Code != 631 || r.RequestFrame != 1 || r.ResponseFrame != 2 || len(r.Targets) != 3 || r.Unit != "" {
		t.Errorf("read %+v", r)
	}
	if w := rec.txs[1]; w.Code != 673 || w.Outcome != protocols.OutcomeNoResponse || len(w.Values) != 5 {
		t.Errorf("write %+v", w)
	}

	// The same stream fed one byte at a time gives the same transactions.
	s2, rec2 := newTestSession()
	var steps []step
	for _, b := range tail {
		steps = append(steps, step{c2s, []byte{b}})
	}
	for _, b := range resp {
		steps = append(steps, step{s2c, []byte{b}})
	}
	feed(t, s2, steps)
	s2.Close(pkt(999))
	if len(rec2.txs) != 1 || rec2.txs[0].Code != 631 || len(rec2.txs[0].Targets) != 3 || rec2.txs[0].Outcome != protocols.OutcomeOK {
		t.Errorf("byte by byte: %+v", rec2.txs)
	}
}

func TestSessionEncrypted(t *testing.T) {
	const basic = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
	s, rec := newTestSession()
	junk := []byte(strings.Repeat("\x9e\x13\x77\xc2", 40))
	opnReq := chunk("OPN", 'F', 0, asymmetric(basic), 0x5a5a5a5a, 0x6b6b6b6b, junk)
	opnResp := chunk("OPN", 'F', 8, asymmetric(basic), 0x5a5a5a5a, 0x6b6b6b6b, junk)
	msgReq := chunk("MSG", 'F', 8, token(1), 0x11111111, 0x22222222, junk)
	msgResp := chunk("MSG", 'F', 8, token(1), 0x33333333, 0x44444444, junk)
	feed(t, s, []step{{c2s, helloMsg}, {c2s, opnReq}, {s2c, opnResp}, {c2s, msgReq}, {s2c, msgResp}, {c2s, msgReq}})
	s.Close(pkt(99))
	if len(rec.txs) != 3 {
		t.Fatalf("%d transactions, want 3: %+v", len(rec.txs), rec.txs)
	}
	for i, tx := range rec.txs {
		if !tx.Encrypted || len(tx.Targets) != 0 || len(tx.Values) != 0 || len(tx.Anomalies) != 0 || tx.Attr("security_policy") != "Basic256Sha256" {
			t.Errorf("tx %d: %+v", i, tx)
		}
	}
	if rec.txs[0].Code != 446 || rec.txs[0].ResponseFrame != 3 || rec.txs[1].Code != 0 || rec.txs[1].ResponseFrame != 5 ||
		rec.txs[2].Outcome != protocols.OutcomeNoResponse {
		t.Errorf("pairing: %+v", rec.txs)
	}
	if len(rec.anomalies) != 0 {
		t.Errorf("anomalies %v", rec.anomalies)
	}
}

func TestSessionCaps(t *testing.T) {
	s, rec := newTestSession()
	req := body(t, requestCases[4].hex)
	for i := 0; i < MaxOutstanding+10; i++ {
		feed(t, s, []step{{c2s, chunk("MSG", 'F', 1, token(1), uint32(i+1), uint32(i+1), req)}})
	}
	if s.pending.Len() != MaxOutstanding || len(rec.txs) != 10 || !contains(rec.txs[0].Anomalies, "opcua.too_many_outstanding") {
		t.Errorf("pending %d, emitted %d", s.pending.Len(), len(rec.txs))
	}
	// Intermediate chunks past the cap are dropped.
	s2, rec2 := newTestSession()
	part := chunk("MSG", 'C', 1, token(1), 1, 1, append(body(t, "01 00 a1 02"), make([]byte, 1000)...))
	for i := 0; i <= MaxChunks; i++ {
		feed(t, s2, []step{{c2s, part}})
	}
	if len(s2.partials) != 0 || !contains(rec2.anomalies, "opcua.too_many_chunks") {
		t.Errorf("partials %d anomalies %v", len(s2.partials), rec2.anomalies)
	}
}

func TestProbe(t *testing.T) {
	read := chunk("MSG", 'F', 3, token(1), 20, 40, body(t, requestCases[0].hex))
	for _, c := range []struct {
		name string
		data []byte
		want protocols.ProbeResult
	}{
		{"hello", helloMsg, protocols.ProbeYes},
		{"hello, first bytes", helloMsg[:10], protocols.ProbeNeedMore},
		{"msg with a known service", read, protocols.ProbeYes},
		{"msg mid-stream behind a tail", append([]byte{1, 2, 3, 4, 5}, read...), protocols.ProbeYes},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), protocols.ProbeNo},
		{"tpkt/cotp", hxs("03 00 00 16 11 e0 00 00 00 01 00 c1 02 01 00 c2 02 01 02 c0 01 0a"), protocols.ProbeNeedMore},
		{"iec 104 start", append(hxs("68 04 07 00 00 00"), make([]byte, 2000)...), protocols.ProbeNeedMore},
		{"binary without a header in 4000 bytes", append(hxs("68 04 07 00 00 00"), make([]byte, 4000)...), protocols.ProbeNo},
		{"msg behind a 3000-byte tail", append(make([]byte, 3000), read...), protocols.ProbeYes},
		{"hello with an http url", append(append([]byte{}, helloMsg[:32]...), []byte("http://localhost:4840...")...), protocols.ProbeNo},
	} {
		if got := Dissector.Probe(c2s, c.data); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func BenchmarkSessionReadPair(b *testing.B) {
	read := chunk("MSG", 'F', 3, token(1), 20, 40, hx(b, requestCases[0].hex))
	resp := chunk("MSG", 'F', 3, token(1), 20, 40, hx(b, responseCases[1].hex))
	env := &protocols.Env{Client: &protocols.Endpoint{}, Server: &protocols.Endpoint{}}
	testkit.BenchPair(b, newSession(env), read, resp)
}

// TestSessionSignOnly: a Sign channel's OPN is encrypted, but its MSG bodies
// are clear with a signature behind them: they decode.
func TestSessionSignOnly(t *testing.T) {
	const basic = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
	s, rec := newTestSession()
	junk := []byte(strings.Repeat("\x9e\x13\x77\xc2", 40))
	signature := []byte(strings.Repeat("\x5c", 32))
	opnReq := chunk("OPN", 'F', 0, asymmetric(basic), 0x5a5a5a5a, 0x6b6b6b6b, junk)
	opnResp := chunk("OPN", 'F', 8, asymmetric(basic), 0x5a5a5a5a, 0x6b6b6b6b, junk)
	call := chunk("MSG", 'F', 8, token(1), 2, 2, append(body(t, requestCases[3].hex), signature...))
	fault := chunk("MSG", 'F', 8, token(1), 2, 2, append(body(t, responseCases[0].hex), signature...))
	feed(t, s, []step{{c2s, opnReq}, {s2c, opnResp}, {c2s, call}, {s2c, fault}})
	s.Close(pkt(99))
	if len(rec.txs) != 2 {
		t.Fatalf("%d transactions, want 2: %+v", len(rec.txs), rec.txs)
	}
	c := rec.txs[1]
	if c.Encrypted || c.Code != 712 || c.Op != protocols.OpControl || len(c.Targets) != 2 || len(c.Values) != 1 ||
		c.Outcome != protocols.OutcomeException || c.ExceptionCode != 0x80340000 || c.Attr("security_policy") != "Basic256Sha256" {
		t.Errorf("call %+v", c)
	}
}

// Responses whose request came before capture started, from real frames of
// cisagov__icsnpp-opcua-binary/tests/traces/open62541_client-server_mainloop-no-handshake.pcap
// (secure channel 4, token 4): frame 12 BrowseRequest (request id 5),
// frame 14 its BrowseResponse, frame 18 the BrowseResponse to request id 6.
func TestSessionResponsesBeforeCaptureStart(t *testing.T) {
	const (
		browse5 = "4d534746710000000400000004000000050000000500000001000f020401003912161546f36d34fecffcbfbacb4c14f03b274f2dd1d5010600000000000000ffffffff0000000000000000000000000000000000000000000000000001000000005500000000000000000000003f000000"
		resp5   = "4d5347461d01000004000000040000000500000005000000010012020c272f4f2dd1d501060000000000000000ffffffff0000000100000000000000ffffffff04000000002801003d00000a000000466f6c6465725479706503000000000a000000466f6c646572547970650800000000000023010100cd08000006000000536572766572030000000006000000536572766572010000000100d407002301010150e301000c00000054686547726561744e6f64650305000000656e2d55530f0000005468654e657747726561744e6f6465010000000101662f002301010135d200000c0000005661726961626c654e6f64650305000000656e2d5553120000005468654e65775661726961626c654e6f646502000000003fffffffff"
		resp6   = "4d5347463f01000004000000040000000600000006000000010012028848374f2dd1d501070000000000000000ffffffff0000000100000000000000ffffffff050000000023000054000004000000526f6f74030000000004000000526f6f7401000000003d002801003d00000a000000466f6c6465725479706503000000000a000000466f6c646572547970650800000000000023010100cd08000006000000536572766572030000000006000000536572766572010000000100d407002301010150e301000c00000054686547726561744e6f64650305000000656e2d55530f0000005468654e657747726561744e6f6465010000000101662f002301010135d200000c0000005661726961626c654e6f64650305000000656e2d5553120000005468654e65775661726961626c654e6f646502000000003fffffffff"
	)
	type in struct {
		dir   protocols.Direction
		hex   string
		after time.Duration
	}
	for _, tc := range []struct {
		name          string
		steps         []in
		lastAnomalies []string // of the last transaction
		counted       int      // opcua.response_without_request
	}{
		{"capture starts at a response", []in{{s2c, resp5, 0}}, nil, 1},
		{"a response to a request sent just before the start, after a pair: servers answer out of order",
			[]in{{c2s, browse5, 0}, {s2c, resp5, 0}, {s2c, resp6, 0}}, nil, 1},
		{"a response to nothing, later than any request waits", []in{{c2s, browse5, 0}, {s2c, resp5, 0}, {s2c, resp6, ResponseTimeout + time.Second}},
			[]string{"opcua.unmatched_response"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := newTestSession()
			at := time.Unix(1700000000, 0)
			for i, st := range tc.steps {
				at = at.Add(time.Millisecond + st.after)
				_, err := s.Feed(st.dir, hx(t, st.hex), protocols.Packet{Frame: uint64(i + 1), Time: at})
				if err != nil {
					t.Fatal(err)
				}
			}
			last := rec.txs[len(rec.txs)-1]
			if last.Code != 527 || last.ResponseFrame != uint64(len(tc.steps)) { // Browse
				t.Fatalf("last transaction %+v", last)
			}
			if strings.Join(last.Anomalies, ",") != strings.Join(tc.lastAnomalies, ",") {
				t.Errorf("anomalies %v, want %v", last.Anomalies, tc.lastAnomalies)
			}
			n := 0
			for _, a := range rec.anomalies {
				if a == "opcua.response_without_request" {
					n++
				}
			}
			if n != tc.counted {
				t.Errorf("counted %d, want %d (%v)", n, tc.counted, rec.anomalies)
			}
		})
	}
}
