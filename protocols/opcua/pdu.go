package opcua

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/otwatch/otwatch/protocols"
)

// HeaderLen is the size of the UACP/UASC message header: MessageType (3
// bytes), chunk type (1), MessageSize (UInt32, whole chunk).
const HeaderLen = 8

// MaxChunkSize is the largest chunk accepted; bigger ones are taken for
// garbage (stacks negotiate 8 KiB–16 MiB buffers; 64 KiB is usual).
const MaxChunkSize = 16 << 20

// Header is a decoded message header.
type Header struct {
	Type  int  // typeHEL ... typeCLO, 0 when unknown
	Chunk byte // 'F' final, 'C' intermediate, 'A' abort
	Size  uint32
}

// ParseHeader decodes a message header; ok is false when b is too short.
func ParseHeader(b []byte) (h Header, ok bool) {
	if len(b) < HeaderLen {
		return h, false
	}
	switch string(b[:3]) {
	case "HEL":
		h.Type = typeHEL
	case "ACK":
		h.Type = typeACK
	case "ERR":
		h.Type = typeERR
	case "RHE":
		h.Type = typeRHE
	case "OPN":
		h.Type = typeOPN
	case "MSG":
		h.Type = typeMSG
	case "CLO":
		h.Type = typeCLO
	}
	h.Chunk = b[3]
	h.Size = binary.LittleEndian.Uint32(b[4:])
	return h, true
}

// minSize is the smallest legal chunk of each message type.
var minSize = [...]uint32{typeHEL: 32, typeACK: 28, typeERR: 16, typeRHE: 16, typeOPN: 32, typeMSG: 24, typeCLO: 24}

// Valid says whether the header could start an OPC UA message.
func (h Header) Valid() bool {
	if h.Type == 0 || h.Size > MaxChunkSize || h.Size < minSize[h.Type] {
		return false
	}
	if h.Type >= typeOPN {
		return h.Chunk == 'F' || h.Chunk == 'C' || h.Chunk == 'A'
	}
	return h.Chunk == 'F'
}

// Secured reports whether the message type carries a secure-channel header.
func (h Header) Secured() bool { return h.Type >= typeOPN }

// Hello is a decoded HEL (or the URL part of RHE).
type Hello struct {
	Version          uint32
	ReceiveBuffer    uint32
	SendBuffer       uint32
	MaxMessageSize   uint32
	MaxChunkCount    uint32
	EndpointURL      string
	ServerURI        string // RHE only
	TransportErrCode uint32 // ERR only
	Reason           string // ERR only
}

// DecodeTransport decodes the body (after the header) of a HEL, ACK, ERR or
// RHE message; ok is false when it is malformed.
func DecodeTransport(typ int, body []byte) (h Hello, ok bool) {
	r := newReader(body, nil)
	switch typ {
	case typeHEL:
		h.Version, h.ReceiveBuffer, h.SendBuffer, h.MaxMessageSize, h.MaxChunkCount = r.U32LE(), r.U32LE(), r.U32LE(), r.U32LE(), r.U32LE()
		h.EndpointURL = r.str()
	case typeACK:
		h.Version, h.ReceiveBuffer, h.SendBuffer, h.MaxMessageSize, h.MaxChunkCount = r.U32LE(), r.U32LE(), r.U32LE(), r.U32LE(), r.U32LE()
	case typeERR:
		h.TransportErrCode = r.U32LE()
		h.Reason = r.str()
	case typeRHE:
		h.ServerURI = r.str()
		h.EndpointURL = r.str()
	}
	return h, !r.Failed()
}

// SecureHeader is what precedes the (possibly encrypted) body of an
// OPN/MSG/CLO chunk.
type SecureHeader struct {
	ChannelID uint32
	// OPN: asymmetric algorithm security header.
	PolicyURI     string
	HasSenderCert bool
	// MSG/CLO: symmetric algorithm security header.
	TokenID uint32
	// Len is the size of the chunk header plus the security header: the
	// sequence header starts there.
	Len int
}

