package s7comm

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
)

func TestVLQ(t *testing.T) {
	tests := []struct {
		hex  string
		want uint64
		n    int
	}{
		{"05", 5, 1},
		{"8232", 306, 2},                      // 2<<7 | 0x32
		{"88d0b88002", 0x8a0e0002, 5},         // access area of DB2
		{"80", 0, 0},                          // continuation without a next byte
		{"", 0, 0},                            // nothing
		{"ffffffffffffffff ff", 1<<64 - 1, 9}, // 8 bytes of 7 bits, then 8 bits
		{"8080808080808080 01", 1, 9},
	}
	for _, tc := range tests {
		v, n := vlq(unhex(t, tc.hex))
		if v != tc.want || n != tc.n {
			t.Errorf("vlq(%s) = %d, %d; want %d, %d", tc.hex, v, n, tc.want, tc.n)
		}
	}
	for hexs, want := range map[string]uint32{"05": 5, "8f ff ff ff 7e": 0xfffffffe, "9376": 2550} {
		if v, n := vlq32(unhex(t, hexs)); v != want || n == 0 {
			t.Errorf("vlq32(%s) = %d, %d; want %d", hexs, v, n, want)
		}
	}
	if _, n := vlq32(unhex(t, "ff ff ff ff ff 01")); n != 0 {
		t.Errorf("vlq32 accepted a sixth byte")
	}
	for hexs, want := range map[string]int64{"05": 5, "7f": -1, "40": -64, "8100": 128, "ff7f": -1, "8372": 498, "be04": 7940} {
		if v, n := svlq(unhex(t, hexs)); v != want || n == 0 {
			t.Errorf("svlq(%s) = %d, %d; want %d", hexs, v, n, want)
		}
	}
}

// decodeValue runs the value decoder over one PValue (written values sink).
func decodeValue(t *testing.T, hexs string) (*protocols.Transaction, *plusDecoder) {
	t.Helper()
	var d plusDecoder
	var tx protocols.Transaction
	d.begin(&tx, unhex(t, hexs), sinkWrite)
	if entered, _ := d.value(0); entered {
		d.nested(true)
	}
	d.finish()
	return &tx, &d
}

