package dnp3

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// Session limits.
const (
	// MaxFragment caps a reassembled application fragment: 64 transport
	// segments of 249 octets. A longer fragment reuses transport sequence
	// numbers within itself, so repeated and lost segments can no longer be
	// told apart (Suricata bounds it the same way); devices use 2048.
	MaxFragment = 64 * 249
	// MaxAssociations: link address pairs followed per connection (each
	// keeps two reassembly buffers and its outstanding requests).
	MaxAssociations = 64
	// MaxOutstanding requests per association; a master has one at a time.
	MaxOutstanding = 16
	// ResponseTimeout (packet time): an older unanswered request is closed as no_response.
	ResponseTimeout = 60 * time.Second
	// SelectTimeout: an OPERATE later than this after its SELECT is one an
	// outstation refuses (IEEE 1815 leaves the value to the device; 10 s is
	// opendnp3's default and common in outstation configurations).
	SelectTimeout = 10 * time.Second
	// maxSkip: bytes skipped without finding a link header before the
	// stream is declared not DNP3.
	maxSkip = 64 << 10
)

var errNotDNP3 = errors.New("dnp3: no link header in the stream any more")

// Counters of one session, for tests and debugging.
type Counters struct {
	LinkFrames uint64 // link frames with a valid header
	LinkOnly   uint64 // frames without user data (reset, link status, ACK...)
	Fragments  uint64 // application fragments reassembled
}

// reassembly collects the transport segments of one direction of one
// association (one link source → destination pair).
type reassembly struct {
	active bool
	seq    uint8
	buf    []byte
}

// association is one master/outstation pair on the connection.
type association struct {
	master, outstation uint16
	unit               string                    // the outstation's address as text
	reasm              [2]reassembly             // [0] master → outstation, [1] outstation → master
	pending            protocols.Requests[uint8] // by application sequence number
	// Pairing state, as the tshark oracle defines it: the code last
	// requested with each sequence number, the code of the request still
	// unanswered (-1 none) and the code of the last answered one (-1 none).
	seqCode [16]int16
	open    int16
	last    int16
	// lastSelect holds the objects of the last SELECT, -1 seq when none.
	lastSelect    []byte
	lastSelectSeq int
	lastSelectAt  time.Time
}

// session follows one DNP3 connection (TCP) or datagram flow (UDP).
type session struct {
	env     *protocols.Env
	assocs  []*association
	resync  [2]bool
	skipped [2]int
	frag    []byte // scratch for single-segment fragments
	// dir is the direction of the bytes being fed: a request from the
	// flow's server (or a response from its client) means the outstation
	// opened the connection, or the pipeline guessed the roles of a
	// connection picked up mid-stream; the link DIR bit and the function
	// code decide who is the master, not the transport.
	dir protocols.Direction
	// Counters is exported through Stats for tests.
	counters Counters
	// missed: a response or an OPERATE may follow a request or a SELECT
	// sent before the session began or lost in a gap.
	missed, selects protocols.MissedRequests
	// sawRequest: a request was seen on the connection, so a response
	// without one is not just a mirror that carries one direction
	sawRequest bool
}

func newSession(env *protocols.Env) *session {
	s := new(session)
	s.Reuse(env)
	return s
}

// Reuse starts the session again on another flow (protocols.Reuser),
// keeping only the room of its scratch buffers.
func (s *session) Reuse(env *protocols.Env) {
	clear(s.assocs)
	assocs, frag := s.assocs[:0], s.frag[:0]
	*s = session{env: env, missed: protocols.MissedRequests{Window: ResponseTimeout},
		selects: protocols.MissedRequests{Window: SelectTimeout}}
	if cap(assocs) > 0 {
		s.assocs = assocs
	}
	if cap(frag) > 0 {
		s.frag = frag
	}
}

// Stats returns the session's counters.
func (s *session) Stats() Counters { return s.counters }

