package enip

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// MaxOutstanding bounds the requests of one connection that wait for a
// reply; beyond it the oldest is recorded unanswered.
const MaxOutstanding = 256

// ResponseTimeout is how long, in packet time, a request may wait for its
// reply before it is recorded as no_response.
const ResponseTimeout = 30 * time.Second

// Framing: the encapsulation header's size, the largest data length
// behind it (65535 minus the header), and how many services of one
// Multiple Service Packet are kept.
const (
	headerLen  = 24
	maxLength  = 65511
	maxMembers = 256
)

var errNotENIP = errors.New("enip: stream no longer carries encapsulation headers")

// resync: after a gap or a bad header the next packet is found by
// scanning, keeping a header's worth; more than two of the largest packets
// without a header: not EtherNet/IP (any more).
var resync = protocols.Resync{HeaderLen: headerLen, NotMine: errNotENIP, Keep: headerLen, MaxSkipped: 2 * (headerLen + maxLength),
	LostAnomaly: "enip.resync"}

// Header is the encapsulation header (CIP Vol. 2, §2-3.1), little-endian.
type Header struct {
	Command       uint16
	Length        int
	SessionHandle uint32
	Status        uint32
	SenderContext uint64
	Options       uint32
}

// ParseHeader reads the header at the start of b; ok is false when b is shorter.
func ParseHeader(b []byte) (h Header, ok bool) {
	if len(b) < headerLen {
		return h, false
	}
	return Header{Command: binary.LittleEndian.Uint16(b), Length: int(binary.LittleEndian.Uint16(b[2:])),
		SessionHandle: binary.LittleEndian.Uint32(b[4:]), Status: binary.LittleEndian.Uint32(b[8:]),
		SenderContext: binary.LittleEndian.Uint64(b[12:]), Options: binary.LittleEndian.Uint32(b[20:])}, true
}

func (h Header) known() bool { _, ok := codes.Commands[h.Command]; return ok }

// pendingKey pairs a reply with its request: unconnected CIP messages and
// encapsulation commands by sender context (and command), connected ones
// by the connection's sequence count.
type pendingKey struct {
	kind    uint8 // keyCommand, keyUnconnected, keyConnected
	command uint16
	value   uint64
}

const (
	keyCommand uint8 = iota
	keyUnconnected
	keyConnected
)

type pending struct {
	key     pendingKey
	tx      *protocols.Transaction   // the request's record
	outer   *protocols.Transaction   // the Unconnected Send carrying tx, if any
	members []*protocols.Transaction // a Multiple Service Packet's services
}

// session follows one EtherNet/IP connection (or UDP flow): encapsulation
// commands, and the CIP messages SendRRData and SendUnitData carry.
type session struct {
	env         *protocols.Env
	outstanding protocols.Pending[pendingKey, pending]
	framing     protocols.Framing
	sawRequest  bool
	missed      protocols.MissedRequests
	io          ioSequences // implicit I/O (UDP 2222)
	scratch     [256]byte
	idbuf       [64]byte
}

func newSession(env *protocols.Env) *session {
	s := new(session)
	s.Reuse(env)
	return s
}

// Reuse starts the session again on another flow (protocols.Reuser).
func (s *session) Reuse(env *protocols.Env) {
	*s = session{env: env, missed: protocols.MissedRequests{Window: ResponseTimeout}}
	s.outstanding.Max, s.outstanding.Timeout = MaxOutstanding, ResponseTimeout
}

// Feed consumes whole encapsulation packets.
func (s *session) Feed(dir protocols.Direction, data []byte, pkt protocols.Packet) (int, error) {
	s.missed.Feed(pkt.Time)
	if s.env.Transport == protocols.UDP {
		if id, seq, ok := parseIO(data); ok {
			s.env.Cyclic(ProtoENIP, id, s.io.next(id, seq))
			return len(data), nil
		}
		h, ok := ParseHeader(data)
		if !ok {
			s.env.Anomaly("enip.bad_length", pkt)
			return len(data), nil
		}
		body := data[headerLen:]
		if len(body) != h.Length {
			s.env.Anomaly("enip.bad_length", pkt)
			body = body[:min(len(body), h.Length)]
		}
		s.encap(dir, h, body, pkt)
		return len(data), nil
	}
	return protocols.Frames(&resync, &s.framing, s, s.env, dir, data, pkt)
}

