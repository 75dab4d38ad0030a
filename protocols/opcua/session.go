package opcua

import (
	"errors"
	"strconv"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// Session limits.
const (
	// MaxOutstanding requests per connection (Publish requests queue up).
	MaxOutstanding = 256
	// ResponseTimeout (packet time): an older unanswered request is closed as
	// no_response. Publish requests legitimately wait a keep-alive period.
	ResponseTimeout = 5 * time.Minute
	// MaxPartials is the number of multi-chunk messages reassembled at once.
	MaxPartials = 16
	// MaxMessageSize caps a reassembled multi-chunk message.
	MaxMessageSize = 4 << 20
	// MaxChunks caps the chunks of one message.
	MaxChunks = 512
	// maxChannels and maxSessions cap the bookkeeping per connection.
	maxChannels = 16
	maxSessions = 64
)

var errNotOPCUA = errors.New("opcua: stream no longer carries UACP headers")

// resync: after a gap or a bad header the next chunk is found by
// scanning, keeping all but the last byte of a header's worth; skipped
// bytes are named when framing resumes.
var resync = protocols.Resync{HeaderLen: HeaderLen, NotMine: errNotOPCUA, Keep: HeaderLen - 1, SkipAnomaly: "opcua.resync"}

type reqKey struct {
	channel, request uint32
}

// pendingKey: an OpenSecureChannel request is also found by its request
// id alone (it travels on channel 0 or on the channel it renews).
type pendingKey struct {
	reqKey
	opn bool
}

// partial is a message whose C chunks wait for the F chunk.
type partial struct {
	dir    protocols.Direction
	key    reqKey
	body   []byte
	chunks int
}

// channel is what the session knows of one secure channel.
type channel struct {
	id      uint32
	policy  string // security policy URI, "" when the OPN was not seen
	clear   bool   // a message of this channel was readable
	mode    uint32 // MessageSecurityMode, 0 when unknown
	token   uint32
	seq     [2]uint32
	seqSeen [2]bool
}

// session follows one OPC UA connection: UACP framing, secure channels,
// chunk reassembly and request/response pairing by (channel, request id).
type session struct {
	env        *protocols.Env
	framing    protocols.Framing // lost at the start: the connection may be picked up mid-stream
	endpoint   string
	lastPolicy string           // policy of the latest OPN seen
	lastMode   uint32           // security mode requested by the latest clear OPN
	senderCert bool             // the latest OPN carried a sender certificate
	hello      []protocols.Attr // HEL buffer sizes, for the next OpenSecureChannel
	channels   []*channel
	sessions   map[string]string // authentication token -> session id
	pending    protocols.Requests[pendingKey]
	partials   []partial
	encrypted  protocols.Requests[int] // unreadable requests by code, answered in order
	sawRequest bool
	// missed: a response may answer a request sent before the session
	// began or lost in a gap. Servers hold Publish requests for long and
	// answer out of order, so only the response timeout ends the doubt.
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
	s.framing.Lose(protocols.ClientToServer)
	s.framing.Lose(protocols.ServerToClient)
	s.pending = protocols.NewRequests[pendingKey](MaxOutstanding, ResponseTimeout, "opcua.too_many_outstanding")
	s.encrypted = protocols.NewRequests[int](MaxOutstanding, 0, "")
}

// Feed consumes every whole chunk in data.
func (s *session) Feed(dir protocols.Direction, data []byte, pkt protocols.Packet) (int, error) {
	s.missed.Feed(pkt.Time)
	return protocols.Frames(&resync, &s.framing, s, s.env, dir, data, pkt)
}

// Wants is the length of the message Feed waits for (protocols.Wanter).
func (s *session) Wants(dir protocols.Direction) int { return s.framing.Wants(dir) }

// Boundary finds where framing resumes (protocols.Framer).
func (s *session) Boundary(b []byte) int { return findBoundary(b) }

// Frame reads a message header and handles its chunk when whole
// (protocols.Framer): an unknown type or an impossible size loses the
// framing.
func (s *session) Frame(dir protocols.Direction, b []byte, pkt protocols.Packet) (n int, bad string) {
	h, _ := ParseHeader(b)
	switch {
	case !h.Valid() && h.Type != 0 && h.Size > MaxChunkSize:
		return 0, "opcua.chunk_too_large"
	case !h.Valid():
		return 0, "opcua.bad_header"
	}
	if n = int(h.Size); len(b) >= n {
		s.chunk(dir, h, b[:n], pkt)
	}
	return n, ""
}

// findBoundary returns the offset of the first plausible message header, -1
// if none: a valid header whose chunk ends the data, is followed by another
// valid header, or runs past the data (to be checked when it arrives).
func findBoundary(b []byte) int {
	for i := 0; i+HeaderLen <= len(b); i++ {
		switch b[i] {
		case 'H', 'A', 'E', 'R', 'O', 'M', 'C':
		default:
			continue
		}
		h, _ := ParseHeader(b[i:])
		if !h.Valid() {
			continue
		}
		end := i + int(h.Size)
		switch {
		case end >= len(b):
			return i
		case end+HeaderLen <= len(b):
			if next, _ := ParseHeader(b[end:]); next.Valid() {
				return i
			}
		}
	}
	return -1
}

func (s *session) chunk(dir protocols.Direction, h Header, c []byte, pkt protocols.Packet) {
	switch h.Type {
	case typeHEL, typeRHE:
		hello, ok := DecodeTransport(h.Type, c[HeaderLen:])
		if !ok {
			s.env.Anomaly("opcua.malformed", pkt)
			return
		}
		if hello.EndpointURL != "" {
			s.endpoint = hello.EndpointURL
		}
		if h.Type == typeHEL {
			s.hello = []protocols.Attr{{Key: "receive_buffer_size", Value: strconv.FormatUint(uint64(hello.ReceiveBuffer), 10)},
				{Key: "send_buffer_size", Value: strconv.FormatUint(uint64(hello.SendBuffer), 10)},
				{Key: "max_message_size", Value: strconv.FormatUint(uint64(hello.MaxMessageSize), 10)},
				{Key: "max_chunk_count", Value: strconv.FormatUint(uint64(hello.MaxChunkCount), 10)}}
		}
	case typeACK:
	case typeERR:
		s.env.Anomaly("opcua.transport_error", pkt)
	default:
		s.secured(dir, h, c, pkt)
	}
}

func (s *session) channel(id uint32, create bool) *channel {
	for _, ch := range s.channels {
		if ch.id == id {
			return ch
		}
	}
	if !create {
		return nil
	}
	if len(s.channels) >= maxChannels {
		copy(s.channels, s.channels[1:])
		s.channels = s.channels[:len(s.channels)-1]
	}
	ch := &channel{id: id}
	s.channels = append(s.channels, ch)
	return ch
}

// secured handles an OPN, MSG or CLO chunk.
func (s *session) secured(dir protocols.Direction, h Header, c []byte, pkt protocols.Packet) {
	sh, ok := ParseSecureHeader(h, c)
	if !ok {
		s.env.Anomaly("opcua.malformed", pkt)
		return
	}
	policy := sh.PolicyURI
	ch := s.channel(sh.ChannelID, sh.ChannelID != 0)
	if h.Type == typeOPN {
		s.lastPolicy, s.senderCert = policy, sh.HasSenderCert
		if ch != nil {
			ch.policy = policy
		}
	} else if ch != nil {
		if ch.policy == "" {
			ch.policy = s.lastPolicy
		}
		policy = ch.policy
	}
	rest := c[sh.Len:]
	seq, rid := Sequence(rest)
	key := reqKey{sh.ChannelID, rid}
	clear := policy == policyNone
	if !clear {
		switch {
		case h.Type == typeOPN:
			// a secured OpenSecureChannel is encrypted with the peer's public key
		case ch != nil && ch.mode == modeSignAndEncrypt:
		case s.partialIndex(dir, key) >= 0:
			clear = true
		default:
			id, ok := ServiceType(rest[8:])
			clear = ok && (IsRequest(id) || IsResponse(id))
			if !clear && ch != nil && ch.clear {
				// a readable channel: a continuation whose first chunk was lost
				if h.Chunk == 'F' {
					s.env.Anomaly("opcua.malformed", pkt)
				}
				return
			}
		}
		if clear && ch != nil {
			ch.clear = true
		}
	}
	if !clear {
		if h.Chunk == 'F' {
			s.encryptedMessage(dir, h, sh, policy, pkt)
		}
		return
	}
	if ch != nil && h.Type != typeOPN {
		if ch.seqSeen[dir] && seq != ch.seq[dir]+1 && !(seq < 1024 && ch.seq[dir] > 0xFFFFFFFF-1024) {
			s.env.Anomaly("opcua.sequence_jump", pkt)
		}
		ch.seq[dir], ch.seqSeen[dir] = seq, true
	}
	body := rest[8:]
	switch h.Chunk {
	case 'C':
		s.addChunk(dir, key, body, pkt)
		return
	case 'A':
		if i := s.partialIndex(dir, key); i >= 0 {
			s.dropPartial(i)
		}
		s.env.Anomaly("opcua.abort_chunk", pkt)
		return
	}
	if i := s.partialIndex(dir, key); i >= 0 {
		p := s.partials[i]
		s.dropPartial(i)
		if len(p.body)+len(body) > MaxMessageSize {
			s.env.Anomaly("opcua.too_many_chunks", pkt)
			return
		}
		body = append(p.body, body...)
	}
	s.message(dir, h.Type, key, policy, body, pkt)
}

func (s *session) partialIndex(dir protocols.Direction, key reqKey) int {
	for i := range s.partials {
		if s.partials[i].dir == dir && s.partials[i].key == key {
			return i
		}
	}
	return -1
}

func (s *session) dropPartial(i int) {
	copy(s.partials[i:], s.partials[i+1:])
	s.partials = s.partials[:len(s.partials)-1]
}

// addChunk buffers an intermediate chunk, within the caps.
func (s *session) addChunk(dir protocols.Direction, key reqKey, body []byte, pkt protocols.Packet) {
	i := s.partialIndex(dir, key)
	if i < 0 {
		if len(s.partials) >= MaxPartials {
			s.env.Anomaly("opcua.too_many_chunks", pkt)
			s.dropPartial(0)
		}
		s.partials = append(s.partials, partial{dir: dir, key: key})
		i = len(s.partials) - 1
	}
	p := &s.partials[i]
	p.chunks++
	if p.chunks > MaxChunks || len(p.body)+len(body) > MaxMessageSize {
		s.env.Anomaly("opcua.too_many_chunks", pkt)
		s.dropPartial(i)
		return
	}
	p.body = append(p.body, body...)
}

// unit is the endpoint URL when known, else the session id of the
// authentication token when known.
func (s *session) unit(authToken string) string {
	if s.endpoint != "" {
		return s.endpoint
	}
	if authToken != "" {
		return s.sessions[authToken]
	}
	return ""
}

// message handles a whole, readable OPN/MSG/CLO body (from its type NodeId).
func (s *session) message(dir protocols.Direction, typ int, key reqKey, policy string, body []byte, pkt protocols.Packet) {
	s.pending.ExpireAll(s.env, pkt.Time)
	id, _ := ServiceType(body)
	isReq := IsRequest(id)
	if !isReq && !IsResponse(id) {
		isReq = dir == protocols.ClientToServer
	}
	if isReq {
		s.request(dir, key, policy, body, pkt)
		return
	}
	opn := id == OpenSecureChannelResponse
	// an OPN request travels on channel 0 (issue) or the old channel (renew)
	t, matched := s.pending.TakeFunc(func(k pendingKey, _ *protocols.Transaction) bool {
		return k.reqKey == key || (opn && k.opn && k.request == key.request)
	})
	if !matched {
		t = s.newTransaction()
	}
	t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
	f := decodeResponse(body, t, s.env.Strings)
	if dir != protocols.ServerToClient {
		t.AddAnomaly("opcua.unexpected_direction")
	}
	if !matched {
		t.Unit = s.unit("")
		if s.sawRequest && !s.missed.Possible(pkt.Time) {
			t.AddAnomaly("opcua.unmatched_response")
		} else { // its request came before capture started or was lost in a gap
			s.env.Anomaly("opcua.response_without_request", pkt)
		}
	}
	switch f.TypeID {
	case CreateSessionResponse:
		if f.NewAuthToken != "" {
			if s.sessions == nil {
				s.sessions = map[string]string{}
			}
			if len(s.sessions) < maxSessions {
				s.sessions[f.NewAuthToken] = f.SessionID
			}
			if t.Unit == "" {
				t.Unit = f.SessionID
			}
		}
	case OpenSecureChannelResponse:
		if ch := s.channel(f.ChannelID, f.ChannelID != 0); ch != nil {
			ch.token = f.TokenID
			if ch.policy == "" {
				ch.policy = policy
			}
			if ch.mode == 0 {
				ch.mode = s.lastMode
			}
		}
	}
	if policy != "" {
		attr(t, "security_policy", policyName(policy))
	}
	s.env.Emit(t)
}

func (s *session) request(dir protocols.Direction, key reqKey, policy string, body []byte, pkt protocols.Packet) {
	s.sawRequest = true
	t := s.newTransaction()
	t.RequestFrame, t.RequestTime = pkt.Frame, pkt.Time
	f := decodeRequest(body, t, s.env.Strings)
	if dir != protocols.ClientToServer {
		t.AddAnomaly("opcua.unexpected_direction")
	}
	if f.EndpointURL != "" && s.endpoint == "" {
		s.endpoint = f.EndpointURL
	}
	t.Unit = s.unit(f.AuthToken)
	if f.TypeID == OpenSecureChannelRequest {
		if s.senderCert {
			attr(t, "sender_certificate", "true")
		}
		t.Attrs = append(t.Attrs, s.hello...)
		s.hello = nil
		s.lastMode = f.SecurityMode
		if ch := s.channel(key.channel, false); ch != nil && f.SecurityMode != 0 {
			ch.mode = f.SecurityMode
		}
	}
	if policy != "" {
		attr(t, "security_policy", policyName(policy))
	}
	if f.TypeID == CloseSecureChannelRequest { // never answered: the channel closes
		t.Outcome = protocols.OutcomeOK
		s.env.Emit(t)
		return
	}
	s.pending.Add(s.env, pendingKey{key, f.TypeID == OpenSecureChannelRequest}, t)
}

// encryptedMessage records an unreadable final chunk: metadata only.
// Requests and responses pair in order.
func (s *session) encryptedMessage(dir protocols.Direction, h Header, sh SecureHeader, policy string, pkt protocols.Packet) {
	code, name, op := 0, "encrypted_message", protocols.OpOther
	switch h.Type {
	case typeOPN:
		code, name, op = OpenSecureChannelRequest, "open_secure_channel_request", protocols.OpSession
	case typeCLO:
		code, name, op = CloseSecureChannelRequest, "close_secure_channel_request", protocols.OpSession
	}
	if dir == protocols.ServerToClient {
		t, ok := s.encrypted.Take(code)
		if !ok {
			t = s.encryptedTransaction(code, name, op, sh, policy)
		}
		t.ResponseFrame, t.ResponseTime = pkt.Frame, pkt.Time
		s.env.Emit(t)
		return
	}
	t := s.encryptedTransaction(code, name, op, sh, policy)
	t.RequestFrame, t.RequestTime = pkt.Frame, pkt.Time
	if h.Type == typeCLO { // never answered
		t.Outcome = protocols.OutcomeOK
		s.env.Emit(t)
		return
	}
	s.encrypted.Add(s.env, code, t)
}

func (s *session) encryptedTransaction(code int, name string, op protocols.Op, sh SecureHeader, policy string) *protocols.Transaction {
	t := s.newTransaction()
	t.Proto, t.Code, t.CodeName, t.Op, t.Encrypted, t.Unit = "opcua", code, name, op, true, s.unit("")
	var id [20]byte
	t.AddAttr("secure_channel_id", s.env.Strings.Bytes(strconv.AppendUint(id[:0], uint64(sh.ChannelID), 10)))
	if policy != "" {
		t.Attrs = append(t.Attrs, protocols.Attr{Key: "security_policy", Value: policyName(policy)})
	}
	if sh.HasSenderCert {
		t.Attrs = append(t.Attrs, protocols.Attr{Key: "sender_certificate", Value: "true"})
	}
	return t
}

// transaction is an OPC UA transaction with room for what most carry, in
// the same allocation: a node and two details (attribute id, policy).
type transaction struct {
	t      protocols.Transaction
	target [1]protocols.Target
	attrs  [2]protocols.Attr
}

func (s *session) newTransaction() *protocols.Transaction {
	if t := s.env.Pool.Get(); t != nil {
		return t
	}
	a := new(transaction)
	t := &a.t
	t.Targets, t.Attrs = a.target[:0], a.attrs[:0]
	return t
}

// Gap drops the partial messages of that direction; the next chunk is found
// by scanning.
func (s *session) Gap(dir protocols.Direction, n int, pkt protocols.Packet) {
	s.framing.Lose(dir)
	s.missed.Gap(pkt.Time)
	for i := 0; i < len(s.partials); {
		if s.partials[i].dir == dir {
			s.dropPartial(i)
			continue
		}
		i++
	}
	for _, ch := range s.channels {
		ch.seqSeen[dir] = false
	}
}

// Close reports every unanswered request. A CloseSecureChannel request is
// never answered: it ends as ok.
func (s *session) Close(pkt protocols.Packet) {
	for t, ok := s.pending.Oldest(); ok; t, ok = s.pending.Oldest() {
		if t.Code == CloseSecureChannelRequest {
			t.Outcome = protocols.OutcomeOK
			s.env.Emit(t)
			continue
		}
		protocols.Unanswered(s.env, t)
	}
	s.encrypted.CloseAll(s.env)
}
