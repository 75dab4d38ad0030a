package pipeline

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// Stats counts what the pipeline saw. Limits and anomalies are keyed by name.
type Stats struct {
	Packets         uint64
	Bytes           uint64
	NotIP           uint64 // frames that carry no IPv4/IPv6
	Malformed       uint64 // truncated or inconsistent link/IP/TCP/UDP headers
	SnapCut         uint64 // frames recorded shorter than they were on the wire (the capture's snap length)
	OtherTransport  uint64 // IP but neither TCP nor UDP
	Fragments       uint64
	Reassembled     uint64 // datagrams rebuilt from fragments
	TCPFlows        uint64
	UDPFlows        uint64
	IdentifiedFlows map[string]uint64 // flows bound to a dissector, per protocol
	UnknownFlows    uint64            // flows no dissector claimed
	Retransmitted   uint64            // TCP segments whose bytes were all seen before
	Duplicates      uint64            // UDP datagrams repeating one of their flow within 50 ms (SPAN copies)
	OutOfOrder      uint64            // TCP segments buffered until the hole before them filled
	Gaps            uint64            // holes in a TCP stream that were never filled
	GapBytes        uint64
	Transactions    map[string]*protocols.OpCounts // per protocol
	Anomalies       map[string]uint64
	LimitsHit       map[string]uint64
	FirstPacket     time.Time
	LastPacket      time.Time
	// CyclicIO totals cyclic I/O (EtherNet/IP class 1) per protocol;
	// CyclicConns counts it per connection, for at most maxCyclicConns
	// connections (those beyond count in the totals and in LimitsHit).
	CyclicIO    map[string]CyclicTotals
	CyclicConns map[CyclicKey]*CyclicCount
}

// CyclicKey names a cyclic I/O connection: its protocol, the flow's
// endpoints and the connection id its datagrams carry.
type CyclicKey struct {
	Proto          string
	Client, Server netip.AddrPort
	Conn           uint32
}

// CyclicCount is what one cyclic I/O connection's datagrams say: how many
// were seen, and how many more their sequence count shows were sent.
type CyclicCount struct{ Datagrams, Lost uint64 }

// CyclicTotals sums cyclic I/O of one protocol over its connections.
type CyclicTotals struct{ Connections, Datagrams, Lost uint64 }

const maxCyclicConns = 4096

// countCyclic is the sessions' Env.CyclicFunc.
func (s *Stats) countCyclic(e *protocols.Env, proto string, conn uint32, lost uint64) {
	t := s.CyclicIO[proto]
	t.Datagrams++
	t.Lost += lost
	k := CyclicKey{Proto: proto, Client: netip.AddrPortFrom(e.Client.IP, e.Client.Port),
		Server: netip.AddrPortFrom(e.Server.IP, e.Server.Port), Conn: conn}
	c := s.CyclicConns[k]
	switch {
	case c != nil:
	case len(s.CyclicConns) < maxCyclicConns:
		c = &CyclicCount{}
		s.CyclicConns[k] = c
		t.Connections++
	default:
		s.LimitsHit["cyclic_connections"]++
	}
	if c != nil {
		c.Datagrams++
		c.Lost += lost
	}
	s.CyclicIO[proto] = t
}

func newStats() Stats {
	return Stats{
		IdentifiedFlows: map[string]uint64{},
		Transactions:    map[string]*protocols.OpCounts{},
		Anomalies:       map[string]uint64{},
		LimitsHit:       map[string]uint64{},
		CyclicIO:        map[string]CyclicTotals{},
		CyclicConns:     map[CyclicKey]*CyclicCount{},
	}
}

// TransactionsTotal sums transactions over protocols and ops.
func (s *Stats) TransactionsTotal() uint64 {
	var n uint64
	for _, ops := range s.Transactions {
		n += ops.Total()
	}
	return n
}

