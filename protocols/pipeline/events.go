package pipeline

import (
	"net/netip"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/frame"
)

// EventKind names what an Event of the network stream reports, and so
// which of its fields are set.
type EventKind uint8

const (
	// FrameSeen: every captured frame, numbered, before IP reassembly,
	// whether or not its headers decoded. Raw, Decoded, HeadersOK. The
	// evidence recorder keeps rings of recent frames per flow from it; sent
	// only when Pipeline.FrameEvents is set.
	FrameSeen EventKind = iota + 1
	// PacketSeen: every decoded TCP/UDP packet, after IP reassembly.
	// Decoded, Len. The inventory counts packets and bytes per host and
	// learns MAC/IP bindings from it; the DHCP watch and the scan
	// detector read it too.
	PacketSeen
	// ARPSeen: every ARP packet (Decoded.ARP, .VLAN, .SrcMAC). The
	// inventory's ARP watch learns who claims which address from it.
	ARPSeen
	// ICMPSeen: every ICMP/ICMPv6 message (Decoded.ICMP): echo sweeps and
	// refused UDP probes, for the scan detector.
	ICMPSeen
	// LLDPSeen: every LLDP frame (Decoded.LLDP, .SrcMAC).
	LLDPSeen
	// ConversationAnswered: a conversation its server answered, once: a
	// TCP SYN-ACK to a SYN seen, or the first UDP datagram back. Client,
	// Server, IPProto. Client opened it (sent the SYN, or the flow's first
	// datagram) and Server answered, whatever the ICS protocol's roles.
	// Scans that nothing answers never show here, nor datagrams to a
	// broadcast or multicast group and the replies to them.
	ConversationAnswered
	// ConversationPickedUp: a TCP conversation whose opening was not seen
	// (it began before capture started, or its handshake was lost), once
	// both sides carried data, unless it carries an ICS protocol. Client,
	// Server, IPProto: who opened it is unknown, and Client and Server
	// are the flow's roles as ports guess them.
	ConversationPickedUp
	// FlowEnded: a flow whose memo holds what a consumer counted and has
	// not yet taken (Memo.Queued) ends, its transactions emitted; Memo.
	// The memo is zeroed for another flow after this.
	FlowEnded
)

// Event is one item of the pipeline's second output, the network stream
// (see the package doc): what the pipeline saw of the network beside the
// ICS transactions it hands to the sink. Kind says which fields are set;
// the others are zero.
//
// The consumer gets a pointer to an Event the pipeline reuses, and
// Decoded and Raw.Data point into buffers that the next frame overwrites:
// nothing of it may be kept past the call (copy what is needed).
type Event struct {
	Kind EventKind
	// Frame is the number of the frame that carried it (the first frame
	// is 1); for a reassembled IP datagram, the frame that completed it.
	Frame uint64
	// Time is that frame's capture time in nanoseconds since the epoch.
	Time int64
	// Decoded is the frame's header decoding: every kind but the
	// conversations.
	Decoded *frame.Decoded
	// Raw is the frame as captured (FrameSeen).
	Raw capture.Frame
	// HeadersOK: the frame's headers decoded without error (FrameSeen).
	HeadersOK bool
	// Len is the captured length of the frame, in bytes (PacketSeen).
	Len int
	// Memo is the packet's flow's notes (PacketSeen, FlowEnded), nil for
	// the first packet of a flow and for a packet of no followed flow.
	Memo *protocols.FlowMemo
	// Client, Server and IPProto (frame.ProtoTCP or frame.ProtoUDP) are
	// the conversation's endpoints (ConversationAnswered, ConversationPickedUp).
	Client, Server netip.AddrPort
	IPProto        uint8
}

// send hands ev to the Events consumer, which must be set.
func (p *Pipeline) send(ev Event) {
	p.ev = ev
	p.Events(&p.ev)
}

// sendGuarded sends an event of the network detectors' kinds (ARP, ICMP,
// LLDP, conversations): a panic in the consumer becomes the anomaly
// pipeline.<name>_hook_panic, counted, and capture goes on. FrameSeen and
// PacketSeen, on the per-packet path, are not wrapped.
func (p *Pipeline) sendGuarded(name string, ev Event) {
	defer func() {
		if r := recover(); r != nil {
			p.Stats.Anomalies["pipeline."+name+"_hook_panic"]++
		}
	}()
	p.send(ev)
}
