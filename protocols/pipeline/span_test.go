package pipeline

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SPAN artefacts: the same packet seen twice.

var routerMAC = net.HardwareAddr{0x00, 0x1b, 0x54, 0xaa, 0xbb, 0xcc}

// routedCopy is f as a trunk SPAN shows it on the far side of a router:
// on another VLAN, from the router's MAC, one hop fewer to live, 100 µs later.
func routedCopy(t *testing.T, f capture.Frame, vlan uint16) capture.Frame {
	pkt := gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.Default)
	eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	dot1q := pkt.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
	ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	eth.SrcMAC, eth.DstMAC = routerMAC, eth.SrcMAC
	dot1q.VLANIdentifier = vlan
	ip.TTL--
	ls := []gopacket.SerializableLayer{eth, dot1q, ip}
	if tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
		require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
		ls = append(ls, tcp, gopacket.Payload(tcp.Payload))
	} else {
		udp := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
		ls = append(ls, udp, gopacket.Payload(udp.Payload))
	}
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...))
	return capture.Frame{Data: buf.Bytes(), TimeNano: f.TimeNano + 100e3, LinkType: f.LinkType, OrigLen: uint32(len(buf.Bytes()))}
}

// trunkView mirrors a client on VLAN 10 and a server on VLAN 20 routed to
// each other: every packet twice, first on its sender's VLAN.
func trunkView(t *testing.T, c *conn, frames []capture.Frame, fromClient []bool) []capture.Frame {
	var out []capture.Frame
	for i, f := range frames {
		if fromClient[i] {
			out = append(out, f, routedCopy(t, f, 20))
		} else {
			out = append(out, f, routedCopy(t, f, 10))
		}
	}
	return out
}

func TestRoutedCopiesOnTwoVLANs(t *testing.T) {
	build := func() []capture.Frame {
		c := newConn(t, 40100, 502)
		var frames []capture.Frame
		var fromClient []bool
		add := func(client bool, f capture.Frame) {
			frames, fromClient = append(frames, f), append(fromClient, client)
		}
		// the client's frames carry VLAN 10, the server's VLAN 20
		c.vlans = []uint16{10}
		hs := c.handshake()
		add(true, hs[0])
		c.vlans = []uint16{20}
		add(false, c.frame(false, 0x12, c.sseq-1, nil))
		c.vlans = []uint16{10}
		add(true, hs[2])
		add(true, c.send(true, readReq))
		c.vlans = []uint16{20}
		add(false, c.send(false, readResp))
		c.vlans = []uint16{10}
		add(true, c.send(true, writeReq))
		c.vlans = []uint16{20}
		add(false, c.send(false, writeRsp))
		return trunkView(t, c, frames, fromClient)
	}

	t.Run("VLANs kept apart: each copy is its own flow", func(t *testing.T) {
		r := newRun(Limits{})
		r.feed(build()...)
		r.p.Flush()
		assert.Len(t, r.txs, 4, "every transaction reported once per VLAN: why MergeVLANs exists")
	})

	t.Run("VLANs merged: one flow, each transaction once", func(t *testing.T) {
		r := newRun(Limits{})
		r.p.MergeVLANs = true
		r.feed(build()...)
		r.p.Flush()
		require.Len(t, r.txs, 2)
		for _, tx := range r.txs {
			assert.Equal(t, protocols.OutcomeOK, tx.Outcome)
			assert.Equal(t, clientMAC.String(), net.HardwareAddr(tx.Client.MAC[:]).String(), "the client's own MAC, not the router's")
			assert.Equal(t, serverMAC.String(), net.HardwareAddr(tx.Server.MAC[:]).String(), "the server's own MAC, not the router's")
			assert.Equal(t, uint16(10), tx.VLAN, "the VLAN of the flow's first packet")
		}
		assert.Equal(t, []int{3, 6}, []int{r.txs[0].Code, r.txs[1].Code})
		// frames: SYN 1,2  SYN-ACK 3,4  ACK 5,6  read 7,8  response 9,10 ...
		assert.Equal(t, uint64(7), r.txs[0].RequestFrame, "the first sighting completes the PDU")
		assert.Equal(t, uint64(9), r.txs[0].ResponseFrame)
		assert.Equal(t, uint64(4), r.p.Stats.Retransmitted, "each data segment's second copy")
		assert.Equal(t, uint64(1), r.p.Stats.TCPFlows)
	})
}

// udpFrame is one Modbus/UDP datagram with the given IPv4 identification.
func udpFrame(t testing.TB, ts int64, fromClient bool, ipID uint16, vlan uint16, payload []byte) capture.Frame {
	src, dst := net.IP{10, 0, 0, 1}, net.IP{10, 0, 0, 2}
	sp, dp := layers.UDPPort(40200), layers.UDPPort(502)
	smac, dmac := clientMAC, serverMAC
	if !fromClient {
		src, dst, sp, dp, smac, dmac = dst, src, dp, sp, dmac, smac
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst, Id: ipID}
	udp := &layers.UDP{SrcPort: sp, DstPort: dp}
	require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: smac, DstMAC: dmac, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: vlan, Type: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(payload)))
	return capture.Frame{Data: buf.Bytes(), TimeNano: ts, LinkType: capture.LinkEthernet, OrigLen: uint32(len(buf.Bytes()))}
}

func TestUDPDuplicates(t *testing.T) {
	const t0 = int64(1_700_000_000e9)
	const ms = int64(1e6)
	for _, tc := range []struct {
		name       string
		merge      bool
		frames     func() []capture.Frame
		txs        int
		duplicates uint64
	}{
		{"ingress and egress mirrored: each datagram twice", false, func() []capture.Frame {
			req, rsp := udpFrame(t, t0, true, 7, 10, readReq), udpFrame(t, t0+2*ms, false, 900, 10, readResp)
			req2, rsp2 := req, rsp
			req2.TimeNano += 20e3
			rsp2.TimeNano += 20e3
			return []capture.Frame{req, req2, rsp, rsp2}
		}, 1, 2},
		{"routed copies on two VLANs, merged", true, func() []capture.Frame {
			req, rsp := udpFrame(t, t0, true, 7, 10, readReq), udpFrame(t, t0+2*ms, false, 900, 20, readResp)
			return []capture.Frame{req, routedCopy(t, req, 20), rsp, routedCopy(t, rsp, 10)}
		}, 1, 2},
		{"same bytes, new IPv4 identification: a real repeat", false, func() []capture.Frame {
			return []capture.Frame{udpFrame(t, t0, true, 7, 10, readReq), udpFrame(t, t0+ms, true, 8, 10, readReq)}
		}, 2, 0},
		{"same bytes and identification after the window: a real repeat", false, func() []capture.Frame {
			return []capture.Frame{udpFrame(t, t0, true, 7, 10, readReq), udpFrame(t, t0+2000*ms, true, 7, 10, readReq)}
		}, 2, 0},
		{"another payload with the same identification", false, func() []capture.Frame {
			return []capture.Frame{udpFrame(t, t0, true, 7, 10, readReq), udpFrame(t, t0+ms, true, 7, 10, writeReq)}
		}, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRun(Limits{})
			r.p.MergeVLANs = tc.merge
			r.feed(tc.frames()...)
			r.p.Flush()
			assert.Len(t, r.txs, tc.txs)
			assert.Equal(t, tc.duplicates, r.p.Stats.Duplicates)
		})
	}
}
