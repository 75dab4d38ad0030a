package enip

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pathCase is a padded EPATH and what parsePath makes of it.
type pathCase struct {
	name, path string // path: hex, one comment per segment
	want       Path   // without Symbol, which points into the scratch buffer
	symbol     string // the tag name; "" for a logical path
	// ok is false for a cut segment or one whose size cannot be known;
	// want is then the segments before it, which the record still shows.
	ok bool
}

// Paths from CIP Vol. 1 Appendix C.
func TestParsePath(t *testing.T) {
	for _, c := range []pathCase{
		{"class, instance, attribute", "20 01 | class 1\n 24 01 | instance 1\n 30 07 // attribute 7",
			Path{Class: 1, Instance: 1, Attribute: 7, HasClass: true, HasInstance: true, HasAttribute: true}, "", true},
		{"16-bit instance with pad", "20 68 | class 0x68\n 25 00 20 24 // instance 0x2420",
			Path{Class: 0x68, Instance: 0x2420, HasClass: true, HasInstance: true}, "", true},
		{"electronic key before the class", "34 04 01 00 0e 00 36 00 10 14 | key: vendor 1, type 14, product 54, rev 16.20\n 20 01 24 01",
			Path{Class: 1, Instance: 1, HasClass: true, HasInstance: true}, "", true},
		{"symbolic tag with an element", "91 05 54 61 6e 6b 31 00 | \"Tank1\", pad\n 28 03 // element 3",
			Path{}, "Tank1[3]", true},
		{"program-scoped tag", "91 13 50 72 6f 67 72 61 6d 3a 4d 61 69 6e 50 72 6f 67 72 61 6d 00 | Program:MainProgram\n 91 04 46 6c 6f 77 // Flow",
			Path{}, "Program:MainProgram.Flow", true},
		{"port segment (route)", "01 00 | port 1, slot 0\n 20 02 24 01", Path{Class: 2, Instance: 1, HasClass: true, HasInstance: true}, "", true},
		{"cut 16-bit segment", "21 00 06", Path{}, "", false},
		{"reserved segment type", "e0 00", Path{}, "", false},
		{"class, then a cut instance", "20 01 | class 1\n 25 00 20 // 16-bit instance: pad, one of its two bytes",
			Path{Class: 1, HasClass: true}, "", false},
	} {
		var scratch [64]byte
		p, ok := parsePath(hx(t, c.path), scratch[:])
		assert.Equal(t, c.ok, ok, c.name)
		assert.Equal(t, c.symbol, string(p.Symbol), c.name)
		p.Symbol = nil
		assert.Equal(t, c.want, p, c.name)
	}
}

func TestParseMessage(t *testing.T) {
	m, ok := parseMessage(hx(t, "0e 03 | Get_Attribute_Single, path 3 words\n 20 01 24 01 30 01"))
	require.True(t, ok)
	assert.Equal(t, serviceCode(0x0E), m.service)
	assert.False(t, m.response)
	assert.Len(t, m.path, 6)
	m, ok = parseMessage(hx(t, "8e 00 | reply\n 05 01 | path destination unknown, 1 word of extended status\n 00 00"))
	require.True(t, ok)
	assert.True(t, m.response)
	assert.Equal(t, byte(0x05), m.status)
	assert.Len(t, m.extended, 2)
	_, ok = parseMessage(hx(t, "0e 05 20 01"))
	assert.False(t, ok, "path longer than the message")
}

