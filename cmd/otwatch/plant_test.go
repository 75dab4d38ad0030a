package main

import (
	"encoding/binary"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"
)

// A small plant written packet by packet (gopacket), for tests that need
// every kind of network alert from the real pipeline without a network:
// an HMI polls a PLC over Modbus/TCP, then an attacker arrives.

type host struct {
	ip  net.IP
	mac net.HardwareAddr
}

func newHost(ip, mac string) host {
	m, err := net.ParseMAC(mac)
	if err != nil {
		panic(err)
	}
	return host{net.ParseIP(ip).To4(), m}
}

var (
	plantPLC      = newHost("10.1.0.1", "00:0e:8c:00:00:01")
	plantHMI      = newHost("10.1.0.2", "00:80:f4:00:00:02")
	plantDHCP     = newHost("10.1.0.250", "00:50:56:00:00:fa")
	plantAttacker = newHost("10.1.0.66", "00:0c:29:de:ad:66")
	broadcastMAC  = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// plantT0 is the plant's clock origin.
var plantT0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

type pcapWriter struct {
	t   *testing.T
	w   *pcapgo.Writer
	f   *os.File
	now time.Duration
}

func newPcap(t *testing.T, path string) *pcapWriter {
	f, err := os.Create(path)
	require.NoError(t, err)
	w := pcapgo.NewWriter(f)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	return &pcapWriter{t: t, w: w, f: f}
}

func (p *pcapWriter) close() { require.NoError(p.t, p.f.Close()) }

// at sets the time of the next packets (seconds after plantT0).
func (p *pcapWriter) at(sec float64) { p.now = time.Duration(sec * float64(time.Second)) }

func (p *pcapWriter) write(ls ...gopacket.SerializableLayer) {
	buf := gopacket.NewSerializeBuffer()
	require.NoError(p.t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...))
	b := buf.Bytes()
	require.NoError(p.t, p.w.WritePacket(gopacket.CaptureInfo{Timestamp: plantT0.Add(p.now), CaptureLength: len(b), Length: len(b)}, b))
	p.now += 200 * time.Microsecond
}

// arp writes an ARP request (who has target?) or reply (sender is at its MAC).
func (p *pcapWriter) arp(op uint16, sender host, target net.IP) {
	dst, tmac := broadcastMAC, net.HardwareAddr(make([]byte, 6))
	p.write(&layers.Ethernet{SrcMAC: sender.mac, DstMAC: dst, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: op, SourceHwAddress: sender.mac, SourceProtAddress: sender.ip, DstHwAddress: tmac, DstProtAddress: target.To4()})
}

// claim: sender says ip is at sender's MAC (a reply; an ARP spoofer's too).
func (p *pcapWriter) claim(sender host, ip string) {
	h := sender
	h.ip = net.ParseIP(ip).To4()
	p.arp(layers.ARPReply, h, h.ip)
}

func (p *pcapWriter) tcp(src, dst host, sport, dport uint16, seq, ack uint32, flags string, payload []byte) {
	t := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Ack: ack, Window: 8192}
	for _, f := range flags {
		switch f {
		case 'S':
			t.SYN = true
		case 'A':
			t.ACK = true
		case 'P':
			t.PSH = true
		case 'F':
			t.FIN = true
		case 'R':
			t.RST = true
		}
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.ip, DstIP: dst.ip}
	require.NoError(p.t, t.SetNetworkLayerForChecksum(ip))
	p.write(&layers.Ethernet{SrcMAC: src.mac, DstMAC: dst.mac, EthernetType: layers.EthernetTypeIPv4}, ip, t, gopacket.Payload(payload))
}

func (p *pcapWriter) udp(src, dst host, dstIP net.IP, dstMAC net.HardwareAddr, sport, dport uint16, payload []byte) {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.ip, DstIP: dstIP}
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	require.NoError(p.t, u.SetNetworkLayerForChecksum(ip))
	p.write(&layers.Ethernet{SrcMAC: src.mac, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}, ip, u, gopacket.Payload(payload))
}

// conn is one TCP connection, its sequence numbers followed.
type conn struct {
	p                  *pcapWriter
	client, server     host
	cport, sport       uint16
	cseq, sseq         uint32
	tid                uint16
	unit               byte
	closed, handshaken bool
}

