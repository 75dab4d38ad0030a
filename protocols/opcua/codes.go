package opcua

import "github.com/otwatch/otwatch/protocols"

// Binary-encoding NodeIds (namespace 0) of the services we name: the numeric
// `code` of a transaction (OPC 10000-6 §5.2.2.15 sends a message's type as the
// NodeId of its DefaultBinary encoding).
const (
	FindServersRequest        = 422
	GetEndpointsRequest       = 428
	OpenSecureChannelRequest  = 446
	CloseSecureChannelRequest = 452
	CreateSessionRequest      = 461
	ActivateSessionRequest    = 467
	CloseSessionRequest       = 473
	AddNodesRequest           = 488
	AddReferencesRequest      = 494
	DeleteNodesRequest        = 500
	DeleteReferencesRequest   = 506
	BrowseRequest             = 527
	ReadRequest               = 631
	ReadResponse              = 634
	HistoryReadRequest        = 664
	WriteRequest              = 673
	WriteResponse             = 676
	HistoryUpdateRequest      = 700
	CallRequest               = 712
	CallResponse              = 715
	CreateMonitoredItems      = 751
	ServiceFault              = 397

	OpenSecureChannelResponse = 449
	CreateSessionResponse     = 464
	GetEndpointsResponse      = 431
	FindServersResponse       = 425
)

type serviceInfo struct {
	name     string // snake_case, without the _request suffix
	response int    // NodeId of the response encoding
	op       protocols.Op
}

// services maps each request encoding NodeId to its name, response and op.
var services = map[int]serviceInfo{
	422:   {"find_servers", 425, protocols.OpDiscovery},
	12208: {"find_servers_on_network", 12209, protocols.OpDiscovery},
	428:   {"get_endpoints", 431, protocols.OpDiscovery},
	437:   {"register_server", 440, protocols.OpOther},
	12211: {"register_server2", 12212, protocols.OpOther},
	446:   {"open_secure_channel", 449, protocols.OpSession},
	452:   {"close_secure_channel", 455, protocols.OpSession},
	461:   {"create_session", 464, protocols.OpSession},
	467:   {"activate_session", 470, protocols.OpSession},
	473:   {"close_session", 476, protocols.OpSession},
	479:   {"cancel", 482, protocols.OpSession},
	488:   {"add_nodes", 491, protocols.OpWrite},
	494:   {"add_references", 497, protocols.OpWrite},
	500:   {"delete_nodes", 503, protocols.OpWrite},
	506:   {"delete_references", 509, protocols.OpWrite},
	527:   {"browse", 530, protocols.OpDiscovery},
	533:   {"browse_next", 536, protocols.OpDiscovery},
	554:   {"translate_browse_paths_to_node_ids", 557, protocols.OpDiscovery},
	560:   {"register_nodes", 563, protocols.OpOther},
	566:   {"unregister_nodes", 569, protocols.OpOther},
	615:   {"query_first", 618, protocols.OpRead},
	621:   {"query_next", 624, protocols.OpRead},
	631:   {"read", 634, protocols.OpRead},
	664:   {"history_read", 667, protocols.OpRead},
	673:   {"write", 676, protocols.OpWrite},
	700:   {"history_update", 703, protocols.OpWrite},
	712:   {"call", 715, protocols.OpControl},
	751:   {"create_monitored_items", 754, protocols.OpRead},
	763:   {"modify_monitored_items", 766, protocols.OpSession},
	769:   {"set_monitoring_mode", 772, protocols.OpSession},
	775:   {"set_triggering", 778, protocols.OpSession},
	781:   {"delete_monitored_items", 784, protocols.OpSession},
	787:   {"create_subscription", 790, protocols.OpSession},
	793:   {"modify_subscription", 796, protocols.OpSession},
	799:   {"set_publishing_mode", 802, protocols.OpSession},
	826:   {"publish", 829, protocols.OpSession},
	832:   {"republish", 835, protocols.OpSession},
	841:   {"transfer_subscriptions", 844, protocols.OpSession},
	847:   {"delete_subscriptions", 850, protocols.OpSession},
	410:   {"test_stack", 413, protocols.OpDiagnostic},
	416:   {"test_stack_ex", 419, protocols.OpDiagnostic},
}

