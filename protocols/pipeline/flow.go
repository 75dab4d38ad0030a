package pipeline

import (
	"net/netip"

	"github.com/otwatch/otwatch/protocols"
)

// flowKey identifies a flow regardless of direction: the lower endpoint first.
type flowKey struct {
	loIP, hiIP     netip.Addr
	loPort, hiPort uint16
	vlan           uint16
	proto          uint8
}

func makeKey(src, dst netip.Addr, sport, dport, vlan uint16, proto uint8) flowKey {
	if c := src.Compare(dst); c < 0 || (c == 0 && sport <= dport) {
		return flowKey{src, dst, sport, dport, vlan, proto}
	}
	return flowKey{dst, src, dport, sport, vlan, proto}
}

type flowState uint8

const (
	stateProbing flowState = iota
	stateBound
	stateUnknown
)

// segment is an out-of-order TCP segment kept until the hole before it fills.
type segment struct {
	seq  uint32
	data []byte
	// pkt is the packet that carried it: PDUs it completes are reported
	// there, as a dissector that sees segments in arrival order would.
	pkt protocols.Packet
}

// halfStream is one direction of a TCP flow.
type halfStream struct {
	started  bool
	next     uint32 // next expected sequence number
	pending  []byte // bytes offered to the session but not consumed yet
	ooo      []segment
	oooBytes int
	fin      bool
}

// datagramSeen is one recent UDP datagram, for duplicate suppression.
type datagramSeen struct {
	hash  uint64
	at    int64
	valid bool
}

// recentDatagrams holds the last few datagrams of each direction of a UDP flow.
type recentDatagrams [2]struct {
	seen [4]datagramSeen
	next uint8
}

// flow is one TCP or UDP conversation.
type flow struct {
	key   flowKey
	proto uint8
	// vlan is the VLAN of the flow's first packet (the transactions' VLAN).
	vlan uint16
	// macVLAN: the VLAN each side's MAC was learned on (MergeVLANs).
	macVLAN [2]uint16
	// recent: UDP flows only, allocated on the first datagram.
	recent         *recentDatagrams
	client, server protocols.Endpoint
	// clientIsLo: the client is key.loIP/loPort.
	clientIsLo bool
	sawSYN     bool
	answered   bool // the server has spoken (ConversationAnswered reported it)
	// UDP: asked says the flow's first datagram to one host was seen,
	// going askDir; quiet marks a flow that holds no conversation (a
	// datagram to a group, or the reply to one).
	asked, quiet bool
	askDir       protocols.Direction
	// spoke: TCP payload was seen in that direction (a flow picked up
	// mid-stream is a conversation once both sides spoke)
	spoke [2]bool
	// probeRetries counts fresh starts of probing (mid-stream captures).
	probeRetries uint8
	// rejected: every dissector said no to this direction's first bytes
	rejected  [2]bool
	state     flowState
	dissector *protocols.Dissector
	session   protocols.Session
	// spare: the session of the flow this one reuses, for the next
	// binding to its dissector (protocols.Reuser)
	spare    protocols.Reuser
	spareOf  *protocols.Dissector
	env      protocols.Env
	half     [2]halfStream // indexed by protocols.Direction
	lastSeen int64
	// LRU list links, most recent first
	prev, next *flow
	closed     bool
	// memo: the consumers' notes on the flow's endpoints (zero on reuse)
	memo protocols.FlowMemo
}

// direction of a packet from src:sport.
func (f *flow) direction(src netip.Addr, sport uint16) protocols.Direction {
	if src == f.client.IP && sport == f.client.Port {
		return protocols.ClientToServer
	}
	return protocols.ServerToClient
}

// setRoles fixes which endpoint is the client.
func (f *flow) setRoles(clientIsLo bool) {
	f.clientIsLo = clientIsLo
	lo := protocols.Endpoint{IP: f.key.loIP, Port: f.key.loPort, LinkAddress: -1}
	hi := protocols.Endpoint{IP: f.key.hiIP, Port: f.key.hiPort, LinkAddress: -1}
	if clientIsLo {
		f.client, f.server = lo, hi
	} else {
		f.client, f.server = hi, lo
	}
}

// swapRoles turns the flow around, before any byte was given to a session.
func (f *flow) swapRoles() {
	f.client, f.server = f.server, f.client
	f.clientIsLo = !f.clientIsLo
	f.half[0], f.half[1] = f.half[1], f.half[0]
}

func seqDiff(a, b uint32) int32 { return int32(a - b) }