func TestServiceOps(t *testing.T) {
	for _, c := range []struct {
		service serviceCode
		path    Path
		name    string
		op      protocols.Op
	}{
		{0x05, Path{Class: classIdentity, HasClass: true}, "reset", protocols.OpRestart},
		{0x07, Path{Class: 0x8e, HasClass: true}, "stop", protocols.OpStop},
		{0x10, Path{Class: classTCPIP, HasClass: true}, "set_attribute_single", protocols.OpWrite},
		{0x54, Path{Class: classConnManager, HasClass: true}, "forward_open", protocols.OpSession},
		{0x4E, Path{Class: classConnManager, HasClass: true}, "forward_close", protocols.OpSession},
		{0x4E, Path{Symbol: []byte("Tank1")}, "read_modify_write_tag", protocols.OpWrite},
		{0x4D, Path{Symbol: []byte("Tank1")}, "write_tag", protocols.OpWrite},
		{0x4D, Path{Class: classNVS, HasClass: true}, "nvs_service_77", protocols.OpFirmwareUpdate},
		{0x02, Path{Class: classNVS, HasClass: true}, "set_attributes_all", protocols.OpFirmwareUpdate},
		{0x01, Path{Class: classNVS, HasClass: true}, "get_attributes_all", protocols.OpRead},
		{0x4B, Path{Class: 0x8e, HasClass: true}, "service_0x4b", protocols.OpOther},
	} {
		name, op := serviceOf(c.service, &c.path)
		assert.Equal(t, c.name, name)
		assert.Equal(t, c.op, op, c.name)
	}
}

func TestLogixWriteValues(t *testing.T) {
	r := newRecorder(protocols.TCP)
	s := newSession(&r.Env)
	req := hx(t, `4d 04 | Write Tag, 4 words of path
		91 05 54 61 6e 6b 31 00 | "Tank1"
		ca 00 02 00 | REAL, 2 elements
		00 00 48 42 00 00 20 c1 // 50.0, -10.0`)
	feed(t, s, protocols.ClientToServer, unitData(7, req), 1)
	feed(t, s, protocols.ServerToClient, unitData(7, hx(t, "cd 00 00 00")), 2)
	require.Len(t, r.Txs, 1)
	tx := r.Txs[0]
	assert.Equal(t, ProtoCIP, tx.Proto)
	assert.Equal(t, protocols.OpWrite, tx.Op)
	assert.False(t, tx.HasSubcode, "a symbolic path has no class")
	assert.Equal(t, []protocols.Target{{Space: "tag", ID: "Tank1"}}, tx.Targets)
	assert.Equal(t, []protocols.Value{protocols.FloatValue(50), protocols.FloatValue(-10)}, tx.Values)
	require.Len(t, tx.Points, 2)
	assert.Equal(t, protocols.FloatType(32), tx.Points[1].Type)
	assert.Equal(t, uint64(2), tx.ResponseFrame)
}

// An Unconnected Send gives two records: the envelope (code 0x52, class 6)
// and the embedded request, which gets the reply.
func TestUnconnectedSend(t *testing.T) {
	r := newRecorder(protocols.TCP)
	s := newSession(&r.Env)
	req := hx(t, `52 02 20 06 24 01 | Unconnected Send to the Connection Manager
		0a f0 | priority/tick, timeout ticks
		06 00 | embedded request: 6 bytes
		01 02 20 01 24 01 | Get_Attributes_All, Identity instance 1
		01 00 01 00 // route: 1 word, backplane port 1, slot 0`)
	feed(t, s, protocols.ClientToServer, rrData(0xfeed, req), 1)
	reply := hx(t, `81 00 00 00 | Get_Attributes_All reply, success
		01 00 0e 00 36 00 10 14 | vendor 1, PLC, product 54, revision 16.20
		60 30 | status
		5e 24 51 00 | serial 0x0051245e
		0a 31 37 35 36 2d 4c 36 31 2f 42 // "1756-L61/B"`)
	feed(t, s, protocols.ServerToClient, rrData(0xfeed, reply), 2)
	require.Len(t, r.Txs, 2)
	outer, inner := r.Txs[0], r.Txs[1]
	assert.Equal(t, int(svcUnconnectedSend), outer.Code)
	assert.Equal(t, int(classConnManager), outer.Subcode)
	assert.Zero(t, outer.ResponseFrame)
	assert.Equal(t, "1/0", outer.Unit)
	assert.Equal(t, int(svcGetAttributesAll), inner.Code)
	assert.Equal(t, int(classIdentity), inner.Subcode)
	assert.Equal(t, "1/0", inner.Unit)
	assert.Equal(t, uint64(2), inner.ResponseFrame)
	facts := Dissector.Identity(&inner)
	got := map[string]string{}
	for _, f := range facts {
		got[f.Field] = f.Value
	}
	assert.Equal(t, map[string]string{"vendor_id": "1", "vendor_name": "Rockwell Automation/Allen-Bradley",
		"device_type": "programmable_logic_controller", "product_code": "54", "firmware": "16.20",
		"serial": "0x0051245e", "product_name": "1756-L61/B"}, got)
}