// WriteSummary prints the human end-of-run summary.
func (s *Stats) WriteSummary(w io.Writer, elapsed time.Duration) {
	pps := 0.0
	if elapsed > 0 {
		pps = float64(s.Packets) / elapsed.Seconds()
	}
	fmt.Fprintf(w, "otwatch: %s (%s) in %s, %.0f packets/s\n", nOf(s.Packets, "packet"), nOf(s.Bytes, "byte"), elapsed.Round(time.Millisecond), pps)
	if !s.FirstPacket.IsZero() {
		fmt.Fprintf(w, "  capture time  %s .. %s\n", s.FirstPacket.UTC().Format(time.RFC3339), s.LastPacket.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "  flows         %d TCP, %d UDP; identified %s; unknown %d\n", s.TCPFlows, s.UDPFlows, counts(s.IdentifiedFlows), s.UnknownFlows)
	fmt.Fprintf(w, "  frames        %d not IP, %d other transport, %d malformed, %s (%s rebuilt)\n",
		s.NotIP, s.OtherTransport, s.Malformed, nOf(s.Fragments, "fragment"), nOf(s.Reassembled, "datagram"))
	if s.SnapCut > 0 {
		// said apart from gaps and malformed headers: the fix is the
		// recording's, not the network's
		fmt.Fprintf(w, "  snap length   %s recorded shorter than on the wire: the bytes cut are lost to dissection (gaps, malformed); record whole frames (tcpdump -s 0, dumpcap -s 0)\n",
			nOf(s.SnapCut, "frame"))
	}
	fmt.Fprintf(w, "  tcp           %d retransmitted, %d out of order, %s (%s lost)\n", s.Retransmitted, s.OutOfOrder, nOf(s.Gaps, "gap"), nOf(s.GapBytes, "byte"))
	if s.Duplicates > 0 {
		fmt.Fprintf(w, "  udp           %s dropped (SPAN copies)\n", nOf(s.Duplicates, "duplicate datagram"))
	}
	protos := make([]string, 0, len(s.Transactions))
	for p := range s.Transactions {
		protos = append(protos, p)
	}
	sort.Strings(protos)
	fmt.Fprintf(w, "  transactions  %d\n", s.TransactionsTotal())
	for _, p := range protos {
		ops := s.Transactions[p]
		fmt.Fprintf(w, "    %-12s %d: %s\n", p, ops.Total(), counts(ops.ByName()))
	}
	s.writeCyclic(w)
	fmt.Fprintf(w, "  anomalies     %s\n", counts(s.Anomalies))
	fmt.Fprintf(w, "  limits hit    %s\n", counts(s.LimitsHit))
}

// nOf is "1 packet", "2 packets": English for one and for many.
func nOf[N uint64 | int | int64](n N, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

func counts(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// writeCyclic prints cyclic I/O per protocol, then the connections that lost
// datagrams, most first (at most five).
func (s *Stats) writeCyclic(w io.Writer) {
	for _, p := range slices.Sorted(maps.Keys(s.CyclicIO)) {
		t := s.CyclicIO[p]
		fmt.Fprintf(w, "  cyclic I/O    %s: %s, %s, %d lost\n", p, nOf(t.Connections, "connection"), nOf(t.Datagrams, "datagram"), t.Lost)
	}
	var lossy []CyclicKey
	for k, c := range s.CyclicConns {
		if c.Lost > 0 {
			lossy = append(lossy, k)
		}
	}
	slices.SortFunc(lossy, func(a, b CyclicKey) int {
		if c := cmp.Compare(s.CyclicConns[b].Lost, s.CyclicConns[a].Lost); c != 0 {
			return c
		}
		return cmp.Compare(a.Conn, b.Conn)
	})
	for _, k := range lossy[:min(len(lossy), 5)] {
		c := s.CyclicConns[k]
		fmt.Fprintf(w, "    %s %s > %s connection 0x%08x: %s, %d lost\n", k.Proto, k.Client, k.Server, k.Conn, nOf(c.Datagrams, "datagram"), c.Lost)
	}
}
