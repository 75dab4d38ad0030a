package pipeline

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/modbus"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustHex(s string) []byte { return testkit.Hex(nil, s) }

var (
	readReq  = mustHex("0001 0000 0006 01 03 0064 0002")    // tid 1: read 2 registers at 100
	readResp = mustHex("0001 0000 0007 01 03 04 0011 0022") // its response
	writeReq = mustHex("0002 0000 0006 01 06 0010 002a")    // tid 2: write 42 to 16
	writeRsp = mustHex("0002 0000 0006 01 06 0010 002a")    // echo
)

type run struct {
	p   *Pipeline
	txs []protocols.Transaction
}

func newRun(limits Limits) *run {
	r := &run{}
	r.p = NewWith(limits, []*protocols.Dissector{modbus.Dissector}, func(t *protocols.Transaction) { r.txs = append(r.txs, *t) })
	return r
}

func (r *run) feed(frames ...capture.Frame) {
	for _, f := range frames {
		r.p.HandleFrame(f)
	}
}

func TestLinkTypes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		link   uint32
		vlans  []uint16
		ipv6   bool
		hasMAC bool
	}{
		{"ethernet", capture.LinkEthernet, nil, false, true},
		{"802.1Q", capture.LinkEthernet, []uint16{42}, false, true},
		{"QinQ", capture.LinkEthernet, []uint16{100, 42}, false, true},
		{"ethernet IPv6", capture.LinkEthernet, nil, true, true},
		{"linux SLL", capture.LinkLinuxSLL, nil, false, true},
		{"linux SLL2", capture.LinkSLL2, nil, false, true},
		{"BSD NULL", capture.LinkNull, nil, false, false},
		{"BSD NULL IPv6", capture.LinkNull, nil, true, false},
		{"raw IPv4", capture.LinkRaw, nil, false, false},
		{"raw IPv6", capture.LinkRaw, nil, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newConn(t, 40001, 502)
			c.link, c.vlans = tc.link, tc.vlans
			if tc.ipv6 {
				c.clientIP, c.serverIP = net.ParseIP("fd00::1"), net.ParseIP("fd00::2")
			}
			r := newRun(Limits{})
			r.feed(c.handshake()...)
			r.feed(c.send(true, readReq), c.send(false, readResp))
			r.p.Flush()
			require.Len(t, r.txs, 1)
			tx := r.txs[0]
			assert.Equal(t, uint64(4), tx.RequestFrame)
			assert.Equal(t, uint64(5), tx.ResponseFrame)
			assert.Equal(t, c.clientIP.String(), tx.Client.IP.String())
			assert.Equal(t, uint16(502), tx.Server.Port)
			assert.Equal(t, []protocols.Target{{Space: "holding_register", Address: 100, Count: 2}}, tx.Targets)
			assert.Equal(t, tc.hasMAC, tx.Client.HasMAC)
			if len(tc.vlans) > 0 {
				assert.Equal(t, tc.vlans[len(tc.vlans)-1], tx.VLAN, "the innermost tag")
			}
			if tc.hasMAC {
				assert.Equal(t, clientMAC.String(), net.HardwareAddr(tx.Client.MAC[:]).String())
			}
		})
	}
}

func TestRetransmissionsAndOutOfOrder(t *testing.T) {
	c := newConn(t, 40002, 502)
	r := newRun(Limits{})
	r.feed(c.handshake()...)
	req := c.send(true, readReq)
	r.feed(req, req) // retransmitted request
	// the response split in two segments that arrive in reverse order
	first := c.frame(false, 0x10, c.sseq, readResp[:5])
	second := c.frame(false, 0x10, c.sseq+5, readResp[5:])
	c.sseq += uint32(len(readResp))
	r.feed(second, first)
	r.p.Flush()
	require.Len(t, r.txs, 1)
	assert.Equal(t, protocols.OutcomeOK, r.txs[0].Outcome)
	assert.Equal(t, uint64(1), r.p.Stats.Retransmitted)
	assert.Equal(t, uint64(1), r.p.Stats.OutOfOrder)
	assert.Zero(t, r.p.Stats.Gaps)
}