// ParseSecureHeader decodes the secure-channel header of an OPN, MSG or CLO
// chunk (chunk = the whole chunk, message header included).
func ParseSecureHeader(h Header, chunk []byte) (s SecureHeader, ok bool) {
	if h.Type != typeOPN { // MSG and CLO, nearly every chunk: channel and token, read in place
		const n = HeaderLen + 8
		if len(chunk) < n+8 {
			return s, false
		}
		s.ChannelID, s.TokenID = binary.LittleEndian.Uint32(chunk[HeaderLen:]), binary.LittleEndian.Uint32(chunk[HeaderLen+4:])
		s.Len = n
		return s, true
	}
	// OPN: the asymmetric header, security policy and certificates
	r := newReader(chunk[HeaderLen:], nil)
	s.ChannelID = r.U32LE()
	uri := r.bytes()
	if len(uri) > 1024 {
		return s, false
	}
	s.PolicyURI = policyNone // the constant itself: each chunk compares with it (memequal sees one pointer)
	if string(uri) != policyNone {
		s.PolicyURI = printable(uri)
	}
	s.HasSenderCert = len(r.bytes()) > 0
	r.bytes() // receiver certificate thumbprint
	s.Len = len(chunk) - r.Len()
	return s, !r.Failed() && r.Len() >= 8
}

// Sequence reads the sequence header (SequenceNumber, RequestId) at b.
func Sequence(b []byte) (seq, requestID uint32) {
	return binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
}

// ServiceType reads the encoding NodeId that opens a service body: the
// numeric id of a namespace-0 NodeId, -1 otherwise; ok false when malformed.
func ServiceType(body []byte) (id int, ok bool) {
	// Every service's encoding id is in namespace 0, in the two-byte or
	// four-byte form: read in place (the session asks once per message).
	switch {
	case len(body) >= 2 && body[0] == 0x00:
		return int(body[1]), true
	case len(body) >= 4 && body[0] == 0x01 && body[1] == 0:
		return int(binary.LittleEndian.Uint16(body[2:])), true
	}
	return readServiceType(body)
}

// readServiceType is ServiceType through the NodeId reader, for every form.
func readServiceType(body []byte) (id int, ok bool) {
	r := newReader(body, nil)
	n := r.nodeID(false)
	if r.Failed() {
		return -1, false
	}
	if v, ok := n.Numeric0(); ok {
		return int(v), true
	}
	return -1, true
}

// Facts are what the session keeps from a service body beyond the
// transaction: channel, session and endpoint bookkeeping.
type Facts struct {
	TypeID       int
	Handle       uint32
	AuthToken    string // request: the session's authentication token
	EndpointURL  string // CreateSession / GetEndpoints request
	SessionID    string // CreateSession response
	NewAuthToken string // CreateSession response
	SecurityMode uint32 // OpenSecureChannel request
	ChannelID    uint32 // OpenSecureChannel response
	TokenID      uint32 // OpenSecureChannel response
}

// MaxTargets caps the NodeIds kept per transaction.
const MaxTargets = 256

func (r *reader) addNode(t *protocols.Transaction, n NodeID) {
	if len(t.Targets) >= MaxTargets {
		return
	}
	t.Targets = append(t.Targets, protocols.Target{Space: "node", ID: r.text(n)})
}

func attr(t *protocols.Transaction, key, value string) {
	for i := range t.Attrs {
		if t.Attrs[i].Key == key {
			t.Attrs[i].Value = value
			return
		}
	}
	t.Attrs = append(t.Attrs, protocols.Attr{Key: key, Value: value})
}

// requestHeader reads a RequestHeader.
func (r *reader) requestHeader(f *Facts) {
	tok := r.nodeID(false)
	if !tok.IsNull() {
		f.AuthToken = r.text(tok)
	}
	r.U64LE() // timestamp
	f.Handle = r.U32LE()
	r.U32LE() // return diagnostics
	r.bytes() // audit entry id
	r.U32LE() // timeout hint
	r.extensionObject()
}

// responseHeader reads a ResponseHeader and returns its ServiceResult.
func (r *reader) responseHeader(f *Facts) uint32 {
	r.U64LE() // timestamp
	f.Handle = r.U32LE()
	status := r.U32LE()
	r.diagnosticInfo(0)
	for n := r.count(4); n > 0 && !r.Failed(); n-- {
		r.bytes()
	}
	r.extensionObject()
	return status
}

