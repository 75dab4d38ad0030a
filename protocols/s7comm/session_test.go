package s7comm

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

type step struct {
	dir  protocols.Direction
	data []byte
	gap  bool
}

func runSession(t *testing.T, steps []step) []protocols.Transaction {
	t.Helper()
	return runSessionCounting(t, steps, nil)
}

// runSessionCounting is runSession that also collects the anomalies
// counted without a transaction.
func runSessionCounting(t *testing.T, steps []step, counted *[]string) []protocols.Transaction {
	t.Helper()
	client := protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 49152, LinkAddress: -1}
	server := protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: Port, LinkAddress: -1}
	var out []protocols.Transaction
	env := &protocols.Env{Transport: protocols.TCP, Client: &client, Server: &server,
		EmitFunc: func(tx *protocols.Transaction) { out = append(out, *tx) },
		AnomalyFunc: func(name string, _ protocols.Packet) {
			if counted != nil {
				*counted = append(*counted, name)
			}
		}}
	s := newSession(env)
	var pending [2][]byte
	now := time.Unix(1700000000, 0)
	for i, st := range steps {
		pkt := protocols.Packet{Frame: uint64(i + 1), Time: now.Add(time.Duration(i) * time.Millisecond)}
		if st.gap {
			pending[st.dir] = nil
			s.Gap(st.dir, 10, pkt)
		}
		pending[st.dir] = append(pending[st.dir], st.data...)
		n, err := s.Feed(st.dir, pending[st.dir], pkt)
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		pending[st.dir] = pending[st.dir][n:]
	}
	s.Close(protocols.Packet{Frame: uint64(len(steps) + 1), Time: now.Add(time.Second)})
	return out
}

