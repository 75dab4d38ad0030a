// Package modbus dissects Modbus/TCP (and Modbus over UDP): the MBAP header,
// every public function code 1–24 and 43 (with device identification),
// exception responses, user-defined and unknown codes, request/response
// pairing by transaction id with pipelining and out-of-order responses.
package modbus

import "github.com/otwatch/otwatch/protocols"

// Port is the IANA port of Modbus/TCP.
const Port = 502

// Dissector is the registry entry for Modbus.
var Dissector = protocols.Register(&protocols.Dissector{Name: "modbus", Transports: protocols.TCP | protocols.UDP,
	Ports: []uint16{Port}, Probe: probe, Profiles: profiles(), Identity: identity,
	NewSession: func(env *protocols.Env) protocols.Session { return newSession(env) }})

// probe accepts a stream that starts with an MBAP header (protocol id 0, a
// length within the specification) whose ADU either ends exactly where the
// bytes end or is followed by another valid header. The function code is not
// required to be known when the framing matches exactly: scanners send code 0
// and the monitor must still see them. Layout errors inside the PDU are left
// to the session, which reports them as anomalies.
func probe(dir protocols.Direction, data []byte) protocols.ProbeResult {
	h, ok := ParseHeader(data)
	if !ok {
		if len(data) >= 4 && (data[2] != 0 || data[3] != 0) {
			return protocols.ProbeNo
		}
		return protocols.ProbeNeedMore
	}
	if !h.valid() {
		return protocols.ProbeNo
	}
	switch rest := len(data) - h.ADULen(); {
	case rest == 0:
		return protocols.ProbeYes
	case rest < 0:
		if len(data) > HeaderLen && !plausibleFunction(data[HeaderLen]) {
			return protocols.ProbeNo
		}
		return protocols.ProbeNeedMore
	case rest < HeaderLen:
		return protocols.ProbeNeedMore
	}
	next, _ := ParseHeader(data[h.ADULen():])
	if next.valid() && plausibleFunction(data[HeaderLen]) {
		return protocols.ProbeYes
	}
	return protocols.ProbeNo
}
