// Package s7comm dissects Siemens S7 communication on ISO-on-TCP (TPKT,
// RFC 1006, and COTP class 0, ISO 8073) on TCP port 102: classic S7comm
// (protocol id 0x32: jobs, acks, userdata, with read/write var items, block
// upload/download, PI services, PLC stop and SZL device identity) and
// S7comm-plus (protocol id 0x72: version, opcode, function, sequence number).
//
// Two dissectors are registered, "s7comm" and "s7comm-plus"; the probe binds
// a connection to the one whose protocol id its first COTP data carries, and
// both share one session that dissects either protocol id (records carry the
// proto of each PDU). Other ISO-on-TCP users of port 102 (MMS/IEC 61850)
// are rejected by the probe.
package s7comm

import "github.com/otwatch/otwatch/protocols"

// Port is the ISO-TSAP port (RFC 1006).
const Port = 102

// Dissector is the registry entry for S7comm: it accepts a stream whose
// first COTP data PDU is S7comm (0x32).
var Dissector = protocols.Register(&protocols.Dissector{Name: ProtoS7, Transports: protocols.TCP,
	Ports: []uint16{Port}, Profiles: profilesS7(), Identity: identityS7,
	Probe:      func(_ protocols.Direction, data []byte) protocols.ProbeResult { return probe(data, ProtocolIDS7) },
	NewSession: func(env *protocols.Env) protocols.Session { return newSession(env) }})

// PlusDissector is the registry entry for S7comm-plus: it accepts a
// stream whose first COTP data PDU is S7comm-plus (0x72). Its sessions
// are S7comm's, which dissect either protocol id.
var PlusDissector = protocols.Register(&protocols.Dissector{Name: ProtoS7Plus, Transports: protocols.TCP,
	Ports: []uint16{Port}, Profiles: profilesPlus(), Identity: identityPlus,
	Probe:      func(_ protocols.Direction, data []byte) protocols.ProbeResult { return probe(data, ProtocolIDS7Plus) },
	NewSession: Dissector.NewSession})

// probeScan bounds how far into a stream that starts mid-PDU the probe looks
// for the first TPKT header.
const probeScan = 2048

// probe walks the TPKT packets at the start of data. Connect/disconnect
// TPDUs say nothing about the protocol on top; the first DT decides: its
// payload must start with want and decode as a consistent header. A stream
// that starts mid-PDU (a capture begun mid-connection) is scanned for a
// plausible TPKT boundary first.
func probe(data []byte, want byte) protocols.ProbeResult {
	off := 0
	if _, err := ParseTPKT(data); err == ErrNotTPKT || (err == nil && !plausibleCOTP(data[TPKTHeaderLen:], len(data)-TPKTHeaderLen)) {
		i := findBoundary(data)
		if i < 0 || i > probeScan {
			if len(data) < probeScan {
				return protocols.ProbeNeedMore
			}
			return protocols.ProbeNo
		}
		off = i
	}
	var tsdu []byte
	for {
		rest := data[off:]
		n, err := ParseTPKT(rest)
		if err == ErrShort {
			return protocols.ProbeNeedMore
		}
		if err != nil {
			return protocols.ProbeNo
		}
		if len(rest) < n {
			// A partial DT still tells the protocol id.
			if c, err := ParseCOTP(rest[TPKTHeaderLen:]); err == nil && c.Type == COTPData && len(tsdu) == 0 && len(c.Payload) > 0 {
				if c.Payload[0] != want {
					return protocols.ProbeNo
				}
			}
			return protocols.ProbeNeedMore
		}
		c, err := ParseCOTP(rest[TPKTHeaderLen:n])
		if err != nil {
			return protocols.ProbeNo
		}
		off += n
		if c.Type != COTPData {
			if c.Type == COTPConnectRequest || c.Type == COTPConnectConfirm || c.Type == COTPDataAck {
				continue
			}
			return protocols.ProbeNo
		}
		if len(tsdu)+len(c.Payload) > MaxTSDU {
			return protocols.ProbeNo
		}
		tsdu = append(tsdu, c.Payload...)
		if len(tsdu) == 0 || tsdu[0] != want {
			return protocols.ProbeNo
		}
		if !c.EOT {
			continue
		}
		switch want {
		case ProtocolIDS7:
			if _, err := DecodePDU(tsdu); err != nil {
				return protocols.ProbeNo
			}
		case ProtocolIDS7Plus:
			if _, err := DecodePlus(tsdu); err != nil {
				return protocols.ProbeNo
			}
		}
		return protocols.ProbeYes
	}
}
