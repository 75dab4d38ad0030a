package inventory_test

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/frame"
)

// plant builds the benchmark's network: 1,000 clients each talking to 100
// of 9,000 servers (10,000 assets, 100,000 links), one transaction per link.
func plant() []*protocols.Transaction {
	const clients, servers, perClient = 1000, 9000, 100
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	hw := func(i int) [6]byte { return [6]byte{0x00, 0x1b, 0x1b, byte(i >> 16), byte(i >> 8), byte(i)} }
	txs := make([]*protocols.Transaction, 0, clients*perClient)
	for c := 0; c < clients; c++ {
		cl := protocols.Endpoint{IP: addr(c), Port: 40000, MAC: hw(c), HasMAC: true, LinkAddress: -1}
		for k := 0; k < perClient; k++ {
			s := clients + (c*perClient+k*7)%servers
			sv := protocols.Endpoint{IP: addr(s), Port: 502, MAC: hw(s), HasMAC: true, LinkAddress: -1}
			t := tx(cl, sv, uint64(len(txs)+1), withTarget("holding_register", uint64(k), 10))
			txs = append(txs, t)
		}
	}
	return txs
}

// BenchmarkObserve: the update cost of one transaction on an inventory of
// 10,000 assets and 100,000 links (the steady state: known assets and
// links, visited client by client, servers scattered). As in the pipeline,
// the sink sees one reused Transaction.
func BenchmarkObserve(b *testing.B) {
	txs := plant()
	inv := inventory.New(inventory.Limits{})
	for _, t := range txs {
		inv.Observe(t)
	}
	if a, l := inv.Len(); a != 10000 || l != 100000 {
		b.Fatalf("%d assets %d links", a, l)
	}
	type pair struct{ c, s protocols.Endpoint }
	pairs := make([]pair, len(txs))
	for i, t := range txs {
		pairs[i] = pair{t.Client, t.Server}
	}
	cur := *txs[0]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &pairs[i%len(pairs)]
		cur.Client, cur.Server = p.c, p.s
		inv.Observe(&cur)
	}
}

// BenchmarkObserveNew: building the inventory from nothing (every
// transaction creates a link, one in ten an asset).
func BenchmarkObserveNew(b *testing.B) {
	txs := plant()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for n < b.N {
		b.StopTimer()
		inv := inventory.New(inventory.Limits{})
		b.StartTimer()
		for _, t := range txs {
			inv.Observe(t)
			if n++; n >= b.N {
				break
			}
		}
	}
}

// BenchmarkObservePacket: the per-packet hook on a known host pair.
func BenchmarkObservePacket(b *testing.B) {
	txs := plant()
	inv := inventory.New(inventory.Limits{})
	for _, t := range txs {
		inv.Observe(t)
	}
	pkts := make([]frame.Decoded, 1024)
	for i := range pkts {
		t := txs[(i*97)%len(txs)]
		pkts[i] = frame.Decoded{SrcMAC: t.Client.MAC, HasMAC: true, Src: t.Client.IP, Dst: t.Server.IP, IPProto: frame.ProtoTCP}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inv.ObservePacket(&pkts[i&1023], 66, int64(i), nil)
	}
}

// BenchmarkMemory reports the heap held per asset by an inventory of
// 10,000 assets and 100,000 links (links included in the figure).
func BenchmarkMemory(b *testing.B) {
	txs := plant()
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		inv := inventory.New(inventory.Limits{})
		for _, t := range txs {
			inv.Observe(t)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		a, l := inv.Len()
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(a), "B/asset")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(l), "B/link")
		runtime.KeepAlive(inv)
	}
}

// BenchmarkMarshalState: a checkpoint of 10,000 assets and 100,000 links.
func BenchmarkMarshalState(b *testing.B) {
	inv := inventory.New(inventory.Limits{})
	for _, t := range plant() {
		inv.Observe(t)
	}
	b.ResetTimer()
	var n int
	for i := 0; i < b.N; i++ {
		s, err := inv.MarshalState()
		if err != nil {
			b.Fatal(err)
		}
		n = len(s)
	}
	b.ReportMetric(float64(n), "bytes")
}
