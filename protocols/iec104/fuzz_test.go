package iec104

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
)

// FuzzDecodeAPDU: decoding any bytes as an APDU of either side never
// panics, and what it reports stays within the caps.
func FuzzDecodeAPDU(f *testing.F) {
	for _, s := range []string{startDTAct, interrogation, "68040100 0a00",
		"680e02000400 2d010601 0d91 1a2700 81", "681200000000 32010600 0100 100000 00004842 00",
		"6816 06000200 0b830300 0100 640000 e80300 18fc00 000080", "6806 00000000 2d01",
		"680e 0a000400 2e014700 0d91 983a00 02", "6804 17000000", "68ff 00000000 7d01 0d00 0100 010000 0100 0105 aa"} {
		f.Add(hx(f, s))
	}
	f.Fuzz(func(t *testing.T, apdu []byte) {
		for _, controlling := range []bool{true, false} {
			var tx protocols.Transaction
			a, ok := decodeAPDU(apdu, &tx, controlling, &unitCache{})
			if !ok {
				continue
			}
			if len(tx.Values) > protocols.MaxValues || len(tx.ReadValues) > protocols.MaxValues || len(tx.Points) > protocols.MaxPoints {
				t.Fatalf("caps exceeded: %d values, %d read values, %d points", len(tx.Values), len(tx.ReadValues), len(tx.Points))
			}
			if len(tx.Targets) > maxObjectsPerPDU {
				t.Fatalf("%d targets from one ASDU", len(tx.Targets))
			}
			if a.Format == FormatI && tx.Code != int(apdu[apciLen]) {
				t.Fatalf("code %d from type octet %#x", tx.Code, apdu[apciLen])
			}
			_ = tx.AppendJSON(nil)
		}
	})
}

// FuzzSession feeds a session chunks with direction tags, as the pipeline
// would: each chunk is [direction bit + length byte][bytes]. Invariants: no
// panic, consumed within bounds (testkit checks), sequence state coherent.
func FuzzSession(f *testing.F) {
	f.Add(append(append([]byte{0x00, 6}, hx(f, startDTAct)...), append([]byte{0x80, 6}, hx(f, startDTCon)...)...))
	f.Add(append([]byte{0x00, 16}, hx(f, interrogation)...))
	f.Add(append(append([]byte{0x80, 7}, hx(f, "07070707070707")...), append([]byte{0x80, 9}, hx(f, "0a0a0a 680443000000")...)...))
	f.Add([]byte{0x40, 10, 0x80, 6, 0x68, 0x04, 0x83, 0, 0, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		r := newRecorder()
		s := newSession(&r.Env)
		frame, detached := testkit.ReplayScript(t, s, script, pk, func() {
			for _, tx := range r.Txs {
				if tx.Proto != Proto || (tx.RequestFrame == 0) == (tx.ResponseFrame == 0) {
					t.Fatalf("record without exactly one side: %+v", tx)
				}
			}
		})
		if !detached {
			s.Close(pk(frame + 1))
		}
	})
}