// The router's own error reply to an Unconnected Send answers the envelope.
func TestUnconnectedSendError(t *testing.T) {
	r := newRecorder(protocols.TCP)
	s := newSession(&r.Env)
	req := hx(t, "52 02 20 06 24 01 0a f0 06 00 01 02 20 01 24 01 01 00 01 05")
	feed(t, s, protocols.ClientToServer, rrData(1, req), 1)
	feed(t, s, protocols.ServerToClient, rrData(1, hx(t, "d2 00 01 01 | Unconnected Send reply: connection failure\n 04 03 // extended status 0x0304")), 2)
	require.Len(t, r.Txs, 2)
	assert.Equal(t, protocols.OutcomeException, r.Txs[0].Outcome)
	assert.Equal(t, int64(1), r.Txs[0].ExceptionCode)
	assert.Equal(t, protocols.OutcomeNoResponse, r.Txs[1].Outcome)
}

// Multiple Service Packet members pair with the reply's members by position.
func TestMultipleServicePacket(t *testing.T) {
	r := newRecorder(protocols.TCP)
	s := newSession(&r.Env)
	req := hx(t, `0a 02 20 02 24 01 | MSP to the Message Router
		02 00 06 00 0c 00 | 2 services at offsets 6 and 12
		0e 02 20 01 24 01 | Get_Attribute_Single identity... (no attribute)
		05 02 20 01 24 01 // Reset identity`)
	feed(t, s, protocols.ClientToServer, unitData(9, req), 1)
	reply := hx(t, `8a 00 00 00 | MSP reply
		02 00 06 00 0a 00 | 2 replies
		8e 00 00 00 | success
		85 00 0c 00 // reset refused: object state conflict`)
	feed(t, s, protocols.ServerToClient, unitData(9, reply), 2)
	require.Len(t, r.Txs, 3)
	assert.Equal(t, int(svcMultipleService), r.Txs[0].Code)
	assert.Equal(t, protocols.OutcomeOK, r.Txs[1].Outcome)
	assert.Equal(t, protocols.OpRestart, r.Txs[2].Op)
	assert.Equal(t, protocols.OutcomeException, r.Txs[2].Outcome)
	assert.Equal(t, int64(0x0c), r.Txs[2].ExceptionCode)
	for _, tx := range r.Txs {
		assert.Equal(t, uint64(2), tx.ResponseFrame)
	}
}

func TestPCCC(t *testing.T) {
	for _, c := range []struct {
		data, name string
		op         protocols.Op
	}{
		{"07 01 00 78 56 34 12 | requester id: 7 bytes, vendor 1, serial\n 0f 00 01 00 aa 02 | typed logical write", "protected_typed_logical_write_3", protocols.OpWrite},
		{"07 01 00 78 56 34 12 0f 00 02 00 a2 02", "protected_typed_logical_read_3", protocols.OpRead},
		{"07 01 00 78 56 34 12 0f 00 03 00 80 01 // change mode", "change_mode", protocols.OpControl},
	} {
		var tx protocols.Transaction
		pccc(&tx, hx(t, c.data))
		assert.Equal(t, c.name, tx.Attr("pccc_command"))
		assert.Equal(t, c.op, tx.Op, c.name)
	}
}