func TestPlusValues(t *testing.T) {
	I, F, S, B := protocols.IntValue, protocols.FloatValue, protocols.StringValue, protocols.BoolValue
	vals := func(v ...protocols.Value) []protocols.Value { return v }
	tests := []struct {
		name string
		hex  string
		want []protocols.Value
		bad  bool // the decoder must stop with an error
		left int  // bytes left unread
	}{
		{"bool", "00 01 01 // flags 0, BOOL, true", vals(B(true)), false, 0},
		{"usint", "00 02 fe // USINT 254", vals(I(254)), false, 0},
		{"uint", "00 03 0102 // UINT 258", vals(I(258)), false, 0},
		{"udint vlq", "00 04 8c00 // UDINT VLQ 12<<7", vals(I(1536)), false, 0},
		{"ulint 9 bytes", "00 05 81 80 80 80 80 80 80 80 00 // ULINT 2^56<<... 9th byte 8 bits", vals(I(1 << 57)), false, 0},
		{"sint", "00 06 ff // SINT -1", vals(I(-1)), false, 0},
		{"int", "00 07 8000 // INT -32768", vals(I(-32768)), false, 0},
		{"dint negative", "00 08 7f // DINT VLQ -1", vals(I(-1)), false, 0},
		{"dint positive", "00 08 8372 // DINT VLQ 498", vals(I(498)), false, 0},
		{"lint", "00 09 40 // LINT VLQ -64", vals(I(-64)), false, 0},
		{"byte", "00 0a 80 // BYTE 0x80", vals(I(128)), false, 0},
		{"word", "00 0b ffff // WORD", vals(I(65535)), false, 0},
		{"dword", "00 0c 80000000 // DWORD", vals(I(1 << 31)), false, 0},
		{"lword", "00 0d 0000000100000000 // LWORD", vals(I(1 << 32)), false, 0},
		{"real", "00 0e 41aa70aa // REAL 21.305", vals(F(float64(math.Float32frombits(0x41aa70aa)))), false, 0},
		{"lreal", "00 0f 3ff8000000000000 // LREAL 1.5", vals(F(1.5)), false, 0},
		{"timestamp", "00 10 17979cfe362a0000 // TIMESTAMP: ns since 1970", vals(S("2023-11-14T22:13:20Z")), false, 0},
		{"timespan", "00 11 7f // TIMESPAN -1 ns", vals(I(-1)), false, 0},
		{"rid", "00 12 8a320001 // RID OB1", vals(I(0x8a320001)), false, 0},
		{"aid", "00 13 9376 // AID 2550", vals(I(2550)), false, 0},
		{"wstring", "00 15 05 48 4d 49 0a 31 // WSTRING 5 bytes, the newline escaped", vals(S(`HMI\x0a1`)), false, 0},
		{"wstring utf-8", "00 15 0a 46 c3 bc 6c 6c 73 74 61 6e 64 // WSTRING \"Füllstand\" kept", vals(S("Füllstand")), false, 0},
		{"wstring bidi override", "00 15 07 61 e2 80 ae 67 6e 70 // WSTRING a, U+202E, gnp: escaped", vals(S(`a\u202egnp`)), false, 0},
		{"blob", "00 14 00 03 010203 // BLOB root 0, 3 bytes", vals(S("0x010203")), false, 0},
		{"blob over 32 bytes", "00 14 00 21" + strings.Repeat(" ab", 33), vals(S("0x" + strings.Repeat("ab", 32) + "...")), false, 0},
		{"blob with id list", "00 14 02 0000000000000000 00 8169 00 02 07 00 // root 2, 8 bytes, type 0: list ObjectName=USINT 7", nil, false, 0},
		{"variant", "00 16 8201 // VARIANT VLQ 257", vals(I(257)), false, 0},
		{"array of int", "10 07 03 0001 0002 ffff // array, INT, 3 elements", vals(I(1), I(2), I(-1)), false, 0},
		{"address array of udint", "20 04 02 05 8100 // address array, UDINT, 2: 5, 128", vals(I(5), I(128)), false, 0},
		{"sparse array", "40 02 01 0a 02 0b 00 // sparse USINT: key 1 → 10, key 2 → 11, key 0 ends", vals(I(10), I(11)), false, 0},
		{"array of variants", "10 16 02 00 07 0005 00 01 01 // 2 variants: INT 5, BOOL true", vals(I(5), B(true)), false, 0},
		{"struct", "00 17 0000013a 823b 00 04 8200 823f 00 15 02 3131 00 // struct 314: UDInt 256, WString \"11\"",
			vals(I(256), S("11")), false, 0},
		{"struct address array", "20 17 00000400 02 8169 00 02 01 00 8169 00 02 02 00 // struct, 2 lists", vals(I(1), I(2)), false, 0},
		{"packed struct", "00 17 91000001 0000000000000000 00 02 abcd // type-info struct: ts, flags, 2 bytes",
			vals(S("0xabcd")), false, 0},
		{"null array with a huge count", "10 00 8fffffff7f // NULL elements take no bytes: nothing to read", nil, false, 0},
		{"array count past the body", "10 02 05 01 02 // 5 USINT announced, 2 sent", nil, true, 0},
		{"unknown datatype", "00 19 01 // S7String is no value type", nil, true, 0},
		{"truncated real", "00 0e 41aa", nil, true, 0},
		{"trailing bytes stay", "00 02 01 ff ff", vals(I(1)), false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, d := decodeValue(t, tc.hex)
			if d.r.Failed() != tc.bad {
				t.Fatalf("bad = %v, want %v", d.r.Failed(), tc.bad)
			}
			if tc.bad {
				return
			}
			if len(tx.Values) == 0 {
				tx.Values = nil
			}
			if !reflect.DeepEqual(tx.Values, tc.want) {
				t.Errorf("values %+v, want %+v", tx.Values, tc.want)
			}
			if d.r.Len() != tc.left {
				t.Errorf("%d bytes left, want %d", d.r.Len(), tc.left)
			}
		})
	}
}

func TestPlusNestingCap(t *testing.T) {
	// 40 structs each opening the next: deeper than maxPlusDepth.
	var b strings.Builder
	b.WriteString("00 17 00000001 ")
	for i := 0; i < 40; i++ {
		b.WriteString("05 00 17 00000001 ")
	}
	_, d := decodeValue(t, b.String())
	if !d.r.Failed() {
		t.Fatal("a 40-level struct was accepted")
	}
}

