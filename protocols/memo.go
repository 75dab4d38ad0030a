package protocols

import (
	"encoding/binary"
	"net/netip"
)

// FlowMemo is what the consumers of one flow's packets and transactions
// note about the flow's two endpoints, so that the flow's next packet does
// not look them up again: on a busy network most of a consumer's work per
// packet was finding the same two hosts in its maps. The pipeline keeps
// one per flow and zeroes it when the flow starts; a nil *FlowMemo (a
// transaction from elsewhere) notes nothing.
//
// A note is a hint, never the truth: its owner checks it against its own
// tables (an index must still hold the address, a generation must still
// be current) before using it, as those change without the flow knowing.
type FlowMemo struct {
	// Hosts is each endpoint's index in the inventory's host table, plus
	// one (0: no note), in MemoSlot order.
	Hosts [2]int32
	// Known is the baseline's known-host epoch (never 0) in which both
	// endpoints were known hosts (0: no note).
	Known uint32
	// Over is the baseline's network epoch (never 0) in which network
	// learning was over at OverAt, the packet time, while one endpoint was
	// not a known host (0: no note). Until the epoch changes, a packet of the
	// flow no earlier than OverAt cannot make its sender a known host.
	Over   uint32
	OverAt int64
	// Reported is the same for transactions: network learning was over at
	// ReportedAt, and each endpoint that is not a known host was reported
	// as a new one (0: no note).
	Reported   uint32
	ReportedAt int64
	// Asset is the baseline's server asset of the flow's last transaction
	// (a *baseline.Asset, nil: no note), valid in AssetEpoch.
	Asset      any
	AssetEpoch uint32

	// What the inventory counted of the flow's packets and has not yet
	// added to its hosts' counters (inventory.ObservePacket). Unlike the
	// notes above this is owed, not a hint: the pipeline reports the end
	// of a flow whose memo is Queued (pipeline.FlowEnded) before it zeroes
	// the memo for another flow. CountIP are the flow's two addresses and
	// CountHost their hosts, CountIP[0] the sender of Counted[0].
	CountIP   [2]netip.Addr
	CountHost [2]int32
	Counted   [2]MemoCount
	Queued    bool
}

// MemoCount is one direction of a flow in its memo, for the inventory: the
// packets counted but not yet added to the hosts, and what the last packet
// checked against the inventory's tables carried.
type MemoCount struct {
	Packets, Bytes uint64
	First, Last    int64
	// Epoch is the inventory's epoch of that check (0: none); VLAN,
	// HasMAC and MAC what that packet carried.
	Epoch  uint32
	VLAN   uint16
	HasMAC bool
	MAC    [6]byte
}

// MemoSlot is the slot of FlowMemo.Hosts that notes ip, whose flow's
// other endpoint is other: the lower address takes slot 0, so both
// directions of a flow use the same slots.
func MemoSlot(ip, other netip.Addr) int {
	// The 16-octet forms compared as two numbers: every packet asks twice,
	// and netip's full order (address family, then zone) costs several times
	// more. Two addresses of one form that differ only in their zone take the
	// same slot; a note is checked against its address before use.
	a, b := ip.As16(), other.As16()
	ah, bh := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if ah < bh || ah == bh && binary.BigEndian.Uint64(a[8:]) < binary.BigEndian.Uint64(b[8:]) {
		return 0
	}
	return 1
}
