package iec104

import "github.com/otwatch/otwatch/protocols"

// Named anomalies: counted, attached to the APDU they concern, and able to
// raise malformed_pdu alerts.
var (
	anomalyGarbage = protocols.DeclareAnomaly("iec104.garbage",
		"bytes before the next start octet 0x68 skipped: noise, an injected or a corrupted stream")
	anomalyInvalidLength = protocols.DeclareAnomaly("iec104.invalid_length",
		"APDU length octet below 4 or above 253")
	anomalyControlLength = protocols.DeclareAnomaly("iec104.control_frame_length",
		"S- or U-format APDU whose length is not 4")
	anomalyUFunctions = protocols.DeclareAnomaly("iec104.u_format_functions",
		"U-format APDU with no function or several of STARTDT/STOPDT/TESTFR at once")
	anomalyShortASDU = protocols.DeclareAnomaly("iec104.short_asdu",
		"ASDU shorter than its header or than the information objects its qualifier declares")
	anomalyTrailingBytes = protocols.DeclareAnomaly("iec104.trailing_bytes",
		"bytes left in the APDU after the information objects its qualifier declares")
	anomalyUnknownType = protocols.DeclareAnomaly("iec104.unknown_type",
		"type identification the standard does not define")
	anomalyUnknownCause = protocols.DeclareAnomaly("iec104.unknown_cause",
		"cause of transmission 0 or one the standard does not define")
	anomalyNoObjects = protocols.DeclareAnomaly("iec104.no_objects",
		"ASDU whose variable structure qualifier declares no information object")
	anomalySequenceGap = protocols.DeclareAnomaly("iec104.sequence_gap",
		"I-format send sequence number not the one expected: APDUs lost, repeated or injected")
	anomalyCommandFromStation = protocols.DeclareAnomaly("iec104.command_from_station",
		"a command activation sent by the controlled station (the side of port 2404)")
)
