package pipeline

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"time"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/frame"
)

// Pipeline consumes frames in capture order and emits transactions to a sink.
// It is not safe for concurrent use: one pipeline per capture stream.
type Pipeline struct {
	limits     Limits
	dissectors []*protocols.Dissector
	serverPort [2]map[uint16][]*protocols.Dissector // [0] TCP, [1] UDP
	flows      flowTable
	lruHead    *flow
	lruTail    *flow
	buffered   int
	spare      [][]byte // stream buffers no half-stream holds (takeBuf, putBuf)
	spareBytes int      // their room
	defrag     *frame.Defragmenter
	frameNo    uint64
	now        int64
	dec        frame.Decoded
	sink       func(*protocols.Transaction)
	txProto    string              // the protocol emit counted last,
	txOps      *protocols.OpCounts // and its counts in Stats.Transactions
	// Events, when set, receives the pipeline's second output, the network
	// stream: every frame, every TCP/UDP packet, ARP, ICMP and LLDP
	// messages, and conversations as they are answered or picked up (see
	// Event and EventKind).
	Events func(*Event)
	// FrameEvents asks for FrameSeen, every captured frame: only the
	// evidence recorder wants them, and without it they would be one more
	// call per frame for nothing.
	FrameEvents bool
	ev          Event // the one Events gets, refilled for each event
	// MergeVLANs keys flows by addresses and ports alone; set it before the
	// first frame. A SPAN session that mirrors several VLANs shows a routed
	// packet twice, once on each side of the router. Merged, the copies are
	// one flow (TCP's second copy is a retransmission, UDP's a duplicate)
	// instead of two flows that each report every transaction. Leave it off
	// where the same addresses are reused on different VLANs (identical
	// machine cells behind one switch).
	MergeVLANs bool
	// RecycleTransactions lets sessions fill each transaction again once
	// the sink has returned: no allocation per transaction, a heap that
	// stays small. Set it before the first frame, and only when neither
	// the sink nor anything it calls keeps a *Transaction, or one of its
	// slices, past the call: what is kept must be Transaction.Clone'd.
	RecycleTransactions bool
	// OnConsumerPanic, when set, hears of a panic of the sink's (what
	// consumes transactions: learning, inventory, alerts), with the
	// transaction it was given; the flow goes on (see consume).
	OnConsumerPanic func(r any, t *protocols.Transaction)
	// OnFramePanic, when set, hears of any other panic while a frame was
	// handled (of the pipeline's own code, or of Events), with the frame
	// (see FramePanicked).
	OnFramePanic func(r any, f capture.Frame)
	// Stats is updated as frames are handled.
	Stats   Stats
	dupSeed maphash.Seed
	queries groupQueries
	// free holds closed flows for reuse (a plant whose clients open a
	// connection per poll closes thousands of flows a minute).
	free []*flow
	txs  protocols.TxPool
	// What every session's Env points to, made once rather than per flow.
	strings   *protocols.Strings
	emitFn    func(*protocols.Transaction)
	anomalyFn func(string, protocols.Packet)
	cyclicFn  func(*protocols.Env, string, uint32, uint64)
}

// New builds a pipeline over the registered dissectors. sink receives each
// transaction; it must not keep the pointer after returning.
func New(limits Limits, sink func(*protocols.Transaction)) *Pipeline {
	return NewWith(limits, protocols.Dissectors(), sink)
}

// NewWith builds a pipeline over the given dissectors.
func NewWith(limits Limits, dissectors []*protocols.Dissector, sink func(*protocols.Transaction)) *Pipeline {
	limits = limits.withDefaults()
	p := &Pipeline{
		limits:     limits,
		dissectors: dissectors,
		flows:      newFlowTable(),
		defrag:     frame.NewDefragmenter(limits.MaxFragDatagrams, int64(limits.FragTimeout)),
		sink:       sink,
		Stats:      newStats(),
		dupSeed:    maphash.MakeSeed(),
		strings:    protocols.NewStrings(),
	}
	p.emitFn = p.emit
	p.anomalyFn = func(name string, _ protocols.Packet) { p.Stats.Anomalies[name]++ }
	p.cyclicFn = p.Stats.countCyclic
	for i := range p.serverPort {
		p.serverPort[i] = map[uint16][]*protocols.Dissector{}
	}
	for _, d := range dissectors {
		for _, port := range d.Ports {
			if d.Transports&protocols.TCP != 0 {
				p.serverPort[0][port] = append(p.serverPort[0][port], d)
			}
			if d.Transports&protocols.UDP != 0 {
				p.serverPort[1][port] = append(p.serverPort[1][port], d)
			}
		}
	}
	return p
}

// Frames is the number of frames handled so far (the last frame's number).
func (p *Pipeline) Frames() uint64 { return p.frameNo }