// Wants is the length of the message Feed waits for (protocols.Wanter).
func (s *session) Wants(dir protocols.Direction) int { return s.framing.Wants(dir) }

// Boundary finds where framing resumes (protocols.Framer).
func (s *session) Boundary(b []byte) int { return findHeader(b) }

// Frame reads an encapsulation header and handles its packet when whole
// (protocols.Framer). An undefined command is recorded (named as an
// anomaly) as long as the header is otherwise sound; a bad one means lost
// framing.
func (s *session) Frame(dir protocols.Direction, b []byte, pkt protocols.Packet) (n int, bad string) {
	h, _ := ParseHeader(b)
	if h.Options != 0 || h.Length > maxLength || (!h.known() && h.Command > 0xFF) {
		return 0, "enip.bad_header"
	}
	if n = headerLen + h.Length; len(b) >= n {
		s.encap(dir, h, b[headerLen:n], pkt)
	}
	return n, ""
}

// findHeader returns the offset of the first plausible encapsulation
// header (a known command, options 0, its length fitting), -1 if none.
func findHeader(b []byte) int {
	for i := 0; i+headerLen <= len(b); i++ {
		h, _ := ParseHeader(b[i:])
		if h.known() && h.Options == 0 && h.Length <= maxLength && h.Command != CmdNOP &&
			(h.Length > 0 || h.Command == CmdListIdentity || h.Command == CmdListServices || h.Command == CmdListInterfaces) {
			return i
		}
	}
	return -1
}

// encap handles one encapsulation packet: a CIP message when SendRRData
// or SendUnitData carries one, an enip record otherwise.
func (s *session) encap(dir protocols.Direction, h Header, body []byte, pkt protocols.Packet) {
	s.expire(pkt)
	var anomalies [2]string
	na := 0
	if h.Options != 0 {
		anomalies[na], na = "enip.nonzero_options", na+1
	}
	if h.Command == CmdSendRRData || h.Command == CmdSendUnitData {
		item, itemType, ok := dataItem(body)
		if !ok {
			anomalies[na], na = "enip.bad_cpf", na+1
		}
		switch {
		case ok && itemType == itemUnconnectedData:
			s.cip(dir, pendingKey{kind: keyUnconnected, value: h.SenderContext}, item, pkt, anomalies[:na])
			return
		case ok && itemType == itemConnectedData && len(item) >= 2:
			seq := binary.LittleEndian.Uint16(item)
			s.cip(dir, pendingKey{kind: keyConnected, value: uint64(seq)}, item[2:], pkt, anomalies[:na])
			return
		}
	}
	s.command(dir, h, body, pkt, anomalies[:na])
}

// dataItem finds the connected or unconnected data item of a SendRRData
// or SendUnitData body (interface handle, timeout, common packet format).
func dataItem(body []byte) (item []byte, itemType uint16, ok bool) {
	c := protocols.NewCursor(body)
	c.Skip(6) // interface handle, timeout
	for n := c.U16LE(); n > 0 && !c.Failed(); n-- {
		typ, data := cpfItem(&c)
		if !c.Failed() && (typ == itemConnectedData || typ == itemUnconnectedData) {
			return data, typ, true
		}
	}
	return nil, 0, !c.Failed()
}

// cpfItem reads one item of a common packet format (CIP Vol. 2, §2-6):
// type id, length, data.
func cpfItem(c *protocols.Cursor) (typ uint16, data []byte) {
	typ = c.U16LE()
	return typ, c.Take(int(c.U16LE()))
}

