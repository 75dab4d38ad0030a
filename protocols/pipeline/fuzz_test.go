package pipeline

import (
	"encoding/binary"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/modbus"
)

// FuzzPipeline feeds the whole pipeline random frames. The input is a list
// of [link type selector][2-byte length][frame]. Invariants: no panic,
// buffers within their limits, nothing buffered after Flush.
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
	links := []uint32{capture.LinkEthernet, capture.LinkLinuxSLL, capture.LinkSLL2, capture.LinkNull, capture.LinkRaw}
	f.Fuzz(func(t *testing.T, in []byte) {
		limits := Limits{MaxFlows: 8, MaxFlowBuffer: 512, MaxTotalBuffer: 2048, MaxOutOfOrder: 4}
		p := NewWith(limits, []protocols.Dissector{modbus.Dissector{}}, func(tx *protocols.Transaction) { _ = tx.AppendJSON(nil) })
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