// DecodeRequest fills t from a request body (starting at its type NodeId):
// code, name, op, targets, written values, details.
func DecodeRequest(body []byte, t *protocols.Transaction) Facts { return decodeRequest(body, t, nil) }

// decodeRequest is DecodeRequest making its strings with strs.
func decodeRequest(body []byte, t *protocols.Transaction, strs *protocols.Strings) Facts {
	r := newReader(body, strs)
	f := Facts{TypeID: -1}
	typ := r.nodeID(false)
	if id, ok := typ.Numeric0(); ok {
		f.TypeID = int(id)
	}
	setService(t, f.TypeID)
	if !IsRequest(f.TypeID) {
		if !r.Failed() {
			t.AddAnomaly("opcua.unknown_service")
		}
		return f
	}
	r.requestHeader(&f)
	emit := t.AddValue
	switch f.TypeID {
	case ReadRequest:
		r.f64()   // max age
		r.U32LE() // timestamps to return
		for n := r.count(13); n > 0 && !r.Failed(); n-- {
			id := r.nodeID(false)
			attrID := r.U32LE()
			r.bytes()         // index range
			r.qualifiedName() // data encoding
			if !r.Failed() {
				r.addNode(t, id)
				if attrID != attributeValue {
					attr(t, "attribute_id", r.number(uint64(attrID)))
				}
			}
		}
	case HistoryReadRequest:
		r.extensionObject()
		r.U32LE()   // timestamps to return
		r.boolean() // release continuation points
		for n := r.count(14); n > 0 && !r.Failed(); n-- {
			id := r.nodeID(false)
			r.bytes()
			r.qualifiedName()
			r.bytes() // continuation point
			if !r.Failed() {
				r.addNode(t, id)
			}
		}
	case WriteRequest:
		for n := r.count(10); n > 0 && !r.Failed(); n-- {
			id := r.nodeID(false)
			attrID := r.U32LE()
			r.bytes() // index range
			node := -1
			if before := len(t.Targets); !r.Failed() {
				r.addNode(t, id)
				if len(t.Targets) > before {
					node = len(t.Targets) - 1
				}
				if attrID != attributeValue {
					attr(t, "attribute_id", r.number(uint64(attrID)))
					node = -1 // not the node's value
				}
			}
			elem := 0
			r.dataValue(0, func(v protocols.Value) {
				t.AddValue(v)
				if typ, ok := numType(r.elem); ok && node >= 0 {
					t.AddPoint(node, elem, protocols.FieldValue, typ, number(v))
				}
				elem++
			})
		}
	case HistoryUpdateRequest:
		for n := r.count(3); n > 0 && !r.Failed(); n-- {
			_, b := r.extensionObject()
			// every HistoryUpdateDetails subtype starts with the NodeId it updates
			sub := newReader(b, nil)
			if id := sub.nodeID(false); !sub.Failed() && b != nil {
				r.addNode(t, id)
			}
		}
	case CallRequest:
		for n := r.count(6); n > 0 && !r.Failed(); n-- {
			obj, method := r.nodeID(false), r.nodeID(false)
			if !r.Failed() {
				r.addNode(t, obj)
				r.addNode(t, method)
			}
			for m := r.count(1); m > 0 && !r.Failed(); m-- {
				r.variant(0, emit)
			}
		}
	case BrowseRequest:
		r.nodeID(false) // view id
		r.U64LE()
		r.U32LE()
		r.U32LE() // requested max references per node
		for n := r.count(14); n > 0 && !r.Failed(); n-- {
			id := r.nodeID(false)
			r.U32LE()
			r.nodeID(false)
			r.boolean()
			r.U32LE()
			r.U32LE()
			if !r.Failed() {
				r.addNode(t, id)
			}
		}
	case 554: // TranslateBrowsePathsToNodeIds
		for n := r.count(5); n > 0 && !r.Failed(); n-- {
			id := r.nodeID(false)
			for m := r.count(9); m > 0 && !r.Failed(); m-- {
				r.nodeID(false)
				r.boolean()
				r.boolean()
				r.qualifiedName()
			}
			if !r.Failed() {
				r.addNode(t, id)
			}
		}
	case CreateMonitoredItems:
		r.U32LE() // subscription id
		r.U32LE() // timestamps to return
		for n := r.count(30); n > 0 && !r.Failed(); n-- {
			id := r.nodeID(false)
			r.U32LE()
			r.bytes()
			r.qualifiedName()
			r.U32LE() // monitoring mode
			r.U32LE() // client handle
			r.f64()   // sampling interval
			r.extensionObject()
			r.U32LE()
			r.boolean()
			if !r.Failed() {
				r.addNode(t, id)
			}
		}
	case AddNodesRequest:
		for n := r.count(12); n > 0 && !r.Failed(); n-- {
			parent := r.nodeID(true)
			r.nodeID(false) // reference type
			id := r.nodeID(true)
			name := r.qualifiedName()
			r.U32LE() // node class
			r.extensionObject()
			r.nodeID(true) // type definition
			if !r.Failed() {
				if id.Kind == 'i' && id.Num == 0 {
					id = parent
				}
				r.addNode(t, id)
				attr(t, "browse_name", printable(name))
			}
		}
	case DeleteNodesRequest:
		for n := r.count(3); n > 0 && !r.Failed(); n-- {
			id := r.nodeID(false)
			r.boolean()
			if !r.Failed() {
				r.addNode(t, id)
			}
		}
	case AddReferencesRequest:
		for n := r.count(13); n > 0 && !r.Failed(); n-- {
			id := r.nodeID(false)
			r.nodeID(false)
			r.boolean()
			r.bytes()
			r.nodeID(true)
			r.U32LE()
			if !r.Failed() {
				r.addNode(t, id)
			}
		}
	case DeleteReferencesRequest:
		for n := r.count(7); n > 0 && !r.Failed(); n-- {
			id := r.nodeID(false)
			r.nodeID(false)
			r.boolean()
			r.nodeID(true)
			r.boolean()
			if !r.Failed() {
				r.addNode(t, id)
			}
		}
	case CreateSessionRequest:
		r.applicationDescription(t, "client_")
		r.bytes() // server uri
		f.EndpointURL = r.str()
		if name := r.str(); name != "" && !r.Failed() {
			attr(t, "session_name", name)
		}
	case ActivateSessionRequest:
		r.bytes() // signature algorithm
		r.bytes() // signature
		for n := r.count(8); n > 0 && !r.Failed(); n-- {
			r.bytes()
			r.bytes()
		}
		for n := r.count(4); n > 0 && !r.Failed(); n-- {
			r.bytes()
		}
		typ, b := r.extensionObject()
		if id, ok := typ.Numeric0(); ok && !r.Failed() {
			switch id {
			case anonymousTokenEncoding:
				attr(t, "identity_token", "anonymous")
			case userNameTokenEncoding:
				attr(t, "identity_token", "user_name")
				sub := newReader(b, nil)
				sub.bytes() // policy id
				if user := sub.str(); !sub.Failed() {
					attr(t, "user_name", user)
				}
			case x509TokenEncoding:
				attr(t, "identity_token", "x509")
			case issuedTokenEncoding:
				attr(t, "identity_token", "issued")
			}
		}
	case GetEndpointsRequest, FindServersRequest:
		f.EndpointURL = r.str()
	case OpenSecureChannelRequest:
		r.U32LE() // client protocol version
		kind := r.U32LE()
		f.SecurityMode = r.U32LE()
		if !r.Failed() {
			if kind == 1 {
				attr(t, "request_type", "renew")
			} else {
				attr(t, "request_type", "issue")
			}
			if f.SecurityMode < uint32(len(securityModeNames)) {
				attr(t, "security_mode", securityModeNames[f.SecurityMode])
			}
		}
	}
	if r.Failed() {
		t.AddAnomaly("opcua.malformed")
	}
	return f
}

