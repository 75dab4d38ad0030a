package dnp3

import (
	"github.com/otwatch/otwatch/protocols/corpustest"

	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// harness drives a session the way the pipeline does, collecting what it emits.
type harness struct {
	t         *testing.T
	env       protocols.Env
	s         *session
	txs       []protocols.Transaction
	anomalies []string
	frame     uint64
	pending   [2][]byte
	skew      time.Duration // added to packet time from now on
	client    protocols.Endpoint
	server    protocols.Endpoint
}

func newHarness(t *testing.T, transport protocols.Transport) *harness {
	h := &harness{t: t}
	h.client = protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 40000, LinkAddress: -1}
	h.server = protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: Port, LinkAddress: -1}
	h.env = protocols.Env{Transport: transport, Client: &h.client, Server: &h.server,
		EmitFunc:    func(tx *protocols.Transaction) { h.txs = append(h.txs, *tx) },
		AnomalyFunc: func(name string, _ protocols.Packet) { h.anomalies = append(h.anomalies, name) }}
	h.s = newSession(&h.env)
	return h
}

// send delivers one packet's bytes, keeping what the session leaves (TCP).
func (h *harness) send(dir protocols.Direction, b []byte) {
	h.frame++
	pkt := protocols.Packet{Frame: h.frame, Time: time.Unix(1000+int64(h.frame), 0).Add(h.skew)}
	if h.env.Transport == protocols.UDP {
		n, err := h.s.Feed(dir, b, pkt)
		if err != nil || n != len(b) {
			h.t.Fatalf("udp feed: n=%d of %d err=%v", n, len(b), err)
		}
		return
	}
	buf := append(h.pending[dir], b...)
	n, err := h.s.Feed(dir, buf, pkt)
	if err != nil {
		h.t.Fatalf("feed: %v", err)
	}
	if n < 0 || n > len(buf) {
		h.t.Fatalf("consumed %d of %d", n, len(buf))
	}
	h.pending[dir] = append([]byte(nil), buf[n:]...)
}

const (
	master     = 1
	outstation = 10
)

func req(frag string, t *testing.T) []byte {
	return fragmentFrames(true, outstation, master, 0, unhex(t, frag))
}

func resp(frag string, t *testing.T) []byte {
	return fragmentFrames(false, master, outstation, 0, unhex(t, frag))
}