// HandleFrame processes one captured frame.
func (p *Pipeline) HandleFrame(f capture.Frame) {
	p.frameNo++
	p.now = f.TimeNano
	p.Stats.Packets++
	p.Stats.Bytes += uint64(len(f.Data))
	if f.OrigLen > uint32(len(f.Data)) {
		p.Stats.SnapCut++
	}
	if p.Stats.Packets == 1 {
		p.Stats.FirstPacket = time.Unix(0, f.TimeNano).UTC()
	}
	p.Stats.LastPacket = time.Unix(0, f.TimeNano).UTC()
	d := &p.dec
	err := frame.Decode(f.LinkType, f.Data, d)
	if p.FrameEvents && p.Events != nil {
		p.send(Event{Kind: FrameSeen, Frame: p.frameNo, Time: f.TimeNano, Decoded: d, Raw: f, HeadersOK: err == nil})
	}
	if err == nil && d.Fragment {
		p.Stats.Fragments++
		var complete bool
		complete, err = p.defrag.Add(d, f.TimeNano)
		if err == nil && !complete {
			p.expireIdle()
			return
		}
		if complete {
			p.Stats.Reassembled++
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, frame.ErrNotIP), errors.Is(err, frame.ErrUnsupported):
		p.Stats.NotIP++
		if d.ARP.Valid && p.Events != nil {
			p.sendGuarded("arp", Event{Kind: ARPSeen, Frame: p.frameNo, Time: f.TimeNano, Decoded: d})
		}
		if d.LLDP != nil && p.Events != nil {
			p.sendGuarded("lldp", Event{Kind: LLDPSeen, Frame: p.frameNo, Time: f.TimeNano, Decoded: d})
		}
	case errors.Is(err, frame.ErrOtherProto):
		p.Stats.OtherTransport++
		if d.ICMP.Valid && p.Events != nil {
			p.sendGuarded("icmp", Event{Kind: ICMPSeen, Frame: p.frameNo, Time: f.TimeNano, Decoded: d})
		}
	default:
		p.Stats.Malformed++
	}
	if err == nil {
		// The packet's flow, made here when the packet starts one and
		// there is room; one that must close another to make room is made
		// after PacketSeen (closing may emit transactions, which come after
		// the packet's PacketSeen, as when no flow closes).
		starts := len(d.Payload) > 0 || (d.IPProto == frame.ProtoTCP && d.Flags&frame.FlagSYN != 0)
		fl := p.lookupFlow(d, starts && p.flows.len() < p.limits.MaxFlows)
		if p.Events != nil {
			ev := Event{Kind: PacketSeen, Frame: p.frameNo, Time: f.TimeNano, Decoded: d, Len: len(f.Data)}
			if fl != nil {
				ev.Memo = &fl.memo
			}
			p.send(ev)
		}
		if fl == nil && starts {
			fl = p.lookupFlow(d, true)
		}
		if fl != nil {
			pkt := protocols.Packet{Frame: p.frameNo, Time: time.Unix(0, f.TimeNano).UTC()}
			if d.IPProto == frame.ProtoTCP {
				p.tcp(d, pkt, fl)
			} else {
				p.udp(d, pkt, fl)
			}
		}
	}
	p.expireIdle()
}

// Advance moves the pipeline's clock without a packet (a live capture on a
// quiet network): idle flows close and their unanswered requests are
// reported. Time never goes back.
func (p *Pipeline) Advance(timeNano int64) {
	if timeNano > p.now {
		p.now = timeNano
		p.expireIdle()
	}
}

// Flush closes every flow, oldest first, as at the end of the input.
func (p *Pipeline) Flush() {
	pkt := protocols.Packet{Frame: p.frameNo, Time: time.Unix(0, p.now).UTC()}
	for p.lruTail != nil {
		p.closeFlow(p.lruTail, pkt)
	}
	if p.defrag.Dropped > 0 {
		p.Stats.LimitsHit["fragments_dropped"] = p.defrag.Dropped
	}
	if p.defrag.LimitHit > 0 {
		p.Stats.LimitsHit["max_fragment_datagrams"] = p.defrag.LimitHit
	}
}

// Buffered is the number of bytes held for partial PDUs and out-of-order segments.
func (p *Pipeline) Buffered() int { return p.buffered }

// FlowCount is the number of flows tracked now.
func (p *Pipeline) FlowCount() int { return p.flows.len() }

func (p *Pipeline) limitHit(name string) { p.Stats.LimitsHit[name]++ }

func transportIndex(proto uint8) int {
	if proto == frame.ProtoUDP {
		return 1
	}
	return 0
}

