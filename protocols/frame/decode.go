// Package frame decodes link, network and transport headers in place, with no
// allocation: Ethernet (802.1Q and QinQ VLAN tags), Linux SLL and SLL2, BSD
// NULL/loopback and raw IPv4/IPv6, then IPv4 (fragments flagged), IPv6 (with
// extension headers and fragment header), TCP and UDP. Hand-written rather
// than gopacket's DecodingLayerParser because this is the per-packet hot path
// of a 1M packets/s target, and the few fields needed are fixed offsets.
package frame

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/otwatch/otwatch/protocols/capture"
)

// IP protocol numbers.
const (
	ProtoTCP = 6
	ProtoUDP = 17
)

// TCP flags.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
)

// Errors tell why a frame carries no TCP/UDP payload we follow.
var (
	ErrTruncated   = errors.New("frame: truncated header")
	ErrNotIP       = errors.New("frame: not IP")
	ErrUnsupported = errors.New("frame: unsupported link type")
	ErrOtherProto  = errors.New("frame: neither TCP nor UDP")
	ErrBadHeader   = errors.New("frame: inconsistent header")
)

// Decoded holds one frame's headers. Payload and slices alias the frame.
type Decoded struct {
	SrcMAC, DstMAC [6]byte
	HasMAC         bool
	VLAN           uint16 // innermost VLAN id, 0 if none
	Src, Dst       netip.Addr
	IPProto        uint8
	// Fragment: this IPv4/IPv6 packet is a fragment; FragID/FragOffset/MoreFrags
	// describe it and Payload is the fragment's IP payload.
	Fragment bool
	FragID   uint32
	// IPID is the IPv4 identification (of any packet, fragment or not); for
	// IPv6 it is the fragment header's identification, 0 without one. A SPAN
	// port's two copies of one datagram share it.
	IPID       uint32
	FragOffset int
	MoreFrags  bool
	SrcPort    uint16
	DstPort    uint16
	Seq, Ack   uint32
	Flags      uint8
	Payload    []byte
	// IPTruncated: the IP total length exceeded the captured bytes.
	IPTruncated bool
	// WireLen is the transport payload's length on the wire; it exceeds
	// len(Payload) when the capture cut the frame (snap length).
	WireLen int
	// ARP is set for an Ethernet/IPv4 ARP packet (Decode then returns
	// ErrNotIP): who claims which address, for the inventory's ARP watch.
	ARP ARP
	// ICMP is set for an ICMP/ICMPv6 message (Decode then returns
	// ErrOtherProto), for the scan detector.
	ICMP ICMP
	// LLDP is the payload of an LLDP frame (ethertype 0x88cc; Decode then
	// returns ErrNotIP), for protocols/lldp.
	LLDP []byte
	// GroupDst: the link layer delivered the frame to a group, not to one
	// station (Ethernet destination with the group bit: broadcast or
	// multicast; Linux cooked capture packet type broadcast or multicast).
	GroupDst bool
	// ipPayloadLen is the IP payload length the header claims.
	ipPayloadLen int
}

// ARP is one ARP request or reply over Ethernet for IPv4 (RFC 826).
type ARP struct {
	Valid     bool
	Op        uint16 // 1 request, 2 reply
	SenderMAC [6]byte
	SenderIP  netip.Addr
	TargetMAC [6]byte
	TargetIP  netip.Addr
}

// ICMP is the part of an ICMP or ICMPv6 message the scan detector reads:
// echo requests and replies, and for an error (destination unreachable)
// the datagram it is about.
type ICMP struct {
	Valid      bool
	V6         bool
	Type, Code uint8
	// the offending datagram of an error: its protocol, addresses and ports
	Orig                     bool
	OrigProto                uint8
	OrigSrc, OrigDst         netip.Addr
	OrigSrcPort, OrigDstPort uint16
}

// Echo, EchoReply and PortUnreachable classify the message across versions.
func (m *ICMP) Echo() bool      { return m.Valid && (!m.V6 && m.Type == 8 || m.V6 && m.Type == 128) }
func (m *ICMP) EchoReply() bool { return m.Valid && (!m.V6 && m.Type == 0 || m.V6 && m.Type == 129) }
func (m *ICMP) PortUnreachable() bool {
	return m.Valid && m.Orig && (!m.V6 && m.Type == 3 && m.Code == 3 || m.V6 && m.Type == 1 && m.Code == 4)
}

// IP protocol numbers of ICMP.
const (
	ProtoICMP   = 1
	ProtoICMPv6 = 58
)

