// Package dnp3 dissects DNP3 (IEEE 1815) over TCP and UDP: the data link
// layer with its CRCs, transport reassembly of application fragments, and
// the application layer (function codes, IIN, object headers with every
// qualifier, CROB and analog output values, device attributes), pairing
// requests and responses by application sequence per association.
package dnp3

import (
	"bytes"

	"github.com/otwatch/otwatch/protocols"
)

// Port is the IANA port of DNP3 over TCP and UDP.
const Port = 20000

// Dissector is the registry entry for DNP3.
var Dissector = protocols.Register(&protocols.Dissector{Name: "dnp3", Transports: protocols.TCP | protocols.UDP,
	Ports: []uint16{Port}, Probe: probe, Profiles: profiles(), Identity: identity,
	NewSession: func(env *protocols.Env) protocols.Session { return newSession(env) }})

// probeWindow: how far into a flow's first bytes a link header is looked for
// (a capture may start inside a frame, which is at most MaxLinkFrame long).
const probeWindow = MaxLinkFrame + LinkHeaderLen

// probe accepts bytes holding a link header — 0x05 0x64, a length of at
// least 5 and a matching header CRC — at their start or, for a capture that
// begins mid-frame, within the first frame's length. Two 16-bit checks make
// a false positive on other traffic unlikely (about 1 in 2^32 per offset).
func probe(dir protocols.Direction, data []byte) protocols.ProbeResult {
	window := data[:min(len(data), probeWindow)]
	for off := 0; ; off++ {
		i := bytes.Index(window[off:], startBytes)
		if i < 0 {
			break
		}
		off += i
		switch _, err := ParseLinkHeader(data[off:]); err {
		case nil:
			return protocols.ProbeYes
		case ErrShort:
			return protocols.ProbeNeedMore
		}
	}
	if len(window) == 0 || len(window) < probeWindow && window[len(window)-1] == StartByte1 {
		return protocols.ProbeNeedMore // the start bytes may straddle the next segment
	}
	return protocols.ProbeNo
}

var startBytes = []byte{StartByte1, StartByte2}
