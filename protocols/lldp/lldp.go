// Package lldp decodes IEEE 802.1AB Link Layer Discovery Protocol frames
// (ethertype 0x88cc). PROFINET devices must send LLDP, and most managed
// switches and many hosts do: the system name and description (a Siemens
// CPU or SCALANCE switch names its family, order number and firmware
// there) identify devices that never speak an ICS protocol to anyone the
// SPAN port sees, switches included.
package lldp

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"

	"github.com/otwatch/otwatch/protocols"
)

// Info is what one LLDP frame announced.
type Info struct {
	ChassisID    string // MAC as 00:11:…, a network address as text, else the printable id
	ChassisMAC   [6]byte
	HasChassis   bool // ChassisMAC is set (chassis id subtype 4)
	PortID       string
	PortDesc     string
	TTL          uint16
	SystemName   string
	SystemDesc   string
	Capabilities uint16 // enabled system capabilities (bit 2 bridge, 4 router, 7 station…)
	MgmtAddrs    []netip.Addr
}

// Errors.
var (
	ErrTruncated = errors.New("lldp: TLV runs past the frame")
	ErrMandatory = errors.New("lldp: the first three TLVs must be chassis id, port id and TTL")
)

const maxText = 255 // a TLV holds at most 511 bytes; keep names and descriptions short

// Parse decodes an LLDPDU (the Ethernet payload).
func Parse(b []byte) (Info, error) {
	var in Info
	for n := 0; len(b) >= 2; n++ {
		h := binary.BigEndian.Uint16(b)
		typ, length := int(h>>9), int(h&0x1FF)
		if len(b) < 2+length {
			return in, ErrTruncated
		}
		v := b[2 : 2+length]
		b = b[2+length:]
		if n < 3 && typ != n+1 {
			return in, ErrMandatory
		}
		switch typ {
		case 0: // end of LLDPDU
			return in, nil
		case 1:
			if len(v) < 2 {
				return in, ErrMandatory
			}
			in.ChassisID = id(v[0], v[1:], 4, 5)
			if v[0] == 4 && len(v) == 7 {
				copy(in.ChassisMAC[:], v[1:])
				in.HasChassis = true
			}
		case 2:
			if len(v) < 2 {
				return in, ErrMandatory
			}
			in.PortID = id(v[0], v[1:], 3, 4)
		case 3:
			if len(v) < 2 {
				return in, ErrMandatory
			}
			in.TTL = binary.BigEndian.Uint16(v)
		case 4:
			in.PortDesc = text(v)
		case 5:
			in.SystemName = text(v)
		case 6:
			in.SystemDesc = text(v)
		case 7:
			if len(v) >= 4 {
				in.Capabilities = binary.BigEndian.Uint16(v[2:])
			}
		case 8: // length, subtype (1 IPv4, 2 IPv6), address, …
			if len(v) >= 2 && v[0] >= 1 && int(v[0]) <= len(v)-1 { // the length counts the subtype octet
				addr := v[2 : 1+int(v[0])]
				if ip, ok := netip.AddrFromSlice(addr); ok && (v[1] == 1 && len(addr) == 4 || v[1] == 2 && len(addr) == 16) {
					in.MgmtAddrs = append(in.MgmtAddrs, ip)
				}
			}
		}
	}
	if in.ChassisID == "" {
		return in, ErrMandatory
	}
	return in, nil
}

// id renders a chassis or port id by its subtype (IEEE 802.1AB 8.5.2,
// 8.5.3): the MAC and network address subtypes differ between the two.
func id(subtype byte, v []byte, macSubtype, netSubtype byte) string {
	switch {
	case subtype == macSubtype && len(v) == 6:
		return net.HardwareAddr(v).String()
	case subtype == netSubtype && len(v) >= 5 && (v[0] == 1 && len(v) == 5 || v[0] == 2 && len(v) == 17):
		ip, _ := netip.AddrFromSlice(v[1:])
		return ip.String()
	}
	return text(v)
}

// text is a string TLV, shortened, trailing NULs dropped, through the
// shared sanitiser (controls, bidi overrides, separators and bytes that are
// not UTF-8 shown escaped).
func text(v []byte) string {
	if len(v) > maxText {
		v = v[:maxText]
	}
	for len(v) > 0 && v[len(v)-1] == 0 {
		v = v[:len(v)-1]
	}
	return protocols.Printable(v)
}