func (p *Pipeline) lookupFlow(d *frame.Decoded, create bool) *flow {
	vlan := d.VLAN
	if p.MergeVLANs {
		vlan = 0
	}
	key := makeKey(d.Src, d.Dst, d.SrcPort, d.DstPort, vlan, d.IPProto)
	if fl := p.flows.get(key); fl != nil {
		return fl
	}
	if !create {
		return nil
	}
	for p.flows.len() >= p.limits.MaxFlows && p.lruTail != nil {
		p.limitHit("max_flows")
		p.closeFlow(p.lruTail, protocols.Packet{Frame: p.frameNo, Time: time.Unix(0, p.now).UTC()})
	}
	fl := p.newFlow()
	fl.key, fl.proto, fl.vlan = key, d.IPProto, d.VLAN
	p.flows.put(fl)
	if d.IPProto == frame.ProtoTCP {
		p.Stats.TCPFlows++
	} else {
		p.Stats.UDPFlows++
	}
	// Without a handshake, a known server port or else the lower port marks the server.
	ti := transportIndex(d.IPProto)
	loServer := len(p.serverPort[ti][key.loPort]) > 0
	hiServer := len(p.serverPort[ti][key.hiPort]) > 0
	switch {
	case loServer && !hiServer:
		fl.setRoles(false)
	case hiServer && !loServer:
		fl.setRoles(true)
	default:
		fl.setRoles(key.loPort > key.hiPort)
	}
	return fl
}

// portDecides: exactly one side of the flow is on a known server port.
func (p *Pipeline) portDecides(fl *flow) bool {
	ti := transportIndex(fl.proto)
	return (len(p.serverPort[ti][fl.key.loPort]) > 0) != (len(p.serverPort[ti][fl.key.hiPort]) > 0)
}

// touch moves a flow to the front of the LRU list.
func (p *Pipeline) touch(fl *flow) {
	fl.lastSeen = p.now
	if p.lruHead == fl {
		return
	}
	p.unlink(fl)
	fl.next = p.lruHead
	if p.lruHead != nil {
		p.lruHead.prev = fl
	}
	p.lruHead = fl
	if p.lruTail == nil {
		p.lruTail = fl
	}
}

func (p *Pipeline) unlink(fl *flow) {
	if fl.prev != nil {
		fl.prev.next = fl.next
	} else if p.lruHead == fl {
		p.lruHead = fl.next
	}
	if fl.next != nil {
		fl.next.prev = fl.prev
	} else if p.lruTail == fl {
		p.lruTail = fl.prev
	}
	fl.prev, fl.next = nil, nil
}

func (p *Pipeline) expireIdle() {
	idle := int64(p.limits.IdleTimeout)
	for p.lruTail != nil && p.now-p.lruTail.lastSeen > idle {
		p.closeFlow(p.lruTail, protocols.Packet{Frame: p.frameNo, Time: time.Unix(0, p.now).UTC()})
	}
}

func (p *Pipeline) setMAC(fl *flow, dir protocols.Direction, d *frame.Decoded) {
	if !d.HasMAC {
		return
	}
	ep := &fl.client
	if dir == protocols.ServerToClient {
		ep = &fl.server
	}
	if p.MergeVLANs && ep.HasMAC && d.VLAN != fl.macVLAN[dir] {
		return // a copy from the router's side carries the router's MAC
	}
	ep.MAC, ep.HasMAC = d.SrcMAC, true
	fl.macVLAN[dir] = d.VLAN
}

// answered reports a flow's conversation once, when its server first
// answers in direction by (TCP: the SYN-ACK; UDP: the first datagram back,
// see udpConversation). The other side opened it.
func (p *Pipeline) answered(fl *flow, by protocols.Direction, pkt protocols.Packet) {
	if fl.answered {
		return
	}
	fl.answered = true
	opener, server := fl.client, fl.server
	if by == protocols.ClientToServer {
		opener, server = fl.server, fl.client
	}
	if p.Events != nil {
		p.sendGuarded("conversation", Event{Kind: ConversationAnswered, Frame: pkt.Frame, Time: p.now,
			Client: netip.AddrPortFrom(opener.IP, opener.Port), Server: netip.AddrPortFrom(server.IP, server.Port), IPProto: fl.proto})
	}
}

// pickedUp reports a TCP conversation without a handshake seen once both
// sides carried data, unless an ICS dissector took the flow: its
// transactions tell who is client and server, for the baseline to judge.
func (p *Pipeline) pickedUp(fl *flow, dir protocols.Direction, pkt protocols.Packet) {
	fl.spoke[dir] = true
	if fl.sawSYN || fl.answered || !fl.spoke[1-dir] {
		return
	}
	fl.answered = true
	if fl.state == stateBound {
		return
	}
	if p.Events != nil {
		p.sendGuarded("conversation", Event{Kind: ConversationPickedUp, Frame: pkt.Frame, Time: p.now,
			Client: netip.AddrPortFrom(fl.client.IP, fl.client.Port), Server: netip.AddrPortFrom(fl.server.IP, fl.server.Port), IPProto: fl.proto})
	}
}

