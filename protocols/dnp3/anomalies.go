package dnp3

import "github.com/otwatch/otwatch/protocols"

// Named anomalies: counted, attached to the transaction they concern when
// there is one, and able to raise malformed_pdu alerts.
var (
	anomalyBadCRC = protocols.DeclareAnomaly("dnp3.bad_crc",
		"link header or data block CRC does not match: the frame is dropped")
	anomalyInvalidLength = protocols.DeclareAnomaly("dnp3.invalid_length",
		"link length field below 5 (the header's own control and address octets)")
	anomalyResync = protocols.DeclareAnomaly("dnp3.resync",
		"bytes skipped to find the next link header (0x0564 with a valid CRC) after a gap or garbage")
	anomalyTruncatedFrame = protocols.DeclareAnomaly("dnp3.truncated_frame",
		"a datagram ends inside a link frame")
	anomalyUnexpectedLinkData = protocols.DeclareAnomaly("dnp3.unexpected_link_data",
		"link frame carries user data but its function is not (un)confirmed user data")
	anomalyTransportNoFirst = protocols.DeclareAnomaly("dnp3.transport_no_first",
		"transport segment without FIR while no fragment is being reassembled: dropped")
	anomalyTransportOutOfSequence = protocols.DeclareAnomaly("dnp3.transport_out_of_sequence",
		"transport segment sequence number is not the previous one plus 1: the fragment is dropped")
	anomalyTransportIncomplete = protocols.DeclareAnomaly("dnp3.transport_incomplete",
		"a new FIR segment arrived, or the flow ended, before the fragment's FIN segment: the partial fragment is dropped")
	anomalyFragmentTooLarge = protocols.DeclareAnomaly("dnp3.fragment_too_large",
		"reassembled application fragment exceeds the session's cap: dropped")
	anomalyTooManyAssociations = protocols.DeclareAnomaly("dnp3.too_many_associations",
		"more link address pairs on one connection than the session tracks")
	anomalyFragmentTooShort = protocols.DeclareAnomaly("dnp3.fragment_too_short",
		"application fragment shorter than its control, function code (and IIN for a response)")
	anomalyUnknownFunction = protocols.DeclareAnomaly("dnp3.unknown_function",
		"application function code not defined by IEEE 1815")
	anomalyBadQualifier = protocols.DeclareAnomaly("dnp3.bad_qualifier",
		"object header qualifier uses a reserved prefix or range code")
	anomalyBadRange = protocols.DeclareAnomaly("dnp3.bad_range",
		"object header range whose stop index is below its start index")
	anomalyObjectTruncated = protocols.DeclareAnomaly("dnp3.object_truncated",
		"object header or object data runs past the end of the fragment")
	anomalyUnknownObject = protocols.DeclareAnomaly("dnp3.unknown_object",
		"object group/variation whose size cannot be derived: the rest of the fragment is not decoded")
	anomalyTrailingBytes = protocols.DeclareAnomaly("dnp3.trailing_bytes",
		"bytes after the last object that do not form an object header")
	anomalyUnmatchedResponse = protocols.DeclareAnomaly("dnp3.unmatched_response",
		"solicited response whose sequence number matches no outstanding request, though the connection was followed since before any request it could answer")
	anomalyResponseWithoutRequest = protocols.DeclareAnomaly("dnp3.response_without_request",
		"solicited response whose request came before capture started or was lost in a gap: counted, not malformed")
	anomalySequenceMismatch = protocols.DeclareAnomaly("dnp3.sequence_mismatch",
		"response paired with the last request although their application sequence numbers differ")
	anomalyTooManyOutstanding = protocols.DeclareAnomaly("dnp3.too_many_outstanding",
		"more requests outstanding than the session keeps; the oldest is closed as no_response")
	anomalyOperateWithoutSelect = protocols.DeclareAnomaly("dnp3.operate_without_select",
		"OPERATE whose objects do not repeat those of the association's preceding SELECT")
	anomalyOperateSelectMissed = protocols.DeclareAnomaly("dnp3.operate_select_missed",
		"OPERATE whose SELECT may have come before capture started or in a gap: counted, not malformed")
	anomalyOperateAfterSelectTimeout = protocols.DeclareAnomaly("dnp3.operate_after_select_timeout",
		"OPERATE more than SelectTimeout after its SELECT: an outstation refuses it; a late or replayed command")
)