// command records an encapsulation command that carries no CIP message.
func (s *session) command(dir protocols.Direction, h Header, body []byte, pkt protocols.Packet, anomalies []string) {
	key := pendingKey{kind: keyCommand, command: h.Command, value: h.SenderContext}
	if dir == protocols.ServerToClient {
		if p, ok := s.outstanding.Take(key); ok {
			t := p.tx
			s.commandReply(t, h, body, pkt, anomalies)
			s.env.Emit(t)
			return
		}
		t := s.newTransaction()
		s.commandHead(t, h)
		s.commandReply(t, h, body, pkt, anomalies)
		s.unmatched(t, pkt)
		s.env.Emit(t)
		return
	}
	s.sawRequest = true
	t := s.newTransaction()
	s.commandHead(t, h)
	t.RequestFrame, t.RequestTime = pkt.Frame, pkt.Time
	for _, a := range anomalies {
		t.AddAnomaly(a)
	}
	if h.Command == CmdRegisterSession && len(body) >= 2 {
		t.AddAttr("protocol_version", protocols.Itoa(int(binary.LittleEndian.Uint16(body))))
	}
	if h.Command == CmdUnRegisterSession || h.Command == CmdNOP { // no reply by the specification
		s.env.Emit(t)
		return
	}
	s.push(pending{key: key, tx: t}, pkt)
}

func (s *session) commandHead(t *protocols.Transaction, h Header) {
	t.Proto, t.Code = ProtoENIP, int(h.Command)
	if c, ok := codes.Commands[h.Command]; ok {
		t.CodeName, t.Op = c.Name, c.Op
	} else {
		t.CodeName = "command_0x" + strconv.FormatUint(uint64(h.Command), 16)
		t.AddAnomaly("enip.unknown_command")
	}
}

func (s *session) commandReply(t *protocols.Transaction, h Header, body []byte, pkt protocols.Packet, anomalies []string) {
	t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
	for _, a := range anomalies {
		t.AddAnomaly(a)
	}
	if h.Status != 0 {
		t.Outcome, t.ExceptionCode, t.HasException = protocols.OutcomeException, int64(h.Status), true
	}
	if h.Command == CmdListIdentity {
		s.listIdentity(t, body)
	}
}

// cip handles one CIP message of a data item.
func (s *session) cip(dir protocols.Direction, key pendingKey, b []byte, pkt protocols.Packet, anomalies []string) {
	if len(b) == 0 {
		return
	}
	if b[0]&0x80 == 0 {
		s.sawRequest = true
		p := s.request(b, pkt, dir)
		p.key = key
		for _, a := range anomalies {
			p.tx.AddAnomaly(a)
		}
		s.push(p, pkt)
		return
	}
	m, ok := parseMessage(b)
	p, matched := s.outstanding.Take(key)
	if !matched {
		t := s.newTransaction()
		t.Proto, t.Code, t.CodeName = ProtoCIP, int(b[0]&0x7F), serviceName(b[0])
		t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
		if dir == protocols.ClientToServer {
			t.FlowReversed = true
		}
		var members []*protocols.Transaction
		if !ok {
			t.AddAnomaly("cip.short_message")
		} else {
			s.reply(t, m)
			if m.service == svcMultipleService {
				members = s.replyMembers(m, t)
			}
		}
		s.unmatched(t, pkt)
		for _, member := range members {
			member.ResponseFrame, member.ResponseTime = pkt.Frame, pkt.Time
			s.unmatched(member, pkt)
		}
		s.emit(pending{tx: t, members: members})
		return
	}
	s.missed.Matched(pkt.Time)
	target := p.tx
	if p.outer != nil && ok && m.service == svcUnconnectedSend {
		target = p.outer // the router's own error reply: the embedded request got none
		p.tx.Outcome = protocols.OutcomeNoResponse
	}
	target.ResponseFrame, target.ResponseTime = pkt.Frame, pkt.Time
	if !ok {
		target.AddAnomaly("cip.short_message")
	} else {
		s.reply(target, m)
		if target == p.tx && p.members != nil {
			// Replies pair with the services by position; decoded straight
			// into their records (no record per reply).
			k := 0
			eachMember(m.data, target, func(b []byte) {
				if k >= len(p.members) {
					r := s.replyTx(b, target)
					r.ResponseFrame, r.ResponseTime = pkt.Frame, pkt.Time
					s.unmatched(r, pkt)
					p.members = append(p.members, r)
					k++
					return
				}
				member := p.members[k]
				k++
				member.ResponseFrame, member.ResponseTime = pkt.Frame, pkt.Time
				if rm, ok := parseMessage(b); ok && rm.response {
					s.reply(member, rm)
				} else {
					member.AddAnomaly("cip.short_message")
				}
			})
			for _, member := range p.members[k:] {
				if member.ResponseFrame == 0 {
					member.Outcome = protocols.OutcomeNoResponse
				}
			}
		}
	}
	s.emit(p)
}