func (d *Decoded) icmp(data []byte, v6 bool) {
	if len(data) < 8 {
		return
	}
	m := &d.ICMP
	*m = ICMP{Valid: true, V6: v6, Type: data[0], Code: data[1]}
	unreachable := !v6 && m.Type == 3 || v6 && m.Type == 1
	if !unreachable {
		return
	}
	orig := data[8:]
	switch {
	case !v6 && len(orig) >= 20 && orig[0]>>4 == 4:
		ihl := int(orig[0]&0x0F) * 4
		if ihl < 20 || len(orig) < ihl+4 {
			return
		}
		m.OrigProto = orig[9]
		m.OrigSrc, m.OrigDst = netip.AddrFrom4([4]byte(orig[12:16])), netip.AddrFrom4([4]byte(orig[16:20]))
		orig = orig[ihl:]
	case v6 && len(orig) >= 44 && orig[0]>>4 == 6:
		m.OrigProto = orig[6] // extension headers in a quoted datagram are not followed
		m.OrigSrc, m.OrigDst = netip.AddrFrom16([16]byte(orig[8:24])), netip.AddrFrom16([16]byte(orig[24:40]))
		orig = orig[40:]
	default:
		return
	}
	m.Orig = true
	m.OrigSrcPort, m.OrigDstPort = binary.BigEndian.Uint16(orig), binary.BigEndian.Uint16(orig[2:])
}

// ARP operations.
const (
	ARPRequest = 1
	ARPReply   = 2
)

func (d *Decoded) arp(data []byte) error {
	// hardware Ethernet (1), protocol IPv4, lengths 6 and 4; others
	// (ARCnet, IPv6-less oddities) say nothing about our hosts
	if len(data) < 28 || binary.BigEndian.Uint16(data) != 1 || binary.BigEndian.Uint16(data[2:]) != 0x0800 ||
		data[4] != 6 || data[5] != 4 {
		return ErrNotIP
	}
	a := &d.ARP
	a.Valid, a.Op = true, binary.BigEndian.Uint16(data[6:])
	copy(a.SenderMAC[:], data[8:14])
	a.SenderIP = netip.AddrFrom4([4]byte(data[14:18]))
	copy(a.TargetMAC[:], data[18:24])
	a.TargetIP = netip.AddrFrom4([4]byte(data[24:28]))
	return ErrNotIP
}

// Decode fills d from a frame of the given link type.
func Decode(link uint32, data []byte, d *Decoded) error {
	// only the Valid flags: a decoder that sets one fills its whole struct
	d.HasMAC, d.GroupDst, d.VLAN, d.Fragment, d.IPTruncated, d.IPID, d.ARP.Valid, d.ICMP.Valid, d.LLDP = false, false, 0, false, false, 0, false, false, nil
	d.SrcPort, d.DstPort, d.Seq, d.Ack, d.Flags, d.Payload = 0, 0, 0, 0, 0, nil
	var etherType uint16
	switch link {
	case capture.LinkEthernet:
		if len(data) < 14 {
			return ErrTruncated
		}
		copy(d.DstMAC[:], data[0:6])
		copy(d.SrcMAC[:], data[6:12])
		d.HasMAC, d.GroupDst = true, data[0]&1 != 0
		etherType, data = binary.BigEndian.Uint16(data[12:]), data[14:]
	case capture.LinkLinuxSLL:
		if len(data) < 16 {
			return ErrTruncated
		}
		if binary.BigEndian.Uint16(data[2:]) == 1 && binary.BigEndian.Uint16(data[4:]) == 6 {
			copy(d.SrcMAC[:], data[6:12])
			d.HasMAC = true
		}
		d.GroupDst = sllGroup(binary.BigEndian.Uint16(data[0:]))
		etherType, data = binary.BigEndian.Uint16(data[14:]), data[16:]
	case capture.LinkSLL2:
		if len(data) < 20 {
			return ErrTruncated
		}
		if binary.BigEndian.Uint16(data[8:]) == 1 && data[11] == 6 {
			copy(d.SrcMAC[:], data[12:18])
			d.HasMAC = true
		}
		d.GroupDst = sllGroup(uint16(data[10]))
		etherType, data = binary.BigEndian.Uint16(data[0:]), data[20:]
	case capture.LinkNull, capture.LinkLoop:
		if len(data) < 4 {
			return ErrTruncated
		}
		// The family is in host order of the capturing machine: accept both.
		fam := binary.LittleEndian.Uint32(data)
		if fam > 0xFFFF {
			fam = binary.BigEndian.Uint32(data)
		}
		data = data[4:]
		switch fam {
		case 2:
			etherType = 0x0800
		case 10, 24, 28, 30:
			etherType = 0x86DD
		default:
			return ErrNotIP
		}
	case capture.LinkRaw, capture.LinkIPv4, capture.LinkIPv6, 12, 14:
		if len(data) < 1 {
			return ErrTruncated
		}
		switch data[0] >> 4 {
		case 4:
			etherType = 0x0800
		case 6:
			etherType = 0x86DD
		default:
			return ErrNotIP
		}
	default:
		return ErrUnsupported
	}
	// VLAN tags: 802.1Q, 802.1ad (QinQ) and the old 0x9100 QinQ.
	for etherType == 0x8100 || etherType == 0x88A8 || etherType == 0x9100 {
		if len(data) < 4 {
			return ErrTruncated
		}
		d.VLAN = binary.BigEndian.Uint16(data) & 0x0FFF
		etherType, data = binary.BigEndian.Uint16(data[2:]), data[4:]
	}
	switch etherType {
	case 0x0800:
		return d.ipv4(data)
	case 0x86DD:
		return d.ipv6(data)
	case 0x0806:
		return d.arp(data)
	case 0x88CC:
		d.LLDP = data
	}
	return ErrNotIP
}

