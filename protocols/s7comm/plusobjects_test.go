package s7comm

import (
	"reflect"
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
		{"8232", 306, 2},
		{"88d0b88002", 0x8a0e0002, 5},
		{"80", 0, 0}, // continuation without a next byte
		{"", 0, 0},
	}
	for _, tc := range tests {
		v, n := vlq(unhex(t, tc.hex))
		if v != tc.want || n != tc.n {
			t.Errorf("vlq(%s) = %d, %d; want %d, %d", tc.hex, v, n, tc.want, tc.n)
		}
	}
	for hexs, want := range map[string]int64{"05": 5, "7f": -1, "40": -64, "8100": 128, "ff7f": -1} {
		if v, n := svlq(unhex(t, hexs)); v != want || n == 0 {
			t.Errorf("svlq(%s) = %d, %d; want %d", hexs, v, n, want)
		}
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
	9376       // access sub-area 0x9f6 (DB)
	0e 00 8200 // LIDs 14, 0, 256
	01         // item number 1
	10 02 04   // array of USINT, 4 elements
	fe 03 4d 4d`

func TestDecodePlusBody(t *testing.T) {
	tests := []struct {
		name      string
		hex       string
		wantOp    protocols.Op
		wantTgt   []protocols.Target
		wantVals  []protocols.Value
		wantAnoms []string
	}{
		{"set multi variables", hexSetMulti, protocols.OpWrite,
			[]protocols.Target{{Space: "db3", ID: "14.0.256@ef49945c"}},
			[]protocols.Value{protocols.IntValue(254), protocols.IntValue(3), protocols.IntValue(77), protocols.IntValue(77)}, nil},
		{"set variable on a subscription", `
			72 03 0029 31 0000 04f2 0000 831a
			70000e4d 74 // session id, flags
			70000e51    // object id
			01 881d     // 1 attribute: 1053
			00 07 00ce  // INT 206`, protocols.OpRead,
			[]protocols.Target{{Space: "object", ID: "0x70000e51.1053"}}, []protocols.Value{protocols.IntValue(206)}, nil},
		{"get multi variables M area", `
			72 01 0020 31 0000 054c 0000 0003
			00000001 34 00000000
			01 04     // 1 item, 4 fields
			00 52 02  // CRC 0, area M, 2 ids
			8e18 65   // sub-area 0xe98, LID 101`, protocols.OpRead,
			[]protocols.Target{{Space: "M", ID: "101"}}, nil, nil},
		{"item beyond body", `
			72 01 0020 31 0000 054c 0000 0003
			00000001 34 00000000
			01 04 00 52 7f`, protocols.OpRead, nil, nil, []string{anomalyPlusInvalidItem}},
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
			if !reflect.DeepEqual(tx.Targets, tc.wantTgt) {
				t.Errorf("targets %+v, want %+v", tx.Targets, tc.wantTgt)
			}
			if !reflect.DeepEqual(tx.Values, tc.wantVals) {
				t.Errorf("values %+v, want %+v", tx.Values, tc.wantVals)
			}
			if !reflect.DeepEqual(tx.Anomalies, tc.wantAnoms) {
				t.Errorf("anomalies %v, want %v", tx.Anomalies, tc.wantAnoms)
			}
		})
	}
}

func BenchmarkDecodePlusSetMulti(b *testing.B) {
	raw := unhex(b, hexSetMulti)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, err := DecodePlus(raw)
		if err != nil {
			b.Fatal(err)
		}
		var t protocols.Transaction
		DecodePlusRequest(&p, &t)
	}
}