// unmatched marks a reply whose request was not seen.
func (s *session) unmatched(t *protocols.Transaction, pkt protocols.Packet) {
	if s.sawRequest && !s.missed.Possible(pkt.Time) {
		t.AddAnomaly("enip.response_without_request")
	} else {
		s.env.Anomaly("enip.response_without_request", pkt)
	}
}

func (s *session) emit(p pending) {
	if p.outer != nil {
		s.env.Emit(p.outer)
	}
	s.env.Emit(p.tx)
	for _, m := range p.members {
		s.env.Emit(m)
	}
}

// request decodes a CIP request into its record; an Unconnected Send
// gives the embedded request's record with the envelope as outer, a
// Multiple Service Packet its services as members.
func (s *session) request(b []byte, pkt protocols.Packet, dir protocols.Direction) pending {
	return s.requestDepth(b, pkt, dir, 0)
}

// maxNesting bounds Unconnected Sends inside Unconnected Sends.
const maxNesting = 4

func (s *session) requestDepth(b []byte, pkt protocols.Packet, dir protocols.Direction, depth int) pending {
	t := s.requestTx(b, pkt, dir)
	p := pending{tx: t}
	m, ok := parseMessage(b)
	if !ok {
		return p
	}
	switch {
	case m.service == svcUnconnectedSend && t.HasSubcode && classID(t.Subcode) == classConnManager:
		// priority/tick, timeout ticks, embedded size, embedded request, pad, route path
		d := protocols.NewCursor(m.data)
		d.Skip(2)
		n := int(d.U16LE())
		embedded := d.Take(n)
		if d.Failed() || n < 2 || depth >= maxNesting {
			t.AddAnomaly("cip.short_message")
			return p
		}
		inner := s.requestDepth(embedded, pkt, dir, depth+1)
		if n&1 != 0 {
			d.Skip(1) // the embedded request is padded to a word
		}
		route := d.Rest()
		if len(route) >= 2 {
			if unit := portUnit(route[2:min(len(route), 2+2*int(route[0]))]); unit != "" {
				t.Unit, inner.tx.Unit = unit, unit
			}
		}
		t.AddAttr("embedded_service", inner.tx.CodeName)
		inner.outer = t
		return inner
	case m.service == svcMultipleService:
		p.members = s.requestMembers(m, pkt, dir, t)
	}
	return p
}