// hexSetMulti is a SetMultiVariables request writing an S7 string to an
// optimized DB (from an S7-1200 HMI session, shortened to 4 elements).
const hexSetMulti = `
	72 02 0034 // V2, length
	31 0000 0542 0000 000a // request, SetMultiVariables, sequence 10
	000003be   // session id
	34         // transport flags
	00000000   // object id 0: process variables
	01         // item count
	07         // number of fields
	8efaa6a85c // symbol CRC
	88d0b88003 // access area 0x8a0e0003: DB3
	04         // 4 ids follow
	9376       // access sub-area 2550 DB.ValueActual
	0e 00 8200 // LIDs 14, 0, 256
	01         // item number 1
	10 02 04   // array of USINT, 4 elements
	fe 03 4d 4d
	72020000   // trailer`

func TestDecodePlusRequests(t *testing.T) {
	I, B := protocols.IntValue, protocols.BoolValue
	tests := []struct {
		name      string
		hex       string
		wantOp    protocols.Op
		wantTgt   []protocols.Target
		wantVals  []protocols.Value
		wantAttrs map[string]string
		wantAnoms []string
	}{
		{"set multi variables", hexSetMulti, protocols.OpWrite,
			[]protocols.Target{{Space: "db3", ID: "14.0.256@ef49945c"}},
			[]protocols.Value{I(254), I(3), I(77), I(77)}, nil, nil},
		{"set multi variables bool (ICSNPP frame 190)", `
			72 03 0066 20 726f50a7c0071584f3a59971df5c79d639c586451158aa4adeb9cd02b5ee76f8 // V3, digest
			31 0000 0542 0000 8333 // request, SetMultiVariables, seq 0x8333
			70000e4d 34             // session id, transport flags
			00000000 01 05          // object 0, 1 item, 5 fields
			88dbd6a75e              // symbol CRC
			88d0b88005              // area 0x8a0e0005: DB5
			02 9376 71              // 2 ids: DB.ValueActual, LID 113
			01 00 01 01             // item 1: BOOL true
			00 000004e8 8969 0012 00000000 896a 0013 00 896b 0004 00 00 // qualifier
			0084eb3b 00000000 72030000`, protocols.OpWrite,
			[]protocols.Target{{Space: "db5", ID: "113@8b7593de"}}, []protocols.Value{B(true)}, nil, nil},
		{"set variable on a subscription", `
			72 02 0029 31 0000 04f2 0000 831a
			70000e4d 74 // session id, flags
			70000e51    // object id
			01 881d     // 1 attribute: 1053 SubscriptionCreditLimit
			00 07 00ce  // INT 206
			72020000`, protocols.OpRead,
			[]protocols.Target{{Space: "object", ID: "Subscription.SubscriptionCreditLimit"}}, []protocols.Value{I(206)},
			map[string]string{"subscription": "true"}, nil},
		{"get multi variables of system objects (V13 S7-1200, frame 28)", `
			72 02 0052 31 0000 054c 0000 0003 00000398 34
			00000000 05 18           // object 0, 5 items, 24 fields
			00 32 01 9a7b            // CRC 0, area 50 CPUcommon, 1 id: 3451 CPUProtectionLevel
			00 8149 02 8839 00       // area 201 ObjectRoot, 2 ids: 1081 FreeItems, 0
			00 8149 02 8839 01
			00 8149 02 880d 8768     // 1037 SystemLimits, 1000
			00 8149 02 880d 8769
			72020000`, protocols.OpRead,
			[]protocols.Target{{Space: "object", ID: "CPUcommon.CPUProtectionLevel"}, {Space: "object", ID: "ObjectRoot.FreeItems.0"},
				{Space: "object", ID: "ObjectRoot.FreeItems.1"}, {Space: "object", ID: "ObjectRoot.SystemLimits.1000"},
				{Space: "object", ID: "ObjectRoot.SystemLimits.1001"}}, nil, nil, nil},
		{"absolute address: M100, 2 bytes", `
			72 02 0020 31 0000 0542 0000 0004 00000398 34
			00000000 01 07           // object 0, 1 item, 7 fields
			00 52 04 9d18 03 64 02   // CRC 0, area 82 M, 4 ids: 3736, classic blob (3), offset 100, 2 bytes
			01 10 02 02 0102         // item 1: 2 USINT
			72020000`, protocols.OpWrite,
			[]protocols.Target{{Space: "M", Address: 100, Count: 2}}, []protocols.Value{I(1), I(2)}, nil, nil},
		{"CPU stop", `
			72 02 0020 31 0000 04f2 0000 0005 000003e2 34
			00000034 01 9077 // object 52 CPUexecUnit, 1 attribute: 2167 OperatingStateREQ
			00 08 01         // DINT 1: stop
			72020000`, protocols.OpStop,
			[]protocols.Target{{Space: "object", ID: "CPUexecUnit.OperatingStateREQ"}}, []protocols.Value{I(1)},
			map[string]string{"cpu_command": "stop"}, nil},
		{"CPU run", `
			72 02 0020 31 0000 04f2 0000 0006 000003e2 34
			00000034 01 9077 00 08 03 // DINT 3: run
			72020000`, protocols.OpStart,
			[]protocols.Target{{Space: "object", ID: "CPUexecUnit.OperatingStateREQ"}}, []protocols.Value{I(3)},
			map[string]string{"cpu_command": "run"}, nil},
		{"upload: OB1 code read by item address", `
			72 02 0020 31 0000 054c 0000 0005 000003e0 34
			00000000 01 03            // object 0, 1 item, 3 fields
			00 88d1c88001 01 9414     // CRC 0, area 0x8a320001 (OB1), 1 id: 2580 Code
			72020000`, protocols.OpProgramUpload,
			[]protocols.Target{{Space: "object", ID: "OB1.Code"}, {Space: "block_ob", Address: 1, Count: 1}}, nil,
			map[string]string{"block": "OB1"}, nil},
		{"download: CreateObject of OB1", `
			72 02 0030 31 0000 04ca 0000 0007 000003e2 34
			00000003 00 04 00 00000000 07   // parent 3 PLCProgram, UDInt 0, reserved, integrity id 7
			a1 8a320001 9432 00 00          // object OB1, class 2610 OB
			a3 9359 00 03 0001              // Block.BlockNumber UINT 1
			a3 935b 00 03 0002              // Block.BlockLanguage UINT 2 (LAD)
			a3 935c 00 01 01                // Block.KnowhowProtected BOOL true
			a3 9414 00 14 00 02 abcd        // FunctionalObject.Code BLOB
			a2 00000000 72020000`, protocols.OpProgramDownload,
			[]protocols.Target{{Space: "block_ob", Address: 1, Count: 1}}, nil,
			map[string]string{"block": "OB1", "class": "OB", "knowhow_protected": "true", "block_language": "lad_classic"}, nil},
		{"delete FC1", `
			72 02 0010 31 0000 04d4 0000 0008 000003e2 34
			8a130001 00 // object FC1
			72020000`, protocols.OpProgramDownload,
			[]protocols.Target{{Space: "object", ID: "FC1"}, {Space: "block_fc", Address: 1, Count: 1}}, nil,
			map[string]string{"block_deleted": "true"}, nil},
		{"legitimation", `
			72 02 0020 31 0000 04f2 0000 0004 000003e2 34
			000003e2 01 8230 // the session, 304 ServerSessionResponse
			10 02 02 5a5a    // USINT array
			72020000`, protocols.OpSession,
			[]protocols.Target{{Space: "object", ID: "session.ServerSessionResponse"}}, nil,
			map[string]string{"legitimation": "true"}, nil},
		{"item beyond body", `
			72 01 0020 31 0000 054c 0000 0003
			00000001 34 00000000
			01 04 00 52 7f`, protocols.OpRead, nil, nil, nil, []string{"s7comm_plus.invalid_item"}},
		{"value beyond body", `
			72 02 0020 31 0000 0542 0000 0004 00000398 34
			00000000 01 04 00 52 02 9d18 09 // M area LID 9
			01 00 0e 41aa                   // REAL cut short`, protocols.OpWrite,
			[]protocols.Target{{Space: "M", ID: "9"}}, nil, nil, []string{"s7comm_plus.invalid_value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodePlus(unhex(t, tc.hex))
			if err != nil || !p.HasFunction {
				t.Fatalf("%v %+v", err, p)
			}
			var tx protocols.Transaction
			DecodePlusRequest(&p, &tx)
			if tx.Op != tc.wantOp {
				t.Errorf("op %v, want %v", tx.Op, tc.wantOp)
			}
			if len(tx.Targets) == 0 {
				tx.Targets = nil
			}
			if !reflect.DeepEqual(tx.Targets, tc.wantTgt) {
				t.Errorf("targets %+v, want %+v", tx.Targets, tc.wantTgt)
			}
			if len(tx.Values) == 0 {
				tx.Values = nil
			}
			if !reflect.DeepEqual(tx.Values, tc.wantVals) {
				t.Errorf("values %+v, want %+v", tx.Values, tc.wantVals)
			}
			if !reflect.DeepEqual(tx.Anomalies, tc.wantAnoms) {
				t.Errorf("anomalies %v, want %v", tx.Anomalies, tc.wantAnoms)
			}
			for k, v := range tc.wantAttrs {
				if got := tx.Attr(k); got != v {
					t.Errorf("detail %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestDecodePlusResponses(t *testing.T) {
	I := protocols.IntValue
	tests := []struct {
		name      string
		hex       string
		wantOut   protocols.Outcome
		wantExc   int64
		wantRead  []protocols.Value
		wantAttrs map[string]string
		wantAnoms []string
	}{
		{"get multi variables (ICSNPP frame 31)", `
			72 03 0043 20 3dcac8ee113108f0defe64eff4faf6106fe1fa3d75064cde9b8314d9f1e276a3 // V3, digest
			32 0000 054c 0000 831d 34 // response, GetMultiVariables, seq, transport flags
			00                        // return value 0
			01 00 04 01               // item 1: UDINT 1
			02 00 08 8372             // item 2: DINT 498
			03 00 08 be04             // item 3: DINT 7940
			00                        // end of the values
			00                        // no item failed
			83a110 00000000 72030000  // integrity id, fill, trailer`, protocols.OutcomeOK, 0, []protocols.Value{I(1), I(498), I(7940)}, nil, nil},
		{"session setup: the S7-1200's identity (V13 frame 8)", `
			72 01 007a 32 0000 04ca 0000 0001 36 // response, CreateObject, seq 1, flags
			11                 // return value 17: session pre-legitimated
			02 8760 870d       // 2 object ids: 0x3e0, 0x38d
			a1 00000120 821f 00 00  // object: NullServerSession, class ServerSession
			a3 8169 00 15 00        // ObjectName: ""
			a3 8232 00 17 0000013a  // ServerSessionVersion: struct 314
			823b 00 04 8200         // SessionVersionSystemOMS: 256
			823c 00 04 8140         // SessionVersionProjectOMS
			823d 00 04 8480c040     // SessionVersionSystemPAOM
			823e 00 04 8480c040     // SessionVersionProjectPAOM
			823f 00 15 1b 313b36455337203231342d31484533302d30584230203b56322e32 // "1;6ES7 214-1HE30-0XB0 ;V2.2"
			8240 00 15 05 323b373933 // "2;793"
			8241 00 03 0003          // SessionVersionProjectFormat
			00                       // end of the struct
			a2 00000000 72010000`, protocols.OutcomeOK, 0, nil,
			map[string]string{"order_number": "6ES7 214-1HE30-0XB0", "firmware": "V2.2", "object_id": "0x000003e0",
				"return_code": "session_pre_legitimated"}, nil},
		{"access denied", `
			72 02 0014 32 0000 04f2 0000 0005 34
			83 ff 1c // return value 0xff9c: error code -100
			72020000`, protocols.OutcomeException, -100, nil, map[string]string{"error": "service_access_denied"}, nil},
		{"an item failed", `
			72 02 0014 32 0000 0542 0000 0005 34
			00             // return value 0
			02 83 ff 73 // item 2: return value 0xfff3, error code -13
			00 72020000`, protocols.OutcomeException, -13, nil, map[string]string{"failed_item": "2"},
			[]string{"s7comm_plus.item_error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodePlus(unhex(t, tc.hex))
			if err != nil || !p.HasFunction {
				t.Fatalf("%v %+v", err, p)
			}
			var tx protocols.Transaction
			var d plusDecoder
			d.response(&p, &tx, true, false)
			if tx.Outcome != tc.wantOut || tx.ExceptionCode != tc.wantExc {
				t.Errorf("outcome %v %d, want %v %d", tx.Outcome, tx.ExceptionCode, tc.wantOut, tc.wantExc)
			}
			if len(tx.ReadValues) == 0 {
				tx.ReadValues = nil
			}
			if !reflect.DeepEqual(tx.ReadValues, tc.wantRead) {
				t.Errorf("read values %+v, want %+v", tx.ReadValues, tc.wantRead)
			}
			if !reflect.DeepEqual(tx.Anomalies, tc.wantAnoms) {
				t.Errorf("anomalies %v, want %v", tx.Anomalies, tc.wantAnoms)
			}
			for k, v := range tc.wantAttrs {
				if got := tx.Attr(k); got != v {
					t.Errorf("detail %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestPlusNotification(t *testing.T) {
	tests := []struct {
		name    string
		version byte
		hex     string
		sub     uint32
		ok      bool
	}{
		{"S7-1200 firmware 2 (V13 frame 35)", PlusV2, `
			1000006a 0400 0000 0000 // subscription, kind, reserved
			01 01                   // sequence number, change counter (1 byte each below 0x70000000)
			92 ffffffff 00 07 03e9  // reference 0xffffffff: INT 1001
			92 fffffffe 00 07 0002  // reference 0xfffffffe: INT 2
			00 00000000`, 0x1000006a, true},
		{"S7-1500 (ICSNPP frame 2)", PlusV3, `
			70000e51 0400 0000 0000 // subscription
			c9 8ec148 01            // credit tick, sequence number (VLQ), change counter
			92 00000005 00 0e 41aa70aa // reference 5: REAL
			92 00000019 00 0e 417e538e
			00 000000`, 0x70000e51, true},
		{"access error", PlusV2, "1000006a 0400 0000 0000 01 01 13 ffffffff 00", 0x1000006a, true},
		{"unknown item return code", PlusV2, "1000006a 0400 0000 0000 01 01 55 00", 0x1000006a, false},
		{"value list cut short", PlusV2, "70000e51 0400 0000 0000 c9 01 01 92 00000005 00 0e 41", 0x70000e51, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d plusDecoder
			var scratch protocols.Transaction
			sub, ok := d.notification(&scratch, tc.version, unhex(t, tc.hex))
			if sub != tc.sub || ok != tc.ok {
				t.Errorf("got %#x %v, want %#x %v", sub, ok, tc.sub, tc.ok)
			}
		})
	}
}

func TestParsePAOM(t *testing.T) {
	for in, want := range map[string][2]string{
		"1;6ES7 214-1HE30-0XB0 ;V2.2": {"6ES7 214-1HE30-0XB0", "V2.2"},
		"1;6ES7 511-1AK00-0AB0;V1.0":  {"6ES7 511-1AK00-0AB0", "V1.0"},
		"2;793":                       {"", ""},
		"":                            {"", ""},
	} {
		order, fw := plusParsePAOM([]byte(in))
		if string(order) != want[0] || string(fw) != want[1] {
			t.Errorf("%q: %q %q, want %q", in, order, fw, want)
		}
	}
}

// plusBenchPDUs: one PDU per kind the decoder handles.
var plusBenchPDUs = map[string]string{
	"SetMultiVariables": hexSetMulti,
	"SetVariable":       hexPlusRequest,
	"GetMultiVariablesResponse": `72 03 0043 20 3dcac8ee113108f0defe64eff4faf6106fe1fa3d75064cde9b8314d9f1e276a3
		32 0000 054c 0000 831d 34 00 01 00 04 01 02 00 08 8372 03 00 08 be04 00 00 83a110 00000000 72030000`,
	"CreateObjectResponse": `72 01 007a 32 0000 04ca 0000 0001 36 11 02 8760 870d a1 00000120 821f 00 00 a3 8169 00 15 00
		a3 8232 00 17 0000013a 823b 00 04 8200 823c 00 04 8140 823d 00 04 8480c040 823e 00 04 8480c040
		823f 00 15 1b 313b36455337203231342d31484533302d30584230203b56322e32 8240 00 15 05 323b373933
		8241 00 03 0003 00 a2 00000000 72010000`,
}

// BenchmarkDecodePlusPDU decodes each kind of S7comm-plus PDU into a reused
// transaction, as a session does: at most one allocation per PDU (the string
// of the decoder's arena).
func BenchmarkDecodePlusPDU(b *testing.B) {
	for name, h := range plusBenchPDUs {
		b.Run(name, func(b *testing.B) {
			raw := unhex(b, h)
			var d plusDecoder
			var tx protocols.Transaction
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p, err := DecodePlus(raw)
				if err != nil {
					b.Fatal(err)
				}
				tx = protocols.Transaction{Targets: tx.Targets[:0], Values: tx.Values[:0], Points: tx.Points[:0], ReadValues: tx.ReadValues[:0],
					Attrs: tx.Attrs[:0], Anomalies: tx.Anomalies[:0]}
				if p.Opcode == OpcodeRequest {
					d.request(&p, &tx, false)
				} else {
					d.response(&p, &tx, true, false)
				}
			}
		})
	}
}

func TestDecodePlusAllocations(t *testing.T) {
	for name, h := range plusBenchPDUs {
		raw := unhex(t, h)
		var d plusDecoder
		var tx protocols.Transaction
		run := func() {
			p, _ := DecodePlus(raw)
			tx = protocols.Transaction{Targets: tx.Targets[:0], Values: tx.Values[:0], Points: tx.Points[:0], ReadValues: tx.ReadValues[:0],
				Attrs: tx.Attrs[:0], Anomalies: tx.Anomalies[:0]}
			if p.Opcode == OpcodeRequest {
				d.request(&p, &tx, false)
			} else {
				d.response(&p, &tx, true, false)
			}
		}
		run()
		if n := testing.AllocsPerRun(100, run); n > 1 {
			t.Errorf("%s: %.1f allocations per PDU, want at most 1", name, n)
		}
	}
}

// TestPlusWritePoints: written numbers reach the value models as typed
// points of their item: element k of an absolute (byte-addressed) target at
// its byte offset, of a symbolic one at k.
func TestPlusWritePoints(t *testing.T) {
	P := func(tg, el int, typ protocols.NumType, v float64) protocols.Point {
		return protocols.Point{Target: uint16(tg), Element: uint32(el), Type: typ, V: v}
	}
	tests := []struct {
		name string
		hex  string
		want []protocols.Point
	}{
		{"absolute INT array at M100", `
			72 02 0020 31 0000 0542 0000 0004 00000398 34
			00000000 01 07 00 52 04 9d18 03 64 04 // M100, 4 bytes
			01 10 07 02 0001 fffe                 // item 1: 2 INT: 1, -2
			72020000`, []protocols.Point{P(0, 0, protocols.IntType(16), 1), P(0, 2, protocols.IntType(16), -2)}},
		{"symbolic USINT array", hexSetMulti, []protocols.Point{P(0, 0, protocols.UintType(8), 254), P(0, 1, protocols.UintType(8), 3),
			P(0, 2, protocols.UintType(8), 77), P(0, 3, protocols.UintType(8), 77)}},
		{"two items, REAL and BOOL", `
			72 02 0030 31 0000 0542 0000 0004 00000398 34
			00000000 02 08
			00 52 02 9d18 09          // M, LID 9
			00 88d0b88005 02 9376 71  // DB5, LID 113
			01 00 0e 3fc00000         // item 1: REAL 1.5
			02 00 01 01               // item 2: BOOL true
			72020000`, []protocols.Point{P(0, 0, protocols.FloatType(32), 1.5), P(1, 0, protocols.TypeBool, 1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodePlus(unhex(t, tc.hex))
			if err != nil || !p.HasFunction {
				t.Fatalf("%v %+v", err, p)
			}
			var tx protocols.Transaction
			DecodePlusRequest(&p, &tx)
			if !reflect.DeepEqual(tx.Points, tc.want) {
				t.Errorf("points %+v, want %+v", tx.Points, tc.want)
			}
		})
	}
}