// udpConversation follows who asks and who answers in a UDP flow. UDP has
// no handshake. When exactly one side is on an ICS protocol's server port,
// that side serves (a DNP3 outstation's link status request still comes
// from port 20000); otherwise ports do not tell (NetBIOS and many others
// use one port on both sides): the side that sent the flow's first
// datagram asked, and the side that answers it is the server. A datagram to a group
// (broadcast, multicast, or the link's broadcast MAC) addresses no one:
// its flow holds no conversation, and neither does the flow of a unicast
// reply to it (a host answering a NetBIOS name query or an SSDP search
// opens nothing, and the querier called on no host in particular).
func (p *Pipeline) udpConversation(fl *flow, dir protocols.Direction, d *frame.Decoded, pkt protocols.Packet) {
	switch {
	case !d.ToOneHost():
		fl.quiet = true
		p.queries.ask(netip.AddrPortFrom(d.Src, d.SrcPort), p.now)
	case fl.answered || fl.quiet:
	case !fl.asked:
		fl.asked, fl.askDir = true, dir
		if p.portDecides(fl) {
			fl.askDir = protocols.ClientToServer
		}
		fl.quiet = p.queries.answered(netip.AddrPortFrom(d.Dst, d.DstPort), p.now)
	case dir != fl.askDir:
		p.answered(fl, dir, pkt)
	}
}

// duplicateWindow: a SPAN port's copies of one datagram (ingress and egress
// mirrored, or both sides of a router) arrive microseconds to milliseconds
// apart; an application's own retry of the same bytes comes seconds later
// and with a new IPv4 identification.
const duplicateWindow = int64(50 * time.Millisecond)

// duplicateDatagram reports whether this UDP datagram repeats one of the
// last few of its flow direction (same payload and IP identification)
// within duplicateWindow, and remembers it otherwise.
func (p *Pipeline) duplicateDatagram(fl *flow, dir protocols.Direction, d *frame.Decoded) bool {
	h := maphash.Bytes(p.dupSeed, d.Payload) ^ (uint64(d.IPID)+1)*0x9E3779B97F4A7C15
	if fl.recent == nil {
		fl.recent = new(recentDatagrams)
	}
	r := &fl.recent[dir]
	for _, seen := range r.seen {
		if seen.valid && seen.hash == h && p.now >= seen.at && p.now-seen.at <= duplicateWindow {
			return true
		}
	}
	r.seen[r.next] = datagramSeen{hash: h, at: p.now, valid: true}
	r.next = (r.next + 1) % uint8(len(r.seen))
	return false
}

// udp handles a datagram with a payload of flow fl.
func (p *Pipeline) udp(d *frame.Decoded, pkt protocols.Packet, fl *flow) {
	p.touch(fl)
	dir := fl.direction(d.Src, d.SrcPort)
	if p.duplicateDatagram(fl, dir, d) {
		p.Stats.Duplicates++
		return
	}
	p.udpConversation(fl, dir, d, pkt)
	p.setMAC(fl, dir, d)
	switch fl.state {
	case stateProbing:
		if p.probe(fl, dir, d.Payload, pkt); fl.state == stateBound {
			p.callFeed(fl, dir, d.Payload, pkt)
		}
	case stateBound:
		p.callFeed(fl, dir, d.Payload, pkt)
	}
}

// tcp handles a segment of flow fl (a stray ACK, FIN or RST of a flow
// not followed has none, and is not handled).
func (p *Pipeline) tcp(d *frame.Decoded, pkt protocols.Packet, fl *flow) {
	syn := d.Flags&frame.FlagSYN != 0
	p.touch(fl)
	dir := fl.direction(d.Src, d.SrcPort)
	if syn {
		ack := d.Flags&frame.FlagACK != 0
		// The SYN's sender is the client, unless it sends from a known server
		// port to an unknown one (a device opening the connection still serves
		// its protocol); turn the flow round if we guessed wrong.
		wrong := (dir == protocols.ServerToClient) != ack
		if wrong && p.portDecides(fl) {
			wrong = false
		}
		if wrong && fl.state == stateProbing &&
			len(fl.half[0].pending)+len(fl.half[1].pending) == 0 {
			fl.swapRoles()
			dir = 1 - dir
		}
		if ack && fl.sawSYN { // the SYN-ACK's sender answers, whatever the ports say
			p.answered(fl, dir, pkt)
		}
		fl.sawSYN = true
		h := &fl.half[dir]
		if !h.started {
			h.started, h.next = true, d.Seq+1
		}
	}
	p.setMAC(fl, dir, d)
	if len(d.Payload) > 0 {
		p.tcpData(fl, dir, d.Seq, d.Payload, d.WireLen, pkt)
		p.pickedUp(fl, dir, pkt)
	}
	if fl.closed {
		return
	}
	if d.Flags&frame.FlagACK != 0 {
		// The peer acknowledged bytes beyond a hole we buffered past: the
		// hole's bytes will never come (the capture missed them).
		other := &fl.half[1-dir]
		for len(other.ooo) > 0 && seqDiff(d.Ack, other.ooo[0].seq) > 0 && !fl.closed {
			p.skipGap(fl, 1-dir, pkt)
		}
	}
	if d.Flags&frame.FlagFIN != 0 {
		fl.half[dir].fin = true
	}
	if d.Flags&frame.FlagRST != 0 || (fl.half[0].fin && fl.half[1].fin) {
		p.closeFlow(fl, pkt)
	}
}