func TestSession(t *testing.T) {
	c2s, s2c := protocols.ClientToServer, protocols.ServerToClient
	cr := unhex(t, "03 00 0016 11 e0 0000 0001 00 c0 01 0a c1 02 0100 c2 02 0102")
	cc := unhex(t, "03 00 0016 11 d0 0001 0044 00 c0 01 0a c1 02 0100 c2 02 0102")
	job := frameTPKT(unhex(t, hexReadVarJob))
	ack := frameTPKT(unhex(t, hexReadVarAck))
	// The job split over two COTP DT fragments (first without EOT).
	raw := unhex(t, hexReadVarJob)
	frag1 := append([]byte{3, 0, 0, byte(7 + 10), 2, 0xf0, 0x00}, raw[:10]...)
	frag2 := append([]byte{3, 0, 0, byte(7 + len(raw) - 10), 2, 0xf0, 0x80}, raw[10:]...)
	stop := frameTPKT(unhex(t, "32 01 0000 0700 0010 0000 29 0000000000 09 505f50524f4752414d"))
	ackNoParam := frameTPKT(unhex(t, "32 02 0000 0700 0000 0000 0000"))
	// GetMultiVariables of no items and its answer (return value 0, empty
	// value and error lists), each with its trailer 72 01 0000.
	plusReq := frameTPKT(unhex(t, "72 01 0015 31 0000 054c 0000 0007 70000001 34 00000000 00 00 72010000"))
	plusResp := frameTPKT(unhex(t, "72 01 000e 32 0000 054c 0000 0007 34 00 00 00 72010000"))
	tlsRec := frameTPKT(unhex(t, "17 0303 0004 deadbeef"))
	// SetVariable of seq 5 answered by an Error PDU (function 0x04b1) with
	// return value 0xff9c (error code -100, access denied).
	plusSet := frameTPKT(unhex(t, "72 02 0016 31 0000 04f2 0000 0005 000003e2 34 00000034 01 9077 00 08 01 72020000"))
	plusErr := frameTPKT(unhex(t, "72 02 000d 32 0000 04b1 0000 0005 34 83ff1c 72020000"))
	// A GetMultiVariables request in two S7comm-plus fragments (the first
	// without trailer), then its answer.
	plusFragA := frameTPKT(unhex(t, "72 02 000f 31 0000 054c 0000 0007 70000001 34 00"))
	plusFragB := frameTPKT(unhex(t, "72 02 000b 000000 01 04 00 52 02 9d18 09 72020000")) // object (cont.), 1 item, 4 fields: M LID 9
	plusFragResp := frameTPKT(unhex(t, "72 02 0010 32 0000 054c 0000 0007 34 00 01 00 07 002a 00 00 72020000"))
	// Response2 (opcode 0x02) to a SetVariable.
	plusResp2 := frameTPKT(unhex(t, "72 02 000e 02 0000 04f2 0000 0005 74 00 00000000 72020000"))

	tests := []struct {
		name  string
		steps []step
		check func(t *testing.T, txs []protocols.Transaction)
	}{
		{"connect then job/ack", []step{{c2s, cr, false}, {s2c, cc, false}, {c2s, job, false}, {s2c, ack, false}},
			func(t *testing.T, txs []protocols.Transaction) {
				if len(txs) != 1 || txs[0].Unit != "0/2" || txs[0].RequestFrame != 3 || txs[0].ResponseFrame != 4 ||
					txs[0].Outcome != protocols.OutcomeOK || txs[0].Code != FuncReadVar {
					t.Fatalf("got %+v", txs)
				}
			}},
		{"cotp fragments and split segments", []step{{c2s, frag1[:5], false}, {c2s, frag1[5:], false}, {c2s, frag2, false}, {s2c, ack, false}},
			func(t *testing.T, txs []protocols.Transaction) {
				if len(txs) != 1 || txs[0].RequestFrame != 3 || txs[0].ResponseFrame != 4 || len(txs[0].Targets) != 1 {
					t.Fatalf("got %+v", txs)
				}
			}},
		{"ack without parameter takes the job's function", []step{{c2s, stop, false}, {s2c, ackNoParam, false}},
			func(t *testing.T, txs []protocols.Transaction) {
				if len(txs) != 1 || txs[0].Op != protocols.OpStop || txs[0].ResponseFrame != 2 {
					t.Fatalf("got %+v", txs)
				}
			}},
		{"mid-stream start and gap resync", []step{{c2s, job[9:], false}, {s2c, ack[4:], false}, {c2s, job, false}, {s2c, append([]byte{0xde, 0xad}, ack...), true}},
			func(t *testing.T, txs []protocols.Transaction) {
				if len(txs) != 1 || txs[0].RequestFrame != 3 || txs[0].ResponseFrame != 4 {
					t.Fatalf("got %+v", txs)
				}
			}},
		{"unanswered job", []step{{c2s, job, false}},
			func(t *testing.T, txs []protocols.Transaction) {
				if len(txs) != 1 || txs[0].Outcome != protocols.OutcomeNoResponse {
					t.Fatalf("got %+v", txs)
				}
			}},
		{"s7comm-plus error answers a request", []step{{c2s, plusSet, false}, {s2c, plusErr, false}},
			func(t *testing.T, txs []protocols.Transaction) {
				if len(txs) != 2 || txs[0].Op != protocols.OpStop || txs[0].Outcome != protocols.OutcomeException ||
					txs[0].ExceptionCode != -100 || txs[0].ResponseFrame != 0 || txs[0].Attr("error_frame") != "2" ||
					txs[1].CodeName != "error" || txs[1].ResponseFrame != 2 || txs[1].Attr("answers") != "set_variable" {
					t.Fatalf("got %+v", txs)
				}
			}},
		{"s7comm-plus fragments", []step{{c2s, plusFragA, false}, {c2s, plusFragB, false}, {s2c, plusFragResp, false}},
			func(t *testing.T, txs []protocols.Transaction) {
				if len(txs) != 1 || txs[0].RequestFrame != 1 || txs[0].ResponseFrame != 3 || len(txs[0].Targets) != 1 ||
					txs[0].Targets[0].Space != "M" || txs[0].Targets[0].ID != "9" || len(txs[0].ReadValues) != 1 ||
					txs[0].ReadValues[0].Int != 42 || len(txs[0].Anomalies) != 0 {
					t.Fatalf("got %+v", txs)
				}
			}},
		{"s7comm-plus response2", []step{{c2s, plusSet, false}, {s2c, plusResp2, false}},
			func(t *testing.T, txs []protocols.Transaction) {
				if len(txs) != 1 || txs[0].Outcome != protocols.OutcomeOK || txs[0].ResponseFrame != 0 ||
					txs[0].Attr("response2_frame") != "2" {
					t.Fatalf("got %+v", txs)
				}
			}},
		{"s7comm-plus pairing and tls", []step{{c2s, plusReq, false}, {s2c, plusResp, false}, {c2s, tlsRec, false}, {s2c, tlsRec, false}},
			func(t *testing.T, txs []protocols.Transaction) {
				if len(txs) != 2 || txs[0].Proto != ProtoS7Plus || txs[0].Subcode != OpcodeRequest || txs[0].ResponseFrame != 2 ||
					txs[0].Op != protocols.OpRead || !txs[1].Encrypted || txs[1].ResponseFrame != 4 {
					t.Fatalf("got %+v", txs)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, runSession(t, tc.steps)) })
	}
}