func TestMissingSegmentIsAGap(t *testing.T) {
	c := newConn(t, 40003, 502)
	r := newRun(Limits{})
	r.feed(c.handshake()...)
	r.feed(c.send(true, readReq), c.send(false, readResp))
	lost := c.send(true, writeReq) // never captured
	_ = lost
	third := mustHex("0003 0000 0006 01 03 0000 0001")
	r.feed(c.send(true, third))
	require.Len(t, r.txs, 1, "the request behind the hole waits")
	// the server acknowledges everything: the hole will never fill
	r.feed(c.frame(false, 0x10, c.sseq, nil))
	r.feed(c.send(false, mustHex("0003 0000 0005 01 03 02 0007")))
	r.p.Flush()
	require.Len(t, r.txs, 2)
	assert.Equal(t, uint64(3), r.txs[1].ID)
	assert.Equal(t, protocols.OutcomeOK, r.txs[1].Outcome)
	assert.Equal(t, uint64(1), r.p.Stats.Gaps)
	assert.Equal(t, uint64(len(writeReq)), r.p.Stats.GapBytes)
}

func TestMidStreamStart(t *testing.T) {
	c := newConn(t, 40004, 502)
	r := newRun(Limits{})
	// no handshake; the first segment holds the tail of an ADU
	r.feed(c.send(true, readReq[5:]))
	r.feed(c.send(true, writeReq), c.send(false, writeRsp))
	r.feed(c.send(true, readReq), c.send(false, readResp))
	r.p.Flush()
	require.Len(t, r.txs, 2)
	assert.Equal(t, 6, r.txs[0].Code)
	assert.Equal(t, 3, r.txs[1].Code)
}

func TestNeverClosedConnectionIsFlushed(t *testing.T) {
	c := newConn(t, 40005, 502)
	r := newRun(Limits{})
	r.feed(c.handshake()...)
	r.feed(c.send(true, writeReq))
	require.Empty(t, r.txs)
	r.p.Flush()
	require.Len(t, r.txs, 1)
	assert.Equal(t, protocols.OutcomeNoResponse, r.txs[0].Outcome)
	assert.Zero(t, r.p.FlowCount())
	assert.Zero(t, r.p.Buffered())
}

func TestContentNotPortDecides(t *testing.T) {
	t.Run("modbus on 5020 is found", func(t *testing.T) {
		c := newConn(t, 40006, 5020)
		r := newRun(Limits{})
		r.feed(c.handshake()...)
		r.feed(c.send(true, readReq), c.send(false, readResp))
		r.p.Flush()
		require.Len(t, r.txs, 1)
		assert.Equal(t, uint16(5020), r.txs[0].Server.Port)
		assert.Equal(t, uint64(1), r.p.Stats.IdentifiedFlows["modbus"])
	})
	t.Run("other bytes on 502 are not Modbus", func(t *testing.T) {
		c := newConn(t, 40007, 502)
		r := newRun(Limits{})
		r.feed(c.handshake()...)
		r.feed(c.send(true, []byte("GET / HTTP/1.1\r\nHost: plc\r\n\r\n")), c.send(false, []byte("HTTP/1.1 200 OK\r\n\r\n")))
		r.feed(c.send(true, []byte("GET /x HTTP/1.1\r\n\r\n")))
		r.p.Flush()
		assert.Empty(t, r.txs)
		assert.Equal(t, uint64(1), r.p.Stats.UnknownFlows)
	})
}

func TestServerOpensConnection(t *testing.T) {
	// a device on port 502 sends the SYN: it is still the Modbus server
	c := newConn(t, 40008, 502)
	c.clientIP, c.serverIP = c.serverIP, c.clientIP
	c.cport, c.sport = 502, 40008
	r := newRun(Limits{})
	r.feed(c.handshake()...)
	r.feed(c.send(false, readReq), c.send(true, readResp))
	r.p.Flush()
	require.Len(t, r.txs, 1)
	assert.Equal(t, uint16(502), r.txs[0].Server.Port)
	assert.Equal(t, uint64(4), r.txs[0].RequestFrame)
}

// udpFragments builds a Modbus/UDP request split into two IPv4 fragments.
func udpFragments(t *testing.T, payload []byte) []capture.Frame {
	udp := &layers.UDP{SrcPort: 40009, DstPort: 502}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, udp, gopacket.Payload(payload)))
	dgram := buf.Bytes()
	var frames []capture.Frame
	for i, part := range [][]byte{dgram[:16], dgram[16:]} {
		frag := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ip.SrcIP, DstIP: ip.DstIP, Id: 77}
		if i == 0 {
			frag.Flags = layers.IPv4MoreFragments
		} else {
			frag.FragOffset = 2 // 16 bytes
		}
		fb := gopacket.NewSerializeBuffer()
		eth := &layers.Ethernet{SrcMAC: clientMAC, DstMAC: serverMAC, EthernetType: layers.EthernetTypeIPv4}
		require.NoError(t, gopacket.SerializeLayers(fb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, frag, gopacket.Payload(part)))
		frames = append(frames, capture.Frame{Data: fb.Bytes(), TimeNano: int64(1e18) + int64(i), LinkType: capture.LinkEthernet})
	}
	return frames
}

