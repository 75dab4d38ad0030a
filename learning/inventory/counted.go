package inventory

import (
	"net/netip"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/frame"
)

// Packets counted in their flow's memo.
//
// Every packet used to add to its two hosts' counters at once: two hosts
// of two cache lines each, scattered over the table, per packet, most of
// the inventory's share of a busy capture. Now a packet whose flow's last
// packet was checked against the tables (both hosts exist, the sender's
// MAC and VLAN are what its host holds, and no host's MAC or VLAN changed
// since: countEpoch) is only counted in the flow's memo (protocols.FlowMemo),
// which the pipeline keeps beside the flow it is handling. The counts are
// added to the hosts before anything reads them (the document, a save,
// LastHeard, a MAC that moves or turns out to be a router's), when the
// flow ends (pipeline.FlowEnded), or once maxCounted memos wait. Sums,
// minimums and maximums do not depend on the order they are made in, so
// what is read is what counting each packet at once gave
// (TestCountedPacketsChangeNothing).

// maxCounted bounds the memos waiting to be added (and the stale entries
// of memos already added, which the list keeps until it is emptied).
const maxCounted = 4096

// countInMemo counts a packet in its flow's memo when the memo's last check
// still holds; false: the packet must go through the tables.
func (inv *Inventory) countInMemo(d *frame.Decoded, frameLen int, ns int64, m *protocols.FlowMemo) bool {
	s, ok := countSlot(d, m)
	if !ok {
		return false
	}
	c := &m.Counted[s]
	hasMAC := d.HasMAC && usableMAC(d.SrcMAC)
	if c.Epoch != inv.countEpoch || c.VLAN != d.VLAN || c.HasMAC != hasMAC || hasMAC && c.MAC != d.SrcMAC {
		return false
	}
	c.Packets++
	c.Bytes += uint64(frameLen)
	if c.First == 0 || ns < c.First {
		c.First = ns
	}
	if ns > c.Last {
		c.Last = ns
	}
	if !m.Queued {
		m.Queued = true
		if len(inv.counted) >= maxCounted {
			inv.flushCounted()
		}
		inv.counted = append(inv.counted, m)
	}
	return true
}

// noteChecked records in the memo that a packet from src (host hs) to dst
// (host hd) went through the tables: the next ones like it are counted in
// the memo.
func (inv *Inventory) noteChecked(d *frame.Decoded, m *protocols.FlowMemo, hs, hd int32) {
	s, ok := countSlot(d, m)
	if !ok { // another pair's memo (one shared by mistake): its counts go first
		inv.FlushMemo(m)
		m.CountIP, m.CountHost, m.Counted = [2]netip.Addr{d.Src, d.Dst}, [2]int32{-1, -1}, [2]protocols.MemoCount{}
	}
	// The pair's hosts: the same addresses as any counts waiting, in a
	// table restored since (whose checks countEpoch voided) maybe at
	// other indices.
	m.CountHost[s], m.CountHost[1-s] = hs, hd
	c := &m.Counted[s]
	c.Epoch, c.VLAN, c.HasMAC, c.MAC = inv.countEpoch, d.VLAN, false, [6]byte{}
	if d.HasMAC && usableMAC(d.SrcMAC) {
		c.HasMAC, c.MAC = true, d.SrcMAC
	}
}

// countSlot is the slot of the memo's counts that a packet from d.Src to
// d.Dst goes to; false when the memo counts another pair.
func countSlot(d *frame.Decoded, m *protocols.FlowMemo) (int, bool) {
	switch {
	case m.CountIP[0] == d.Src && m.CountIP[1] == d.Dst:
		return 0, true
	case m.CountIP[1] == d.Src && m.CountIP[0] == d.Dst:
		return 1, true
	}
	return 0, false
}

// FlushMemo adds what a flow's memo counted to its hosts: at the end of
// the flow (pipeline.FlowEnded), before the memo serves another.
func (inv *Inventory) FlushMemo(m *protocols.FlowMemo) {
	if m == nil || !m.Queued {
		return
	}
	m.Queued = false
	for s := range m.Counted {
		c := &m.Counted[s]
		if c.Packets == 0 {
			continue
		}
		if src, dst := m.CountHost[s], m.CountHost[1-s]; inv.hostIs(src, m.CountIP[s]) && inv.hostIs(dst, m.CountIP[1-s]) {
			inv.hosts[src].sent(c.Packets, c.Bytes, c.First, c.Last)
			inv.hosts[dst].received(c.Packets, c.Bytes, c.First, c.Last)
		}
		c.Packets, c.Bytes, c.First, c.Last = 0, 0, 0, 0
	}
}

func (inv *Inventory) hostIs(hi int32, ip netip.Addr) bool {
	return hi >= 0 && int(hi) < len(inv.hosts) && inv.hosts[hi].IP == ip
}

// flushCounted adds every memo's counts to the hosts: before anything
// reads the hosts' counters or times.
func (inv *Inventory) flushCounted() {
	for i, m := range inv.counted {
		inv.FlushMemo(m)
		inv.counted[i] = nil
	}
	inv.counted = inv.counted[:0]
}

// dropCounted forgets what the memos counted for a table being replaced
// (restore): their hosts are another table's.
func (inv *Inventory) dropCounted() {
	for _, m := range inv.counted {
		if m.Queued {
			m.Queued = false
			m.Counted = [2]protocols.MemoCount{}
		}
	}
	clear(inv.counted)
	inv.counted = inv.counted[:0]
}

// hostsChanged ends what the memos' checks vouched for: a host's MAC or
// VLAN changed, or the table was replaced.
func (inv *Inventory) hostsChanged() {
	inv.countEpoch++
	if inv.countEpoch == 0 {
		inv.countEpoch = 1
	}
}