func TestSessionOutstandingCap(t *testing.T) {
	var steps []step
	raw := unhex(t, hexReadVarJob)
	for i := 0; i < MaxOutstanding+10; i++ {
		r := append([]byte(nil), raw...)
		r[4], r[5] = byte(i>>8), byte(i)
		steps = append(steps, step{protocols.ClientToServer, frameTPKT(r), false})
	}
	txs := runSession(t, steps)
	if len(txs) != MaxOutstanding+10 {
		t.Fatalf("%d transactions", len(txs))
	}
	if a := txs[0].Anomalies; len(a) != 1 || a[0] != "s7comm.too_many_outstanding" {
		t.Fatalf("first evicted request anomalies %v", a)
	}
}

func BenchmarkSessionJobAck(b *testing.B) {
	job := frameTPKT(unhex(b, hexReadVarJob))
	ack := frameTPKT(unhex(b, hexReadVarAck))
	client := protocols.Endpoint{LinkAddress: -1}
	server := protocols.Endpoint{LinkAddress: -1}
	env := &protocols.Env{Transport: protocols.TCP, Client: &client, Server: &server}
	s := newSession(env)
	pkt := protocols.Packet{Frame: 1, Time: time.Unix(1700000000, 0)}
	b.SetBytes(int64(len(job) + len(ack)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Feed(protocols.ClientToServer, job, pkt)
		s.Feed(protocols.ServerToClient, ack, pkt)
	}
}

// Acks whose job came before capture started, from real frames (TPKT
// payloads) of ITI__ICS-Security-Tools/pcaps/s7/s7comm_varservice_libnodavedemo_bench.pcap:
// libnodave at port 4272 writes one item (function 5) and the PLC acks,
// one job outstanding at a time, every 4 ms.
func TestSessionAcksBeforeCaptureStart(t *testing.T) {
	const (
		ack3016 = "0300001602f080 320300000bc80002000100 000501ff"                             // frame 6128: ack_data of job 0x0bc8 (3016)
		job3017 = "0300002402f080 320100000bc9000e000505 01120a10020001000083000000000400083b" // frame 6129: write job 0x0bc9 (3017)
		ack3017 = "0300001602f080 320300000bc90002000100 000501ff"                             // frame 6130: its ack_data
	)
	c2s, s2c := protocols.ClientToServer, protocols.ServerToClient
	for _, tc := range []struct {
		name          string
		steps         []step
		wantAnomalies [][]string // per transaction
		counted       []string
	}{
		{"capture starts at an ack: its job came before", []step{{s2c, unhex(t, ack3016), false}, {c2s, unhex(t, job3017), false}, {s2c, unhex(t, ack3017), false}},
			[][]string{nil, nil}, []string{"s7comm.response_without_request"}},
		{"the same ack again after a pair: it answers nothing", []step{{c2s, unhex(t, job3017), false}, {s2c, unhex(t, ack3017), false}, {s2c, unhex(t, ack3016), false}},
			[][]string{nil, {"s7comm.unmatched_response"}}, nil},
		{"after a gap in the job direction its job may have been lost", []step{{c2s, unhex(t, job3017), false}, {s2c, unhex(t, ack3017), false}, {c2s, nil, true}, {s2c, unhex(t, ack3016), false}},
			[][]string{nil, nil}, []string{"s7comm.response_without_request"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var counted []string
			txs := runSessionCounting(t, tc.steps, &counted)
			if len(txs) != len(tc.wantAnomalies) {
				t.Fatalf("%d transactions %+v", len(txs), txs)
			}
			for i, tx := range txs {
				if !equalStrings(tx.Anomalies, tc.wantAnomalies[i]) {
					t.Errorf("transaction %d (frames %d/%d): anomalies %v, want %v", i, tx.RequestFrame, tx.ResponseFrame, tx.Anomalies, tc.wantAnomalies[i])
				}
			}
			if !equalStrings(counted, tc.counted) {
				t.Errorf("counted %v, want %v", counted, tc.counted)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestOrphanResponseAndTheNextRequest: a detect capture that starts
// between a job and its ack. The ack (its job sent before capture) is
// counted, and the HMI's next job reusing the PDU reference a second
// later is paired with its own ack, not the one before: otherwise every
// later job of the connection would take the previous cycle's answer. A
// job delivered late (held behind a TCP hole: captured before the ack,
// delivered after it) is still joined with its ack.
func TestOrphanResponseAndTheNextRequest(t *testing.T) {
	c2s, s2c := protocols.ClientToServer, protocols.ServerToClient
	job := frameTPKT(unhex(t, hexReadVarJob))
	ack := frameTPKT(unhex(t, hexReadVarAck))
	type in struct {
		dir protocols.Direction
		b   []byte
		at  time.Duration
	}
	run := func(steps []in) (out []protocols.Transaction, counted []string) {
		client := protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 49152, LinkAddress: -1}
		server := protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: Port, LinkAddress: -1}
		env := &protocols.Env{Transport: protocols.TCP, Client: &client, Server: &server,
			EmitFunc:    func(tx *protocols.Transaction) { out = append(out, *tx) },
			AnomalyFunc: func(name string, _ protocols.Packet) { counted = append(counted, name) }}
		s := newSession(env)
		t0 := time.Unix(1700000000, 0)
		for i, st := range steps {
			if _, err := s.Feed(st.dir, st.b, protocols.Packet{Frame: uint64(i + 1), Time: t0.Add(st.at)}); err != nil {
				t.Fatal(err)
			}
		}
		s.Close(protocols.Packet{Frame: uint64(len(steps) + 1), Time: t0.Add(time.Minute)})
		return out, counted
	}
	pairs := func(txs []protocols.Transaction) (p [][2]uint64) {
		for _, tx := range txs {
			p = append(p, [2]uint64{tx.RequestFrame, tx.ResponseFrame})
		}
		return p
	}

	txs, counted := run([]in{{s2c, ack, 0}, {c2s, job, time.Second}, {s2c, ack, time.Second + 10*time.Millisecond},
		{c2s, job, 2 * time.Second}, {s2c, ack, 2*time.Second + 10*time.Millisecond}})
	// the ack without its job is emitted on its own once held OrphanHold
	if got, want := pairs(txs), [][2]uint64{{2, 3}, {0, 1}, {4, 5}}; !slices.Equal(got, want) {
		t.Errorf("pairs %v, want %v (request, response frames)", got, want)
	}
	if !slices.Equal(counted, []string{"s7comm.response_without_request"}) {
		t.Errorf("counted %v", counted)
	}
	for _, tx := range txs {
		if len(tx.Anomalies) > 0 {
			t.Errorf("frame %d: anomalies %v", tx.RequestFrame, tx.Anomalies)
		}
	}

	// captured at 5 ms, delivered after the ack of 10 ms
	txs, counted = run([]in{{s2c, ack, 10 * time.Millisecond}, {c2s, job, 5 * time.Millisecond}})
	if got, want := pairs(txs), [][2]uint64{{2, 1}}; !slices.Equal(got, want) || len(counted) > 0 {
		t.Errorf("late job: pairs %v, want %v; counted %v", got, want, counted)
	}
}
