// Package enip dissects EtherNet/IP (ODVA, CIP Volume 2) on TCP and UDP
// 44818 — the encapsulation (ListIdentity, ListServices, RegisterSession,
// SendRRData, SendUnitData, ...) and its common packet format — and the
// CIP messages it carries (CIP Volume 1): services with their class,
// instance, attribute or tag paths, Multiple Service Packet members,
// Unconnected Send with its embedded request and route, Forward Open and
// Close, Logix tag reads and writes with typed values, PCCC commands in
// Execute PCCC, and the Identity object for the inventory.
//
// Records: "enip" for an encapsulation command that carries no CIP
// message, "cip" for each CIP message (RECORDS.md).
package enip

import (
	"encoding/binary"

	"github.com/otwatch/otwatch/protocols"
)

// Dissector is the registry entry for EtherNet/IP and CIP.
var Dissector = protocols.Register(&protocols.Dissector{Name: ProtoENIP, Transports: protocols.TCP | protocols.UDP,
	Ports: []uint16{Port, IOPort}, Probe: probe, Profiles: profiles(), Identity: identity,
	NewSession: func(env *protocols.Env) protocols.Session { return newSession(env) }})

// probe accepts a stream or datagram that starts with a plausible
// encapsulation header: a defined command, options 0, status 0 from the
// client, and a length that fits what the command carries and the bytes
// behind it (a second packet right behind must be plausible too). A TCP
// stream picked up mid-packet is left to the pipeline's later probes.
func probe(dir protocols.Direction, data []byte) protocols.ProbeResult {
	if _, _, ok := parseIO(data); ok {
		return protocols.ProbeYes // a class 1 datagram (UDP 2222)
	}
	if len(data) < headerLen {
		if len(data) >= 2 {
			if _, ok := codes.Commands[binary.LittleEndian.Uint16(data)]; !ok && data[1] != 0 {
				return protocols.ProbeNo
			}
		}
		return protocols.ProbeNeedMore
	}
	h, _ := ParseHeader(data)
	if !plausibleHeader(h, dir) {
		return protocols.ProbeNo
	}
	next := headerLen + h.Length
	if !h.known() {
		// A command the specification does not define (discovery tools
		// send the legacy 0x0001): an empty one alone, or one followed by
		// a defined command.
		if h.Command > 0xFF || h.Length > 1024 {
			return protocols.ProbeNo
		}
		if len(data) == headerLen && h.Length == 0 {
			return protocols.ProbeYes
		}
		if len(data) < next+headerLen {
			return protocols.ProbeNeedMore
		}
		if n, _ := ParseHeader(data[next:]); !n.known() || !plausibleHeader(n, dir) {
			return protocols.ProbeNo
		}
		return protocols.ProbeYes
	}
	switch h.Command {
	case CmdRegisterSession:
		if h.Length != 4 {
			return protocols.ProbeNo
		}
	case CmdSendRRData, CmdSendUnitData:
		if h.Length < 10 {
			return protocols.ProbeNo
		}
		if len(data) >= headerLen+8 && binary.LittleEndian.Uint16(data[headerLen+6:]) > 16 {
			return protocols.ProbeNo // item count
		}
	case CmdListIdentity, CmdListServices, CmdListInterfaces:
		if dir == protocols.ClientToServer && h.Length != 0 {
			return protocols.ProbeNo // a request carries nothing
		}
		if dir == protocols.ServerToClient && h.Length < 2 {
			return protocols.ProbeNo // a reply carries at least its item count
		}
	}
	if len(data) > next {
		if len(data) < next+headerLen {
			return protocols.ProbeNeedMore
		}
		if n, _ := ParseHeader(data[next:]); !n.known() || !plausibleHeader(n, dir) {
			return protocols.ProbeNo
		}
	}
	return protocols.ProbeYes
}

// plausibleHeader: options 0 (the specification requires it), status 0
// from the client, no NOP to open a conversation, a length in range.
func plausibleHeader(h Header, dir protocols.Direction) bool {
	return h.Options == 0 && h.Length <= maxLength && h.Command != CmdNOP &&
		(dir == protocols.ServerToClient || h.Status == 0)
}