// connect writes the three-way handshake.
func (p *pcapWriter) connect(client, server host, cport, sport uint16) *conn {
	c := &conn{p: p, client: client, server: server, cport: cport, sport: sport, cseq: 1000, sseq: 5000, unit: 1}
	p.tcp(client, server, cport, sport, c.cseq, 0, "S", nil)
	p.tcp(server, client, sport, cport, c.sseq, c.cseq+1, "SA", nil)
	c.cseq++
	c.sseq++
	p.tcp(client, server, cport, sport, c.cseq, c.sseq, "A", nil)
	return c
}

// exchange writes a request and, unless resp is nil, its response.
func (c *conn) exchange(req, resp []byte) {
	c.p.tcp(c.client, c.server, c.cport, c.sport, c.cseq, c.sseq, "PA", req)
	c.cseq += uint32(len(req))
	if resp != nil {
		c.p.tcp(c.server, c.client, c.sport, c.cport, c.sseq, c.cseq, "PA", resp)
		c.sseq += uint32(len(resp))
	}
	c.p.tcp(c.client, c.server, c.cport, c.sport, c.cseq, c.sseq, "A", nil)
}

// modbus frames a Modbus request and its response with MBAP headers.
func (c *conn) modbus(req, resp []byte) {
	c.tid++
	mbap := func(pdu []byte) []byte {
		if pdu == nil {
			return nil
		}
		h := make([]byte, 7, 7+len(pdu))
		binary.BigEndian.PutUint16(h, c.tid)
		binary.BigEndian.PutUint16(h[4:], uint16(len(pdu)+1))
		h[6] = c.unit
		return append(h, pdu...)
	}
	c.exchange(mbap(req), mbap(resp))
}

func (c *conn) close() {
	c.p.tcp(c.client, c.server, c.cport, c.sport, c.cseq, c.sseq, "FA", nil)
	c.p.tcp(c.server, c.client, c.sport, c.cport, c.sseq, c.cseq+1, "FA", nil)
	c.p.tcp(c.client, c.server, c.cport, c.sport, c.cseq+1, c.sseq+1, "A", nil)
}

// Modbus PDUs.
func readHolding(addr, n uint16) ([]byte, []byte) {
	req := []byte{3, byte(addr >> 8), byte(addr), byte(n >> 8), byte(n)}
	resp := append([]byte{3, byte(2 * n)}, make([]byte, 2*n)...)
	return req, resp
}

func writeRegister(addr, v uint16) ([]byte, []byte) {
	req := []byte{6, byte(addr >> 8), byte(addr), byte(v >> 8), byte(v)}
	return req, append([]byte(nil), req...)
}

// deviceID is a 43/14 read of the basic objects: vendor, product code, revision.
func deviceID(vendor, product, revision string) ([]byte, []byte) {
	req := []byte{0x2B, 0x0E, 0x01, 0x00}
	resp := []byte{0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 0x03}
	for i, v := range []string{vendor, product, revision} {
		resp = append(resp, byte(i), byte(len(v)))
		resp = append(resp, v...)
	}
	return req, resp
}

// dhcpOffer is a BOOTP reply carrying a DHCP OFFER from server, offering
// yiaddr to the client with chaddr, naming router and DNS.
func dhcpOffer(server host, yiaddr string, chaddr net.HardwareAddr, router net.IP) []byte {
	b := make([]byte, 240)
	b[0], b[1], b[2] = 2, 1, 6
	binary.BigEndian.PutUint32(b[4:], 0x1234abcd)
	copy(b[16:20], net.ParseIP(yiaddr).To4())
	copy(b[28:34], chaddr)
	copy(b[236:], []byte{0x63, 0x82, 0x53, 0x63})
	b = append(b, 53, 1, 2, 54, 4)
	b = append(b, server.ip...)
	b = append(b, 3, 4)
	b = append(b, router.To4()...)
	b = append(b, 6, 4)
	b = append(b, router.To4()...)
	return append(b, 255)
}