// applicationDescription reads an ApplicationDescription into attributes
// (application_uri, product_uri, application_name, application_type),
// prefixed; with a nil t it only reads past one.
func (r *reader) applicationDescription(t *protocols.Transaction, prefix string) {
	uri, product := r.str(), r.str()
	text := r.localizedText()
	kind := r.U32LE()
	r.bytes() // gateway server uri
	r.bytes() // discovery profile uri
	for n := r.count(4); n > 0 && !r.Failed(); n-- {
		r.bytes()
	}
	if r.Failed() || t == nil {
		return
	}
	set := func(k, v string) {
		if v != "" {
			attr(t, prefix+k, v)
		}
	}
	set("application_uri", uri)
	set("product_uri", product)
	set("application_name", printable(text))
	if kind < uint32(len(applicationTypes)) {
		set("application_type", applicationTypes[kind])
	}
}

var applicationTypes = [...]string{"server", "client", "client_and_server", "discovery_server"}

// endpointDescriptions reads an array of EndpointDescription: the first
// endpoint's server description becomes the identity; the security modes and
// policies offered are listed.
func (r *reader) endpointDescriptions(t *protocols.Transaction) {
	n := r.count(40)
	for i := 0; i < n && !r.Failed(); i++ {
		url := r.str()
		if i == 0 {
			r.applicationDescription(t, "")
			if url != "" && !r.Failed() {
				attr(t, "endpoint_url", url)
			}
		} else {
			r.applicationDescription(nil, "") // read past: the first endpoint's describes the server
		}
		r.bytes() // server certificate
		mode := r.U32LE()
		policy := r.str()
		for m := r.count(20); m > 0 && !r.Failed(); m-- {
			r.bytes()
			r.U32LE()
			r.bytes()
			r.bytes()
			r.bytes()
		}
		r.bytes() // transport profile
		r.U8()    // security level
		if !r.Failed() && mode < uint32(len(securityModeNames)) {
			appendList(t, "endpoint_security", securityModeNames[mode]+":"+policyName(policy))
		}
	}
	if n > 0 && !r.Failed() {
		attr(t, "endpoints", strconv.Itoa(n))
	}
}

