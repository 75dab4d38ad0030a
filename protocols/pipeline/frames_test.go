package pipeline

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/otwatch/otwatch/protocols/capture"
)

// conn builds the frames of one TCP connection with gopacket's layers.
type conn struct {
	t            testing.TB
	clientIP     net.IP
	serverIP     net.IP
	cport, sport uint16
	cseq, sseq   uint32
	vlans        []uint16
	link         uint32 // capture.Link*
	ts           int64
}

func newConn(t testing.TB, cport, sport uint16) *conn {
	return &conn{t: t, clientIP: net.IP{10, 0, 0, 1}, serverIP: net.IP{10, 0, 0, 2}, cport: cport, sport: sport,
		cseq: 1000, sseq: 5000, link: capture.LinkEthernet, ts: 1_700_000_000e9}

}

var (
	clientMAC = net.HardwareAddr{0x00, 0x0e, 0x8c, 0x01, 0x02, 0x03} // Siemens OUI
	serverMAC = net.HardwareAddr{0x00, 0x80, 0xf4, 0x0a, 0x0b, 0x0c} // Schneider OUI
)

// frame serialises one segment; fromClient picks the direction.
func (c *conn) frame(fromClient bool, flags uint8, seq uint32, payload []byte) capture.Frame {
	c.ts += 1e6
	srcIP, dstIP, sp, dp := c.clientIP, c.serverIP, c.cport, c.sport
	srcMAC, dstMAC := clientMAC, serverMAC
	ack := c.sseq
	if !fromClient {
		srcIP, dstIP, sp, dp, srcMAC, dstMAC = dstIP, srcIP, dp, sp, dstMAC, srcMAC
		ack = c.cseq
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: seq, Ack: ack, Window: 8192,
		SYN: flags&0x02 != 0, ACK: flags&0x10 != 0, FIN: flags&0x01 != 0, RST: flags&0x04 != 0, PSH: len(payload) > 0}
	var ipLayer gopacket.SerializableLayer
	ethType := layers.EthernetTypeIPv4
	if srcIP.To4() != nil {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: srcIP, DstIP: dstIP}
		tcp.SetNetworkLayerForChecksum(ip)
		ipLayer = ip
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: srcIP, DstIP: dstIP}
		tcp.SetNetworkLayerForChecksum(ip)
		ipLayer = ip
		ethType = layers.EthernetTypeIPv6
	}
	return c.serialize(ethType, srcMAC, dstMAC, ipLayer, tcp, gopacket.Payload(payload))
}

func (c *conn) serialize(ethType layers.EthernetType, srcMAC, dstMAC net.HardwareAddr, ls ...gopacket.SerializableLayer) capture.Frame {
	var all []gopacket.SerializableLayer
	switch c.link {
	case capture.LinkEthernet:
		next := ethType
		if len(c.vlans) > 0 {
			next = layers.EthernetTypeDot1Q
			if len(c.vlans) > 1 {
				next = layers.EthernetTypeQinQ
			}
		}
		all = append(all, &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: next})
		for i, id := range c.vlans {
			nt := ethType
			if i < len(c.vlans)-1 {
				nt = layers.EthernetTypeDot1Q
			}
			all = append(all, &layers.Dot1Q{VLANIdentifier: id, Type: nt})
		}
	case capture.LinkNull:
		fam := layers.ProtocolFamilyIPv4
		if ethType == layers.EthernetTypeIPv6 {
			fam = layers.ProtocolFamilyIPv6Linux
		}
		all = append(all, &layers.Loopback{Family: fam})
	}
	all = append(all, ls...)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, all...); err != nil {
		c.t.Fatal(err)
	}
	data := buf.Bytes()
	switch c.link { // gopacket cannot serialise Linux cooked headers: build them by hand
	case capture.LinkLinuxSLL:
		h := make([]byte, 16, 16+len(data))
		h[3], h[5] = 1, 6 // packet type host (0), ARPHRD_ETHER, address length 6
		copy(h[6:], srcMAC)
		h[14], h[15] = byte(ethType>>8), byte(ethType)
		data = append(h, data...)
	case capture.LinkSLL2:
		h := make([]byte, 20, 20+len(data))
		h[0], h[1] = byte(ethType>>8), byte(ethType)
		h[8], h[9], h[10], h[11] = 0, 1, 0, 6 // ARPHRD_ETHER, packet type host, address length 6
		copy(h[12:], srcMAC)
		data = append(h, data...)
	}
	return capture.Frame{Data: data, TimeNano: c.ts, LinkType: c.link, OrigLen: uint32(len(data))}
}

// handshake returns SYN, SYN-ACK, ACK.
func (c *conn) handshake() []capture.Frame {
	c.cseq, c.sseq = 1000, 5000
	fs := []capture.Frame{
		c.frame(true, 0x02, c.cseq-1, nil),
		c.frame(false, 0x12, c.sseq-1, nil),
		c.frame(true, 0x10, c.cseq, nil),
	}
	return fs
}

// send returns the frame of one in-order segment and advances the sequence.
func (c *conn) send(fromClient bool, payload []byte) capture.Frame {
	if fromClient {
		f := c.frame(true, 0x10, c.cseq, payload)
		c.cseq += uint32(len(payload))
		return f
	}
	f := c.frame(false, 0x10, c.sseq, payload)
	c.sseq += uint32(len(payload))
	return f
}
