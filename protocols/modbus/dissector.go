// Package modbus dissects Modbus/TCP (and Modbus over UDP): the MBAP header,
// every public function code 1–24 and 43 (with device identification),
// exception responses, user-defined and unknown codes, request/response
// pairing by transaction id with pipelining and out-of-order responses.
package modbus

import "github.com/otwatch/otwatch/protocols"

// Port is the IANA port of Modbus/TCP.
const Port = 502

func init() { protocols.Register(Dissector{}) }

// Dissector is the registry entry for Modbus.
type Dissector struct{}

func (Dissector) Name() string                    { return "modbus" }
func (Dissector) Transports() protocols.Transport { return protocols.TCP | protocols.UDP }
func (Dissector) Ports() []uint16                 { return []uint16{Port} }

func (Dissector) NewSession(env *protocols.Env) protocols.Session { return newSession(env) }

// Probe accepts a stream that starts with a whole, self-consistent ADU: MBAP
// protocol id 0, a length within the specification, a plausible function
// code and a PDU whose layout decodes without a length anomaly.
func (Dissector) Probe(dir protocols.Direction, data []byte) protocols.ProbeResult {
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
	if len(data) < h.ADULen() {
		if len(data) > HeaderLen && !plausibleFunction(data[HeaderLen]) {
			return protocols.ProbeNo
		}
		return protocols.ProbeNeedMore
	}
	pdu := data[HeaderLen:h.ADULen()]
	if !plausibleFunction(pdu[0]) {
		return protocols.ProbeNo
	}
	var t protocols.Transaction
	if dir == protocols.ClientToServer {
		DecodeRequest(pdu, &t)
	} else {
		t.RequestFrame = 0
		DecodeResponse(pdu, &t)
	}
	for _, a := range t.Anomalies {
		if a == anomalyInvalidLength || a == anomalyUnknownFunction {
			return protocols.ProbeNo
		}
	}
	// A second ADU behind the first must look like one too.
	if rest := data[h.ADULen():]; len(rest) >= HeaderLen {
		if next, _ := ParseHeader(rest); !next.valid() {
			return protocols.ProbeNo
		}
	}
	return protocols.ProbeYes
}
