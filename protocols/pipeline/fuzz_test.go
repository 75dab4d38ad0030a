package pipeline

import (
	"encoding/binary"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/frame"
	"github.com/otwatch/otwatch/protocols/lldp"
	"github.com/otwatch/otwatch/protocols/modbus"
)

// FuzzPipeline feeds the whole pipeline random frames. The input is a list
// of [link type selector][2-byte length][frame]. Invariants: no panic,
// buffers within their limits, nothing buffered after Flush, and the
// network stream's consumers (ARP, ICMP, conversations) only ever see what they decode.
func FuzzPipeline(f *testing.F) {
	add := func(frames ...capture.Frame) {
		var in []byte
		for _, fr := range frames {
			sel := byte(0)
			switch fr.LinkType {
			case capture.LinkLinuxSLL:
				sel = 1
			case capture.LinkSLL2:
				sel = 2
			case capture.LinkNull:
				sel = 3
			case capture.LinkRaw:
				sel = 4
			}
			in = append(in, sel, byte(len(fr.Data)>>8), byte(len(fr.Data)))
			in = append(in, fr.Data...)
		}
		f.Add(in)
	}
	c := newConn(f, 40100, 502)
	add(append(c.handshake(), c.send(true, readReq), c.send(false, readResp), c.send(true, writeReq))...)
	c2 := newConn(f, 40101, 502)
	c2.link, c2.vlans = capture.LinkEthernet, []uint16{5, 6}
	first := c2.send(true, readReq)
	c2.cseq += 7
	add(c2.send(true, writeReq), first, c2.send(false, readResp))
	c3 := newConn(f, 40102, 5020)
	c3.link = capture.LinkSLL2
	add(c3.send(true, readReq[:4]), c3.send(true, readReq[4:]))
	// ARP, ICMP errors quoting a probe, UDP duplicates: what the network detectors read
	add(capture.Frame{LinkType: capture.LinkEthernet, Data: mustHex(`0080f40a0b0c 000e8c010203 8100 0007 0806
		0001 0800 06 04 0002 000e8c010203 c0a80105 0080f40a0b0c c0a8010a`)},
		capture.Frame{LinkType: capture.LinkRaw, Data: mustHex(`4500 0038 0002 0000 4001 0000 0a000001 0a000042
		03 03 0000 00000000 4500 001c 1234 0000 4011 0000 0a000042 0a000001 9c40 00a1 0008 0000`)},
		capture.Frame{LinkType: capture.LinkRaw, Data: mustHex(`6000 0000 0038 3a 40 fd000000000000000000000000000001 fd000000000000000000000000000042
		01 04 0000 00000000 6000 0000 0008 11 40 fd000000000000000000000000000042 fd000000000000000000000000000001 9c40 bac0 0008 0000`)})
	add(capture.Frame{LinkType: capture.LinkEthernet, Data: mustHex(`0180c200000e 080027 2ecff4 88cc
		020d 07 77696e646f77732d372d766d 0409 07 706f72742d303031 0602 0014
		1014 05 01 0a0a0a14 02 00000001 08 2b0601040181c06e 0000`)})
	dup := udpFrame(f, 1, true, 7, 10, readReq)
	add(dup, dup, udpFrame(f, 2, false, 8, 10, readResp))
	links := []uint32{capture.LinkEthernet, capture.LinkLinuxSLL, capture.LinkSLL2, capture.LinkNull, capture.LinkRaw}
	f.Fuzz(func(t *testing.T, in []byte) {
		limits := Limits{MaxFlows: 8, MaxFlowBuffer: 512, MaxTotalBuffer: 2048, MaxOutOfOrder: 4}
		p := NewWith(limits, []*protocols.Dissector{modbus.Dissector}, func(tx *protocols.Transaction) { _ = tx.AppendJSON(nil) })
		p.MergeVLANs = len(in)%2 == 1
		p.Events = func(e *Event) {
			d := e.Decoded
			switch e.Kind {
			case ARPSeen:
				if !d.ARP.Valid || !d.ARP.SenderIP.Is4() || !d.ARP.TargetIP.Is4() {
					t.Fatalf("ARP event with %+v", d.ARP)
				}
			case ICMPSeen:
				if !d.ICMP.Valid || d.ICMP.Orig && (!d.ICMP.OrigSrc.IsValid() || !d.ICMP.OrigDst.IsValid()) {
					t.Fatalf("ICMP event with %+v", d.ICMP)
				}
			case LLDPSeen:
				lldp.Parse(d.LLDP)
			case ConversationAnswered, ConversationPickedUp:
				c, s, proto := e.Client, e.Server, e.IPProto
				if !c.Addr().IsValid() || !s.Addr().IsValid() || (proto != frame.ProtoTCP && proto != frame.ProtoUDP) {
					t.Fatalf("conversation %v -> %v proto %d", c, s, proto)
				}
			}
		}
		ts := int64(1e18)
		for len(in) >= 3 {
			link := links[int(in[0])%len(links)]
			n := int(binary.BigEndian.Uint16(in[1:]))
			in = in[3:]
			if n > len(in) {
				n = len(in)
			}
			if n > 0 {
				ts += int64(in[0]) * 1e7 // up to 2.5 s between frames: idle timeouts happen too
			}
			p.HandleFrame(capture.Frame{Data: in[:n], TimeNano: ts, LinkType: link})
			in = in[n:]
			if p.FlowCount() > limits.MaxFlows {
				t.Fatalf("%d flows, limit %d", p.FlowCount(), limits.MaxFlows)
			}
			if p.Buffered() > limits.MaxTotalBuffer+limits.MaxFlowBuffer {
				t.Fatalf("%d bytes buffered", p.Buffered())
			}
		}
		p.Flush()
		if p.Buffered() != 0 || p.FlowCount() != 0 {
			t.Fatalf("after flush: %d bytes, %d flows", p.Buffered(), p.FlowCount())
		}
	})
}
