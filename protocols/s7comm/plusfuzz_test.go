package s7comm

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
)

// FuzzPlusObject feeds arbitrary bytes to the S7comm-plus object decoder in
// every role a body can take: a value, an id-value list, an object tree, a
// notification, and the request and response body of every function.
// Invariants: no panic, caps respected, nesting unwound, every string the
// arena built points inside it. Seeds: testdata/fuzz/FuzzPlusObject and the
// PDUs of the table tests.
func FuzzPlusObject(f *testing.F) {
	for _, h := range plusBenchPDUs {
		if p, err := DecodePlus(unhex(f, h)); err == nil {
			f.Add(p.Body)
		}
	}
	for _, h := range []string{
		"00 17 0000013a 823b 00 04 8200 823f 00 15 02 3131 00",
		"a1 8a320001 9432 00 00 a3 9359 00 03 0001 a3 9414 00 14 00 02 abcd a2",
		"1000006a 0400 0000 0000 01 01 92 ffffffff 00 07 03e9 00",
		"40 16 01 00 07 0005 00",
		"20 17 00000400 02 8169 00 02 01 00 8169 00 02 02 00",
	} {
		f.Add(unhex(f, h))
	}
	var d plusDecoder
	var tx, scratch protocols.Transaction
	check := func(t *testing.T, what string) {
		t.Helper()
		if d.depth != 0 {
			t.Fatalf("%s: depth %d after the walk", what, d.depth)
		}
		if len(tx.Values) > protocols.MaxValues || len(tx.ReadValues) > protocols.MaxValues {
			t.Fatalf("%s: %d values, %d read values, cap %d", what, len(tx.Values), len(tx.ReadValues), protocols.MaxValues)
		}
		if len(tx.Targets) > maxPlusItems+1 {
			t.Fatalf("%s: %d targets", what, len(tx.Targets))
		}
		for _, a := range tx.Attrs {
			if len(a.Value) > 4*maxPlusString {
				t.Fatalf("%s: detail %s of %d bytes", what, a.Key, len(a.Value))
			}
		}
	}
	reset := func() {
		tx = protocols.Transaction{Targets: tx.Targets[:0], Values: tx.Values[:0], Points: tx.Points[:0], ReadValues: tx.ReadValues[:0],
			Attrs: tx.Attrs[:0], Anomalies: tx.Anomalies[:0]}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		reset()
		d.begin(&tx, b, sinkWrite)
		if entered, _ := d.value(0); entered {
			d.nested(true)
		}
		d.finish()
		check(t, "value")

		reset()
		d.begin(&tx, b, sinkRead)
		d.idValueList(true)
		d.finish()
		check(t, "id-value list")

		reset()
		d.begin(&tx, b, sinkNone)
		d.hook, d.objHook = plusHook, plusObjectHook
		d.object()
		d.identity()
		d.finish()
		check(t, "object")

		for _, v := range []byte{PlusV1, PlusV2, PlusV3} {
			d.notification(&scratch, v, b)
			if d.depth != 0 {
				t.Fatalf("notification: depth %d", d.depth)
			}
		}

		for fc := range codes.PlusFunctions {
			for _, v := range []byte{PlusV1, PlusV2} {
				p := PlusPDU{Version: v, Opcode: OpcodeRequest, Function: fc, Body: b, HasFunction: true}
				reset()
				d.request(&p, &tx, false)
				check(t, "request "+PlusFunctionName(fc))
				p.Opcode = OpcodeResponse
				reset()
				d.response(&p, &tx, true, false)
				check(t, "response "+PlusFunctionName(fc))
			}
		}
	})
}