func TestIPv4FragmentsReassembled(t *testing.T) {
	r := newRun(Limits{})
	frags := udpFragments(t, mustHex("0005 0000 000b 01 10 0000 0002 04 0001 0002"))
	r.feed(frags[1], frags[0]) // out of order too
	r.p.Flush()
	require.Len(t, r.txs, 1)
	assert.Equal(t, 16, r.txs[0].Code)
	assert.Equal(t, uint64(2), r.txs[0].RequestFrame, "the fragment that completes the datagram")
	assert.Equal(t, uint64(2), r.p.Stats.Fragments)
	assert.Equal(t, uint64(1), r.p.Stats.Reassembled)
}

func TestLimits(t *testing.T) {
	t.Run("max flows evicts the least recent", func(t *testing.T) {
		r := newRun(Limits{MaxFlows: 2})
		for port := uint16(41000); port < 41003; port++ {
			c := newConn(t, port, 502)
			r.feed(c.handshake()...)
			r.feed(c.send(true, readReq))
		}
		assert.Equal(t, uint64(1), r.p.Stats.LimitsHit["max_flows"])
		assert.Equal(t, 2, r.p.FlowCount())
		require.Len(t, r.txs, 1, "the evicted flow's request is reported")
		assert.Equal(t, uint16(41000), r.txs[0].Client.Port)
	})
	t.Run("idle timeout follows packet time", func(t *testing.T) {
		r := newRun(Limits{IdleTimeout: time.Minute})
		c := newConn(t, 41010, 502)
		r.feed(c.handshake()...)
		r.feed(c.send(true, readReq))
		other := newConn(t, 41011, 502)
		other.ts = c.ts + int64(2*time.Minute)
		r.feed(other.handshake()...)
		require.Len(t, r.txs, 1)
		assert.Equal(t, protocols.OutcomeNoResponse, r.txs[0].Outcome)
		assert.Equal(t, 1, r.p.FlowCount())
	})
	t.Run("flow buffer", func(t *testing.T) {
		r := newRun(Limits{MaxFlowBuffer: 64, MaxOutOfOrder: 2})
		c := newConn(t, 41020, 502)
		r.feed(c.handshake()...)
		r.feed(c.send(true, readReq))
		// a hole, then more out-of-order data than the flow may buffer
		c.cseq += 100
		for i := 0; i < 5; i++ {
			r.feed(c.send(true, readReq))
		}
		assert.Greater(t, r.p.Stats.LimitsHit["flow_buffer"], uint64(0))
		assert.LessOrEqual(t, r.p.Buffered(), 64)
		r.p.Flush()
		assert.Zero(t, r.p.Buffered())
	})
}

// panicky is a dissector whose session panics on its second PDU.
var panicky = &protocols.Dissector{Name: "panicky", Transports: protocols.TCP, Ports: []uint16{9999},
	Probe:      func(protocols.Direction, []byte) protocols.ProbeResult { return protocols.ProbeYes },
	NewSession: func(env *protocols.Env) protocols.Session { return &panickySession{} }}

type panickySession struct{ n int }

func (s *panickySession) Feed(dir protocols.Direction, data []byte, pkt protocols.Packet) (int, error) {
	if s.n++; s.n > 1 {
		var m map[string]int
		m["boom"]++ // nil map write: a real bug, not a polite panic
	}
	return len(data), nil
}
func (s *panickySession) Gap(protocols.Direction, int, protocols.Packet) {}
func (s *panickySession) Close(protocols.Packet)                         {}

