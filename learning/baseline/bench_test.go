package baseline

import (
	"net/netip"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// BenchmarkLearnControls learns what a DNP3 master does to 500
// outstations: select-before-operate on one of 20 CROB points each (five
// value-model fields a command), between class polls. It measures the
// learning path the pipeline benchmark leaves out.
func BenchmarkLearnControls(b *testing.B) {
	const outstations, points = 500, 20
	master := netip.MustParseAddr("10.0.0.1")
	txs := make([]*protocols.Transaction, 0, 3*outstations*points)
	for p := range points {
		for o := range outstations {
			server := netip.AddrFrom4([4]byte{10, 1, byte(o >> 8), byte(o)})
			for _, fc := range []struct {
				code int
				name string
				op   protocols.Op
			}{{1, "read", protocols.OpRead}, {3, "select", protocols.OpControl}, {4, "operate", protocols.OpControl}} {
				tx := &protocols.Transaction{Proto: "dnp3", Unit: "1/10", Op: fc.op, Code: fc.code, CodeName: fc.name,
					Client: protocols.Endpoint{IP: master}, Server: protocols.Endpoint{IP: server}, RequestFrame: 1}
				if fc.op == protocols.OpRead {
					tx.AddTarget("class0", 0, 0)
				} else {
					tx.AddTarget("g12v1", uint64(p), 1)
					tx.AddPoint(0, 0, protocols.FieldOp, protocols.TypeCode, 3)
					tx.AddPoint(0, 0, protocols.FieldCount, protocols.UintType(8), 1)
					tx.AddPoint(0, 0, protocols.FieldOnTime, protocols.UintType(32), 500)
					tx.AddPoint(0, 0, protocols.FieldOffTime, protocols.UintType(32), 0)
					tx.AddPoint(0, 0, protocols.FieldValue, protocols.TypeBool, 1)
				}
				txs = append(txs, tx)
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		m := New(Config{Mode: ModeLearn})
		at := t0
		for _, tx := range txs {
			at = at.Add(time.Millisecond)
			tx.RequestTime = at
			m.Observe(tx)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(txs)), "ns/transaction")
}