func TestCommandsAndListIdentity(t *testing.T) {
	r := newRecorder(protocols.UDP)
	s := newSession(&r.Env)
	feed(t, s, protocols.ClientToServer, encap(CmdListIdentity, 5, nil), 1)
	item := hx(t, `01 00 | encapsulation version 1
		00 02 af 12 0a 01 01 a4 00 00 00 00 00 00 00 00 | socket address 10.1.1.164:44818
		01 00 0c 00 3a 00 04 03 | vendor 1, communications adapter, product 58, revision 4.3
		30 00 8e 4d 52 00 | status, serial 0x00524d8e
		0b 31 37 35 36 2d 45 4e 42 54 2f 41 03 // "1756-ENBT/A", state 3`)
	body := append(hx(t, "01 00 0c 00"), byte(len(item)), 0)
	body = append(body, item...)
	feed(t, s, protocols.ServerToClient, encap(CmdListIdentity, 5, body), 2)
	require.Len(t, r.Txs, 1)
	tx := r.Txs[0]
	assert.Equal(t, ProtoENIP, tx.Proto)
	assert.Equal(t, CmdListIdentity, tx.Code)
	assert.Equal(t, protocols.OpDiscovery, tx.Op)
	assert.Equal(t, "1756-ENBT/A", tx.Attr("product_name"))
	assert.Equal(t, "0x00524d8e", tx.Attr("serial"))
	assert.Equal(t, "communications_adapter", tx.Attr("device_type"))
}

func TestProbe(t *testing.T) {
	d := Dissector
	register := encap(CmdRegisterSession, 0, []byte{1, 0, 0, 0})
	assert.Equal(t, protocols.ProbeYes, d.Probe(protocols.ClientToServer, register))
	assert.Equal(t, protocols.ProbeNeedMore, d.Probe(protocols.ClientToServer, register[:10]))
	assert.Equal(t, protocols.ProbeNo, d.Probe(protocols.ClientToServer, []byte("GET / HTTP/1.1\r\nHost: plc\r\n\r\n")))
	legacy := encap(0x0001, 0, nil)
	assert.Equal(t, protocols.ProbeYes, d.Probe(protocols.ClientToServer, legacy), "an empty undefined command, alone")
	assert.Equal(t, protocols.ProbeNeedMore, d.Probe(protocols.ClientToServer, encap(0x0001, 0, []byte{1, 2})[:25]))
	assert.Equal(t, protocols.ProbeYes, d.Probe(protocols.ClientToServer, append(legacy, encap(CmdListServices, 0, nil)...)))
	assert.Equal(t, protocols.ProbeNo, d.Probe(protocols.ClientToServer, append(legacy, []byte("GET / HTTP/1.1\r\nHost: plc\r\n\r\n")...)))
	ntp := hx(t, "0b 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 | an NTP client request\n"+
		"00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 cc 2a 1b 73 00 00 00 00")
	assert.Equal(t, protocols.ProbeNo, d.Probe(protocols.ClientToServer, ntp))
	ntp[0] = 0x63 // LI 1, version 4, client: reads as ListIdentity with a length
	ntp[2] = 0x06
	assert.Equal(t, protocols.ProbeNo, d.Probe(protocols.ClientToServer, ntp))
}

func TestSessionDetachesFromGarbage(t *testing.T) {
	r := newRecorder(protocols.TCP)
	s := newSession(&r.Env)
	junk := make([]byte, 64)
	for i := range junk {
		junk[i] = 0xff
	}
	var err error
	for i := 0; i < 4000 && err == nil; i++ {
		_, err = s.Feed(protocols.ClientToServer, junk, pk(uint64(i)))
	}
	assert.ErrorIs(t, err, errNotENIP)
}

// BenchmarkSessionReadPair: an unconnected Get_Attribute_Single and its
// reply, each in its own segment, through framing, pairing and decoding;
// transactions are recycled as the pipeline does.
func BenchmarkSessionReadPair(b *testing.B) {
	req := rrData(7, hx(b, "0e 03 | Get_Attribute_Single, path 3 words\n 20 01 24 01 30 07 | identity 1, attribute 7"))
	resp := rrData(7, hx(b, "8e 00 00 00 | reply, success\n 04 31 37 35 36 | product name \"1756\""))
	env := &protocols.Env{Client: &protocols.Endpoint{}, Server: &protocols.Endpoint{}, Pool: &protocols.TxPool{}}
	testkit.BenchPair(b, newSession(env), req, resp)
}