func TestPanickingDissectorBecomesAnomaly(t *testing.T) {
	var txs int
	p := NewWith(Limits{}, []*protocols.Dissector{panicky, modbus.Dissector}, func(*protocols.Transaction) { txs++ })
	c := newConn(t, 41030, 9999)
	for _, f := range c.handshake() {
		p.HandleFrame(f)
	}
	p.HandleFrame(c.send(true, []byte("one")))
	p.HandleFrame(c.send(true, []byte("two")))
	p.HandleFrame(c.send(true, []byte("three")))
	// other flows keep working
	m := newConn(t, 41031, 502)
	for _, f := range append(m.handshake(), m.send(true, readReq), m.send(false, readResp)) {
		p.HandleFrame(f)
	}
	p.Flush()
	assert.Equal(t, uint64(1), p.Stats.Anomalies["panicky.dissector_panic"])
	assert.Equal(t, 1, txs)
}

// TestPanickingConsumerKeepsTheFlow: a panic of the sink's (learning,
// inventory, alerts) is not taken for the dissector's: the flow is not
// detached, the transactions after it are delivered, and the panic is
// counted and told with its transaction.
func TestPanickingConsumerKeepsTheFlow(t *testing.T) {
	var got []string
	var told []any
	calls := 0
	p := New(Limits{}, func(tx *protocols.Transaction) {
		calls++
		if calls == 2 {
			var m map[string]int
			m["boom"]++ // nil map write: a real bug
		}
		got = append(got, tx.Proto)
	})
	p.OnConsumerPanic = func(r any, tx *protocols.Transaction) { told = append(told, r, tx.Proto) }
	c := newConn(t, 41040, 502)
	frames := c.handshake()
	for range 4 {
		frames = append(frames, c.send(true, readReq), c.send(false, readResp))
	}
	for _, f := range frames {
		p.HandleFrame(f)
	}
	p.Flush()
	assert.Equal(t, 4, calls, "every transaction reached the sink")
	assert.Equal(t, []string{"modbus", "modbus", "modbus"}, got, "the ones after the panic completed")
	assert.Equal(t, uint64(1), p.Stats.Anomalies["pipeline.consumer_panic"])
	assert.Zero(t, p.Stats.Anomalies["modbus.dissector_panic"], "not the dissector's")
	require.Len(t, told, 2)
	assert.Contains(t, fmt.Sprint(told[0]), "nil map")
	assert.Equal(t, "modbus", told[1])
}

// A panic outside the guards of the sessions and the sink (here of
// Events, the network stream's consumer) loses that frame only: it is the
// anomaly pipeline.frame_panic, told with the frame, and ReadFrom hands
// the pipeline the frames after it as before.
func TestPanickingFrameIsSurvived(t *testing.T) {
	var got []string
	p := New(Limits{}, func(tx *protocols.Transaction) { got = append(got, tx.Proto) })
	seen := 0
	p.Events = func(e *Event) {
		if e.Kind == PacketSeen {
			if seen++; seen == 2 {
				var m map[string]int
				m["boom"]++ // nil map write: a real bug
			}
		}
	}
	var told []any
	p.OnFramePanic = func(r any, f capture.Frame) { told = append(told, r, f.TimeNano) }
	c := newConn(t, 41041, 502)
	frames := c.handshake()
	for range 4 {
		frames = append(frames, c.send(true, readReq), c.send(false, readResp))
	}
	progress := 0
	n, err := p.ReadFrom(openFrames(t, frames), func() { progress++ })
	require.NoError(t, err)
	p.Flush()
	assert.Equal(t, len(frames), n)
	assert.Equal(t, 1, progress, "at the end (fewer than ProgressEvery frames)")
	assert.Equal(t, uint64(1), p.Stats.Anomalies["pipeline.frame_panic"])
	require.Len(t, told, 2)
	assert.Contains(t, fmt.Sprint(told[0]), "nil map")
	assert.Equal(t, frames[1].TimeNano, told[1], "told with the frame that panicked")
	assert.Equal(t, []string{"modbus", "modbus", "modbus", "modbus"}, got, "the frames after it were handled")
}

// A panic of the reader's or of the progress function is not the
// pipeline's: it goes on up (a reader that panicked would panic again at
// once, and the loop would never end).
func TestReadFromCatchesOnlyThePipelinesPanic(t *testing.T) {
	c := newConn(t, 41042, 502)
	frames := c.handshake()
	for len(frames) < ProgressEvery+100 {
		frames = append(frames, c.send(true, readReq))
	}
	p := New(Limits{}, nil)
	assert.PanicsWithValue(t, "progress", func() { p.ReadFrom(openFrames(t, frames), func() { panic("progress") }) })
	assert.Equal(t, uint64(ProgressEvery), p.Frames(), "it was called in the loop, after frame ProgressEvery")
	assert.Zero(t, p.Stats.Anomalies["pipeline.frame_panic"])
}