// requestTx decodes one CIP request (no envelope) into a record.
func (s *session) requestTx(b []byte, pkt protocols.Packet, dir protocols.Direction) *protocols.Transaction {
	t := s.newTransaction()
	t.Proto = ProtoCIP
	t.RequestFrame, t.RequestTime = pkt.Frame, pkt.Time
	if dir == protocols.ServerToClient {
		t.FlowReversed = true
	}
	m, ok := parseMessage(b)
	if !ok {
		t.Code, t.CodeName = int(b[0]&0x7F), serviceName(b[0])
		t.AddAnomaly("cip.short_message")
		return t
	}
	t.Code = int(m.service)
	p, pok := parsePath(m.path, s.scratch[:])
	if !pok {
		t.AddAnomaly("cip.bad_path")
	}
	t.CodeName, t.Op = serviceOf(m.service, &p)
	if p.HasClass {
		t.Subcode, t.HasSubcode = int(p.Class), true
		t.SubcodeName = className(p.Class)
	}
	s.target(t, &p)
	switch {
	case t.CodeName == "write_tag" || t.CodeName == "write_tag_fragmented":
		if len(m.data) >= 4 {
			typeCode, count := binary.LittleEndian.Uint16(m.data), int(binary.LittleEndian.Uint16(m.data[2:]))
			data := m.data[4:]
			if t.CodeName == "write_tag_fragmented" && len(data) >= 4 {
				data = data[4:] // byte offset of the fragment
			}
			logixValues(t, typeCode, count, data, true)
		}
	case t.Op == protocols.OpWrite || t.Op == protocols.OpFirmwareUpdate:
		if len(m.data) > 0 && t.Op == protocols.OpWrite {
			t.AddValue(protocols.StringValue(s.hexString(m.data)))
		}
	case t.CodeName == "execute_pccc":
		pccc(t, m.data)
	}
	return t
}

// target adds the path's target: a tag by name, or class/instance/attribute.
func (s *session) target(t *protocols.Transaction, p *Path) {
	switch {
	case len(p.Symbol) > 0:
		t.Targets = append(t.Targets, protocols.Target{Space: "tag", ID: s.env.Strings.Printable(p.Symbol)})
	case p.HasClass:
		b := append(s.idbuf[:0], "0x"...)
		b = strconv.AppendUint(b, uint64(p.Class), 16)
		if p.HasInstance {
			b = append(b, '/')
			b = strconv.AppendUint(b, uint64(p.Instance), 10)
			if p.HasAttribute {
				b = append(b, '/')
				b = strconv.AppendUint(b, uint64(p.Attribute), 10)
			}
		}
		t.Targets = append(t.Targets, protocols.Target{Space: "cip", ID: s.env.Strings.Bytes(b)})
	}
}

// hexString renders the first 128 bytes of b as hex, in scratch.
func (s *session) hexString(b []byte) string {
	return s.env.Strings.Bytes(hex.AppendEncode(s.scratch[:0], b[:min(len(b), len(s.scratch)/2)]))
}

// requestMembers decodes the services of a Multiple Service Packet
// request: a count and offsets from the count.
func (s *session) requestMembers(m message, pkt protocols.Packet, dir protocols.Direction, t *protocols.Transaction) []*protocols.Transaction {
	var out []*protocols.Transaction
	if len(m.data) >= 2 {
		out = make([]*protocols.Transaction, 0, min(int(binary.LittleEndian.Uint16(m.data)), maxMembers))
	}
	eachMember(m.data, t, func(b []byte) {
		out = append(out, s.requestTx(b, pkt, dir))
	})
	return out
}

// replyMembers decodes the replies of a Multiple Service Packet reply
// whose request was not seen, one record each.
func (s *session) replyMembers(m message, t *protocols.Transaction) []*protocols.Transaction {
	var out []*protocols.Transaction
	eachMember(m.data, t, func(b []byte) { out = append(out, s.replyTx(b, t)) })
	return out
}

func (s *session) replyTx(b []byte, t *protocols.Transaction) *protocols.Transaction {
	r := s.newTransaction()
	r.Proto, r.Code, r.CodeName = ProtoCIP, int(b[0]&0x7F), serviceName(b[0])
	r.FlowReversed = t.FlowReversed
	if rm, ok := parseMessage(b); ok && rm.response {
		s.reply(r, rm)
	} else {
		r.AddAnomaly("cip.short_message")
	}
	return r
}