// requestOf maps a response encoding NodeId to its request's.
var requestOf = func() map[int]int {
	m := make(map[int]int, len(services))
	for req, s := range services {
		m[s.response] = req
	}
	return m
}()

// encoding describes one encoding NodeId the dissector names: a request's,
// a response's or ServiceFault's.
type encoding struct {
	name     string // "read_request", "read_response", "service_fault"
	request  bool
	response bool         // a response or ServiceFault
	op       protocols.Op // a request's; OpOther for the others
}

// lowEncodings holds the encodings of NodeIds below 1024, where all but
// four of the services lie, indexed by NodeId; highEncodings the others.
// Each message asks several times what its type is (request or response,
// its name, its op): an array index rather than map lookups.
var lowEncodings, highEncodings = func() (low *[1024]*encoding, high map[int]*encoding) {
	low, high = new([1024]*encoding), map[int]*encoding{}
	set := func(id int, e *encoding) {
		if id < len(low) {
			low[id] = e
		} else {
			high[id] = e
		}
	}
	set(ServiceFault, &encoding{name: "service_fault", response: true, op: protocols.OpOther})
	for _, s := range services {
		set(s.response, &encoding{name: s.name + "_response", response: true, op: protocols.OpOther})
	}
	for req, s := range services { // a request's name wins
		set(req, &encoding{name: s.name + "_request", request: true, op: s.op})
	}
	return low, high
}()

// encodingOf describes the encoding NodeId id, nil for one not named.
func encodingOf(id int) *encoding {
	if uint(id) < uint(len(lowEncodings)) {
		return lowEncodings[id]
	}
	return highEncodings[id]
}

// IsRequest reports whether id is the encoding NodeId of a service request.
func IsRequest(id int) bool {
	e := encodingOf(id)
	return e != nil && e.request
}

// IsResponse reports whether id is a service response (or ServiceFault).
func IsResponse(id int) bool {
	e := encodingOf(id)
	return e != nil && e.response
}

// ServiceName names a request or response encoding NodeId
// ("write_request", "read_response", "service_fault", "unknown").
func ServiceName(id int) string {
	if e := encodingOf(id); e != nil {
		return e.name
	}
	return "unknown"
}

// setService fills code, name and op of a transaction from an encoding NodeId.
func setService(t *protocols.Transaction, id int) {
	t.Proto = "opcua"
	t.Code = id
	t.CodeName, t.Op = "unknown", protocols.OpOther
	if e := encodingOf(id); e != nil {
		t.CodeName, t.Op = e.name, e.op
	}
}

// Message types of the UA Connection Protocol and UA Secure Conversation.
const (
	typeHEL = iota + 1
	typeACK
	typeERR
	typeRHE
	typeOPN
	typeMSG
	typeCLO
)

// Security modes (MessageSecurityMode).
const (
	modeInvalid        = 0
	modeNone           = 1
	modeSign           = 2
	modeSignAndEncrypt = 3
)

var securityModeNames = [...]string{"invalid", "none", "sign", "sign_and_encrypt"}

// policyNone is the URI of SecurityPolicy None.
const policyNone = "http://opcfoundation.org/UA/SecurityPolicy#None"

// Nodes of Server_ServerStatus_BuildInfo and the encodings that carry it.
var buildInfoNodes = map[uint32]string{
	2261: "product_name",
	2262: "product_uri",
	2263: "manufacturer_name",
	2264: "software_version",
	2265: "build_number",
}

const (
	buildInfoEncoding      = 340 // BuildInfo_Encoding_DefaultBinary
	serverStatusEncoding   = 864 // ServerStatusDataType_Encoding_DefaultBinary
	userNameTokenEncoding  = 324 // UserNameIdentityToken_Encoding_DefaultBinary
	anonymousTokenEncoding = 321
	x509TokenEncoding      = 327
	issuedTokenEncoding    = 940
)

// attributeValue is the AttributeId of a node's Value.
const attributeValue = 13