// Feed consumes every whole link frame in data.
func (s *session) Feed(dir protocols.Direction, data []byte, pkt protocols.Packet) (int, error) {
	s.missed.Feed(pkt.Time)
	s.selects.Feed(pkt.Time)
	udp := s.env.Transport == protocols.UDP
	s.dir = dir
	off := 0
	for off < len(data) {
		rest := data[off:]
		h, err := ParseLinkHeader(rest)
		switch err {
		case nil:
		case ErrShort:
			if udp {
				s.env.Anomaly("dnp3.truncated_frame", pkt)
				return len(data), nil
			}
			return off, nil
		case ErrLength:
			s.env.Anomaly("dnp3.invalid_length", pkt)
			off += LinkHeaderLen
			continue
		default:
			if err == ErrHeaderCRC {
				s.env.Anomaly("dnp3.bad_crc", pkt)
			}
			if !s.resync[dir] {
				s.env.Anomaly("dnp3.resync", pkt)
				s.resync[dir] = true
			}
			i := bytes.IndexByte(rest[1:], StartByte1)
			if i < 0 {
				i = len(rest) - 1
			}
			s.skipped[dir] += i + 1
			off += i + 1
			if s.skipped[dir] > maxSkip {
				return len(data), errNotDNP3
			}
			continue
		}
		n := h.FrameLen()
		if len(rest) < n {
			if udp {
				s.env.Anomaly("dnp3.truncated_frame", pkt)
				return len(data), nil
			}
			return off, nil
		}
		s.resync[dir], s.skipped[dir] = false, 0
		s.frame(h, rest[:n], pkt)
		off += n
	}
	return off, nil
}

// frame handles one link frame whose header is valid.
func (s *session) frame(h LinkHeader, frame []byte, pkt protocols.Packet) {
	s.counters.LinkFrames++
	if h.DataLen() == 0 {
		s.counters.LinkOnly++
		return
	}
	data, ok := AppendUserData(s.frag[:0], frame, h)
	if !ok {
		s.env.Anomaly("dnp3.bad_crc", pkt)
		return
	}
	s.frag = data
	if !h.CarriesUserData() {
		s.env.Anomaly("dnp3.unexpected_link_data", pkt)
		// Reset and link status requests never carry a segment; other
		// functions are decoded anyway, as Wireshark does.
		if f := h.Function(); h.Primary() && (f == LinkResetLinkStates || f == LinkRequestLinkStatus) {
			return
		}
	}
	s.segment(h, data, pkt)
}

// association finds or creates the association of a master/outstation pair.
func (s *session) association(master, outstation uint16, pkt protocols.Packet) *association {
	for i, a := range s.assocs {
		if a.master == master && a.outstation == outstation {
			if i > 0 { // most recently used first
				copy(s.assocs[1:i+1], s.assocs[:i])
				s.assocs[0] = a
			}
			return a
		}
	}
	if len(s.assocs) >= MaxAssociations {
		s.env.Anomaly("dnp3.too_many_associations", pkt)
		old := s.assocs[len(s.assocs)-1]
		s.assocs = s.assocs[:len(s.assocs)-1]
		old.pending.CloseAll(s.env)
	}
	a := &association{master: master, outstation: outstation, unit: strconv.Itoa(int(outstation)),
		open: -1, last: -1, lastSelectSeq: -1}
	for i := range a.seqCode {
		a.seqCode[i] = -1
	}
	a.pending = protocols.NewRequests[uint8](MaxOutstanding, ResponseTimeout, "dnp3.too_many_outstanding")
	s.assocs = append(s.assocs, nil)
	copy(s.assocs[1:], s.assocs)
	s.assocs[0] = a
	return a
}

