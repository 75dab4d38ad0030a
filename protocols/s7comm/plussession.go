package s7comm

import (
	"strconv"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// S7comm-plus state of a connection: PDU fragments being joined, the
// objects the connection created (named by their class in later targets),
// the download sequence in progress, notifications counted per
// subscription.

// Limits of the S7comm-plus connection state.
const (
	// maxPlusObjects: created objects remembered per connection.
	maxPlusObjects = 256
	// maxPlusPending: CreateObject requests awaiting their response.
	maxPlusPending = 16
)

type plusConn struct {
	dec  plusDecoder
	frag [2]plusFrag
	// created: objects this connection created (CreateObject responses) →
	// their class.
	created map[uint32]uint32
	// creating: CreateObject requests awaiting a response: sequence number
	// → class of the object asked for.
	creating map[uint16]uint32
	// inSeq: between BeginSequence and EndSequence; seqProgram: a program
	// change happened inside it.
	inSeq, seqProgram bool
	// notified: notifications received per subscription object since the
	// client last re-armed its credit.
	notified map[uint32]int
	scratch  protocols.Transaction
}

// plusFrag joins the fragments of one direction: S7comm-plus sends a PDU
// larger than the negotiated size as several PDUs, all but the last without
// the trailer; each carries its own header (and, in V3, its own digest).
type plusFrag struct {
	buf       []byte
	frame     uint64
	time      time.Time
	active    bool
	truncated bool
}

func (s *session) plusState() *plusConn {
	if s.pc == nil {
		s.pc = &plusConn{created: map[uint32]uint32{}, creating: map[uint16]uint32{}, notified: map[uint32]int{}}
	}
	return s.pc
}

// plusPayload handles one S7comm-plus COTP TSDU.
func (s *session) plusPayload(dir protocols.Direction, b []byte, pkt protocols.Packet) {
	p, err := DecodePlus(b)
	if err != nil {
		s.env.Anomaly("s7comm_plus.invalid_header", pkt)
		s.bad()
		return
	}
	s.sawS7, s.sawPlus, s.badPDUs = true, true, 0
	if p.Version == PlusKeepAlive {
		return // system event: confirmed byte counts, no request
	}
	pc := s.plusState()
	f := &pc.frag[dir]
	if f.active {
		data := b[4:]
		if p.Version == PlusV3 && len(data) > 1+plusDigestLen && data[0] == plusDigestLen {
			data = data[1+plusDigestLen:]
		}
		f.add(data)
		if !p.Trailer {
			return
		}
		s.plusJoined(dir, f)
		return
	}
	if !p.Trailer {
		// first fragment: reported with its frame (where its opcode and function are)
		f.active, f.frame, f.time, f.truncated = true, pkt.Frame, pkt.Time, false
		f.buf = f.buf[:0]
		f.add(b)
		return
	}
	s.plusPDU(dir, &p, b, pkt, false)
}

func (f *plusFrag) add(data []byte) {
	if f.truncated {
		return
	}
	if len(f.buf)+len(data) > MaxTSDU {
		data = data[:MaxTSDU-len(f.buf)]
		f.truncated = true
	}
	f.buf = append(f.buf, data...)
}

// plusJoined decodes the PDU a direction's fragments make.
func (s *session) plusJoined(dir protocols.Direction, f *plusFrag) {
	f.active = false
	whole := f.buf
	if p, err := DecodePlus(whole); err == nil {
		s.plusPDU(dir, &p, whole, protocols.Packet{Frame: f.frame, Time: f.time}, f.truncated)
	}
	f.buf = f.buf[:0]
	if cap(f.buf) > 4096 {
		f.buf = nil
	}
}

// plusPDU dispatches one whole S7comm-plus PDU.
func (s *session) plusPDU(dir protocols.Direction, p *PlusPDU, b []byte, pkt protocols.Packet, truncated bool) {
	switch {
	case p.HasFunction:
		s.plus(dir, p, pkt, truncated)
	case p.Opcode == OpcodeNotification && p.Off > 0 && p.Off < len(b):
		s.plusNotification(p.Version, b[p.Off+1:], pkt, truncated)
	}
}

// plus pairs S7comm-plus requests and responses by function and sequence
// number and decodes both into one transaction.
func (s *session) plus(dir protocols.Direction, p *PlusPDU, pkt protocols.Packet, truncated bool) {
	s.expire(pkt)
	pc := s.plusState()
	d := &pc.dec
	d.created = pc.created
	code := int(p.Function)
	switch p.Opcode {
	case OpcodeRequest:
		s.sawRequest = true
		t := s.newTx(pkt, true)
		d.request(p, t, truncated)
		s.plusRequestState(p, t)
		s.request(pduKey{dir: dir, ref: p.Seq, code: code, kind: kindPlus}, t)
		return
	case OpcodeResponse, OpcodeResponse2:
		if t, ok := s.outstanding.TakeFunc(func(q pduKey, _ *protocols.Transaction) bool {
			return q.kind == kindPlus && q.dir != dir && q.ref == p.Seq && q.code == code
		}); ok {
			if p.Opcode == OpcodeResponse {
				t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
			} else {
				// Response2 (seen with S7-1200 HMI sessions): the oracle
				// counts no response here, so the frame rides in the detail.
				attr(t, "response2_frame", strconv.FormatUint(pkt.Frame, 10))
			}
			d.response(p, t, false, truncated)
			s.plusResponseState(p, t)
			s.env.Emit(t)
			return
		}
		if p.Opcode == OpcodeResponse2 {
			return // its request was not seen; the oracle counts none
		}
		if p.Function == PlusError || p.Function == PlusError2 {
			s.plusError(dir, p, pkt, truncated)
			return
		}
	}
	t := s.newTx(pkt, false)
	if p.Opcode == OpcodeNotification {
		// a notification whose bytes happen to hold a function code (the
		// oracle counts it): its header only, the body is no response
		d.begin(t, nil, sinkNone)
		d.header(p, t)
		d.finish()
		t.Outcome = protocols.OutcomeUnsolicited
		s.env.Emit(t)
		return
	}
	d.response(p, t, true, truncated)
	s.orphan(pduKey{dir: dir, ref: p.Seq, code: code, kind: kindPlus}, t)
}

// plusRequestState keeps the connection state a request changes.
func (s *session) plusRequestState(p *PlusPDU, t *protocols.Transaction) {
	pc := s.pc
	f := &pc.dec.facts
	switch p.Function {
	case PlusCreateObject:
		s.plusSetup = true
		if len(pc.creating) < maxPlusPending {
			pc.creating[p.Seq] = f.createdClass
		}
	case PlusSetMultiVariables:
		if (s.plusSetup || plusWritesSession(p)) && (t.Op == protocols.OpWrite || t.Op == protocols.OpSession) {
			s.plusSetup = false
			t.Op = protocols.OpSession
			attr(t, "session_setup", "true")
		}
	case PlusBeginSequence:
		pc.inSeq, pc.seqProgram = true, false
	case PlusEndSequence:
		if pc.inSeq && pc.seqProgram {
			t.Op = protocols.OpProgramDownload // the download sequence commits
			attr(t, "download_sequence", "commit")
		}
		pc.inSeq = false
	}
	if pc.inSeq && t.Op == protocols.OpProgramDownload {
		pc.seqProgram = true
	}
	if f.subscription && f.object != 0 {
		if n := pc.notified[f.object]; n > 0 {
			attr(t, "notifications", strconv.Itoa(n))
			pc.notified[f.object] = 0
		}
	}
	if p.Function == PlusDeleteObject && f.object != 0 {
		delete(pc.created, f.object)
		delete(pc.notified, f.object)
	}
}

// plusResponseState remembers the objects a CreateObject response returned.
func (s *session) plusResponseState(p *PlusPDU, t *protocols.Transaction) {
	pc := s.pc
	if p.Function != PlusCreateObject {
		return
	}
	class, ok := pc.creating[p.Seq]
	delete(pc.creating, p.Seq)
	if id := pc.dec.createdID; ok && id != 0 && class != 0 && len(pc.created) < maxPlusObjects {
		pc.created[id] = class
	}
}

// plusError handles an Error PDU (function 0x04b1/0x05a9): it answers the
// request with its sequence number, whatever that request's function; the
// request is closed as an exception and the error is a record of its own.
func (s *session) plusError(dir protocols.Direction, p *PlusPDU, pkt protocols.Packet, truncated bool) {
	d := &s.pc.dec
	t := s.newTx(pkt, false)
	d.response(p, t, true, truncated)
	if t.Outcome != protocols.OutcomeException {
		t.Outcome, t.HasException = protocols.OutcomeException, false
	}
	if q, ok := s.outstanding.TakeFunc(func(k pduKey, _ *protocols.Transaction) bool {
		return k.kind == kindPlus && k.dir != dir && k.ref == p.Seq
	}); ok {
		q.Outcome, q.ExceptionCode, q.HasException = protocols.OutcomeException, t.ExceptionCode, t.HasException
		attr(q, "error_frame", strconv.FormatUint(pkt.Frame, 10))
		attr(t, "answers", q.CodeName)
		s.env.Emit(q)
	}
	s.env.Emit(t)
}

// plusNotification decodes a notification (opcode 0x33): values a
// subscription delivers. Notifications are not transactions (no request
// answers them); a malformed one is an anomaly, the others are counted per
// subscription and reported on the client's next credit re-arm.
func (s *session) plusNotification(version byte, body []byte, pkt protocols.Packet, truncated bool) {
	pc := s.plusState()
	sub, ok := pc.dec.notification(&pc.scratch, version, body)
	if !ok && !truncated {
		s.env.Anomaly("s7comm_plus.invalid_notification", pkt)
		return
	}
	if _, known := pc.notified[sub]; known || len(pc.notified) < maxPlusObjects {
		pc.notified[sub]++
	}
}

// plusFlush decodes the fragments a connection ends with.
func (s *session) plusFlush() {
	if s.pc == nil {
		return
	}
	for dir := range s.pc.frag {
		if f := &s.pc.frag[dir]; f.active {
			f.truncated = true
			s.plusJoined(protocols.Direction(dir), f)
		}
	}
}

// plusGap drops a direction's partial fragments.
func (s *session) plusGap(dir protocols.Direction) {
	if s.pc != nil {
		f := &s.pc.frag[dir]
		f.active, f.buf = false, f.buf[:0]
	}
}

// notification walks a notification body (after the opcode): subscription
// object, header, the value list, and an optional second part (alarms).
func (d *plusDecoder) notification(scratch *protocols.Transaction, version byte, body []byte) (sub uint32, ok bool) {
	*scratch = protocols.Transaction{Attrs: scratch.Attrs[:0], Targets: scratch.Targets[:0]}
	d.begin(scratch, body, sinkNone)
	defer d.finish()
	r := &d.r
	sub = r.U32BE()
	if version == PlusV1 {
		r.U32BE()
		if b := r.Rest(); len(b) >= 4 && be32(b) != 0 {
			r.U32BE()
			r.U16BE()
			d.notificationValues()
		}
		return sub, !r.Failed()
	}
	kind := r.U16BE()
	r.U16BE()
	if kind != 0x0400 {
		return sub, !r.Failed()
	}
	r.U16BE()
	if sub < 0x70000000 {
		r.U8() // sequence number
		r.U8() // subscription change counter
	} else {
		r.U8()  // credit tick
		r.vlq() // sequence number
		if r.peek() > 0 {
			r.U8()
		} else {
			r.U64BE() // timestamp (µs), then the change counter
			r.U8()
		}
	}
	d.notificationValues()
	if r.Failed() {
		return sub, false
	}
	// A second part (program alarms) may follow; what trails the list may
	// also be an integrity id, so a part that does not parse is no error.
	if b := r.Rest(); len(b) >= 7 && b[0] != 0 && be32(b) != 0 {
		save := *r
		r.U32BE()
		r.U16BE()
		d.notificationValues()
		if r.Failed() {
			*r = save
		}
	}
	return sub, true
}

// notificationValues reads "return code, [reference], value" entries until
// return code 0.
func (d *plusDecoder) notificationValues() {
	r := &d.r
	for !r.Failed() {
		rv := r.U8()
		switch rv {
		case 0:
			return
		case 0x92: // reference number (4 bytes), value
			r.U32BE()
			if entered, _ := d.value(0); entered {
				d.nested(true)
			}
		case 0x9b: // id, value
			r.vlq()
			if entered, _ := d.value(0); entered {
				d.nested(true)
			}
		case 0x9c, 0x13, 0x03: // a 4-byte code or reference: no value (access error)
			r.U32BE()
		case 0x81: // an object
			d.object()
		case 0x83: // a value without reference
			if entered, _ := d.value(0); entered {
				d.nested(true)
			}
		default:
			r.Fail()
		}
	}
}
