package enip

import "github.com/otwatch/otwatch/protocols"

// Named anomalies: counted, attached to the message they concern, and able
// to raise malformed_pdu alerts.
var (
	anomalyBadLength = protocols.DeclareAnomaly("enip.bad_length",
		"encapsulation length disagrees with the bytes of the command or datagram")
	anomalyUnknownCommand = protocols.DeclareAnomaly("enip.unknown_command",
		"encapsulation command the specification does not define")
	anomalyBadCPF = protocols.DeclareAnomaly("enip.bad_cpf",
		"common packet format items cut short or inconsistent")
	anomalyNonZeroOptions = protocols.DeclareAnomaly("enip.nonzero_options",
		"encapsulation options field is not 0, which the specification requires")
	anomalyUnmatchedResponse = protocols.DeclareAnomaly("enip.response_without_request",
		"reply whose request came before capture started or was lost")
	anomalyTooManyOutstanding = protocols.DeclareAnomaly("enip.too_many_outstanding",
		"more requests outstanding than the session keeps; the oldest is closed as no_response")
	anomalyBadPath = protocols.DeclareAnomaly("cip.bad_path",
		"CIP request path cut short or with a segment the dissector cannot size")
	anomalyShortMessage = protocols.DeclareAnomaly("cip.short_message",
		"CIP message shorter than its header, path or service data require")
	anomalyBadMultiple = protocols.DeclareAnomaly("cip.bad_multiple_service_packet",
		"Multiple Service Packet whose count or offsets point outside it")
	anomalyBadHeader = protocols.DeclareAnomaly("enip.bad_header",
		"encapsulation header with options set, a length beyond 65511 or a command outside the defined range: framing lost")
	anomalyResyncENIP = protocols.DeclareAnomaly("enip.resync",
		"bytes skipped to find the next plausible encapsulation header after a gap or a bad header")
)