// segment runs the transport layer on one frame's user data. The
// association's roles are not known before the application function code,
// so segments are keyed by (source, destination) and the role is taken from
// the link DIR bit until the fragment is complete.
func (s *session) segment(h LinkHeader, seg []byte, pkt protocols.Packet) {
	th := seg[0]
	body := seg[1:]
	seq := th & 0x3F
	// Key the reassembly by link addresses: side 0 when src is the master.
	master, outstation, side := h.Src, h.Dst, 0
	if h.Control&LinkDIR == 0 {
		master, outstation, side = h.Dst, h.Src, 1
	}
	a := s.association(master, outstation, pkt)
	r := &a.reasm[side]
	if th&TransportFIR != 0 {
		if r.active {
			s.env.Anomaly("dnp3.transport_incomplete", pkt)
		}
		r.active, r.seq = false, seq
		if th&TransportFIN != 0 {
			s.fragment(h, body, pkt)
			return
		}
		r.active = true
		r.buf = append(r.buf[:0], body...)
		return
	}
	if !r.active {
		s.env.Anomaly("dnp3.transport_no_first", pkt)
		return
	}
	if seq == r.seq { // a repeated segment (link retry): ignore it
		return
	}
	if seq != (r.seq+1)&0x3F {
		s.env.Anomaly("dnp3.transport_out_of_sequence", pkt)
		r.active = false
		return
	}
	r.seq = seq
	if len(r.buf)+len(body) > MaxFragment {
		s.env.Anomaly("dnp3.fragment_too_large", pkt)
		r.active, r.buf = false, nil
		return
	}
	r.buf = append(r.buf, body...)
	if th&TransportFIN != 0 {
		r.active = false
		s.fragment(h, r.buf, pkt)
		if cap(r.buf) > 4096 {
			r.buf = nil
		}
	}
}

// fragment handles one whole application fragment.
func (s *session) fragment(h LinkHeader, frag []byte, pkt protocols.Packet) {
	s.counters.Fragments++
	if len(frag) < 2 {
		s.env.Anomaly("dnp3.fragment_too_short", pkt)
		return
	}
	fc := frag[1]
	if fc < 128 {
		s.request(h.Src, h.Dst, frag, pkt)
	} else {
		s.response(h.Dst, h.Src, frag, pkt)
	}
}

// transaction and control are DNP3 transactions with room for what most
// carry, in the same allocation: a target and the IIN; a control's CROB
// adds its operation, four parameters and its detail.
type transaction struct {
	t      protocols.Transaction
	target [1]protocols.Target
	attr   [1]protocols.Attr
}

type control struct {
	t      protocols.Transaction
	target [1]protocols.Target
	value  [1]protocols.Value
	points [4]protocols.Point
	attrs  [2]protocols.Attr
}

// newTransaction makes the transaction of a fragment with function fc.
func (s *session) newTransaction(a *association, fc byte) *protocols.Transaction {
	t := s.env.Pool.Get()
	switch {
	case t != nil:
	case fc == FuncSelect || fc == FuncOperate || fc == FuncDirectOperate || fc == FuncDirectOperateNR:
		c := new(control)
		t = &c.t
		t.Targets, t.Values, t.Points, t.Attrs = c.target[:0], c.value[:0], c.points[:0], c.attrs[:0]
	default:
		x := new(transaction)
		t = &x.t
		t.Targets, t.Attrs = x.target[:0], x.attr[:0]
	}
	t.Proto, t.Unit, t.HasLinkAddress = "dnp3", a.unit, true
	t.Client.LinkAddress, t.Server.LinkAddress = int32(a.master), int32(a.outstation)
	return t
}