func eachMember(d []byte, t *protocols.Transaction, f func([]byte)) {
	if len(d) < 2 {
		t.AddAnomaly("cip.bad_multiple_service_packet")
		return
	}
	count := int(binary.LittleEndian.Uint16(d))
	if count > maxMembers || len(d) < 2+2*count {
		t.AddAnomaly("cip.bad_multiple_service_packet")
		return
	}
	for i := 0; i < count; i++ {
		start := int(binary.LittleEndian.Uint16(d[2+2*i:]))
		end := len(d)
		if i+1 < count {
			end = int(binary.LittleEndian.Uint16(d[4+2*i:]))
		}
		if start < 2+2*count || start >= end || end > len(d) {
			t.AddAnomaly("cip.bad_multiple_service_packet")
			return
		}
		f(d[start:end])
	}
}

// reply fills a record from a CIP reply: status and the data an engineer
// wants (values read from tags, identity).
func (s *session) reply(t *protocols.Transaction, m message) {
	if m.status != 0 && m.status != 0x06 { // 0x06: partial transfer, more fragments follow
		t.Outcome, t.ExceptionCode, t.HasException = protocols.OutcomeException, int64(m.status), true
		if name, ok := codes.GeneralStatus[m.status]; ok {
			t.AddAttr("status", name)
		}
		return
	}
	switch {
	case t.CodeName == "read_tag" || t.CodeName == "read_tag_fragmented":
		if len(m.data) >= 2 {
			typeCode := binary.LittleEndian.Uint16(m.data)
			d := m.data[2:]
			if lt, ok := logixTypes[typeCode]; ok {
				logixValues(t, typeCode, len(d)/lt.size, d, false)
			}
		}
	case m.service == svcGetAttributesAll && t.HasSubcode && classID(t.Subcode) == classIdentity:
		s.identityAttrs(t, m.data)
	}
}

func (s *session) newTransaction() *protocols.Transaction {
	if t := s.env.Pool.Get(); t != nil {
		return t
	}
	a := new(transaction)
	a.t.Targets, a.t.Attrs = a.targets[:0], a.attrs[:0]
	return &a.t
}

// transaction is a record with room for its target and a few details in
// the same allocation.
type transaction struct {
	t       protocols.Transaction
	targets [1]protocols.Target
	attrs   [2]protocols.Attr
}

func (s *session) push(p pending, pkt protocols.Packet) {
	if old, evicted := s.outstanding.Push(p.key, pkt.Time, p); evicted {
		old.tx.AddAnomaly("enip.too_many_outstanding")
		s.noResponse(old)
	}
}

// noResponse emits an outstanding request as unanswered.
func (s *session) noResponse(p pending) {
	p.tx.Outcome = protocols.OutcomeNoResponse
	for _, m := range p.members {
		m.Outcome = protocols.OutcomeNoResponse
	}
	if p.outer != nil {
		p.outer.Outcome = protocols.OutcomeNoResponse
	}
	s.emit(p)
}

// expire closes requests left unanswered for longer than ResponseTimeout.
func (s *session) expire(pkt protocols.Packet) {
	for p, ok := s.outstanding.Expire(pkt.Time); ok; p, ok = s.outstanding.Expire(pkt.Time) {
		s.noResponse(p)
	}
}

// Gap: bytes of dir were lost; framing searches the next plausible header.
func (s *session) Gap(dir protocols.Direction, n int, pkt protocols.Packet) {
	if s.env.Transport == protocols.TCP {
		s.framing.Lose(dir)
	}
}

// Close: requests still waiting become no_response records.
func (s *session) Close(pkt protocols.Packet) {
	for p, ok := s.outstanding.Oldest(); ok; p, ok = s.outstanding.Oldest() {
		s.noResponse(p)
	}
}

// portUnit renders the first port segment of a route path as
// "port/link", the backplane slot an Unconnected Send is routed to
// ("1/0": backplane, slot 0), "" when the path starts otherwise.
func portUnit(route []byte) string {
	if len(route) < 2 || route[0]&0xE0 != 0 || route[0]&0x10 != 0 || route[0]&0x0F == 0x0F {
		return ""
	}
	return protocols.Itoa(int(route[0]&0x0F)) + "/" + protocols.Itoa(int(route[1]))
}

func className(c classID) string {
	if n, ok := codes.ClassNames[c]; ok {
		return n
	}
	return ""
}
