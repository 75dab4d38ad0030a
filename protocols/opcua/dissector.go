// Package opcua dissects OPC UA binary (OPC 10000-6): the UA Connection
// Protocol (HEL, ACK, ERR, RHE), UA Secure Conversation (OPN, MSG, CLO with
// F/C/A chunks, reassembled per channel and request id), and the services
// behind them: Read, Write, Call, Browse, sessions, endpoints and more. It
// works mid-stream (no HEL/OPN seen) and on any port; SignAndEncrypt
// channels yield metadata-only records.
package opcua

import (
	"strings"

	"github.com/otwatch/otwatch/protocols"
)

// Port is the IANA port of OPC UA binary (opc.tcp).
const Port = 4840

// Dissector is the registry entry for OPC UA binary.
var Dissector = protocols.Register(&protocols.Dissector{Name: "opcua", Transports: protocols.TCP,
	Ports: []uint16{Port}, Probe: probe, Profiles: profiles(), Identity: identity,
	NewSession: func(env *protocols.Env) protocols.Session { return newSession(env) }})

// probeScanLimit: a stream that has shown this many bytes without a
// plausible header is not OPC UA. A capture may start inside a large
// message, so the scan goes as far as the pipeline's default probe window
// (4096) allows, stopping just short of it so the refusal is ours.
const probeScanLimit = 4000

// probe accepts a stream whose first bytes are a self-consistent OPC UA
// message (a HEL with an opc.* URL, an OPN with a SecurityPolicy URI, a MSG
// whose body names a known service, ...), or, mid-stream, which holds such a
// message behind the tail of an earlier one, confirmed by the next header or
// the end of the data.
func probe(dir protocols.Direction, data []byte) protocols.ProbeResult {
	if r := probeAt(data, true); r != protocols.ProbeNo {
		return r
	}
	if h, ok := ParseHeader(data); ok && h.Valid() {
		return protocols.ProbeNo // a header that failed its checks: no second chance
	}
	for i := 1; i+HeaderLen <= len(data); i++ {
		if i = indexHeaderStart(data, i); i < 0 {
			break
		}
		if probeAt(data[i:], false) == protocols.ProbeYes {
			return protocols.ProbeYes
		}
	}
	if len(data) < probeScanLimit && !looksText(data) {
		return protocols.ProbeNeedMore
	}
	return protocols.ProbeNo
}

// indexHeaderStart finds the next offset >= i holding a message type name.
func indexHeaderStart(b []byte, i int) int {
	for ; i+3 <= len(b); i++ {
		switch string(b[i : i+3]) {
		case "HEL", "ACK", "ERR", "RHE", "OPN", "MSG", "CLO":
			return i
		}
	}
	return -1
}

// probeAt judges a message starting at data[0]. atStart: data is the
// beginning of the stream, so an incomplete message may ask for more.
func probeAt(data []byte, atStart bool) protocols.ProbeResult {
	h, ok := ParseHeader(data)
	if !ok {
		if atStart && isTypePrefix(data) {
			return protocols.ProbeNeedMore
		}
		return protocols.ProbeNo
	}
	if !h.Valid() {
		return protocols.ProbeNo
	}
	whole := len(data) >= int(h.Size)
	if !whole {
		if atStart && h.Size <= 64<<10 {
			return protocols.ProbeNeedMore
		}
		return protocols.ProbeNo
	}
	chunk := data[:h.Size]
	if rest := data[h.Size:]; len(rest) >= HeaderLen {
		if next, _ := ParseHeader(rest); !next.Valid() {
			return protocols.ProbeNo
		}
	} else if !atStart && len(rest) > 0 {
		return protocols.ProbeNo // a partial header cannot confirm the boundary
	}
	switch h.Type {
	case typeHEL, typeACK, typeERR, typeRHE:
		hello, ok := DecodeTransport(h.Type, chunk[HeaderLen:])
		if !ok {
			return protocols.ProbeNo
		}
		switch h.Type {
		case typeHEL:
			if !strings.HasPrefix(strings.ToLower(hello.EndpointURL), "opc.") {
				return protocols.ProbeNo
			}
		case typeACK:
			if hello.ReceiveBuffer < 8192 || hello.SendBuffer < 8192 {
				return protocols.ProbeNo
			}
		case typeERR:
			if hello.TransportErrCode&0x80000000 == 0 {
				return protocols.ProbeNo
			}
		}
		return protocols.ProbeYes
	case typeOPN:
		sh, ok := ParseSecureHeader(h, chunk)
		if !ok || !strings.HasPrefix(sh.PolicyURI, "http://opcfoundation.org/UA/SecurityPolicy#") {
			return protocols.ProbeNo
		}
		return protocols.ProbeYes
	}
	sh, ok := ParseSecureHeader(h, chunk)
	if !ok {
		return protocols.ProbeNo
	}
	if h.Chunk == 'F' {
		if id, ok := ServiceType(chunk[sh.Len+8:]); ok && (IsRequest(id) || IsResponse(id)) {
			return protocols.ProbeYes
		}
	}
	// An encrypted or intermediate chunk: only its framing speaks for it, so
	// ask for a second header right behind it.
	if len(data) >= int(h.Size)+HeaderLen {
		return protocols.ProbeYes
	}
	if atStart && len(data) < probeScanLimit {
		return protocols.ProbeNeedMore
	}
	return protocols.ProbeNo
}

func isTypePrefix(b []byte) bool {
	for _, name := range [...]string{"HEL", "ACK", "ERR", "RHE", "OPN", "MSG", "CLO"} {
		n := min(len(b), 3)
		if string(b[:n]) == name[:n] {
			return true
		}
	}
	return false
}

// looksText: the first bytes are printable ASCII (HTTP, SMTP, ...), which an
// OPC UA stream never starts with, not even mid-message, often enough to
// wait for.
func looksText(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	for _, c := range b[:8] {
		if c < 0x20 && c != '\r' && c != '\n' && c != '\t' || c > 0x7E {
			return false
		}
	}
	return true
}