// openFrames writes frames as a pcap file and opens it.
func openFrames(t *testing.T, frames []capture.Frame) *capture.Reader {
	b := binary.LittleEndian.AppendUint32(nil, 0xA1B23C4D) // nanosecond pcap
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, capture.MaxFrame)
	b = binary.LittleEndian.AppendUint32(b, capture.LinkEthernet)
	for _, f := range frames {
		b = binary.LittleEndian.AppendUint32(b, uint32(f.TimeNano/1e9))
		b = binary.LittleEndian.AppendUint32(b, uint32(f.TimeNano%1e9))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Data)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Data)))
		b = append(b, f.Data...)
	}
	path := filepath.Join(t.TempDir(), "frames.pcap")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	r, err := capture.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

func TestDeterministicOutput(t *testing.T) {
	render := func() string {
		r := newRun(Limits{})
		for port := uint16(42000); port < 42020; port++ {
			c := newConn(t, port, 502)
			r.feed(c.handshake()...)
			r.feed(c.send(true, readReq), c.send(true, writeReq), c.send(false, writeRsp))
		}
		r.p.Flush()
		var b []byte
		for i := range r.txs {
			b = append(r.txs[i].AppendJSON(b), '\n')
		}
		return string(b)
	}
	first := render()
	assert.Equal(t, 40, strings.Count(first, "\n"))
	for i := 0; i < 5; i++ {
		require.Equal(t, first, render(), "flows are flushed in a fixed order")
	}
}

func TestOtherDirectionStillProbed(t *testing.T) {
	// The capture starts inside a long client message (no handshake, no
	// PDU boundary on that side for a while); the server's responses show
	// the protocol, and the client side re-synchronises.
	c := newConn(t, 40020, 502)
	r := newRun(Limits{})
	junk := make([]byte, 300)
	for i := range junk {
		junk[i] = byte(0x41 + i%26)
	}
	for i := 0; i < 5; i++ { // five mid-PDU segments use up the re-probes
		r.feed(c.send(true, junk))
	}
	r.feed(c.send(false, readResp))
	r.feed(c.send(true, writeReq), c.send(false, writeRsp))
	r.p.Flush()
	require.NotEmpty(t, r.txs, "found by the server's side")
	last := r.txs[len(r.txs)-1]
	assert.Equal(t, 6, last.Code)
	assert.Equal(t, protocols.OutcomeOK, last.Outcome, "the client side re-synchronised")
}

func TestAdvanceClosesIdleFlowsWithoutPackets(t *testing.T) {
	r := newRun(Limits{IdleTimeout: time.Minute})
	c := newConn(t, 41050, 502)
	r.feed(c.handshake()...)
	r.feed(c.send(true, readReq))
	r.p.Advance(c.ts + int64(30*time.Second))
	assert.Empty(t, r.txs, "not idle yet")
	r.p.Advance(c.ts - int64(time.Hour)) // time never goes back
	r.p.Advance(c.ts + int64(2*time.Minute))
	require.Len(t, r.txs, 1)
	assert.Equal(t, protocols.OutcomeNoResponse, r.txs[0].Outcome)
	assert.Zero(t, r.p.FlowCount())
}

func TestConversationsAreReportedWhenAnswered(t *testing.T) {
	type conv struct {
		client, server string
		proto          uint8
		frame          uint64
	}
	var got []conv
	r := newRun(Limits{})
	r.p.Events = func(e *Event) {
		if e.Kind == ConversationAnswered {
			got = append(got, conv{e.Client.String(), e.Server.String(), e.IPProto, e.Frame})
		}
	}
	// a handshake: reported at the SYN-ACK, once
	c := newConn(t, 40300, 8080)
	r.feed(c.handshake()...)
	r.feed(c.send(true, []byte("GET /")), c.send(false, []byte("200")))
	// a refused SYN (a scan): not a conversation
	closed := newConn(t, 40301, 23)
	r.feed(closed.frame(true, 0x02, 1, nil), closed.frame(false, 0x14, 0, nil))
	// UDP: reported at the first datagram back, once per flow
	t0 := int64(1_700_000_000e9)
	r.feed(udpFrame(t, t0, true, 1, 10, readReq))
	r.feed(udpFrame(t, t0+1e6, false, 2, 10, readResp))
	r.feed(udpFrame(t, t0+2e6, true, 3, 10, writeReq), udpFrame(t, t0+3e6, false, 4, 10, writeRsp))
	// a device calling out from its Modbus port: the SYN's sender opened it
	out := newConn(t, 502, 40600)
	r.feed(out.handshake()...)
	r.p.Flush()
	assert.Equal(t, []conv{
		{"10.0.0.1:40300", "10.0.0.2:8080", 6, 2},
		{"10.0.0.1:40200", "10.0.0.2:502", 17, 9},
		{"10.0.0.1:502", "10.0.0.2:40600", 6, 13},
	}, got)
}

