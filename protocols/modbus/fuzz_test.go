package modbus

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
)

// FuzzDecodePDU: decoding any bytes as request or response never panics,
// and what it reports stays within the caps.
func FuzzDecodePDU(f *testing.F) {
	for _, s := range []string{"03006b0003", "100001000204000a0102", "2b0e01010000010007436f6d70616e79", "1415060004000100020600030009",
		"150d0600040007000306af04be100d", "8302", "170003000600000e000306", "0800040000"} {
		f.Add(hx(f, s))
	}
	f.Fuzz(func(t *testing.T, pdu []byte) {
		var req, resp protocols.Transaction
		DecodeRequest(pdu, &req)
		if len(req.Values) > protocols.MaxValues {
			t.Fatalf("%d values kept, cap is %d", len(req.Values), protocols.MaxValues)
		}
		if len(req.Targets) > len(pdu) {
			t.Fatalf("%d targets from %d bytes", len(req.Targets), len(pdu))
		}
		resp.RequestFrame = 1
		DecodeResponse(pdu, &resp)
		var orphan protocols.Transaction
		DecodeResponse(pdu, &orphan)
		if len(pdu) > 0 && orphan.Code != int(pdu[0]&0x7f) {
			t.Fatalf("orphan response code %d from function byte %#x", orphan.Code, pdu[0])
		}
		_ = req.AppendJSON(nil)
		_ = orphan.AppendJSON(nil)
	})
}

// FuzzSession feeds a session chunks with direction tags, as the pipeline
// would: each chunk is [direction bit + length byte][bytes]. Invariants: no
// panic, consumed within bounds, outstanding requests capped.
func FuzzSession(f *testing.F) {
	f.Add(append(append([]byte{0x00, 12}, hx(f, "000100000006010300000001")...), append([]byte{0x80, 11}, hx(f, "0001000000050103020007")...)...))
	f.Add(append([]byte{0x00, 20}, hx(f, "0001000000060103000000010002000000060110")...))
	f.Fuzz(func(t *testing.T, script []byte) {
		r := newRecorder(protocols.TCP)
		s := newSession(&r.env)
		testkit.ReplayBounded(t, s, script, pk, MaxOutstanding, s.outstanding.Len)
	})
}