// appendList adds v to a comma-separated attribute once.
func appendList(t *protocols.Transaction, key, v string) {
	have := t.Attr(key)
	if have == "" {
		attr(t, key, v)
		return
	}
	for rest := have; ; {
		x, after, more := strings.Cut(rest, ",")
		if x == v {
			return
		}
		if !more {
			break
		}
		rest = after
	}
	if len(have) < 512 {
		attr(t, key, have+","+v)
	}
}

// policyName shortens a security policy URI to its fragment ("None",
// "Basic256Sha256").
func policyName(uri string) string {
	for i := len(uri) - 1; i >= 0; i-- {
		if uri[i] == '#' {
			return uri[i+1:]
		}
	}
	return uri
}

// isBad says whether a StatusCode's severity is Bad.
func isBad(status uint32) bool { return status&0xC0000000 == 0x80000000 }

// DecodeResponse completes t from a response body. When the request was not
// seen, t takes the code of the request the response answers (634 -> 631);
// a ServiceFault keeps 397. Outcome: a ServiceFault or a Bad ServiceResult,
// and a Bad per-operation result of a Write or Call, is an exception with that
// StatusCode.
func DecodeResponse(body []byte, t *protocols.Transaction) Facts { return decodeResponse(body, t, nil) }

// decodeResponse is DecodeResponse making its strings with strs.
func decodeResponse(body []byte, t *protocols.Transaction, strs *protocols.Strings) Facts {
	r := newReader(body, strs)
	f := Facts{TypeID: -1}
	typ := r.nodeID(false)
	if id, ok := typ.Numeric0(); ok {
		f.TypeID = int(id)
	}
	if t.RequestFrame == 0 {
		code := f.TypeID
		if req, ok := requestOf[code]; ok {
			code = req
		}
		setService(t, code)
	}
	if !IsResponse(f.TypeID) {
		if !r.Failed() {
			t.AddAnomaly("opcua.unknown_service")
		}
		return f
	}
	status := r.responseHeader(&f)
	t.Outcome = protocols.OutcomeOK
	if f.TypeID == ServiceFault || isBad(status) {
		t.Outcome, t.ExceptionCode, t.HasException = protocols.OutcomeException, int64(status), true
	}
	switch f.TypeID {
	case ReadResponse:
		r.readResults(t)
	case WriteResponse:
		for n := r.count(4); n > 0 && !r.Failed(); n-- {
			if s := r.U32LE(); isBad(s) && t.Outcome == protocols.OutcomeOK {
				t.Outcome, t.ExceptionCode, t.HasException = protocols.OutcomeException, int64(s), true
			}
		}
	case CallResponse:
		for n := r.count(13); n > 0 && !r.Failed(); n-- {
			if s := r.U32LE(); isBad(s) && t.Outcome == protocols.OutcomeOK {
				t.Outcome, t.ExceptionCode, t.HasException = protocols.OutcomeException, int64(s), true
			}
			for m := r.count(4); m > 0 && !r.Failed(); m-- {
				r.U32LE()
			}
			for m := r.count(1); m > 0 && !r.Failed(); m-- {
				r.diagnosticInfo(0)
			}
			for m := r.count(1); m > 0 && !r.Failed(); m-- {
				r.variant(0, nil)
			}
		}
	case GetEndpointsResponse:
		r.endpointDescriptions(t)
	case FindServersResponse:
		if r.count(20) > 0 {
			r.applicationDescription(t, "")
		}
	case CreateSessionResponse:
		sid, tok := r.nodeID(false), r.nodeID(false)
		if !r.Failed() {
			f.SessionID, f.NewAuthToken = r.text(sid), r.text(tok)
			attr(t, "session_id", f.SessionID)
		}
		r.f64()   // revised session timeout
		r.bytes() // server nonce
		r.bytes() // server certificate
		r.endpointDescriptions(t)
	case OpenSecureChannelResponse:
		r.U32LE() // server protocol version
		f.ChannelID, f.TokenID = r.U32LE(), r.U32LE()
		if !r.Failed() {
			attr(t, "secure_channel_id", r.number(uint64(f.ChannelID)))
			attr(t, "token_id", r.number(uint64(f.TokenID)))
		}
	}
	if r.Failed() {
		t.AddAnomaly("opcua.malformed")
	}
	return f
}