// The network stream: every frame as FrameSeen, each TCP/UDP packet as
// PacketSeen with its frame's length, ARP apart, the conversation once
// answered, each with its frame number and time.
func TestNetworkStream(t *testing.T) {
	r := newRun(Limits{})
	r.p.FrameEvents = true
	var got []string
	r.p.Events = func(e *Event) {
		switch e.Kind {
		case FrameSeen:
			got = append(got, fmt.Sprintf("frame %d ok=%v len=%d t=%d", e.Frame, e.HeadersOK, len(e.Raw.Data), e.Time))
		case PacketSeen:
			got = append(got, fmt.Sprintf("packet %d %s:%d len=%d", e.Frame, e.Decoded.Src, e.Decoded.SrcPort, e.Len))
		case ARPSeen:
			got = append(got, fmt.Sprintf("arp %d %s", e.Frame, e.Decoded.ARP.SenderIP))
		case ConversationAnswered:
			got = append(got, fmt.Sprintf("conversation %d %s %s %d", e.Frame, e.Client, e.Server, e.IPProto))
		default:
			got = append(got, fmt.Sprintf("kind %d", e.Kind))
		}
	}
	arp := capture.Frame{LinkType: capture.LinkEthernet, TimeNano: 7, Data: mustHex(`ffffffffffff 000e8c010203 0806
		0001 0800 06 04 0002 000e8c010203 c0a80105 0080f40a0b0c c0a8010a`)}
	c := newConn(t, 40400, 502)
	hs := c.handshake()
	r.feed(arp, hs[0], hs[1])
	r.feed(capture.Frame{LinkType: capture.LinkEthernet, TimeNano: 9, Data: []byte{1, 2, 3}})
	assert.Equal(t, []string{
		"frame 1 ok=false len=42 t=7",
		"arp 1 192.168.1.5",
		fmt.Sprintf("frame 2 ok=true len=%d t=%d", len(hs[0].Data), hs[0].TimeNano),
		fmt.Sprintf("packet 2 10.0.0.1:40400 len=%d", len(hs[0].Data)),
		fmt.Sprintf("frame 3 ok=true len=%d t=%d", len(hs[1].Data), hs[1].TimeNano),
		fmt.Sprintf("packet 3 10.0.0.2:502 len=%d", len(hs[1].Data)),
		"conversation 3 10.0.0.1:40400 10.0.0.2:502 6",
		"frame 4 ok=false len=3 t=9",
	}, got)
}

// A panic in a network-stream consumer is counted and capture goes on.
func TestHookPanicIsAnAnomaly(t *testing.T) {
	r := newRun(Limits{})
	r.p.Events = func(e *Event) {
		if e.Kind == ARPSeen {
			panic("a bug in a detector")
		}
	}
	arp := capture.Frame{LinkType: capture.LinkEthernet, Data: mustHex(`ffffffffffff 000e8c010203 0806
		0001 0800 06 04 0002 000e8c010203 c0a80105 0080f40a0b0c c0a8010a`)}
	c := newConn(t, 40400, 502)
	r.feed(arp)
	r.feed(c.handshake()...)
	r.feed(c.send(true, readReq), c.send(false, readResp), arp)
	r.p.Flush()
	assert.Equal(t, uint64(2), r.p.Stats.Anomalies["pipeline.arp_hook_panic"])
	assert.Len(t, r.txs, 1, "the Modbus transaction between the two panics")
}