// plantCaptures writes the learning capture (an HMI polling a PLC, ARP,
// the plant's DHCP server) and the detection capture that follows it: the
// polling stops, the PLC reports new firmware, and an attacker arrives,
// browses the PLC, is called by it, scans its ports and sweeps the subnet,
// spoofs the PLC's address in ARP, offers DHCP and writes to the PLC.
func plantCaptures(t *testing.T, learn, detect string) {
	client := newHost("10.1.0.50", "02:00:00:00:00:50")
	p := newPcap(t, learn)
	p.at(0)
	p.claim(plantPLC, "10.1.0.1")
	p.claim(plantHMI, "10.1.0.2")
	p.claim(plantDHCP, "10.1.0.250")
	p.at(0.5)
	p.udp(plantDHCP, client, net.ParseIP("10.1.0.50"), client.mac, 67, 68, dhcpOffer(plantDHCP, "10.1.0.50", client.mac, plantDHCP.ip))
	p.at(1)
	poll := p.connect(plantHMI, plantPLC, 40001, 502)
	p.at(1.5)
	poll.modbus(deviceID("Schneider Electric", "BMX P34 2020", "V2.80"))
	for i := 0; i < 100; i++ {
		p.at(2 + float64(i))
		poll.modbus(readHolding(0, 10))
		if i%10 == 0 {
			poll.modbus(writeRegister(40, uint16(500+i)))
		}
		if i%30 == 0 {
			p.claim(plantPLC, "10.1.0.1")
			p.claim(plantHMI, "10.1.0.2")
		}
	}
	p.close()

	p = newPcap(t, detect)
	p.at(200)
	poll.p = p
	poll.modbus(deviceID("Schneider Electric", "BMX P34 2020", "V3.10")) // firmware changed
	// the HMI polls on, then stops
	for i := 0; i < 20; i++ {
		p.at(201 + float64(i))
		poll.modbus(readHolding(0, 10))
	}
	poll.close()
	// the attacker's box appears, browses a web server on the PLC, and the PLC calls it
	p.at(240)
	p.claim(plantAttacker, "10.1.0.66")
	p.at(241)
	web := p.connect(plantAttacker, plantPLC, 50100, 80)
	web.exchange([]byte("GET / HTTP/1.0\r\n\r\n"), []byte("HTTP/1.0 200 OK\r\n\r\nplc"))
	web.close()
	p.at(243)
	back := p.connect(plantPLC, plantAttacker, 49152, 4444)
	back.close()
	// a SYN scan of the PLC's closed ports, each refused
	for port := uint16(1); port <= 20; port++ {
		p.at(250 + float64(port)/10)
		p.tcp(plantAttacker, plantPLC, 50200, port, 7000, 0, "S", nil)
		p.tcp(plantPLC, plantAttacker, port, 50200, 0, 7001, "RA", nil)
	}
	// an ARP sweep of addresses nobody has
	for i := 0; i < 20; i++ {
		p.at(255 + float64(i)/10)
		p.arp(layers.ARPRequest, plantAttacker, net.IPv4(10, 1, 0, byte(100+i)))
	}
	// ARP spoofing: the attacker claims the PLC's address while the PLC answers
	for i := 0; i < 3; i++ {
		p.at(260 + 2*float64(i))
		p.claim(plantAttacker, "10.1.0.1")
		p.at(261 + 2*float64(i))
		p.claim(plantPLC, "10.1.0.1")
	}
	// a rogue DHCP server
	p.at(270)
	victim := newHost("10.1.0.51", "02:00:00:00:00:51")
	p.udp(plantAttacker, victim, net.ParseIP("10.1.0.51"), victim.mac, 67, 68, dhcpOffer(plantAttacker, "10.1.0.51", victim.mac, plantAttacker.ip))
	// the attacker writes to the PLC and forces it to listen only
	p.at(300)
	w := p.connect(plantAttacker, plantPLC, 50300, 502)
	w.modbus(writeRegister(40, 9999))
	w.modbus([]byte{8, 0, 4, 0, 0}, nil)
	// a request whose length field lies
	w.exchange([]byte{0, 9, 0, 0, 0, 2, 1, 3, 0, 0, 0, 1}, nil)
	w.close()
	p.at(330)
	p.claim(plantHMI, "10.1.0.2")
	p.close()
}