func (p *Pipeline) tcpData(fl *flow, dir protocols.Direction, seq uint32, payload []byte, wireLen int, pkt protocols.Packet) {
	h := &fl.half[dir]
	if !h.started {
		h.started, h.next = true, seq // mid-stream start
	}
	if fl.state == stateUnknown {
		h.next = seq + uint32(wireLen)
		return
	}
	missing := wireLen - len(payload) // bytes the capture's snap length cut
	diff := seqDiff(seq, h.next)
	if diff > 0 {
		p.Stats.OutOfOrder++
		p.bufferOutOfOrder(fl, dir, seq, payload, pkt)
		return
	}
	back := -int64(diff) // bytes of it already seen; in 64 bits, as -MinInt32 overflows int32
	if back >= int64(len(payload)+missing) {
		p.Stats.Retransmitted++
		return
	}
	if back < int64(len(payload)) {
		data := payload[back:]
		h.next += uint32(len(data))
		p.deliver(fl, dir, data, pkt)
	} else {
		missing -= int(back) - len(payload)
	}
	if missing > 0 && !fl.closed {
		h.next += uint32(missing)
		p.gap(fl, dir, missing, pkt)
	}
	p.drain(fl, dir, pkt)
}

func (p *Pipeline) bufferOutOfOrder(fl *flow, dir protocols.Direction, seq uint32, payload []byte, pkt protocols.Packet) {
	h := &fl.half[dir]
	for len(h.ooo) > 0 && (len(h.ooo) >= p.limits.MaxOutOfOrder || h.oooBytes+len(h.pending)+len(payload) > p.limits.MaxFlowBuffer ||
		p.buffered+len(payload) > p.limits.MaxTotalBuffer) {
		p.limitHit("flow_buffer")
		p.skipGap(fl, dir, pkt) // give up on the oldest hole to make room
		if fl.closed {
			return
		}
		if seqDiff(seq, h.next) <= 0 {
			p.tcpData(fl, dir, seq, payload, len(payload), pkt)
			return
		}
	}
	if p.buffered+len(payload) > p.limits.MaxTotalBuffer {
		p.limitHit("total_buffer")
		return // dropped: it will show as a gap
	}
	i := len(h.ooo)
	for i > 0 && seqDiff(h.ooo[i-1].seq, seq) > 0 {
		i--
	}
	if i > 0 && h.ooo[i-1].seq == seq && len(h.ooo[i-1].data) >= len(payload) {
		p.Stats.Retransmitted++
		return
	}
	h.ooo = append(h.ooo, segment{})
	copy(h.ooo[i+1:], h.ooo[i:])
	h.ooo[i] = segment{seq: seq, data: append([]byte(nil), payload...), pkt: pkt}
	h.oooBytes += len(payload)
	p.buffered += len(payload)
}

// drain delivers buffered segments that have become contiguous.
func (p *Pipeline) drain(fl *flow, dir protocols.Direction, pkt protocols.Packet) {
	h := &fl.half[dir]
	for len(h.ooo) > 0 && seqDiff(h.ooo[0].seq, h.next) <= 0 && !fl.closed {
		s := h.ooo[0]
		h.ooo = h.ooo[1:]
		h.oooBytes -= len(s.data)
		p.buffered -= len(s.data)
		// already-seen bytes at its head: next-seq in 0..2^31, counted as uint32
		// (as int32 the far end of that range would be negative)
		if trim := int64(h.next - s.seq); trim < int64(len(s.data)) {
			data := s.data[trim:]
			h.next += uint32(len(data))
			p.deliver(fl, dir, data, s.pkt)
		}
	}
	if len(h.ooo) == 0 {
		h.ooo = nil
	}
}

// skipGap gives up on the hole before the first buffered segment.
func (p *Pipeline) skipGap(fl *flow, dir protocols.Direction, pkt protocols.Packet) {
	h := &fl.half[dir]
	n := max(int(seqDiff(h.ooo[0].seq, h.next)), 0)
	h.next = h.ooo[0].seq
	p.gap(fl, dir, n, pkt)
	p.drain(fl, dir, pkt)
}

func (p *Pipeline) gap(fl *flow, dir protocols.Direction, n int, pkt protocols.Packet) {
	p.Stats.Gaps++
	p.Stats.GapBytes += uint64(n)
	h := &fl.half[dir]
	switch fl.state {
	case stateProbing:
		p.release(h) // a partial PDU cannot be probed across a hole
	case stateBound:
		p.release(h)
		p.guard(fl, func() { fl.session.Gap(dir, n, pkt) })
	}
}

