package s7comm

import (
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unhex decodes hex written one field per line, "// comments" allowed.
func unhex(t testing.TB, s string) []byte { return testkit.Hex(t, s) }

func TestParseTPKT(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		want    int
		wantErr error
	}{
		{"dt", "03 00 0019", 25, nil},
		{"short", "03 00", 0, ErrShort},
		{"version 2", "02 00 0019", 0, ErrNotTPKT},
		{"reserved set", "03 01 0019", 0, ErrNotTPKT},
		{"length below header+cotp", "03 00 0006", 0, ErrNotTPKT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseTPKT(unhex(t, tc.hex))
			if err != tc.wantErr || n != tc.want {
				t.Fatalf("got %d, %v; want %d, %v", n, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseCOTP(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		want    COTP
		wantErr error
	}{
		{"connect request", `
			11       // LI 17
			e0       // CR, CDT 0
			0000     // dst ref
			0001     // src ref
			00       // class 0
			c0 01 0a // TPDU size 1024
			c1 02 0100 // calling TSAP
			c2 02 0102 // called TSAP: rack 0 slot 2`,
			COTP{Type: COTPConnectRequest, SrcTSAP: []byte{1, 0}, DstTSAP: []byte{1, 2}}, nil},
		{"data eot", `
			02 // LI
			f0 // DT
			80 // EOT, TPDU 0
			32 01`, COTP{Type: COTPData, EOT: true, Payload: []byte{0x32, 0x01}}, nil},
		{"data fragment", "02 f0 00 72", COTP{Type: COTPData, Payload: []byte{0x72}}, nil},
		{"li beyond tpdu", "05 f0 80", COTP{}, ErrBadCOTP},
		{"unknown type", "02 30 80", COTP{}, ErrBadCOTP},
		{"cr param overflow", "08 e0 0000 0001 00 c1 05 01", COTP{}, ErrBadCOTP},
		{"short", "02", COTP{}, ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCOTP(unhex(t, tc.hex))
			if err != tc.wantErr {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err == nil && !reflect.DeepEqual(c, tc.want) {
				t.Fatalf("got %+v, want %+v", c, tc.want)
			}
		})
	}
}

func TestRackSlot(t *testing.T) {
	for tsap, want := range map[string]string{"0102": "0/2", "0301": "0/1", "0123": "1/3", "": "", "53494d41": ""} {
		b, _ := hex.DecodeString(tsap)
		if got := RackSlot(b); got != want {
			t.Errorf("RackSlot(%s) = %q, want %q", tsap, got, want)
		}
	}
}

// Well-formed S7comm PDUs used by the tests, fuzz seeds and benchmarks.
const (
	hexReadVarJob = `
		32       // protocol id
		01       // ROSCTR job
		0000     // redundancy id
		0500     // PDU reference
		000e     // parameter length 14
		0000     // data length 0
		04       // function read var
		01       // item count
		12 0a 10 // var spec, length, syntax S7ANY
		02       // transport size BYTE
		0004     // length 4
		0001     // DB 1
		84       // area DB
		000050   // address: byte 10, bit 0`
	hexWriteVarJob = `
		32 01 0000 0600
		000e     // parameter length
		0005     // data length
		05 01    // write var, 1 item
		12 0a 10 01 0001 0000 83 000019 // M 3.1 BIT 1
		00       // return code (reserved)
		03       // data transport size BIT
		0001     // length 1 bit
		01       // value (no fill byte after the last item)`
	hexReadVarAck = `
		32       // protocol id
		03       // ack_data
		0000 0500
		0002     // parameter length
		0008     // data length
		00 00    // error class, code
		04 01    // read var, 1 item
		ff       // success
		04       // BYTE/WORD/DWORD
		0020     // 32 bits
		01020304`
	hexSZLRequest = `
		32 07 0000 0100
		0008     // parameter length
		0008     // data length
		000112   // userdata head
		04       // parameter length
		11       // method request
		44       // type request (4), group CPU (4)
		01       // subfunction read SZL
		00       // sequence
		ff 09 0004 // return code, octet string, length 4
		0011     // SZL id
		0000     // SZL index`
	hexPlusRequest = `
		72       // S7comm-plus
		03       // version 3
		0059     // data length
		20       // digest length 32
		e969a95a852ab0e288480ccecb618e48779f4b68a1ce9a9c42cd6aa53680068
		3        // (digest, 32 bytes)
		31       // opcode request
		0000     // reserved
		04f2     // function SetVariable
		0000     // reserved
		831a     // sequence number
		70000e4d // session id
		74       // transport flags
		70000e51 // object: a subscription
		01 881d  // 1 attribute: 1053 SubscriptionCreditLimit
		00 07 00ce // value: flags 0, INT, 206
		000004e8 // object qualifier (1256)
		8969 00 12 00000000 // ParentRID: RID 0
		896a 00 13 00       // CompositionAID: AID 0
		896b 00 04 00       // KeyQualifier: UDInt 0
		00       // end of the qualifier
		0084eb27 // reserved byte, integrity id (VLQ)
		00000000 // fill
		72030000 // trailer`
)

func TestDecodeS7(t *testing.T) {
	tests := []struct {
		name      string
		hex       string
		wantCode  int
		wantSub   int
		wantOp    protocols.Op
		wantTgt   []protocols.Target
		wantVals  []protocols.Value
		wantAttr  map[string]string
		wantAnoms []string
		wantErr   error
	}{
		{name: "read var job", hex: hexReadVarJob, wantCode: 4, wantSub: -1, wantOp: protocols.OpRead,
			wantTgt:  []protocols.Target{{Space: "db1", Address: 10, Count: 4}},
			wantAttr: map[string]string{"item1": "DB1.DBX 10.0 BYTE 4"}},
		{name: "write var bit", hex: hexWriteVarJob, wantCode: 5, wantSub: -1, wantOp: protocols.OpWrite,
			wantTgt:  []protocols.Target{{Space: "M", Address: 3, Count: 1}},
			wantVals: []protocols.Value{protocols.BoolValue(true)}},
		{name: "szl request", hex: hexSZLRequest, wantCode: 4, wantSub: 1, wantOp: protocols.OpDiscovery,
			wantAttr: map[string]string{"szl_id": "0x0011", "szl_index": "0x0000"}},
		{name: "plc stop", hex: `
			32 01 0000 0700 0010 0000
			29 0000000000 // function, 5 unknown bytes
			09 505f50524f4752414d // "P_PROGRAM"`,
			wantCode: 0x29, wantSub: -1, wantOp: protocols.OpStop, wantAttr: map[string]string{"pi_service": "P_PROGRAM"}},
		{name: "pi hot start", hex: `
			32 01 0000 0800 0014 0000
			28 00000000 0000fd // function, 7 unknown bytes
			0000               // parameter block length 0
			09 505f50524f4752414d`,
			wantCode: 0x28, wantSub: -1, wantOp: protocols.OpStart},
		{name: "pi insert block", hex: `
			32 01 0000 0900 001a 0000
			28 00000000 0000fd
			000a                 // parameter block length 10
			0100 3038 3030303031 50 // 1 block: OB 00001, passive filesystem
			05 5f494e5345        // "_INSE"`,
			wantCode: 0x28, wantSub: -1, wantOp: protocols.OpProgramDownload,
			wantTgt: []protocols.Target{{Space: "block_ob", Address: 1, Count: 1}}},
		{name: "request download", hex: `
			32 01 0000 0a00 0012 0000
			1a 00 0000 00000000 // function, status, unknown
			09 5f30413030303031 50 // "_0A00001P"`,
			wantCode: 0x1a, wantSub: -1, wantOp: protocols.OpProgramDownload,
			wantTgt: []protocols.Target{{Space: "block_db", Address: 1, Count: 1}}},
		{name: "setup communication", hex: "32 01 0000 ffff 0008 0000 f0 00 0001 0001 01e0",
			wantCode: 0xf0, wantSub: -1, wantOp: protocols.OpSession, wantAttr: map[string]string{"pdu_size": "480"}},
		{name: "unknown function", hex: "32 01 0000 0001 0001 0000 77", wantCode: 0x77, wantSub: -1,
			wantOp: protocols.OpOther, wantAnoms: []string{"s7comm.unknown_function"}},
		{name: "item count beyond parameter", hex: "32 01 0000 0001 0002 0000 04 05", wantCode: 4, wantSub: -1,
			wantOp: protocols.OpRead, wantAnoms: []string{"s7comm.invalid_item"}},
		{name: "write var data short", hex: `
			32 01 0000 0600 000e 0005
			05 01 12 0a 10 02 0004 0001 84 000000
			00 04 0020 01 // 4 bytes announced, 1 present`,
			wantCode: 5, wantSub: -1, wantOp: protocols.OpWrite,
			wantTgt: []protocols.Target{{Space: "db1", Address: 0, Count: 4}}, wantVals: []protocols.Value{protocols.IntValue(1)},
			wantAnoms: []string{"s7comm.invalid_data"}},
		{name: "lengths disagree", hex: "32 01 0000 0001 000e 0000 04 01", wantErr: ErrBadHeader},
		{name: "unknown rosctr", hex: "32 05 0000 0001 0000 0000", wantErr: ErrBadHeader},
		{name: "not s7", hex: "0d 05 0000", wantErr: ErrNotS7},
		{name: "short", hex: "32 01 0000", wantErr: ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodePDU(unhex(t, tc.hex))
			if err != tc.wantErr {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var tx protocols.Transaction
			if p.ROSCTR == ROSCTRUserdata {
				DecodeUserdata(&p, &tx, false)
			} else {
				DecodeJob(&p, &tx)
			}
			if tx.Code != tc.wantCode || tx.Op != tc.wantOp {
				t.Errorf("code %#x op %v, want %#x %v", tx.Code, tx.Op, tc.wantCode, tc.wantOp)
			}
			if (tc.wantSub >= 0) != tx.HasSubcode || (tx.HasSubcode && tx.Subcode != tc.wantSub) {
				t.Errorf("subcode %d (%v), want %d", tx.Subcode, tx.HasSubcode, tc.wantSub)
			}
			if !reflect.DeepEqual(tx.Targets, tc.wantTgt) {
				t.Errorf("targets %+v, want %+v", tx.Targets, tc.wantTgt)
			}
			if !reflect.DeepEqual(tx.Values, tc.wantVals) {
				t.Errorf("values %+v, want %+v", tx.Values, tc.wantVals)
			}
			if !reflect.DeepEqual(tx.Anomalies, tc.wantAnoms) {
				t.Errorf("anomalies %v, want %v", tx.Anomalies, tc.wantAnoms)
			}
			for k, v := range tc.wantAttr {
				if got := tx.Attr(k); got != v {
					t.Errorf("attr %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestDecodeAck(t *testing.T) {
	tests := []struct {
		name      string
		hex       string
		wantOut   protocols.Outcome
		wantExc   int64
		wantAnoms []string
	}{
		{"read var ok", hexReadVarAck, protocols.OutcomeOK, 0, nil},
		{"header error", "32 03 0000 0001 0000 0000 81 04", protocols.OutcomeException, 0x8104, nil},
		{"write var item error", "32 03 0000 0001 0002 0001 0000 05 01 0a",
			protocols.OutcomeException, 0x0a, nil}, // an exception, not a malformed PDU
		{"read var missing data", "32 03 0000 0001 0002 0000 0000 04 01",
			protocols.OutcomeOK, 0, []string{"s7comm.invalid_data"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodePDU(unhex(t, tc.hex))
			if err != nil {
				t.Fatal(err)
			}
			var tx protocols.Transaction
			DecodeAck(&p, &tx, false)
			if tx.Outcome != tc.wantOut || tx.ExceptionCode != tc.wantExc {
				t.Errorf("outcome %v %#x, want %v %#x", tx.Outcome, tx.ExceptionCode, tc.wantOut, tc.wantExc)
			}
			if !reflect.DeepEqual(tx.Anomalies, tc.wantAnoms) {
				t.Errorf("anomalies %v, want %v", tx.Anomalies, tc.wantAnoms)
			}
		})
	}
}

func TestDecodeSZLIdentity(t *testing.T) {
	rec := func(index string, text string) string {
		b := make([]byte, 32)
		copy(b, text)
		return index + hex.EncodeToString(b)
	}
	data := "0022 0003" + rec("0001", "SNAP7-SERVER") + rec("0002", "CPU 315-2 PN/DP") + rec("0005", "S C-C2UR28922012")
	body := "001c 0000" + data
	body = strings.ReplaceAll(body, " ", "")
	n := len(body) / 2
	hdr := "32 07 0000 0100 000c " + hex4(4+n) + " 000112 08 12 84 01 00 00 00 0000 ff 09 " + hex4(n)
	p, err := DecodePDU(unhex(t, hdr+body))
	if err != nil {
		t.Fatal(err)
	}
	var tx protocols.Transaction
	DecodeUserdata(&p, &tx, false)
	for k, v := range map[string]string{"automation_system_name": "SNAP7-SERVER", "module_name": "CPU 315-2 PN/DP",
		"serial": "S C-C2UR28922012", "szl_id": "0x001c"} {
		if got := tx.Attr(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if tx.Outcome != protocols.OutcomeOK {
		t.Errorf("outcome %v", tx.Outcome)
	}
}

func hex4(n int) string { return hex.EncodeToString([]byte{byte(n >> 8), byte(n)}) }

func TestDecodePlus(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		want    PlusPDU
		wantErr error
	}{
		{"v3 digest request", hexPlusRequest, PlusPDU{Version: 3, DataLen: 0x59, Digest: true, Opcode: 0x31,
			Function: PlusSetVariable, Seq: 0x831a, HasFunction: true, Off: 37, Trailer: true}, nil},
		{"v1 response", `
			72 01 000a // V1, length
			32 0000    // response, reserved
			054c 0000  // GetMultiVariables
			0007 00`, PlusPDU{Version: 1, DataLen: 10, Opcode: 0x32, Function: PlusGetMultiVariables, Seq: 7, HasFunction: true, Off: 4}, nil},
		{"notification", "72 03 0010 33 70000e51 0400 0000 0000", PlusPDU{Version: 3, DataLen: 16, Opcode: 0x33, Off: 4}, nil},
		{"with trailer", "72 02 0010 32 0000 0542 0000 0002 34 00 00 00 00 00 00 72020000", PlusPDU{Version: 2, DataLen: 16,
			Opcode: 0x32, Function: PlusSetMultiVariables, Seq: 2, HasFunction: true, Off: 4, Trailer: true}, nil},
		{"unknown version", "72 09 0010 31", PlusPDU{}, ErrNotS7Plus},
		{"not plus", "32 01 0000", PlusPDU{}, ErrNotS7Plus},
		{"short", "72 03", PlusPDU{}, ErrNotS7Plus},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodePlus(unhex(t, tc.hex))
			if err != tc.wantErr {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			p.Body = nil
			if err == nil && !reflect.DeepEqual(p, tc.want) {
				t.Fatalf("got %+v, want %+v", p, tc.want)
			}
		})
	}
}

// frameTPKT wraps an S7 payload in TPKT + COTP DT (EOT).
func frameTPKT(payload []byte) []byte {
	n := len(payload) + 7
	return append([]byte{3, 0, byte(n >> 8), byte(n), 2, 0xf0, 0x80}, payload...)
}

func TestProbe(t *testing.T) {
	cr := unhex(t, "03 00 0016 11 e0 0000 0001 00 c0 01 0a c1 02 0100 c2 02 0102")
	job := frameTPKT(unhex(t, hexReadVarJob))
	plus := frameTPKT(unhex(t, hexPlusRequest))
	mms := frameTPKT(unhex(t, "0100 0100 a1 0e 02 01 01 a0 09 a1 07 80 05 4c 44 30 2f"))
	tests := []struct {
		name       string
		data       []byte
		want, plus protocols.ProbeResult
	}{
		{"cr only", cr, protocols.ProbeNeedMore, protocols.ProbeNeedMore},
		{"cr then s7 job", append(append([]byte{}, cr...), job...), protocols.ProbeYes, protocols.ProbeNo},
		{"s7 job alone", job, protocols.ProbeYes, protocols.ProbeNo},
		{"plus", plus, protocols.ProbeNo, protocols.ProbeYes},
		{"mms", append(append([]byte{}, cr...), mms...), protocols.ProbeNo, protocols.ProbeNo},
		{"partial job header", job[:10], protocols.ProbeNeedMore, protocols.ProbeNo},
		{"mid-pdu start", append(unhex(t, "0102 0304 0506"), job...), protocols.ProbeYes, protocols.ProbeNo},
		{"modbus", unhex(t, "0001 0000 0006 01 03 0000 000a"), protocols.ProbeNeedMore, protocols.ProbeNeedMore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Dissector.Probe(protocols.ClientToServer, tc.data); got != tc.want {
				t.Errorf("s7comm probe = %v, want %v", got, tc.want)
			}
			if got := PlusDissector.Probe(protocols.ClientToServer, tc.data); got != tc.plus {
				t.Errorf("s7comm-plus probe = %v, want %v", got, tc.plus)
			}
		})
	}
}

func BenchmarkDecodeReadVarJob(b *testing.B)  { benchS7(b, hexReadVarJob, DecodeJob) }
func BenchmarkDecodeWriteVarJob(b *testing.B) { benchS7(b, hexWriteVarJob, DecodeJob) }
func BenchmarkDecodeReadVarAck(b *testing.B) {
	benchS7(b, hexReadVarAck, func(p *PDU, t *protocols.Transaction) { DecodeAck(p, t, true) })
}
func BenchmarkDecodeUserdata(b *testing.B) {
	benchS7(b, hexSZLRequest, func(p *PDU, t *protocols.Transaction) { DecodeUserdata(p, t, false) })
}

func benchS7(b *testing.B, h string, decode func(*PDU, *protocols.Transaction)) {
	raw := unhex(b, h)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, err := DecodePDU(raw)
		if err != nil {
			b.Fatal(err)
		}
		var t protocols.Transaction
		decode(&p, &t)
	}
}

func BenchmarkDecodePlus(b *testing.B) {
	raw := unhex(b, hexPlusRequest)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := DecodePlus(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProbe(b *testing.B) {
	raw := frameTPKT(unhex(b, hexReadVarJob))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Dissector.Probe(protocols.ClientToServer, raw)
	}
}

// TestHostileSZLIdentity: an SZL identity record's text reaches the
// inventory with controls, bidi overrides, separators and bad bytes escaped.
func TestHostileSZLIdentity(t *testing.T) {
	b := make([]byte, 32)
	copy(b, testkit.HostileText)
	data := "0022 0001 0001" + hex.EncodeToString(b)
	body := strings.ReplaceAll("001c 0000"+data, " ", "")
	n := len(body) / 2
	hdr := "32 07 0000 0100 000c " + hex4(4+n) + " 000112 08 12 84 01 00 00 00 0000 ff 09 " + hex4(n)
	p, err := DecodePDU(unhex(t, hdr+body))
	if err != nil {
		t.Fatal(err)
	}
	var tx protocols.Transaction
	DecodeUserdata(&p, &tx, false)
	if got := tx.Attr("automation_system_name"); got != testkit.HostileShown {
		t.Errorf("automation_system_name = %q, want %q", got, testkit.HostileShown)
	}
}

// TestWriteVarOfManyItems: a write job naming more items than the decoder
// keeps on its stack (70 BYTE items of DB1) gives each its target and
// point, and its values up to the cap, as one of a few items does.
func TestWriteVarOfManyItems(t *testing.T) {
	const n = 70
	var param, data []byte
	param = append(param, 0x05, n) // write var, item count
	for i := range n {
		addr := uint32(8 * (10 + i)) // DBB 10+i, as a bit address
		param = append(param, 0x12, 0x0a, 0x10, 0x02, 0x00, 0x01, 0x00, 0x01, 0x84, byte(addr>>16), byte(addr>>8), byte(addr))
		data = append(data, 0x00, 0x04, 0x00, 0x08, byte(100+i)) // reserved, BYTE/WORD/DWORD, 8 bits, the byte
		if i < n-1 {
			data = append(data, 0x00) // fill to an even length between items
		}
	}
	pdu := append([]byte{0x32, 0x01, 0x00, 0x00, 0x00, 0x07, byte(len(param) >> 8), byte(len(param)), byte(len(data) >> 8), byte(len(data))}, param...)
	p, err := DecodePDU(append(pdu, data...))
	require.NoError(t, err)
	tx := &protocols.Transaction{}
	DecodeJob(&p, tx)
	require.Empty(t, tx.Anomalies)
	require.Len(t, tx.Targets, n)
	require.Len(t, tx.Values, protocols.MaxValues, "values capped")
	assert.True(t, tx.ValuesTruncated)
	require.Len(t, tx.Points, n, "every element a point")
	for i := range n {
		assert.Equal(t, protocols.Target{Space: "db1", Address: uint64(10 + i), Count: 1}, tx.Targets[i], "item %d", i)
		assert.Equal(t, float64(100+i), tx.Points[i].V, "item %d", i)
		if i < protocols.MaxValues {
			assert.Equal(t, protocols.IntValue(int64(100+i)), tx.Values[i], "item %d", i)
		}
	}
}
