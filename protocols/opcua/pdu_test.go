package opcua

import (
	"encoding/binary"
	"reflect"
	"testing"
	"unsafe"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
)

// hx turns commented hex (one field per line, "// ..." comments) into bytes.
func hx(t testing.TB, s string) []byte { return testkit.Hex(t, s) }

// requestHeader is a RequestHeader with handle 42 and no session.
const requestHeader = `
00 00                   // AuthenticationToken: two-byte NodeId i=0
00 00 00 00 00 00 00 00 // Timestamp
2a 00 00 00             // RequestHandle 42
00 00 00 00             // ReturnDiagnostics
ff ff ff ff             // AuditEntryId: null
10 27 00 00             // TimeoutHint 10000
00 00 00                // AdditionalHeader: ExtensionObject i=0, no body
`

// endpointS1 is an EndpointDescription of server "urn" ("p", "S1"),
// security None with policy "#Non", no user tokens.
const endpointS1 = `
04 00 00 00 6f 70 63 2e // EndpointUrl "opc."
03 00 00 00 75 72 6e    // Server.ApplicationUri "urn"
01 00 00 00 70          // Server.ProductUri "p"
02 02 00 00 00 53 31    // Server.ApplicationName: text "S1"
00 00 00 00             // ApplicationType Server
ff ff ff ff ff ff ff ff ff ff ff ff // GatewayServerUri, DiscoveryProfileUri, DiscoveryUrls
ff ff ff ff             // ServerCertificate
01 00 00 00             // SecurityMode None
04 00 00 00 23 4e 6f 6e // SecurityPolicyUri "#Non"
00 00 00 00             // UserIdentityTokens: 0
ff ff ff ff 00          // TransportProfileUri, SecurityLevel
`

// responseHeader is a Good ResponseHeader with handle 42.
const responseHeader = `
00 00 00 00 00 00 00 00 // Timestamp
2a 00 00 00             // RequestHandle 42
00 00 00 00             // ServiceResult Good
00                      // ServiceDiagnostics: empty DiagnosticInfo
ff ff ff ff             // StringTable: null array
00 00 00                // AdditionalHeader
`

type want struct {
	code     int
	name     string
	op       protocols.Op
	targets  []string
	values   []protocols.Value
	outcome  protocols.Outcome
	exc      int64
	attrs    map[string]string
	anomaly  string // one anomaly that must be present ("" none at all)
	typeID   int
	endpoint string
}

