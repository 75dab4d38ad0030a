// Package iec104 dissects IEC 60870-5-104 (telecontrol of power grids and
// substations over TCP 2404): the APCI (I-, S- and U-format frames with
// their sequence numbers, STARTDT/STOPDT/TESTFR) and the ASDU of the
// companion standard IEC 60870-5-101 (type identification, cause of
// transmission, common address, information object addresses and
// values). Commands (single, double, regulating step, set points,
// bitstrings, with select/execute), counter interrogations that freeze
// or reset, clock synchronisation, parameter loading and reset process
// are the operations the baseline watches.
package iec104

import "github.com/otwatch/otwatch/protocols"

// Dissector is the registry entry for IEC 60870-5-104.
var Dissector = protocols.Register(&protocols.Dissector{Name: Proto, Transports: protocols.TCP,
	Ports: []uint16{Port}, Probe: probe, Profiles: profiles(),
	NewSession: func(env *protocols.Env) protocols.Session { return newSession(env) }})

// probeScan bounds how far into a stream picked up mid-APDU the probe
// looks for a start octet.
const probeScan = 512

// probe accepts a stream whose first APDU is well formed: start octet,
// a length of 4..253, and a control field that fits it (S- and U-format
// are exactly 4 long, a U-format names one function, an I-format carries
// an ASDU of a defined type with at least one object). A stream picked up
// mid-APDU needs two such APDUs back to back within its first bytes; any
// other stream is not IEC 104, so the pipeline may probe again from a
// later segment.
func probe(dir protocols.Direction, data []byte) protocols.ProbeResult {
	if len(data) == 0 {
		return protocols.ProbeNeedMore
	}
	if data[0] == startOctet {
		return plausible(data)
	}
	for i := 1; i+apciLen <= len(data) && i <= probeScan; i++ {
		if data[i] != startOctet || plausible(data[i:]) != protocols.ProbeYes {
			continue
		}
		if n := i + 2 + int(data[i+1]); n < len(data) && plausible(data[n:]) == protocols.ProbeYes {
			return protocols.ProbeYes
		}
	}
	return protocols.ProbeNo
}

// plausible judges one APDU at the start of b.
func plausible(b []byte) protocols.ProbeResult {
	if len(b) < apciLen {
		if len(b) >= 2 && (b[0] != startOctet || b[1] < minAPDULen || b[1] > maxAPDULen) {
			return protocols.ProbeNo
		}
		return protocols.ProbeNeedMore
	}
	a, ok := ParseAPCI(b)
	if !ok || a.Length > maxAPDULen {
		return protocols.ProbeNo
	}
	switch a.Format {
	case FormatS:
		if a.Length != minAPDULen || b[2] != 0x01 || b[3] != 0 {
			return protocols.ProbeNo
		}
		return protocols.ProbeYes
	case FormatU:
		if _, one := codes.UFunctions[a.UFunctions]; !one || a.Length != minAPDULen || b[3] != 0 || b[4] != 0 || b[5] != 0 {
			return protocols.ProbeNo
		}
		return protocols.ProbeYes
	}
	if a.Length < minAPDULen+asduHeaderLen+ioaLen {
		return protocols.ProbeNo
	}
	if len(b) < apciLen+3 {
		return protocols.ProbeNeedMore
	}
	if _, known := types[b[6]]; !known || b[7]&0x7F == 0 || codes.Causes[b[8]&0x3F] == "" {
		return protocols.ProbeNo
	}
	return protocols.ProbeYes
}