// A segment exactly 2^31 bytes behind (or ahead of) the stream is the edge
// of TCP's serial arithmetic: int32(-2^31) cannot be negated. Found by
// FuzzPipeline; it once panicked.
func TestSequenceHalfwayRound(t *testing.T) {
	c := newConn(t, 40500, 502)
	r := newRun(Limits{})
	r.feed(c.handshake()...)
	r.feed(c.send(true, readReq))
	far := c.frame(true, 0x10, c.cseq+1<<31, readReq) // 2^31 away: neither clearly old nor new
	r.feed(far, c.send(false, readResp))
	r.p.Flush()
	require.NotEmpty(t, r.txs, "the stream goes on")
	assert.Equal(t, 3, r.txs[0].Code)
}

// The summary reads right for one packet and for many.
func TestSummaryEnglish(t *testing.T) {
	var b strings.Builder
	(&Stats{Packets: 1, Bytes: 1, Gaps: 1, GapBytes: 2}).WriteSummary(&b, time.Second)
	assert.Contains(t, b.String(), "otwatch: 1 packet (1 byte) in 1s")
	assert.Contains(t, b.String(), "1 gap (2 bytes lost)")
	assert.Contains(t, b.String(), "0 fragments (0 datagrams rebuilt)")
	b.Reset()
	(&Stats{Packets: 2, Bytes: 120, Duplicates: 1}).WriteSummary(&b, time.Second)
	assert.Contains(t, b.String(), "otwatch: 2 packets (120 bytes)")
	assert.Contains(t, b.String(), "1 duplicate datagram dropped")
}

// A frame the recording cut short (its snap length) is counted apart from
// the network's own losses, and the summary says how to record it whole:
// its lost bytes are a gap of the stream, and whole frames count nothing.
func TestSnapLengthCut(t *testing.T) {
	c := newConn(t, 40001, 502)
	r := newRun(Limits{})
	r.feed(c.handshake()...)
	r.feed(c.send(true, readReq), c.send(false, readResp))
	cut := c.send(true, writeReq)
	cut.Data = cut.Data[:len(cut.Data)-4] // the PDU's last four bytes not recorded
	r.feed(cut, c.send(false, writeRsp))
	r.p.Flush()
	assert.Equal(t, uint64(1), r.p.Stats.SnapCut, "only the frame cut counts")
	assert.Equal(t, uint64(1), r.p.Stats.Gaps, "its missing bytes are a hole in the stream")
	assert.Equal(t, uint64(0), r.p.Stats.Malformed, "its headers are whole")
	require.NotEmpty(t, r.txs)
	assert.Equal(t, 3, r.txs[0].Code, "the whole frames before it are dissected")
	var b strings.Builder
	r.p.Stats.WriteSummary(&b, time.Second)
	assert.Contains(t, b.String(), "snap length   1 frame recorded shorter than on the wire")
	assert.Contains(t, b.String(), "tcpdump -s 0")
	b.Reset()
	(&Stats{Packets: 1}).WriteSummary(&b, time.Second)
	assert.NotContains(t, b.String(), "snap length", "nothing said when nothing was cut")
}

// Each flow has one set of notes for its consumers: every packet of the
// flow carries it, so do the flow's transactions, another flow has its
// own, a stray packet of no flow has none, and a flow that reuses a
// closed one's room starts with none.
func TestFlowNotes(t *testing.T) {
	var memos []*protocols.FlowMemo
	var txMemos []*protocols.FlowMemo
	r := &run{}
	r.p = NewWith(Limits{}, []*protocols.Dissector{modbus.Dissector}, func(tx *protocols.Transaction) { txMemos = append(txMemos, tx.Memo) })
	r.p.Events = func(e *Event) {
		if e.Kind == PacketSeen {
			memos = append(memos, e.Memo)
		}
	}
	a, b := newConn(t, 40700, 502), newConn(t, 40701, 502)
	r.feed(a.handshake()...)
	r.feed(b.handshake()...)
	r.feed(a.send(true, readReq), b.send(true, readReq), a.send(false, readResp), b.send(false, readResp))
	require.Len(t, memos, 10)
	ma, mb := memos[0], memos[3]
	require.NotNil(t, ma, "the SYN starts the flow")
	require.NotNil(t, mb)
	assert.NotSame(t, ma, mb, "each flow its own")
	assert.Equal(t, []*protocols.FlowMemo{ma, ma, ma, mb, mb, mb, ma, mb, ma, mb}, memos)
	stray := newConn(t, 40703, 502)
	r.feed(stray.frame(true, 0x10, 1, nil))
	assert.Nil(t, memos[len(memos)-1], "an ACK of a flow not followed")
	assert.Equal(t, []*protocols.FlowMemo{ma, mb}, txMemos, "a flow's transactions carry its notes")

	ma.Hosts, ma.Known = [2]int32{4, 5}, 6
	r.feed(a.frame(true, 0x04, a.cseq, nil)) // a is reset; its room is kept for the next flow
	c := newConn(t, 40702, 502)
	r.feed(c.handshake()...)
	r.feed(c.send(true, readReq))
	last := memos[len(memos)-1]
	require.NotNil(t, last)
	assert.Same(t, ma, last, "the closed flow's room, reused")
	assert.Equal(t, protocols.FlowMemo{}, *last, "a new flow starts with no notes")
}