func check(t *testing.T, tx *protocols.Transaction, f Facts, w want) {
	t.Helper()
	if tx.Code != w.code || tx.CodeName != w.name || tx.Op != w.op {
		t.Errorf("code %d %q op %v, want %d %q %v", tx.Code, tx.CodeName, tx.Op, w.code, w.name, w.op)
	}
	var ids []string
	for _, tg := range tx.Targets {
		if tg.Space != "node" {
			t.Errorf("target space %q", tg.Space)
		}
		ids = append(ids, tg.ID)
	}
	if !reflect.DeepEqual(ids, w.targets) {
		t.Errorf("targets %q, want %q", ids, w.targets)
	}
	if !reflect.DeepEqual(tx.Values, w.values) {
		t.Errorf("values %+v, want %+v", tx.Values, w.values)
	}
	if tx.Outcome != w.outcome || (w.outcome == protocols.OutcomeException && tx.ExceptionCode != w.exc) {
		t.Errorf("outcome %v %#x, want %v %#x", tx.Outcome, tx.ExceptionCode, w.outcome, w.exc)
	}
	for k, v := range w.attrs {
		if got := tx.Attr(k); got != v {
			t.Errorf("attr %s = %q, want %q", k, got, v)
		}
	}
	CheckIdentity(t, tx)
	switch {
	case w.anomaly == "" && len(tx.Anomalies) > 0:
		t.Errorf("anomalies %v, want none", tx.Anomalies)
	case w.anomaly != "" && !contains(tx.Anomalies, w.anomaly):
		t.Errorf("anomalies %v, want %s", tx.Anomalies, w.anomaly)
	}
	if w.typeID != 0 && f.TypeID != w.typeID {
		t.Errorf("type id %d, want %d", f.TypeID, w.typeID)
	}
	if f.EndpointURL != w.endpoint {
		t.Errorf("endpoint %q, want %q", f.EndpointURL, w.endpoint)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var requestCases = []struct {
	name string
	hex  string
	want want
}{
	{"read: string, two-byte and guid NodeIds", `
01 00 77 02             // TypeId: four-byte NodeId i=631 ReadRequest
` + requestHeader + `
00 00 00 00 00 00 00 00 // MaxAge 0
00 00 00 00             // TimestampsToReturn Source
03 00 00 00             // NodesToRead: 3
03 02 00 05 00 00 00 54 61 6e 6b 31 // [0] NodeId: string, ns=2, "Tank1"
0d 00 00 00             //     AttributeId 13 (Value)
ff ff ff ff             //     IndexRange null
00 00 ff ff ff ff       //     DataEncoding: QualifiedName ns 0, null name
00 55                   // [1] NodeId: two-byte i=85
0d 00 00 00 ff ff ff ff 00 00 ff ff ff ff
04 01 00                // [2] NodeId: guid, ns=1
91 2b 96 72 75 fa e6 4a 8d 28 b4 04 dc 7d af 63 //     72962b91-fa75-4ae6-8d28-b404dc7daf63
0d 00 00 00 ff ff ff ff 00 00 ff ff ff ff
`, want{code: 631, name: "read_request", op: protocols.OpRead, typeID: 631,
		targets: []string{"ns=2;s=Tank1", "i=85", "ns=1;g=72962b91-fa75-4ae6-8d28-b404dc7daf63"}}},
	{"write: double, bool, int32 array, string", `
01 00 a1 02             // TypeId i=673 WriteRequest
` + requestHeader + `
04 00 00 00             // NodesToWrite: 4
02 03 00 e9 03 00 00    // [0] NodeId: numeric ns=3 i=1001
0d 00 00 00 ff ff ff ff //     AttributeId Value, IndexRange null
01                      //     DataValue mask: Value
0b 00 00 00 00 00 00 f8 3f //   Variant Double 1.5
01 02 e8 03             // [1] NodeId: four-byte ns=2 i=1000
0d 00 00 00 ff ff ff ff
01 01 01                //     DataValue: Variant Boolean true
05 04 00 03 00 00 00 01 02 03 // [2] NodeId: opaque ns=4 0x010203
0d 00 00 00 ff ff ff ff
03                      //     DataValue mask: Value + StatusCode
86 02 00 00 00 07 00 00 00 f8 ff ff ff // Variant Int32[2] {7, -8}
00 00 00 00             //     StatusCode Good
03 02 00 05 00 00 00 54 61 6e 6b 31 // [3] NodeId ns=2;s=Tank1
0d 00 00 00 ff ff ff ff
01 0c 02 00 00 00 6f 6e //     DataValue: Variant String "on"
`, want{code: 673, name: "write_request", op: protocols.OpWrite, typeID: 673,
		targets: []string{"ns=3;i=1001", "ns=2;i=1000", "ns=4;b=AQID", "ns=2;s=Tank1"},
		values: []protocols.Value{protocols.FloatValue(1.5), protocols.BoolValue(true), protocols.IntValue(7),
			protocols.IntValue(-8), protocols.StringValue("on")}}},
	{"write to a non-value attribute", `
01 00 a1 02 ` + requestHeader + `
01 00 00 00             // NodesToWrite: 1
00 55                   // NodeId i=85
04 00 00 00 ff ff ff ff // AttributeId 4 (DisplayName)
01 15 02 03 00 00 00 61 62 63 // DataValue: LocalizedText, text "abc"
`, want{code: 673, name: "write_request", op: protocols.OpWrite, targets: []string{"i=85"},
		values: []protocols.Value{protocols.StringValue("abc")}, attrs: map[string]string{"attribute_id": "4"}}},
	{"call: object, method, string argument", `
01 00 c8 02             // TypeId i=712 CallRequest
` + requestHeader + `
01 00 00 00             // MethodsToCall: 1
00 55                   // ObjectId i=85
01 01 4d f4             // MethodId ns=1;i=62541
01 00 00 00             // InputArguments: 1
0c 0c 00 00 00 48 65 6c 6c 6f 20 53 65 72 76 65 72 // Variant String "Hello Server"
`, want{code: 712, name: "call_request", op: protocols.OpControl, targets: []string{"i=85", "ns=1;i=62541"},
		values: []protocols.Value{protocols.StringValue("Hello Server")}}},
	{"browse", `
01 00 0f 02             // TypeId i=527 BrowseRequest
` + requestHeader + `
00 00 00 00 00 00 00 00 00 00 00 00 00 00 // View: i=0, timestamp, version
00 00 00 00             // RequestedMaxReferencesPerNode
01 00 00 00             // NodesToBrowse: 1
00 55                   // NodeId i=85
00 00 00 00             // BrowseDirection Forward
00 21                   // ReferenceTypeId i=33
01                      // IncludeSubtypes
00 00 00 00 3f 00 00 00 // NodeClassMask, ResultMask
`, want{code: 527, name: "browse_request", op: protocols.OpDiscovery, targets: []string{"i=85"}}},
	{"get endpoints", `
01 00 ac 01             // TypeId i=428 GetEndpointsRequest
` + requestHeader + `
18 00 00 00 6f 70 63 2e 74 63 70 3a 2f 2f 6c 6f 63 61 6c 68 6f 73 74 3a 34 38 34 30 // EndpointUrl "opc.tcp://localhost:4840"
ff ff ff ff ff ff ff ff // LocaleIds, ProfileUris: null
`, want{code: 428, name: "get_endpoints_request", op: protocols.OpDiscovery, endpoint: "opc.tcp://localhost:4840"}},
	{"open secure channel, mode None", `
01 00 be 01             // TypeId i=446 OpenSecureChannelRequest
` + requestHeader + `
00 00 00 00             // ClientProtocolVersion
00 00 00 00             // RequestType Issue
01 00 00 00             // SecurityMode None
00 00 00 00             // ClientNonce: empty
80 ee 36 00             // RequestedLifetime
`, want{code: 446, name: "open_secure_channel_request", op: protocols.OpSession,
		attrs: map[string]string{"security_mode": "none", "request_type": "issue"}}},
	{"unknown service", `
01 00 39 30             // TypeId i=12345
`, want{code: 12345, name: "unknown", op: protocols.OpOther, anomaly: "opcua.unknown_service"}},
	{"array count larger than the message", `
01 00 77 02 ` + requestHeader + `
00 00 00 00 00 00 00 00 00 00 00 00
ff ff ff 7f             // NodesToRead: 2147483647 claimed
00 55
`, want{code: 631, name: "read_request", op: protocols.OpRead, anomaly: "opcua.malformed"}},
	{"truncated in the request header", `
01 00 77 02 00 00 00 00 // TypeId, token, 2 bytes of timestamp
`, want{code: 631, name: "read_request", op: protocols.OpRead, anomaly: "opcua.malformed"}},
	{"string length past the end", `
01 00 a1 02 ` + requestHeader + `
01 00 00 00
03 02 00 ff 00 00 00 41 // NodeId string claiming 255 bytes
`, want{code: 673, name: "write_request", op: protocols.OpWrite, anomaly: "opcua.malformed"}},
	{"deeply nested variant", `
01 00 a1 02 ` + requestHeader + `
01 00 00 00 00 55 0d 00 00 00 ff ff ff ff
01 18 18 18 18 18 18 18 18 18 18 18 18 18 // Variant of Variant of ...
`, want{code: 673, name: "write_request", op: protocols.OpWrite, targets: []string{"i=85"}, anomaly: "opcua.malformed"}},
}

func TestDecodeRequest(t *testing.T) {
	for _, c := range requestCases {
		t.Run(c.name, func(t *testing.T) {
			var tx protocols.Transaction
			f := DecodeRequest(hx(t, c.hex), &tx)
			check(t, &tx, f, c.want)
		})
	}
}

var responseCases = []struct {
	name     string
	hex      string
	request  int // code of the paired request, 0: unmatched
	reqNodes []string
	want     want
}{
	{"service fault answering a write", `
01 00 8d 01             // TypeId i=397 ServiceFault
00 00 00 00 00 00 00 00 // Timestamp
2a 00 00 00             // RequestHandle
00 00 34 80             // ServiceResult 0x80340000 BadNodeIdUnknown
00 ff ff ff ff 00 00 00 // diagnostics, string table, additional header
`, 673, nil, want{code: 673, name: "write_request", op: protocols.OpWrite, outcome: protocols.OutcomeException, exc: 0x80340000}},
	{"unmatched read response takes the request code", `
01 00 7a 02             // TypeId i=634 ReadResponse
` + responseHeader + `
01 00 00 00             // Results: 1
01 06 07 00 00 00       // DataValue: Int32 7
ff ff ff ff             // DiagnosticInfos: null
`, 0, nil, want{code: 631, name: "read_request", op: protocols.OpRead}},
	{"unmatched service fault keeps 397", `
01 00 8d 01 00 00 00 00 00 00 00 00 2a 00 00 00
00 00 0e 80             // ServiceResult 0x800e0000 BadServiceUnsupported... (any Bad)
00 ff ff ff ff 00 00 00
`, 0, nil, want{code: 397, name: "service_fault", op: protocols.OpOther, outcome: protocols.OutcomeException, exc: 0x800e0000}},
	{"write response with a Bad result", `
01 00 a4 02             // TypeId i=676 WriteResponse
` + responseHeader + `
02 00 00 00             // Results: 2
00 00 00 00             // Good
00 00 3b 80             // 0x803b0000 BadNotWritable
ff ff ff ff
`, 673, nil, want{code: 673, name: "write_request", op: protocols.OpWrite, outcome: protocols.OutcomeException, exc: 0x803b0000}},
	{"read of ServerStatus yields BuildInfo", `
01 00 7a 02 ` + responseHeader + `
01 00 00 00             // Results: 1
01 16                   // DataValue: Variant ExtensionObject
01 00 60 03             // TypeId i=864 ServerStatusDataType binary
01 6f 00 00 00          // binary body, 111 bytes
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 // StartTime, CurrentTime, State
0d 00 00 00 75 72 6e 3a 6f 70 65 6e 36 32 35 34 31 // ProductUri
09 00 00 00 6f 70 65 6e 36 32 35 34 31             // ManufacturerName
17 00 00 00 6f 70 65 6e 36 32 35 34 31 20 4f 50 43 20 55 41 20 53 65 72 76 65 72 // ProductName
05 00 00 00 31 2e 30 2e 31                         // SoftwareVersion
08 00 00 00 64 65 61 64 62 65 65 66                // BuildNumber
00 00 00 00 00 00 00 00 00 00 00 00 00             // BuildDate, SecondsTillShutdown, ShutdownReason
ff ff ff ff
`, 631, []string{"i=2256"}, want{code: 631, name: "read_request", op: protocols.OpRead, targets: []string{"i=2256"}, attrs: map[string]string{
		"product_uri": "urn:open62541", "manufacturer_name": "open62541", "product_name": "open62541 OPC UA Server",
		"software_version": "1.0.1", "build_number": "deadbeef"}}},
	{"read of BuildInfo child nodes", `
01 00 7a 02 ` + responseHeader + `
02 00 00 00
01 0c 05 00 00 00 31 2e 32 2e 33 // SoftwareVersion node: "1.2.3"
01 0c 03 00 00 00 41 43 4d       // ManufacturerName node: "ACM"
ff ff ff ff
`, 631, []string{"i=2264", "i=2263"}, want{code: 631, name: "read_request", op: protocols.OpRead,
		targets: []string{"i=2264", "i=2263"},
		attrs:   map[string]string{"software_version": "1.2.3", "manufacturer_name": "ACM"}}},
	{"get endpoints response identity", `
01 00 af 01             // TypeId i=431 GetEndpointsResponse
` + responseHeader + `
01 00 00 00             // Endpoints: 1
` + endpointS1, 428, nil, want{code: 428, name: "get_endpoints_request", op: protocols.OpDiscovery, attrs: map[string]string{
		"application_uri": "urn", "product_uri": "p", "application_name": "S1", "application_type": "server",
		"endpoint_security": "none:Non"}}},
	{"get endpoints response, three endpoints", `
01 00 af 01             // TypeId i=431 GetEndpointsResponse
` + responseHeader + `
03 00 00 00             // Endpoints: 3
` + endpointS1 + `
04 00 00 00 6f 70 63 2e // EndpointUrl "opc."
03 00 00 00 78 78 78    // Server.ApplicationUri "xxx": only the first endpoint's describes the server
01 00 00 00 71          // Server.ProductUri "q"
02 02 00 00 00 53 32    // Server.ApplicationName: text "S2"
00 00 00 00             // ApplicationType Server
ff ff ff ff ff ff ff ff 01 00 00 00 01 00 00 00 64 // GatewayServerUri, DiscoveryProfileUri, DiscoveryUrls ["d"]
03 00 00 00 01 02 03    // ServerCertificate (3 bytes)
01 00 00 00             // SecurityMode None
03 00 00 00 23 4e 6f    // SecurityPolicyUri "#No": "none:No" is a prefix of "none:Non", listed on its own
01 00 00 00             // UserIdentityTokens: 1
ff ff ff ff 00 00 00 00 ff ff ff ff ff ff ff ff ff ff ff ff
ff ff ff ff 00          // TransportProfileUri, SecurityLevel
04 00 00 00 6f 70 63 2e // EndpointUrl "opc."
03 00 00 00 7a 7a 7a    // Server.ApplicationUri "zzz"
01 00 00 00 72          // Server.ProductUri "r"
02 02 00 00 00 53 33    // Server.ApplicationName: text "S3"
00 00 00 00             // ApplicationType Server
ff ff ff ff ff ff ff ff ff ff ff ff // GatewayServerUri, DiscoveryProfileUri, DiscoveryUrls
ff ff ff ff             // ServerCertificate
01 00 00 00             // SecurityMode None
04 00 00 00 23 4e 6f 6e // SecurityPolicyUri "#Non": listed already
00 00 00 00             // UserIdentityTokens: 0
ff ff ff ff 00          // TransportProfileUri, SecurityLevel
`, 428, nil, want{code: 428, name: "get_endpoints_request", op: protocols.OpDiscovery, attrs: map[string]string{
		"application_uri": "urn", "product_uri": "p", "application_name": "S1", "application_type": "server",
		"endpoint_security": "none:Non,none:No", "endpoints": "3"}}},
	{"truncated response header", `
01 00 7a 02 00 00
`, 631, nil, want{code: 631, name: "read_request", op: protocols.OpRead, anomaly: "opcua.malformed"}},
}

func TestDecodeResponse(t *testing.T) {
	for _, c := range responseCases {
		t.Run(c.name, func(t *testing.T) {
			var tx protocols.Transaction
			if c.request != 0 {
				tx.RequestFrame = 1
				setService(&tx, c.request)
				for _, id := range c.reqNodes {
					tx.Targets = append(tx.Targets, protocols.Target{Space: "node", ID: id})
				}
			}
			f := DecodeResponse(hx(t, c.hex), &tx)
			check(t, &tx, f, c.want)
		})
	}
}

func TestParseHeaderAndTransport(t *testing.T) {
	hel := hx(t, `
48 45 4c 46             // "HEL" F
38 00 00 00             // MessageSize 56
00 00 00 00             // ProtocolVersion 0
ff ff 00 00 ff ff 00 00 // ReceiveBufferSize, SendBufferSize 65535
00 00 00 00 00 00 00 00 // MaxMessageSize, MaxChunkCount 0 (no limit)
18 00 00 00 6f 70 63 2e 74 63 70 3a 2f 2f 6c 6f 63 61 6c 68 6f 73 74 3a 34 38 34 30 // "opc.tcp://localhost:4840"
`)
	h, ok := ParseHeader(hel)
	if !ok || !h.Valid() || h.Type != typeHEL || h.Size != 56 || int(h.Size) != len(hel) {
		t.Fatalf("header %+v ok=%v", h, ok)
	}
	hello, ok := DecodeTransport(h.Type, hel[HeaderLen:])
	if !ok || hello.EndpointURL != "opc.tcp://localhost:4840" || hello.ReceiveBuffer != 65535 {
		t.Fatalf("hello %+v ok=%v", hello, ok)
	}
	for _, c := range []struct {
		name  string
		hex   string
		valid bool
	}{
		{"msg final", "4d 53 47 46 18 00 00 00", true},
		{"msg intermediate", "4d 53 47 43 18 00 00 00", true},
		{"msg abort", "4d 53 47 41 18 00 00 00", true},
		{"hel may not be intermediate", "48 45 4c 43 38 00 00 00", false},
		{"bad chunk type", "4d 53 47 58 18 00 00 00", false},
		{"too small for a MSG", "4d 53 47 46 10 00 00 00", false},
		{"too large", "4d 53 47 46 00 00 00 10", false},
		{"unknown type", "47 45 54 20 2f 20 48 54", false},
	} {
		h, _ := ParseHeader(hx(t, c.hex))
		if h.Valid() != c.valid {
			t.Errorf("%s: valid=%v", c.name, h.Valid())
		}
	}
	if _, ok := ParseHeader([]byte("MSGF")); ok {
		t.Error("short header accepted")
	}
}

func TestNodeIDForms(t *testing.T) {
	for _, c := range []struct {
		hex      string
		expanded bool
		want     string
		bad      bool
	}{
		{"00 55", false, "i=85", false},
		{"01 02 e8 03", false, "ns=2;i=1000", false},
		{"02 03 00 e9 03 00 00", false, "ns=3;i=1001", false},
		{"03 02 00 05 00 00 00 54 61 6e 6b 31", false, "ns=2;s=Tank1", false},
		{"05 04 00 03 00 00 00 01 02 03", false, "ns=4;b=AQID", false},
		{"80 55 03 00 00 00 75 72 6e", true, "nsu=urn;i=85", false},
		{"40 55 02 00 00 00", true, "i=85;svr=2", false},
		{"40 55 02 00 00 00", false, "", true}, // flags in a plain NodeId
		{"06 00", false, "", true},             // unknown encoding
		{"03 02 00", false, "", true},          // truncated
	} {
		r := newReader(hx(t, c.hex), nil)
		n := r.nodeID(c.expanded)
		if r.Failed() != c.bad || (!c.bad && n.String() != c.want) {
			t.Errorf("%s: %q bad=%v, want %q bad=%v", c.hex, n.String(), r.Failed(), c.want, c.bad)
		}
	}
}

func benchBody(b *testing.B, s string, decode func([]byte, *protocols.Transaction) Facts) {
	body := hx(b, s)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		var tx protocols.Transaction
		decode(body, &tx)
	}
}

func BenchmarkDecodeRead(b *testing.B)  { benchBody(b, requestCases[0].hex, DecodeRequest) }
func BenchmarkDecodeWrite(b *testing.B) { benchBody(b, requestCases[1].hex, DecodeRequest) }
func BenchmarkDecodeCall(b *testing.B)  { benchBody(b, requestCases[3].hex, DecodeRequest) }
func BenchmarkDecodeBrowse(b *testing.B) {
	benchBody(b, requestCases[4].hex, DecodeRequest)
}
func BenchmarkDecodeServiceFault(b *testing.B) { benchBody(b, responseCases[0].hex, DecodeResponse) }
func BenchmarkDecodeReadResponse(b *testing.B) { benchBody(b, responseCases[4].hex, DecodeResponse) }
func BenchmarkDecodeGetEndpointsResponse(b *testing.B) {
	benchBody(b, responseCases[6].hex, DecodeResponse)
}
func BenchmarkParseHeader(b *testing.B) {
	msg := hx(b, "4d 53 47 46 18 00 00 00")
	for i := 0; i < b.N; i++ {
		h, _ := ParseHeader(msg)
		if !h.Valid() {
			b.Fatal("invalid")
		}
	}
}

// TestHostileApplicationName: a server's application name reaches the
// inventory with controls, bidi overrides, separators and bad bytes escaped.
func TestHostileApplicationName(t *testing.T) {
	var tx protocols.Transaction
	tx.RequestFrame = 1
	setService(&tx, 428)
	DecodeResponse(hx(t, `01 00 af 01 `+responseHeader+`
01 00 00 00 04 00 00 00 6f 70 63 2e 03 00 00 00 75 72 6e 01 00 00 00 70
02 1c 00 00 00 `+testkit.HostileHex+`
00 00 00 00 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 01 00 00 00
04 00 00 00 23 4e 6f 6e 00 00 00 00 ff ff ff ff 00`), &tx)
	if got := tx.Attr("application_name"); got != testkit.HostileShown {
		t.Errorf("application_name = %q, want %q", got, testkit.HostileShown)
	}
}

// TestServiceTypeReadsInPlaceAsTheReaderDoes: the in-place forms of
// ServiceType give what decoding the NodeId gives, for every encoding byte
// and namespace, and short bodies stay malformed.
func TestServiceTypeReadsInPlaceAsTheReaderDoes(t *testing.T) {
	for enc := range 256 {
		for _, ns := range []byte{0, 1, 0xff} {
			for _, body := range [][]byte{
				{byte(enc), ns, 0xa7, 0x02, 0x00, 0x00, 0x00, 0x00},
				{byte(enc), ns, 0xa7},
				{byte(enc), ns},
				{byte(enc)},
			} {
				id, ok := ServiceType(body)
				wid, wok := readServiceType(body)
				if id != wid || ok != wok {
					t.Errorf("% x: %d %v, the reader gives %d %v", body, id, ok, wid, wok)
				}
			}
		}
	}
	if id, ok := ServiceType([]byte{0x01, 0x00, 0x77, 0x02}); id != 631 || !ok {
		t.Errorf("four-byte ReadRequest: %d %v", id, ok)
	}
}

// TestSecureHeaderPolicyNoneIsTheConstant: an OPN's None policy comes back
// as the constant itself (every chunk of its channel compares with it, at
// once when both are one pointer); another policy comes back as sent.
func TestSecureHeaderPolicyNoneIsTheConstant(t *testing.T) {
	opn := func(uri string) SecureHeader {
		b := []byte("OPNF\x00\x00\x00\x00")                       // type, chunk, size (set below)
		b = binary.LittleEndian.AppendUint32(b, 7)                // channel
		b = binary.LittleEndian.AppendUint32(b, uint32(len(uri))) // policy URI
		b = append(b, uri...)
		b = binary.LittleEndian.AppendUint32(b, 0xFFFFFFFF) // no sender certificate
		b = binary.LittleEndian.AppendUint32(b, 0xFFFFFFFF) // no thumbprint
		b = append(b, 1, 0, 0, 0, 2, 0, 0, 0)               // sequence number, request id
		binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
		h, ok := ParseHeader(b)
		if !ok {
			t.Fatal("header not read")
		}
		sh, ok := ParseSecureHeader(h, b)
		if !ok {
			t.Fatal("secure header not read")
		}
		return sh
	}
	none := opn(string([]byte(policyNone)))
	if none.PolicyURI != policyNone || unsafe.StringData(none.PolicyURI) != unsafe.StringData(policyNone) {
		t.Fatalf("None policy %q is not the constant", none.PolicyURI)
	}
	const basic = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
	if got := opn(basic).PolicyURI; got != basic {
		t.Fatalf("policy %q, want %q", got, basic)
	}
}

// TestSecureHeaderInPlaceAsTheReader: a MSG or CLO chunk's symmetric
// security header read in place gives what the reader gives, for every
// chunk length around the smallest readable one.
func TestSecureHeaderInPlaceAsTheReader(t *testing.T) {
	for _, typ := range []string{"MSG", "CLO"} {
		for n := 0; n <= 28; n++ {
			b := []byte(typ + "F\x00\x00\x00\x00")
			for i := len(b); i < n; i++ {
				b = append(b, byte(i*13))
			}
			b = b[:min(n, len(b))]
			h, ok := ParseHeader(append(b, make([]byte, max(0, 8-len(b)))...))
			if !ok {
				t.Fatalf("%s: header", typ)
			}
			got, gotOK := ParseSecureHeader(h, b)
			var want SecureHeader
			r := newReader(b[min(HeaderLen, len(b)):], nil)
			want.ChannelID, want.TokenID = r.U32LE(), r.U32LE()
			want.Len = len(b) - r.Len()
			wantOK := len(b) >= HeaderLen && !r.Failed() && r.Len() >= 8
			if gotOK != wantOK || (wantOK && got != want) {
				t.Fatalf("%s, %d octets: %+v %v, reader %+v %v", typ, n, got, gotOK, want, wantOK)
			}
		}
	}
}