func (p *Pipeline) release(h *halfStream) {
	p.buffered -= len(h.pending)
	p.putBuf(h.pending)
	h.pending = nil
}

// Stream buffers: a half-stream holds one only while a PDU of it is
// partial, taking it from spare ones the pipeline keeps and giving it back
// once the session has consumed it. Thousands of flows whose PDUs sometimes
// straddle segments then share a few buffers instead of each keeping its
// own, which on a capture of many flows was most of the fresh memory the
// process touched (and a page fault per 4 KiB of it). A new buffer holds
// what is pending with room for as much again (a PDU split in two then
// fits without growing) and at least minStreamBuf; a larger PDU doubles it,
// unless the session says how long the PDU is (protocols.Wanter), which
// sizes the buffer once.
// Spares are kept up to maxSpareBytes: when more flows than that are
// partial at once the extra buffers go back to the garbage collector.
const (
	minStreamBuf  = 2 << 10  // larger than most split PDUs of Modbus, DNP3 and S7comm
	maxSpareBuf   = 64 << 10 // larger buffers go back to the garbage collector
	maxSpareBytes = 1 << 20
	maxSpareCount = 256 // bounds takeBuf's search
)

// takeBuf returns an empty buffer with room for n bytes: the smallest spare
// one that has it, else a new one.
func (p *Pipeline) takeBuf(n int) []byte {
	best := -1
	for i, b := range p.spare {
		if cap(b) >= n && (best < 0 || cap(b) < cap(p.spare[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]byte, 0, max(n, minStreamBuf))
	}
	b := p.spare[best]
	last := len(p.spare) - 1
	p.spare[best] = p.spare[last]
	p.spare[last] = nil
	p.spare = p.spare[:last]
	p.spareBytes -= cap(b)
	return b
}

// appendPending appends data to a half-stream's partial PDU, moving it to a
// spare or new buffer when it does not fit: one the PDU's length when the
// session knows it (protocols.Wanter), else one with room for twice what it
// then holds.
func (p *Pipeline) appendPending(fl *flow, dir protocols.Direction, data []byte) {
	h := &fl.half[dir]
	if need := len(h.pending) + len(data); need > cap(h.pending) {
		size := max(2*need, 2*cap(h.pending))
		if w, ok := fl.session.(protocols.Wanter); ok {
			// the message's own length, when the session knows it
			if want := w.Wants(dir); want >= need && want <= p.limits.MaxFlowBuffer {
				size = want
			}
		}
		b := append(p.takeBuf(size), h.pending...)
		p.putBuf(h.pending)
		h.pending = b
	}
	h.pending = append(h.pending, data...)
	p.buffered += len(data)
}

// putBuf keeps b as a spare unless it is too small to serve (the small
// buffers a probing flow grew by appending) or too large, or the spares
// are full.
func (p *Pipeline) putBuf(b []byte) {
	if cap(b) < minStreamBuf || cap(b) > maxSpareBuf || len(p.spare) >= maxSpareCount || p.spareBytes+cap(b) > maxSpareBytes {
		return
	}
	p.spare = append(p.spare, b[:0])
	p.spareBytes += cap(b)
}

func (p *Pipeline) deliver(fl *flow, dir protocols.Direction, data []byte, pkt protocols.Packet) {
	switch fl.state {
	case stateProbing:
		if fl.rejected[dir] {
			return // waits for the other direction; the session re-synchronises here
		}
		h := &fl.half[dir]
		h.pending = append(h.pending, data...)
		p.buffered += len(data)
		p.probe(fl, dir, h.pending, pkt)
	case stateBound:
		p.feedStream(fl, dir, data, pkt)
	}
}

// feedStream offers stream bytes to the session, keeping what it leaves.
func (p *Pipeline) feedStream(fl *flow, dir protocols.Direction, data []byte, pkt protocols.Packet) {
	h := &fl.half[dir]
	if len(h.pending) == 0 {
		n := p.callFeed(fl, dir, data, pkt)
		if fl.state != stateBound || n >= len(data) {
			return
		}
		data = data[n:]
		if len(data) > p.limits.MaxFlowBuffer {
			p.limitHit("flow_buffer")
			p.gap(fl, dir, len(data), pkt)
			return
		}
		p.appendPending(fl, dir, data)
		return
	}
	if len(h.pending)+len(data) > p.limits.MaxFlowBuffer || p.buffered+len(data) > p.limits.MaxTotalBuffer {
		p.limitHit("flow_buffer")
		p.gap(fl, dir, len(h.pending), pkt) // drop the partial PDU, keep the new bytes
		p.feedStream(fl, dir, data, pkt)
		return
	}
	p.appendPending(fl, dir, data)
	n := p.callFeed(fl, dir, h.pending, pkt)
	if fl.state != stateBound {
		return
	}
	if n > 0 {
		rest := copy(h.pending, h.pending[n:])
		h.pending = h.pending[:rest]
		p.buffered -= n
		if rest == 0 {
			p.putBuf(h.pending)
			h.pending = nil
		}
	}
}

// callFeed gives bytes to the session, recovering a panic into an anomaly.
func (p *Pipeline) callFeed(fl *flow, dir protocols.Direction, data []byte, pkt protocols.Packet) (n int) {
	n, err := p.feedGuarded(fl, dir, data, pkt)
	if n < 0 || n > len(data) {
		n = len(data)
	}
	if err != nil && fl.state == stateBound {
		p.Stats.Anomalies[fl.dissector.Name+".protocol_lost"]++
		p.detach(fl)
	}
	return n
}

// guard runs a session call; a panic detaches the session and becomes an anomaly.
func (p *Pipeline) guard(fl *flow, call func()) {
	defer p.recoverSession(fl)
	call()
}

// feedGuarded is guard around the session's Feed, the call of every
// segment, without a closure to build and call through: on a panic it
// returns 0 and no error, the session detached.
func (p *Pipeline) feedGuarded(fl *flow, dir protocols.Direction, data []byte, pkt protocols.Packet) (n int, err error) {
	defer p.recoverSession(fl)
	return fl.session.Feed(dir, data, pkt)
}

// recoverSession, deferred, turns a session's panic into an anomaly and
// detaches the session.
func (p *Pipeline) recoverSession(fl *flow) {
	if r := recover(); r != nil {
		name := "pipeline.dissector_panic"
		if fl.dissector != nil {
			name = fl.dissector.Name + ".dissector_panic"
		}
		p.Stats.Anomalies[name]++
		p.detach(fl)
	}
}

func (p *Pipeline) detach(fl *flow) {
	fl.state = stateUnknown
	fl.session = nil
	for i := range fl.half {
		p.release(&fl.half[i])
	}
}

// probe asks the dissectors whether the bytes so far are theirs.
func (p *Pipeline) probe(fl *flow, dir protocols.Direction, data []byte, pkt protocols.Packet) {
	ti := transportIndex(fl.proto)
	want := protocols.TCP
	if ti == 1 {
		want = protocols.UDP
	}
	undecided := false
	try := func(d *protocols.Dissector) bool {
		if d.Transports&want == 0 {
			return false
		}
		var r protocols.ProbeResult
		p.guard(fl, func() { r = d.Probe(dir, data) })
		switch r {
		case protocols.ProbeYes:
			p.bind(fl, d, dir, pkt)
			return true
		case protocols.ProbeNeedMore:
			undecided = true
		}
		return false
	}
	// Port hints first, server port then client port, then everything else.
	var hintBuf [8]*protocols.Dissector
	hinted := append(append(hintBuf[:0], p.serverPort[ti][fl.server.Port]...), p.serverPort[ti][fl.client.Port]...)
	for _, d := range hinted {
		if try(d) {
			return
		}
	}
	for _, d := range p.dissectors {
		if !contains(hinted, d) && try(d) {
			return
		}
	}
	if fl.state != stateProbing {
		return
	}
	if !undecided && !fl.sawSYN && fl.probeRetries < maxProbeRetries {
		// A capture that starts mid-connection may start mid-PDU: try again
		// from the next segment, which more likely starts a PDU.
		fl.probeRetries++
		for i := range fl.half {
			p.release(&fl.half[i])
		}
		return
	}
	if !undecided && fl.proto == frame.ProtoTCP && !fl.rejected[1-dir] {
		// One direction said no; the other may still show a PDU boundary
		// (a capture that starts inside a large message of this direction).
		fl.rejected[dir] = true
		p.release(&fl.half[dir])
		return
	}
	if !undecided || len(data) > p.limits.ProbeWindow {
		if undecided {
			p.limitHit("probe_window")
		}
		fl.state = stateUnknown
		p.Stats.UnknownFlows++
		for i := range fl.half {
			p.release(&fl.half[i])
		}
	}
}

// maxProbeRetries bounds re-probing of a flow whose handshake was not seen.
const maxProbeRetries = 4

func contains(ds []*protocols.Dissector, d *protocols.Dissector) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

func (p *Pipeline) bind(fl *flow, d *protocols.Dissector, dir protocols.Direction, pkt protocols.Packet) {
	fl.state = stateBound
	fl.dissector = d
	p.Stats.IdentifiedFlows[d.Name]++
	t := protocols.TCP
	if fl.proto == frame.ProtoUDP {
		t = protocols.UDP
	}
	fl.env = protocols.Env{Transport: t, VLAN: fl.vlan, Client: &fl.client, Server: &fl.server, EmitFunc: p.emitFn,
		AnomalyFunc: p.anomalyFn, CyclicFunc: p.cyclicFn, Strings: p.strings, Memo: &fl.memo}
	if p.RecycleTransactions {
		fl.env.Pool = &p.txs
	}
	if spare := fl.spare; spare != nil && fl.spareOf == d {
		p.guard(fl, func() { spare.Reuse(&fl.env); fl.session = spare })
	} else {
		p.guard(fl, func() { fl.session = d.NewSession(&fl.env) })
	}
	fl.spare, fl.spareOf = nil, nil
	if fl.session == nil {
		p.detach(fl)
		return
	}
	if t == protocols.UDP {
		return // the caller's datagram is fed by probe's caller
	}
	for dd := range fl.half {
		if fl.rejected[dd] { // its bytes were skipped: the session finds the next PDU itself
			p.guard(fl, func() { fl.session.Gap(protocols.Direction(dd), 0, pkt) })
		}
	}
	// Feed what waited for the probe: the probing direction last, since it holds the newest bytes.
	for _, dd := range []protocols.Direction{1 - dir, dir} {
		h := &fl.half[dd]
		if len(h.pending) == 0 || fl.state != stateBound {
			continue
		}
		pending := h.pending
		h.pending = nil
		p.buffered -= len(pending)
		p.feedStream(fl, dd, pending, pkt)
		if h.pending == nil {
			p.putBuf(pending) // its bytes are consumed
		}
	}
}

func (p *Pipeline) emit(t *protocols.Transaction) {
	ops := p.txOps
	if t.Proto != p.txProto || ops == nil {
		// a capture's transactions come in runs of one protocol
		if ops = p.Stats.Transactions[t.Proto]; ops == nil {
			ops = &protocols.OpCounts{}
			p.Stats.Transactions[t.Proto] = ops
		}
		p.txProto, p.txOps = t.Proto, ops
	}
	ops.Count(t.Op)
	for _, a := range t.Anomalies {
		p.Stats.Anomalies[a]++
	}
	if p.sink != nil {
		p.consume(t)
	}
}

// consume hands t to the sink. The sink runs inside the session's Feed,
// whose guard would take a panic of the sink's for the dissector's and
// detach the flow: a fault in learning, the inventory or the alerts would
// leave the monitor blind to the flow, with only a dissector_panic counted.
// Here it is the anomaly pipeline.consumer_panic, told to OnConsumerPanic,
// and the session goes on with the next transaction.
func (p *Pipeline) consume(t *protocols.Transaction) {
	defer func() {
		if r := recover(); r != nil {
			p.Stats.Anomalies["pipeline.consumer_panic"]++
			if p.OnConsumerPanic != nil {
				p.OnConsumerPanic(r, t)
			}
		}
	}()
	p.sink(t)
}

func (p *Pipeline) closeFlow(fl *flow, pkt protocols.Packet) {
	if fl.closed {
		return
	}
	for dir := range fl.half {
		for len(fl.half[dir].ooo) > 0 && fl.state == stateBound {
			p.skipGap(fl, protocols.Direction(dir), pkt)
		}
	}
	fl.closed = true
	if fl.state == stateBound {
		p.guard(fl, func() { fl.session.Close(pkt) })
	}
	if fl.memo.Queued && p.Events != nil {
		p.send(Event{Kind: FlowEnded, Frame: p.frameNo, Time: p.now, Memo: &fl.memo})
	}
	for dir := range fl.half {
		h := &fl.half[dir]
		p.release(h)
		p.buffered -= h.oooBytes
		h.ooo, h.oooBytes = nil, 0
	}
	p.unlink(fl)
	p.flows.del(fl.key)
	if len(p.free) < maxFreeFlows {
		// Kept as it is (closed) until reused: callers up the stack may
		// still look at it.
		p.free = append(p.free, fl)
	}
}

// maxFreeFlows bounds the closed flows kept for reuse.
const maxFreeFlows = 1024

// newFlow returns a zero flow, reusing a closed one and its buffers when
// there is one.
func (p *Pipeline) newFlow() *flow {
	n := len(p.free)
	if n == 0 {
		return &flow{}
	}
	fl := p.free[n-1]
	p.free[n-1] = nil
	p.free = p.free[:n-1]
	pending, recent := [2][]byte{fl.half[0].pending[:0], fl.half[1].pending[:0]}, fl.recent
	spare, spareOf := fl.spare, fl.spareOf
	if r, ok := fl.session.(protocols.Reuser); ok {
		spare, spareOf = r, fl.dissector // closed in order: a panic or a Feed error detached it
	}
	*fl = flow{}
	fl.half[0].pending, fl.half[1].pending = pending[0], pending[1]
	fl.spare, fl.spareOf = spare, spareOf
	if recent != nil {
		*recent = recentDatagrams{}
		fl.recent = recent
	}
	return fl
}

// String describes the pipeline state, for debugging.
func (p *Pipeline) String() string {
	return fmt.Sprintf("pipeline{frames=%d flows=%d buffered=%d}", p.frameNo, p.flows.len(), p.buffered)
}