// At the flow limit a packet that starts a flow closes the least recently
// active one; what closing emits (here the unanswered request) comes
// after the packet's PacketSeen, as everything its flow causes does.
func TestPacketSeenBeforeWhatClosingEmits(t *testing.T) {
	var got []string
	r := &run{}
	r.p = NewWith(Limits{MaxFlows: 1}, []*protocols.Dissector{modbus.Dissector}, func(tx *protocols.Transaction) {
		got = append(got, fmt.Sprintf("transaction %s:%d %s", tx.Client.IP, tx.Client.Port, tx.Outcome))
	})
	r.p.Events = func(e *Event) {
		if e.Kind == PacketSeen {
			got = append(got, fmt.Sprintf("packet %d memo=%v", e.Frame, e.Memo != nil))
		}
	}
	a, b := newConn(t, 40800, 502), newConn(t, 40801, 502)
	r.feed(a.handshake()...)
	r.feed(a.send(true, readReq))
	got = nil
	r.feed(b.handshake()[0])
	assert.Equal(t, []string{"packet 5 memo=false", "transaction 10.0.0.1:40800 " + protocols.OutcomeNoResponse.String()}, got)
	assert.Equal(t, uint64(1), r.p.Stats.LimitsHit["max_flows"])
}

// lengthy frames messages as a 4-byte big-endian length, then the body;
// its session says how long the message it waits for is (a Wanter).
var lengthy = &protocols.Dissector{Name: "lengthy", Transports: protocols.TCP, Ports: []uint16{9998},
	Probe:      func(protocols.Direction, []byte) protocols.ProbeResult { return protocols.ProbeYes },
	NewSession: func(env *protocols.Env) protocols.Session { return &lengthySession{} }}

type lengthySession struct {
	wants    int
	messages []int
}

func (s *lengthySession) Feed(dir protocols.Direction, data []byte, pkt protocols.Packet) (int, error) {
	off := 0
	s.wants = 0
	for len(data)-off >= 4 {
		n := 4 + int(binary.BigEndian.Uint32(data[off:]))
		if len(data)-off < n {
			s.wants = n
			break
		}
		s.messages = append(s.messages, n)
		off += n
	}
	return off, nil
}
func (s *lengthySession) Wants(protocols.Direction) int                  { return s.wants }
func (s *lengthySession) Gap(protocols.Direction, int, protocols.Packet) {}
func (s *lengthySession) Close(protocols.Packet)                         {}

// A message split over many segments waits in one buffer of its own
// length when the session says the length, instead of one that doubles as
// the segments arrive.
func TestPendingBufferSizedByTheSession(t *testing.T) {
	p := NewWith(Limits{}, []*protocols.Dissector{lengthy}, func(*protocols.Transaction) {})
	c := newConn(t, 41040, 9998)
	for _, f := range c.handshake() {
		p.HandleFrame(f)
	}
	msg := make([]byte, 30000)
	binary.BigEndian.PutUint32(msg, uint32(len(msg)-4))
	var fl *flow
	var caps []int
	for off := 0; off < len(msg); off += 1000 {
		p.HandleFrame(c.send(true, msg[off:off+1000]))
		if fl == nil {
			for _, f := range p.flows.slots {
				if f != nil {
					fl = f
				}
			}
			require.NotNil(t, fl)
		}
		caps = append(caps, cap(fl.half[protocols.ClientToServer].pending))
	}
	assert.Equal(t, 30000, caps[0], "sized once, by the message's length")
	assert.Equal(t, 30000, caps[len(caps)-2], "never grown")
	assert.Equal(t, []int{30000}, fl.session.(*lengthySession).messages)
	assert.Zero(t, p.Buffered())
}
