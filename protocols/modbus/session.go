package modbus

import (
	"errors"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// Session limits.
const (
	// MaxOutstanding requests per connection; pipelining clients rarely exceed a handful.
	MaxOutstanding = 256
	// ResponseTimeout (packet time): an older unanswered request is closed as no_response.
	ResponseTimeout = 30 * time.Second
)

var errNotModbus = errors.New("modbus: stream no longer carries MBAP headers")

// resync: after a gap or a bad header the next ADU is found by scanning,
// keeping a header's worth that may start it; a datagram holds whole ADUs.
var resync = protocols.Resync{HeaderLen: HeaderLen, NotMine: errNotModbus, Keep: HeaderLen,
	LostAnomaly: "modbus.resync", Truncated: "modbus.invalid_length"}

// reqKey pairs a response with its request: the transaction id and the
// function code (without the exception bit).
type reqKey struct {
	tid uint16
	fc  byte
}

// session pairs requests and responses of one Modbus/TCP (or UDP) connection
// by transaction id; responses may come out of order.
type session struct {
	env         *protocols.Env
	outstanding protocols.Requests[reqKey]
	framing     protocols.Framing
	sawRequest  bool
	missed      protocols.MissedRequests
}

func newSession(env *protocols.Env) *session {
	s := new(session)
	s.Reuse(env)
	return s
}

// Reuse starts the session again on another flow (protocols.Reuser).
func (s *session) Reuse(env *protocols.Env) {
	*s = session{env: env, missed: protocols.MissedRequests{Window: ResponseTimeout},
		outstanding: protocols.NewRequests[reqKey](MaxOutstanding, ResponseTimeout, "modbus.too_many_outstanding")}
}

// Feed consumes every whole ADU in data.
func (s *session) Feed(dir protocols.Direction, data []byte, pkt protocols.Packet) (int, error) {
	s.missed.Feed(pkt.Time)
	return protocols.Frames(&resync, &s.framing, s, s.env, dir, data, pkt)
}

// Wants is the length of the message Feed waits for (protocols.Wanter).
func (s *session) Wants(dir protocols.Direction) int { return s.framing.Wants(dir) }

// Boundary finds where framing resumes (protocols.Framer).
func (s *session) Boundary(b []byte) int { return findBoundary(b, s.env.Transport == protocols.UDP) }

// Frame reads an MBAP header and handles its ADU when whole
// (protocols.Framer): a protocol identifier other than 0 or a length
// outside 2..254 loses the framing.
func (s *session) Frame(dir protocols.Direction, b []byte, pkt protocols.Packet) (n int, bad string) {
	h, _ := ParseHeader(b)
	switch {
	case !h.valid() && h.ProtocolID != 0:
		return 0, "modbus.invalid_protocol_id"
	case !h.valid():
		return 0, "modbus.invalid_mbap_length"
	}
	if n = h.ADULen(); len(b) >= n {
		s.pdu(dir, h, b[HeaderLen:n], pkt)
	}
	return n, ""
}

// findBoundary returns the offset of the first plausible MBAP header, -1 if none.
func findBoundary(b []byte, datagram bool) int {
	for i := 0; i+HeaderLen < len(b); i++ {
		h, _ := ParseHeader(b[i:])
		if !h.valid() || !plausibleFunction(b[i+HeaderLen]) {
			continue
		}
		end := i + h.ADULen()
		switch {
		case end == len(b):
			return i
		case end+HeaderLen+1 <= len(b):
			// a second header right behind makes the boundary credible
			if next, _ := ParseHeader(b[end:]); next.valid() && plausibleFunction(b[end+HeaderLen]) {
				return i
			}
		case end > len(b) && !datagram:
			return i // cannot check further until more bytes come
		}
	}
	return -1
}

func (s *session) pdu(dir protocols.Direction, h Header, pdu []byte, pkt protocols.Packet) {
	s.outstanding.ExpireAll(s.env, pkt.Time)
	if dir == protocols.ClientToServer {
		s.request(h, pdu, pkt)
		return
	}
	if t, ok := s.outstanding.Take(reqKey{h.TransactionID, pdu[0] & 0x7F}); ok {
		t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
		DecodeResponse(pdu, t)
		s.missed.Matched(pkt.Time)
		s.env.Emit(t)
		return
	}
	t := s.newTransaction(h)
	t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
	DecodeResponse(pdu, t)
	if s.sawRequest && !s.missed.Possible(pkt.Time) {
		t.AddAnomaly("modbus.unmatched_response")
	} else { // its request came before capture started or was lost in a gap
		s.env.Anomaly("modbus.response_without_request", pkt)
	}
	s.env.Emit(t)
}

func (s *session) request(h Header, pdu []byte, pkt protocols.Packet) {
	s.sawRequest = true
	t := s.newTransaction(h)
	t.RequestFrame, t.RequestTime = pkt.Frame, pkt.Time
	DecodeRequest(pdu, t)
	if h.Unit == 0 && (t.Op == protocols.OpWrite || t.Op == protocols.OpControl) {
		t.Broadcast = true
	}
	s.outstanding.Add(s.env, reqKey{h.TransactionID, pdu[0] & 0x7F}, t)
}

// transaction is a Modbus transaction with room for its one target in the
// same allocation: one allocation per transaction (writes of several
// values allocate those as well).
type transaction struct {
	t      protocols.Transaction
	target [1]protocols.Target
}

func (s *session) newTransaction(h Header) *protocols.Transaction {
	t := s.env.Pool.Get()
	if t == nil {
		a := new(transaction)
		t = &a.t
		t.Targets = a.target[:0]
	}
	t.Unit, t.ID, t.HasID = UnitString(h.Unit), uint64(h.TransactionID), true
	return t
}

// Gap drops the partial ADU; the next ADU is found by scanning.
func (s *session) Gap(dir protocols.Direction, n int, pkt protocols.Packet) {
	s.framing.Lose(dir)
	s.missed.Gap(pkt.Time)
}

// Close reports every unanswered request.
func (s *session) Close(pkt protocols.Packet) {
	s.outstanding.CloseAll(s.env)
}