func (s *session) request(master, outstation uint16, frag []byte, pkt protocols.Packet) {
	a := s.association(master, outstation, pkt)
	a.pending.ExpireAll(s.env, pkt.Time)
	s.sawRequest = true
	t := s.newTransaction(a, frag[1])
	t.RequestFrame, t.RequestTime = pkt.Frame, pkt.Time
	t.FlowReversed = s.dir == protocols.ServerToClient
	app, _ := decodeFragment(frag, t, s.env.Strings)
	fc, seq := app.Function, app.Seq()
	objs := frag[2:]
	switch fc {
	case FuncSelect:
		a.lastSelect = append(a.lastSelect[:0], objs...)
		a.lastSelectSeq, a.lastSelectAt = int(seq), pkt.Time
	case FuncOperate:
		switch {
		case a.lastSelectSeq < 0 && s.selects.Possible(pkt.Time):
			// its SELECT may have come before capture started or in a gap
			s.env.Anomaly("dnp3.operate_select_missed", pkt)
		case a.lastSelectSeq < 0 || !bytes.Equal(a.lastSelect, objs):
			t.AddAnomaly("dnp3.operate_without_select")
		case pkt.Time.Sub(a.lastSelectAt) > SelectTimeout:
			t.AddAnomaly("dnp3.operate_after_select_timeout")
		}
		a.lastSelectSeq = -1
	}
	if !expectsResponse(fc) {
		s.env.Emit(t)
		return
	}
	a.seqCode[seq], a.open = int16(fc), int16(fc)
	a.pending.Add(s.env, seq, t)
}

func (s *session) response(master, outstation uint16, frag []byte, pkt protocols.Packet) {
	a := s.association(master, outstation, pkt)
	a.pending.ExpireAll(s.env, pkt.Time)
	fc := frag[1]
	seq := frag[0] & 0x0F
	fir := frag[0]&AppFIR != 0
	code := int16(-1) // the code of the transaction; -1: the response's own
	var t *protocols.Transaction
	if fc != FuncUnsolicitedResponse {
		if fir {
			// A pairing proves nothing of order here (s.missed relies on
			// its window alone): sequence numbers are four bits and a
			// master that retries a request repeats its number, so the
			// response paired may answer the same number sent before
			// capture started, and the next response one sent then too.
			var ok bool
			t, ok = a.pending.TakeLatest(seq)
			switch {
			case ok: // paired by its number
			case a.seqCode[seq] >= 0:
				code = a.seqCode[seq]
			case a.open >= 0:
				if t, ok = a.pending.Latest(); ok {
					t.AddAnomaly("dnp3.sequence_mismatch")
				}
			}
			if t != nil {
				code = int16(t.Code)
			}
			a.open = -1
			a.last = code // -1: its continuations name no function either
		} else {
			code = a.last
		}
	}
	if t == nil {
		t = s.newTransaction(a, fc)
		t.FlowReversed = s.dir == protocols.ClientToServer
	}
	t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
	decodeFragment(frag, t, s.env.Strings)
	if t.RequestFrame == 0 && code >= 0 && int(code) != t.Code {
		// A continuation, or an answer to a request already paired: the
		// transaction is the request's.
		setFunction(t, byte(code))
	}
	// no request names the function: Code is the response's own (129)
	t.FunctionUnknown = t.RequestFrame == 0 && fc == FuncResponse && code < 0
	if t.FunctionUnknown && fir {
		if s.sawRequest && !s.missed.Possible(pkt.Time) {
			t.AddAnomaly("dnp3.unmatched_response")
		} else { // its request came before capture started or was lost in a gap
			s.env.Anomaly("dnp3.response_without_request", pkt)
		}
	}
	s.env.Emit(t)
}

// Gap drops the partial link frame; the next frame is found by scanning.
// Transport reassembly notices the lost segments by their sequence numbers.
func (s *session) Gap(dir protocols.Direction, n int, pkt protocols.Packet) {
	s.resync[dir] = true
	s.missed.Gap(pkt.Time)
	s.selects.Gap(pkt.Time)
}

// Close reports every unanswered request and every fragment left without
// its FIN segment.
func (s *session) Close(pkt protocols.Packet) {
	for _, a := range s.assocs {
		for i := range a.reasm {
			if a.reasm[i].active {
				s.env.Anomaly("dnp3.transport_incomplete", pkt)
				a.reasm[i] = reassembly{}
			}
		}
		a.pending.CloseAll(s.env)
	}
}