// readResults reads the DataValues of a ReadResponse, keeping BuildInfo:
// a String read from one of the Server_ServerStatus_BuildInfo_* nodes (the
// request's targets say which), or a BuildInfo / ServerStatusDataType
// structure wherever it appears.
func (r *reader) readResults(t *protocols.Transaction) {
	n := r.count(1)
	for i := 0; i < n && !r.Failed(); i++ {
		ext, body, s, isString := r.dataValueScalar()
		if r.Failed() {
			return
		}
		if isString && t.RequestFrame != 0 && i < len(t.Targets) {
			if id, ok := numericTarget(t.Targets[i].ID); ok {
				if key, ok := buildInfoNodes[id]; ok && len(s) > 0 {
					attr(t, key, printable(s))
				}
			}
		}
		if id, ok := ext.Numeric0(); ok && body != nil {
			sub := newReader(body, nil)
			switch id {
			case serverStatusEncoding:
				sub.U64LE() // start time
				sub.U64LE() // current time
				sub.U32LE() // state
				sub.buildInfo(t)
			case buildInfoEncoding:
				sub.buildInfo(t)
			}
		}
	}
}

func (r *reader) buildInfo(t *protocols.Transaction) {
	uri, manufacturer, product, version, build := r.str(), r.str(), r.str(), r.str(), r.str()
	if r.Failed() {
		return
	}
	for _, kv := range [...][2]string{{"product_uri", uri}, {"manufacturer_name", manufacturer},
		{"product_name", product}, {"software_version", version}, {"build_number", build}} {
		if kv[1] != "" {
			attr(t, kv[0], kv[1])
		}
	}
}

// numericTarget parses "i=N" (a namespace-0 numeric NodeId).
func numericTarget(s string) (uint32, bool) {
	if len(s) < 3 || s[:2] != "i=" {
		return 0, false
	}
	v, err := strconv.ParseUint(s[2:], 10, 32)
	return uint32(v), err == nil
}

// number is a numeric Value as a float.
func number(v protocols.Value) float64 {
	if v.Kind == protocols.ValueFloat {
		return v.F
	}
	return float64(v.Int)
}