func (d *Decoded) ipv4(data []byte) error {
	if len(data) < 20 || data[0]>>4 != 4 {
		return ErrTruncated
	}
	ihl := int(data[0]&0x0F) * 4
	total := int(binary.BigEndian.Uint16(data[2:]))
	if ihl < 20 || total < ihl {
		return ErrBadHeader
	}
	if len(data) < ihl {
		return ErrTruncated
	}
	d.ipPayloadLen = total - ihl
	if total > len(data) {
		d.IPTruncated = true
		total = len(data)
	}
	d.Src = netip.AddrFrom4([4]byte(data[12:16]))
	d.Dst = netip.AddrFrom4([4]byte(data[16:20]))
	d.IPProto = data[9]
	frag := binary.BigEndian.Uint16(data[6:])
	payload := data[ihl:total] // total may be below the frame length: Ethernet padding
	d.IPID = uint32(binary.BigEndian.Uint16(data[4:]))
	if frag&0x3FFF != 0 {
		d.Fragment, d.FragID = true, d.IPID
		d.FragOffset, d.MoreFrags = int(frag&0x1FFF)*8, frag&0x2000 != 0
		d.Payload = payload
		return nil
	}
	return d.transport(payload)
}

func (d *Decoded) ipv6(data []byte) error {
	if len(data) < 40 || data[0]>>4 != 6 {
		return ErrTruncated
	}
	plen := int(binary.BigEndian.Uint16(data[4:]))
	d.Src = netip.AddrFrom16([16]byte(data[8:24]))
	d.Dst = netip.AddrFrom16([16]byte(data[24:40]))
	next := data[6]
	data = data[40:]
	d.ipPayloadLen = plen
	if plen == 0 {
		d.ipPayloadLen = len(data)
	}
	if plen > len(data) {
		d.IPTruncated = true
	} else if plen != 0 { // 0: jumbogram, take what is there
		data = data[:plen]
	}
	for {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(data) < 8 {
				return ErrTruncated
			}
			n := (int(data[1]) + 1) * 8
			if n > len(data) {
				return ErrTruncated
			}
			next, data = data[0], data[n:]
			d.ipPayloadLen -= n
		case 44: // fragment
			if len(data) < 8 {
				return ErrTruncated
			}
			off := binary.BigEndian.Uint16(data[2:])
			d.IPProto = data[0]
			if off&0xFFF9 == 0 { // atomic fragment: offset 0, no more fragments
				next, data = data[0], data[8:]
				d.ipPayloadLen -= 8
				continue
			}
			d.Fragment, d.FragID = true, binary.BigEndian.Uint32(data[4:])
			d.IPID = d.FragID
			d.FragOffset, d.MoreFrags = int(off&0xFFF8), off&1 != 0
			d.Payload = data[8:]
			return nil
		default:
			d.IPProto = next
			return d.transport(data)
		}
	}
}

// Transport decodes the TCP or UDP header in an IP payload of data's length
// (used on reassembled IP fragments).
func (d *Decoded) Transport(data []byte) error {
	d.ipPayloadLen = len(data)
	return d.transport(data)
}

func (d *Decoded) transport(data []byte) error {
	switch d.IPProto {
	case ProtoTCP:
		if len(data) < 20 {
			return ErrTruncated
		}
		off := int(data[12]>>4) * 4
		if off < 20 {
			return ErrBadHeader
		}
		if off > len(data) {
			return ErrTruncated
		}
		d.SrcPort, d.DstPort = binary.BigEndian.Uint16(data), binary.BigEndian.Uint16(data[2:])
		d.Seq, d.Ack = binary.BigEndian.Uint32(data[4:]), binary.BigEndian.Uint32(data[8:])
		d.Flags = data[13]
		d.Payload = data[off:]
		d.WireLen = d.ipPayloadLen - off
		if d.WireLen < len(d.Payload) {
			d.WireLen = len(d.Payload)
		}
		return nil
	case ProtoUDP:
		if len(data) < 8 {
			return ErrTruncated
		}
		d.SrcPort, d.DstPort = binary.BigEndian.Uint16(data), binary.BigEndian.Uint16(data[2:])
		n := int(binary.BigEndian.Uint16(data[4:]))
		if n < 8 {
			return ErrBadHeader
		}
		if n > len(data) {
			d.IPTruncated = true
			n = len(data)
		}
		d.Payload = data[8:n]
		d.WireLen = len(d.Payload)
		return nil
	case ProtoICMP, ProtoICMPv6:
		d.icmp(data, d.IPProto == ProtoICMPv6)
	}
	return ErrOtherProto
}
