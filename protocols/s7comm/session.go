package s7comm

import (
	"errors"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// Session limits.
const (
	// MaxOutstanding jobs (or userdata requests, or S7comm-plus requests) per
	// connection; S7 negotiates a handful of parallel jobs (AmQ).
	MaxOutstanding = 64
	// MaxTSDU caps a COTP TSDU reassembled from DT fragments.
	MaxTSDU = 64 << 10
	// ResponseTimeout (packet time): an older unanswered request is closed as no_response.
	ResponseTimeout = 60 * time.Second
	// maxBadPDUs in a row without any S7 PDU mean the stream is not S7.
	maxBadPDUs = 16
	// OrphanHold (packet time): how long a response without a request waits
	// for a late request (one delivered after a TCP hole filled).
	OrphanHold = 2 * time.Second
	// maxOrphans held at once.
	maxOrphans = 16
)

var errNotS7Stream = errors.New("s7comm: stream carries no S7 PDUs")

// pduKey is what pairs a request with its response (outstanding), or a
// response with a request that may arrive late (orphans).
type pduKey struct {
	dir  protocols.Direction // direction the PDU went
	ref  uint16              // PDU reference / S7comm-plus sequence number
	code int                 // function (job), group<<8|sub (userdata), S7comm-plus function; -1 unknown
	kind uint8
}

// orphan is a response held in case its request arrives late.
type orphan struct {
	key pduKey
	t   *protocols.Transaction
}

type half struct {
	resync bool
	tsdu   []byte // DT fragments waiting for EOT
	// moreData: the last userdata response data unit announced a follow-up.
	moreData bool
}

// session follows one TPKT/COTP connection on TCP 102 and dissects S7comm
// and S7comm-plus PDUs, whichever dissector bound it.
type session struct {
	env         *protocols.Env
	unit        string
	half        [2]half
	outstanding protocols.Requests[pduKey]
	orphans     protocols.Pending[pduKey, orphan] // since: the response's time
	badPDUs     int
	sawS7       bool
	sawRequest  bool
	// plusSetup: a CreateObject was seen and no SetMultiVariables yet.
	plusSetup bool
	sawPlus   bool
	// tlsPending: the client's last TLS record, waiting for the server's.
	tlsPending *protocols.Transaction
	// pc: S7comm-plus state (plussession.go), made on first use.
	pc *plusConn
	// missed: a response may answer a job sent before the session began or
	// lost in a gap (S7comm answers jobs in order: until the first pair).
	missed protocols.MissedRequests
}

func newSession(env *protocols.Env) *session {
	s := new(session)
	s.Reuse(env)
	return s
}

// Reuse starts the session again on another flow (protocols.Reuser).
func (s *session) Reuse(env *protocols.Env) {
	*s = session{env: env, missed: protocols.MissedRequests{Window: ResponseTimeout}}
	s.outstanding = protocols.NewRequests[pduKey](MaxOutstanding, ResponseTimeout, "s7comm.too_many_outstanding")
	s.orphans.Max, s.orphans.Timeout = maxOrphans, OrphanHold
}

// Feed consumes every whole TPKT packet in data.
func (s *session) Feed(dir protocols.Direction, data []byte, pkt protocols.Packet) (int, error) {
	s.missed.Feed(pkt.Time)
	off := 0
	h := &s.half[dir]
	for {
		rest := data[off:]
		if h.resync {
			i := findBoundary(rest)
			if i < 0 {
				if keep := len(rest) - (minTPKTLen - 1); keep > 0 {
					off += keep
				}
				return off, nil
			}
			h.resync = false
			off += i
			continue
		}
		n, err := ParseTPKT(rest)
		if err == ErrShort {
			return off, nil
		}
		if err != nil {
			s.env.Anomaly("s7comm.bad_tpkt", pkt)
			s.env.Anomaly("s7comm.resync", pkt)
			if s.bad() {
				return len(data), errNotS7Stream
			}
			h.resync = true
			h.tsdu = h.tsdu[:0]
			off++
			continue
		}
		if len(rest) < n {
			return off, nil
		}
		s.tpdu(dir, rest[TPKTHeaderLen:n], pkt)
		off += n
		if s.badPDUs > maxBadPDUs && !s.sawS7 {
			return len(data), errNotS7Stream
		}
	}
}

func (s *session) bad() bool {
	s.badPDUs++
	return s.badPDUs > maxBadPDUs && !s.sawS7
}

// findBoundary returns the offset of the first plausible TPKT header, -1 if none.
func findBoundary(b []byte) int {
	for i := 0; i+minTPKTLen <= len(b); i++ {
		if b[i] != 3 || b[i+1] != 0 {
			continue
		}
		n, err := ParseTPKT(b[i:])
		if err != nil || !plausibleCOTP(b[i+TPKTHeaderLen:], n-TPKTHeaderLen) {
			continue
		}
		end := i + n
		switch {
		case end == len(b):
			return i
		case end+minTPKTLen <= len(b):
			if m, err := ParseTPKT(b[end:]); err == nil && plausibleCOTP(b[end+TPKTHeaderLen:], m-TPKTHeaderLen) {
				return i
			}
		case end > len(b):
			return i // cannot check further until more bytes come
		}
	}
	return -1
}

// plausibleCOTP checks the COTP header at b of a TPDU of size n.
func plausibleCOTP(b []byte, n int) bool {
	if len(b) < 2 || n < 2 {
		return false
	}
	li := int(b[0])
	if li < 1 || li+1 > n {
		return false
	}
	t := b[1] & 0xf0
	if !knownCOTPType(t) {
		return false
	}
	if t == COTPData {
		return li == 2 && (len(b) < 3 || b[2]&0x7f == 0)
	}
	return true
}

// tpdu handles one COTP TPDU of direction dir.
func (s *session) tpdu(dir protocols.Direction, b []byte, pkt protocols.Packet) {
	c, err := ParseCOTP(b)
	if err != nil {
		s.env.Anomaly("s7comm.bad_cotp", pkt)
		s.bad()
		return
	}
	h := &s.half[dir]
	switch c.Type {
	case COTPConnectRequest, COTPConnectConfirm:
		if u := RackSlot(c.DstTSAP); u != "" {
			s.unit = u
		}
		return
	case COTPError, COTPReject:
		s.env.Anomaly("s7comm.cotp_error", pkt)
		return
	case COTPData:
	default:
		return
	}
	payload := c.Payload
	if !c.EOT || len(h.tsdu) > 0 {
		if len(h.tsdu)+len(payload) > MaxTSDU {
			s.env.Anomaly("s7comm.fragment_overflow", pkt)
			h.tsdu = h.tsdu[:0]
			if !c.EOT {
				return
			}
		} else {
			h.tsdu = append(h.tsdu, payload...)
			if !c.EOT {
				return
			}
			payload = h.tsdu
		}
	}
	s.payload(dir, payload, pkt)
	h.tsdu = h.tsdu[:0]
	if cap(h.tsdu) > 4096 {
		h.tsdu = nil
	}
}

// payload dispatches one reassembled COTP TSDU.
func (s *session) payload(dir protocols.Direction, b []byte, pkt protocols.Packet) {
	if len(b) == 0 {
		return
	}
	switch b[0] {
	case ProtocolIDS7:
		p, err := DecodePDU(b)
		if err != nil {
			s.env.Anomaly("s7comm.invalid_header", pkt)
			s.bad()
			return
		}
		s.sawS7, s.badPDUs = true, 0
		s.s7(dir, &p, pkt)
	case ProtocolIDS7Plus:
		s.plusPayload(dir, b, pkt)
	default:
		if s.sawPlus && isTLSRecord(b) {
			s.tls(dir, b, pkt)
			return
		}
		s.env.Anomaly("s7comm.not_s7", pkt)
		s.bad()
	}
}

// isTLSRecord: a TLS record header (content type 20..23, version 3.x), as
// S7comm-plus carries after InitSSL on S7-1500 firmware 2.9 and later.
func isTLSRecord(b []byte) bool {
	return len(b) >= 5 && b[0] >= 0x14 && b[0] <= 0x17 && b[1] == 3 && b[2] <= 4
}

// tls records the metadata of a TLS-protected S7comm-plus exchange: one
// encrypted transaction per client record, paired with the server's next.
func (s *session) tls(dir protocols.Direction, b []byte, pkt protocols.Packet) {
	if dir == protocols.ServerToClient && s.tlsPending != nil {
		t := s.tlsPending
		s.tlsPending = nil
		t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
		t.Outcome = protocols.OutcomeOK
		s.env.Emit(t)
		return
	}
	if dir == protocols.ClientToServer && s.tlsPending != nil {
		t := s.tlsPending
		s.tlsPending = nil
		t.Outcome = protocols.OutcomeNoResponse
		s.env.Emit(t)
	}
	t := s.newTx(pkt, dir == protocols.ClientToServer)
	t.Proto, t.Encrypted, t.Op = ProtoS7Plus, true, protocols.OpOther
	t.CodeName = "tls_application_data"
	if b[0] != 0x17 {
		t.CodeName, t.Op = "tls_handshake", protocols.OpSession
	}
	if dir == protocols.ClientToServer {
		s.tlsPending = t
		return
	}
	t.Outcome = protocols.OutcomeUnsolicited
	s.env.Emit(t)
}

// transaction and itemJob are S7 transactions with room, in the same
// allocation, for what most carry: a target and a detail; a read/write var
// job the descriptions of its first items (its targets get one allocation
// of their own when there are several).
type transaction struct {
	t      protocols.Transaction
	target [1]protocols.Target
	attr   [1]protocols.Attr
}

type itemJob struct {
	t      protocols.Transaction
	target [1]protocols.Target
	attrs  [maxItemAttrs]protocols.Attr
}

func (s *session) newTx(pkt protocols.Packet, request bool) *protocols.Transaction {
	return s.newTxFor(pkt, request, false)
}

// newTxFor makes a transaction; items: a read or write var job.
func (s *session) newTxFor(pkt protocols.Packet, request, items bool) *protocols.Transaction {
	t := s.env.Pool.Get()
	switch {
	case t != nil:
	case items:
		a := new(itemJob)
		t = &a.t
		t.Targets, t.Attrs = a.target[:0], a.attrs[:0]
	default:
		a := new(transaction)
		t = &a.t
		t.Targets, t.Attrs = a.target[:0], a.attr[:0]
	}
	t.Unit = s.unit
	if request {
		t.RequestFrame, t.RequestTime = pkt.Frame, pkt.Time
	} else {
		t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
	}
	return t
}

// Kinds of request/response pairs.
const (
	kindJob = iota
	kindUserdata
	kindPlus
)

// s7 pairs S7comm PDUs: job with ack/ack_data by PDU reference, userdata
// request with response by group/subfunction (and reference when it agrees).
func (s *session) s7(dir protocols.Direction, p *PDU, pkt protocols.Packet) {
	s.expire(pkt)
	switch p.ROSCTR {
	case ROSCTRJob:
		s.sawRequest = true
		items := p.HasFunction && (p.Function == FuncReadVar || p.Function == FuncWriteVar) && len(p.Param) >= 2 && p.Param[1] > 1
		t := s.newTxFor(pkt, true, items)
		t.ID, t.HasID = uint64(p.PDURef), true
		decodeJob(p, t, s.env.Strings)
		s.request(pduKey{dir: dir, ref: p.PDURef, code: t.Code, kind: kindJob}, t)
	case ROSCTRAck, ROSCTRAckData:
		code := -1 // an ack without parameter takes its job's code
		if p.HasFunction {
			code = int(p.Function)
		}
		if t, ok := s.outstanding.TakeFunc(func(q pduKey, _ *protocols.Transaction) bool {
			return q.kind == kindJob && q.dir != dir && q.ref == p.PDURef && (code < 0 || code == q.code)
		}); ok {
			t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
			DecodeAck(p, t, true)
			s.missed.Matched(pkt.Time)
			s.env.Emit(t)
			return
		}
		t := s.newTx(pkt, false)
		t.ID, t.HasID = uint64(p.PDURef), true
		DecodeAck(p, t, false)
		s.orphan(pduKey{dir: dir, ref: p.PDURef, code: code, kind: kindJob}, t)
	case ROSCTRUserdata:
		s.userdata(dir, p, pkt)
	}
}

func (s *session) userdata(dir protocols.Direction, p *PDU, pkt protocols.Packet) {
	code := int(p.UDGroup)<<8 | int(p.UDSub)
	h := &s.half[dir]
	if p.IsUserdataRequest() {
		s.sawRequest = true
		t := s.newTx(pkt, true)
		t.ID, t.HasID = uint64(p.PDURef), true
		DecodeUserdata(p, t, false)
		s.request(pduKey{dir: dir, ref: p.PDURef, code: code, kind: kindUserdata}, t)
		return
	}
	p.Continuation = h.moreData
	h.moreData = p.UDExtended && !p.UDLast
	response := p.UDType == UDResponse || p.UDType == UDNCResponse
	if response {
		t, ok := s.outstanding.TakeFunc(func(q pduKey, _ *protocols.Transaction) bool {
			return q.kind == kindUserdata && q.dir != dir && q.code == code && q.ref == p.PDURef
		})
		if !ok {
			t, ok = s.outstanding.TakeFunc(func(q pduKey, _ *protocols.Transaction) bool {
				return q.kind == kindUserdata && q.dir != dir && q.code == code
			})
		}
		if ok {
			t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
			DecodeUserdata(p, t, true)
			s.missed.Matched(pkt.Time)
			s.env.Emit(t)
			return
		}
	}
	t := s.newTx(pkt, false)
	t.ID, t.HasID = uint64(p.PDURef), true
	DecodeUserdata(p, t, false)
	if !response {
		t.Outcome = protocols.OutcomeUnsolicited // push: cyclic data, alarms, mode transitions
		s.env.Emit(t)
		return
	}
	s.orphan(pduKey{dir: dir, ref: p.PDURef, code: code, kind: kindUserdata}, t)
}

// request registers a request, unless its response was already seen: a
// segment delivered late (it followed a hole the capture filled later)
// brings a request after its answer; they are joined here. Such a request
// was captured before its answer (the pipeline delivers a held segment
// with its own time); one captured after the response is the client's
// next request reusing the reference, and the response answered one sent
// before capture started: joining them would pair every later request of
// the connection with the previous answer.
func (s *session) request(q pduKey, t *protocols.Transaction) {
	if o, ok := s.orphans.TakeFunc(func(o pduKey, v orphan) bool {
		return o.kind == q.kind && o.dir != q.dir && o.ref == q.ref && (o.code < 0 || o.code == q.code) &&
			!t.RequestTime.After(v.t.ResponseTime)
	}); ok {
		r := o.t
		t.ResponseFrame, t.ResponseTime = r.ResponseFrame, r.ResponseTime
		t.Outcome, t.ExceptionCode, t.HasException = r.Outcome, r.ExceptionCode, r.HasException
		t.ReadValues, t.ReadValuesTruncated = r.ReadValues, r.ReadValuesTruncated
		for _, a := range r.Anomalies {
			t.AddAnomaly(a)
		}
		for _, a := range r.Attrs {
			if t.Attr(a.Key) == "" {
				t.Attrs = append(t.Attrs, a)
			}
		}
		s.env.Emit(t)
		return
	}
	// A reused key closes the older request: its answer will never be told apart.
	if old, ok := s.outstanding.Take(q); ok {
		protocols.Unanswered(s.env, old)
	}
	s.outstanding.Add(s.env, q, t)
}

// orphan keeps a response that matched no request for OrphanHold of packet
// time, in case its request arrives late; then it is emitted on its own.
func (s *session) orphan(q pduKey, t *protocols.Transaction) {
	if old, evicted := s.orphans.Push(q, t.ResponseTime, orphan{q, t}); evicted {
		s.emitOrphan(old)
	}
}

func (s *session) emitOrphan(o orphan) {
	q, t := o.key, o.t
	at := protocols.Packet{Frame: t.ResponseFrame, Time: t.ResponseTime}
	// its job came before capture started or was lost in a gap: counted, not malformed
	missed := !s.sawRequest || s.missed.Possible(t.ResponseTime)
	name := "s7comm.unmatched_response"
	switch {
	case q.kind == kindPlus && missed:
		name = "s7comm_plus.response_without_request"
	case q.kind == kindPlus:
		name = "s7comm_plus.unmatched_response"
	case missed:
		name = "s7comm.response_without_request"
	}
	if q.code < 0 { // an ack without parameter: nothing names it
		s.env.Anomaly(name, at)
		return
	}
	if missed {
		s.env.Anomaly(name, at)
	} else {
		t.AddAnomaly(name)
	}
	s.env.Emit(t)
}

// expire closes requests left unanswered for longer than ResponseTimeout
// and emits responses held for longer than OrphanHold.
func (s *session) expire(pkt protocols.Packet) {
	s.outstanding.ExpireAll(s.env, pkt.Time)
	for o, ok := s.orphans.Expire(pkt.Time); ok; o, ok = s.orphans.Expire(pkt.Time) {
		s.emitOrphan(o)
	}
}

// Gap drops the partial TPKT packet and TSDU; the next TPKT is found by scanning.
func (s *session) Gap(dir protocols.Direction, n int, pkt protocols.Packet) {
	s.missed.Gap(pkt.Time)
	h := &s.half[dir]
	h.resync = true
	h.tsdu = h.tsdu[:0]
	h.moreData = false
	s.plusGap(dir)
}

// Close reports held responses and every unanswered request.
func (s *session) Close(pkt protocols.Packet) {
	if t := s.tlsPending; t != nil {
		s.tlsPending = nil
		t.Outcome = protocols.OutcomeNoResponse
		s.env.Emit(t)
	}
	s.plusFlush()
	for o, ok := s.orphans.Oldest(); ok; o, ok = s.orphans.Oldest() {
		s.emitOrphan(o)
	}
	s.outstanding.CloseAll(s.env)
}