func (h *harness) codes() string {
	var parts []string
	for _, tx := range h.txs {
		s := tx.CodeName + "/" + tx.Outcome.String()
		if tx.RequestFrame != 0 {
			s += " req@" + itoa(tx.RequestFrame)
		}
		if tx.ResponseFrame != 0 {
			s += " resp@" + itoa(tx.ResponseFrame)
		}
		if tx.FunctionUnknown {
			s += " fn?"
		}
		if len(tx.Anomalies) > 0 {
			s += " [" + strings.Join(tx.Anomalies, ",") + "]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func TestSessionPairsSelectOperate(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	crob := "0c01 28 0100 0100 03 01 64000000 64000000 00"
	h.send(0, req("c7 03 "+crob, t))
	h.send(1, resp("c7 81 0000 "+crob, t))
	h.send(0, req("c8 04 "+crob, t))
	h.send(1, resp("c8 81 0000 "+crob, t))
	if got, want := h.codes(), "select/ok req@1 resp@2; operate/ok req@3 resp@4"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	tx := h.txs[1]
	if tx.Unit != "10" || !tx.HasLinkAddress || tx.Client.LinkAddress != master || tx.Server.LinkAddress != outstation {
		t.Fatalf("addresses: unit %q client %d server %d", tx.Unit, tx.Client.LinkAddress, tx.Server.LinkAddress)
	}
	if len(tx.Targets) != 1 || tx.Targets[0].Space != "g12v1" || tx.Targets[0].Address != 1 {
		t.Fatalf("targets %+v", tx.Targets)
	}
}

func TestSessionOperateWithoutSelect(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	crob := "0c01 28 0100 0100 03 01 64000000 64000000 00"
	h.send(0, req("c7 03 "+crob, t))
	h.send(1, resp("c7 81 0000 "+crob, t))
	// OPERATE on another index than the one selected.
	h.send(0, req("c8 04 0c01 28 0100 0200 03 01 64000000 64000000 00", t))
	h.send(1, resp("c8 81 0000 0c01 28 0100 0200 03 01 64000000 64000000 00", t))
	if got := h.codes(); !strings.Contains(got, "operate/ok req@3 resp@4 [dnp3.operate_without_select]") {
		t.Fatalf("got %s", got)
	}
}

func TestSessionOperateAfterSelectTimeout(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	crob := "0c01 28 0100 0100 03 01 64000000 64000000 00"
	h.send(0, req("c7 03 "+crob, t))
	h.send(1, resp("c7 81 0000 "+crob, t))
	h.skew = SelectTimeout + time.Second // the operator hesitated; or someone replays the OPERATE
	h.send(0, req("c8 04 "+crob, t))
	h.send(1, resp("c8 81 0000 "+crob, t))
	if got := h.codes(); !strings.Contains(got, "operate/ok req@3 resp@4 [dnp3.operate_after_select_timeout]") {
		t.Fatalf("got %s", got)
	}
	// in time: no anomaly
	h2 := newHarness(t, protocols.TCP)
	h2.send(0, req("c7 03 "+crob, t))
	h2.send(1, resp("c7 81 0000 "+crob, t))
	h2.send(0, req("c8 04 "+crob, t))
	h2.send(1, resp("c8 81 0000 "+crob, t))
	if got := h2.codes(); strings.Contains(got, "[dnp3.") {
		t.Fatalf("got %s", got)
	}
}

func TestSessionMultiFrameFragment(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	// A response of 600 octets: three transport segments, three link frames.
	big := "c0 81 0000 1e01 00 00 77 " + strings.Repeat("0110000000", 120)
	h.send(0, req("c0 01 3c01 06", t))
	frames := resp(big, t)
	// Deliver in odd chunks: every link frame split across packets.
	for len(frames) > 0 {
		k := min(len(frames), 100)
		h.send(1, frames[:k])
		frames = frames[k:]
	}
	if got, want := h.codes(), "read/ok req@1 resp@"+itoa(h.frame); got != want {
		t.Fatalf("got  %s\nwant %s (anomalies %v)", got, want, h.anomalies)
	}
	if h.s.Stats().Fragments != 2 {
		t.Fatalf("fragments %d", h.s.Stats().Fragments)
	}
}

func TestSessionMultiFragmentResponse(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	h.send(0, req("c3 01 3c01 06", t))
	h.send(1, resp("83 81 0000 0102 00 00 01 0101", t)) // FIR, not FIN
	h.send(0, req("c3 00", t))                          // confirm
	h.send(1, resp("44 81 0000 0102 00 02 03 0101", t)) // FIN, seq 4
	if got, want := h.codes(), "read/ok req@1 resp@2; confirm/ok req@3; read/ok resp@4"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestSessionUnsolicitedAndConfirm(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	h.send(1, resp("f5 82 0000 0202 28 0100 0300 81 010203040506", t))
	h.send(0, req("d5 00", t))
	if got, want := h.codes(), "unsolicited_response/unsolicited resp@1; confirm/ok req@2"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if h.txs[0].Code != 130 || h.txs[0].Targets[0].Space != "g2v2" {
		t.Fatalf("unsolicited: %+v", h.txs[0])
	}
}

func TestSessionBadCRCDropsFrame(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	bad := req("c0 01 3c01 06", t)
	bad[12] ^= 0xFF // user data octet: block CRC fails
	h.send(0, bad)
	h.send(0, req("c1 01 3c01 06", t))
	h.send(1, resp("c1 81 0000", t))
	if got, want := h.codes(), "read/ok req@2 resp@3"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !slices.Contains(h.anomalies, "dnp3.bad_crc") {
		t.Fatalf("anomalies %v", h.anomalies)
	}
}

func TestSessionBadHeaderResyncs(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	bad := req("c0 01 3c01 06", t)
	bad[8] ^= 0xFF // header CRC
	h.send(0, append(append([]byte("garbage"), bad...), req("c1 01 3c01 06", t)...))
	h.send(1, resp("c1 81 0000", t))
	if got, want := h.codes(), "read/ok req@1 resp@2"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !slices.Contains(h.anomalies, "dnp3.resync") || !slices.Contains(h.anomalies, "dnp3.bad_crc") {
		t.Fatalf("anomalies %v", h.anomalies)
	}
}

func TestSessionTransportSequence(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	ctrl := byte(LinkDIR | LinkPRM | LinkUnconfirmedUserData)
	h.send(0, linkFrame(ctrl, outstation, master, unhex(t, "45 c0 01")))   // FIR seq 5
	h.send(0, linkFrame(ctrl, outstation, master, unhex(t, "87 3c01 06"))) // FIN seq 7: out of sequence
	h.send(0, linkFrame(ctrl, outstation, master, unhex(t, "88 3c01 06"))) // no FIR in progress
	h.send(0, linkFrame(ctrl, outstation, master, unhex(t, "49 c0 01")))   // FIR seq 9
	h.send(0, linkFrame(ctrl, outstation, master, unhex(t, "4a c0 01")))   // FIR again: previous dropped
	h.send(0, linkFrame(ctrl, outstation, master, unhex(t, "0a 3c01")))    // repeat of seq 10: ignored
	h.send(0, linkFrame(ctrl, outstation, master, unhex(t, "8b 3c01 06"))) // FIN seq 11
	for _, a := range []string{"dnp3.transport_out_of_sequence", "dnp3.transport_no_first", "dnp3.transport_incomplete"} {
		if !slices.Contains(h.anomalies, a) {
			t.Errorf("missing %s in %v", a, h.anomalies)
		}
	}
	h.s.Close(protocols.Packet{Frame: 99})
	if got, want := h.codes(), "read/no_response req@7"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestSessionTransportWrap(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	h.send(0, req("c0 01 3c01 06", t))
	frag := "c0 81 0000 1e01 00 00 77 " + strings.Repeat("0110000000", 120)
	h.send(1, fragmentFrames(false, master, outstation, 62, unhex(t, frag))) // segments 62, 63, 0
	if got, want := h.codes(), "read/ok req@1 resp@2"; got != want {
		t.Fatalf("got  %s\nwant %s (%v)", got, want, h.anomalies)
	}
}

func TestSessionFragmentCap(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	ctrl := byte(LinkPRM | LinkUnconfirmedUserData)
	seg := make([]byte, 250)
	seg[0] = TransportFIR
	h.send(1, linkFrame(ctrl, master, outstation, seg))
	for i := 1; i <= MaxFragment/249+2; i++ {
		seg[0] = byte(i) & 0x3F
		h.send(1, linkFrame(ctrl, master, outstation, seg))
	}
	if !slices.Contains(h.anomalies, "dnp3.fragment_too_large") {
		t.Fatalf("no fragment_too_large in %v", h.anomalies)
	}
	for _, a := range h.s.assocs {
		for _, r := range a.reasm {
			if len(r.buf) > MaxFragment {
				t.Fatalf("buffer %d beyond cap", len(r.buf))
			}
		}
	}
}

func TestSessionCaps(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	for i := range MaxOutstanding + 3 {
		h.send(0, req("c"+string("0123456789abcdef"[i%16])+" 01 3c01 06", t))
	}
	if got := h.s.assocs[0].pending.Len(); got > MaxOutstanding {
		t.Fatalf("%d pending", got)
	}
	if len(h.txs) != 3 || !slices.Contains(h.txs[0].Anomalies, "dnp3.too_many_outstanding") {
		t.Fatalf("evicted: %s", h.codes())
	}
	for i := range MaxAssociations + 5 {
		h.send(0, fragmentFrames(true, uint16(100+i), master, 0, unhex(t, "c0 01 3c01 06")))
	}
	if len(h.s.assocs) > MaxAssociations {
		t.Fatalf("%d associations", len(h.s.assocs))
	}
	if !slices.Contains(h.anomalies, "dnp3.too_many_associations") {
		t.Fatal("no too_many_associations")
	}
}

func TestSessionUDP(t *testing.T) {
	h := newHarness(t, protocols.UDP)
	h.send(0, req("c0 01 3c01 06", t))
	r := resp("c0 81 0000", t)
	h.send(1, r[:len(r)-3]) // a datagram cut inside a frame
	h.send(1, r)
	if got, want := h.codes(), "read/ok req@1 resp@3"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !slices.Contains(h.anomalies, "dnp3.truncated_frame") {
		t.Fatalf("anomalies %v", h.anomalies)
	}
}

func TestSessionGap(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	f := req("c0 01 3c01 06", t)
	h.send(0, f[:7])
	h.pending[0] = nil // the pipeline drops the partial PDU on a gap
	h.s.Gap(0, 10, protocols.Packet{Frame: h.frame})
	h.send(0, append(f[7:], req("c1 01 3c01 06", t)...))
	h.send(1, resp("c1 81 0000", t))
	if got, want := h.codes(), "read/ok req@2 resp@3"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestSessionLinkOnly(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	h.send(0, unhex(t, "0564 05 49 6400 0100 7e5f")) // request link status
	h.send(1, unhex(t, "0564 05 8b 0100 6400 a097")) // link status
	if len(h.txs) != 0 || h.s.Stats().LinkOnly != 2 || len(h.anomalies) != 0 {
		t.Fatalf("txs %d stats %+v anomalies %v", len(h.txs), h.s.Stats(), h.anomalies)
	}
}

func TestSessionNotDNP3(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	junk := []byte(strings.Repeat("not dnp3 at all ", 4500))
	_, err := h.s.Feed(0, junk, protocols.Packet{Frame: 1})
	if err == nil {
		t.Fatal("64 KiB without a link header accepted")
	}
}

func TestProbe(t *testing.T) {
	d := Dissector
	frame := req("c0 01 3c01 06", t)
	tests := []struct {
		name string
		data []byte
		want protocols.ProbeResult
	}{
		{"whole frame", frame, protocols.ProbeYes},
		{"header only", frame[:10], protocols.ProbeYes},
		{"partial header", frame[:6], protocols.ProbeNeedMore},
		{"start byte at the end", []byte{0x01, 0x05}, protocols.ProbeNeedMore},
		{"mid-frame start", append([]byte{1, 2, 3, 4, 5, 6}, frame...), protocols.ProbeYes},
		{"bad CRC", append(append([]byte{}, frame[:8]...), 0, 0), protocols.ProbeNo},
		{"modbus", unhex(t, "0001 0000 0006 01 03 0000 000a"), protocols.ProbeNo},
		{"iec104", unhex(t, "680e 0000 0000 6401 0600 0100 000000 14"), protocols.ProbeNo},
		{"tpkt", unhex(t, "0300 0016 11e0 0000 0001 00c1 0201 00c2 0201 02c0 010a"), protocols.ProbeNo},
		{"empty", nil, protocols.ProbeNeedMore},
	}
	for _, tc := range tests {
		if got := d.Probe(0, tc.data); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func BenchmarkSessionPoll(b *testing.B) {
	t := &testing.T{}
	h := newHarness(t, protocols.TCP)
	reqB := req("c0 01 3c02 06 3c03 06 3c04 06 3c01 06", t)
	respB := resp("c0 81 0000 0102010000 6300"+strings.Repeat("01", 100)+"1e01010000"+"6300"+strings.Repeat("0110000000", 100), t)
	b.SetBytes(int64(len(reqB) + len(respB)))
	b.ReportAllocs()
	for b.Loop() {
		h.txs = h.txs[:0]
		h.s.Feed(0, reqB, protocols.Packet{Frame: 1})
		h.s.Feed(1, respB, protocols.Packet{Frame: 2})
	}
}

// TestRolesFromDIRBit: icsnpp's dnp3_example starts mid-stream on a
// 20000↔20000 connection the pipeline cannot orient by ports; the link
// DIR bit says 10.10.20.5 is the master. Its polls, its controls on
// connections it opened and the outstation's unsolicited responses all
// have the master as client.
func TestRolesFromDIRBit(t *testing.T) {
	txs, _ := corpustest.Replay(t, "testdata/dnp3_example.pcap")
	byCode := map[int]int{}
	for _, tx := range txs {
		if tx.Client.IP.String() != "10.10.20.5" || tx.Server.IP.String() != "10.10.20.8" {
			t.Fatalf("frame %d/%d: client %s server %s", tx.RequestFrame, tx.ResponseFrame, tx.Client.IP, tx.Server.IP)
		}
		if tx.Client.LinkAddress != 100 || tx.Server.LinkAddress != 5 {
			t.Errorf("frame %d: link addresses %d -> %d", tx.RequestFrame, tx.Client.LinkAddress, tx.Server.LinkAddress)
		}
		byCode[tx.Code]++
	}
	if byCode[1] == 0 || byCode[3] == 0 || byCode[130] == 0 {
		t.Errorf("reads, selects and unsolicited responses all expected: %v", byCode)
	}
}

// Responses and OPERATEs whose request or SELECT came before capture
// started, from real frames (TCP payloads) of the opendnp3 conformance
// dumps in ITI__ICS-Security-Tools/pcaps/dnp3/opendnp3-3/conformance/: the
// master at link address 1 (port 1563/1579), the outstation at 1024 (port 20000).
func TestSessionRequestsBeforeCaptureStart(t *testing.T) {
	const (
		read812     = "05640bc400040100ca8a c0c0010a00065398"                                                     // 8.1.2 frame 4: READ g10v0, app seq 0
		resp812     = "0564234401000004de56 c0c08190000a02000013010101010101e9c201010101010101010101010101012fe0" // frame 6: its RESPONSE
		select11    = "056418c4000401005b61 c0c0030c01170100030164000000c800fd11000000ffff"                       // 8.2.1.2.11 frame 8: SELECT g12v1 index 3, seq 0
		selectResp  = "05641a4401000004a6f0 c1c08190000c0117010003016400000010d7c80000000078fb"                   // frame 10: its RESPONSE
		operate11   = "056418c4000401005b61 c0c1040c01170100030164000000c80035c7000000ffff"                       // frame 12: OPERATE, seq 1
		operateResp = "05641a4401000004a6f0 c2c18190000c011701000301640000009c6fc80000000078fb"                   // frame 14: its RESPONSE, seq 1
	)
	type step struct {
		dir   protocols.Direction
		bytes string
		after time.Duration // more packet time before this step
	}
	for _, tc := range []struct {
		name    string
		steps   []step
		codes   string // transactions, as harness.codes prints them
		counted []string
	}{
		{"the whole SELECT/OPERATE: paired, nothing unusual", []step{{0, select11, 0}, {1, selectResp, 0}, {0, operate11, 0}, {1, operateResp, 0}},
			"select/ok req@1 resp@2; operate/ok req@3 resp@4", nil},
		{"capture starts after the READ: its response is counted, not malformed", []step{{1, resp812, 0}},
			"response/ok resp@1 fn?", []string{"dnp3.response_without_request"}},
		{"capture starts after the SELECT: the OPERATE is counted, not malformed", []step{{1, selectResp, 0}, {0, operate11, 0}, {1, operateResp, 0}},
			"response/ok resp@1 fn?; operate/ok req@2 resp@3", []string{"dnp3.response_without_request", "dnp3.operate_select_missed"}},
		{"an OPERATE without SELECT later than any SELECT could be missed", []step{{1, selectResp, 0}, {0, operate11, SelectTimeout + time.Second}, {1, operateResp, 0}},
			"response/ok resp@1 fn?; operate/ok req@2 resp@3 [dnp3.operate_without_select]", []string{"dnp3.response_without_request"}},
		// a master that retried repeats its sequence number: the response
		// paired may answer the number sent before capture, so a pair
		// leaves the window open
		{"a response to nothing after a pair, within the response timeout: counted", []step{{0, read812, 0}, {1, resp812, 0}, {1, operateResp, 0}},
			"read/ok req@1 resp@2; response/ok resp@3 fn?", []string{"dnp3.response_without_request"}},
		{"a response to nothing later than any request could be missed: unmatched", []step{{0, read812, 0}, {1, resp812, 0}, {1, operateResp, ResponseTimeout + time.Second}},
			"read/ok req@1 resp@2; response/ok resp@3 fn? [dnp3.unmatched_response]", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, protocols.TCP)
			for _, st := range tc.steps {
				h.skew += st.after
				h.send(st.dir, unhex(t, st.bytes))
			}
			h.s.Close(protocols.Packet{Frame: h.frame + 1, Time: time.Unix(2000, 0)})
			if got := h.codes(); got != tc.codes {
				t.Errorf("got  %s\nwant %s", got, tc.codes)
			}
			if !slices.Equal(h.anomalies, tc.counted) {
				t.Errorf("counted %v, want %v", h.anomalies, tc.counted)
			}
		})
	}
}

// TestMultiFragmentResponseBeforeItsRequest: a capture that starts inside
// a response of two application fragments (its READ came before): neither
// fragment says what was asked, the continuation no more than the first.
func TestMultiFragmentResponseBeforeItsRequest(t *testing.T) {
	h := newHarness(t, protocols.TCP)
	h.send(1, resp("81 81 0000", t)) // FIR, not FIN, seq 1
	h.send(1, resp("42 81 0000", t)) // FIN, not FIR, seq 2
	h.s.Close(protocols.Packet{Frame: h.frame + 1, Time: time.Unix(2000, 0)})
	if got, want := h.codes(), "response/ok resp@1 fn?; response/ok resp@2 fn?"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
