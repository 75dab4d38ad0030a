package s7comm

import "github.com/otwatch/otwatch/protocols"

// Named anomalies of TPKT/COTP framing and S7comm (prefix s7comm.) and of
// S7comm-plus (prefix s7comm_plus.): counted, attached to the transaction they
// concern, and able to raise malformed_pdu alerts.
var (
	anomalyBadTPKT = protocols.DeclareAnomaly("s7comm.bad_tpkt",
		"TPKT header with a version other than 3, a non-zero reserved byte or a length below 7")
	anomalyBadCOTP = protocols.DeclareAnomaly("s7comm.bad_cotp",
		"COTP length indicator inconsistent with the TPKT length, or an unknown TPDU type")
	anomalyResync = protocols.DeclareAnomaly("s7comm.resync",
		"bytes skipped to find the next plausible TPKT header after a gap or a bad header")
	anomalyFragmentOverflow = protocols.DeclareAnomaly("s7comm.fragment_overflow",
		"COTP DT fragments without EOT exceed the reassembly cap; the partial PDU was dropped")
	anomalyNotS7 = protocols.DeclareAnomaly("s7comm.not_s7",
		"COTP DT payload that is neither S7comm (0x32) nor S7comm-plus (0x72), e.g. MMS/ISO session")
	anomalyInvalidHeader = protocols.DeclareAnomaly("s7comm.invalid_header",
		"S7comm header too short, unknown ROSCTR, or parameter/data lengths that disagree with the PDU size")
	anomalyInvalidParameter = protocols.DeclareAnomaly("s7comm.invalid_parameter",
		"parameter block too short or inconsistent for its function")
	anomalyInvalidItem = protocols.DeclareAnomaly("s7comm.invalid_item",
		"read/write item with a bad specification, syntax or length; item count larger than the PDU holds")
	anomalyInvalidData = protocols.DeclareAnomaly("s7comm.invalid_data",
		"data part too short or inconsistent with the items or the userdata function")
	anomalyUnknownFunction = protocols.DeclareAnomaly("s7comm.unknown_function",
		"job function code or userdata function group not known")
	anomalyUnmatchedResponse = protocols.DeclareAnomaly("s7comm.unmatched_response",
		"ack/ack_data whose PDU reference matches no outstanding job, though the connection was followed since before any job it could answer (without a function code it cannot be named)")
	anomalyResponseWithoutRequest = protocols.DeclareAnomaly("s7comm.response_without_request",
		"ack/ack_data or userdata response whose job came before capture started or was lost in a gap: counted, not malformed")
	anomalyTooManyOutstanding = protocols.DeclareAnomaly("s7comm.too_many_outstanding",
		"more jobs outstanding than the session keeps; the oldest is closed as no_response")
	anomalyCOTPError = protocols.DeclareAnomaly("s7comm.cotp_error",
		"COTP TPDU error (ER) or reject (RJ): the peer refused a TPDU")

	anomalyPlusInvalidHeader = protocols.DeclareAnomaly("s7comm_plus.invalid_header",
		"S7comm-plus header with an unknown version or a data length that disagrees with the payload")
	anomalyPlusUnknownFunction = protocols.DeclareAnomaly("s7comm_plus.unknown_function",
		"S7comm-plus request or response with a function code not known")
	anomalyPlusInvalidItem = protocols.DeclareAnomaly("s7comm_plus.invalid_item",
		"S7comm-plus item address that runs past the request body")
	anomalyPlusUnmatchedResponse = protocols.DeclareAnomaly("s7comm_plus.unmatched_response",
		"S7comm-plus response whose function and sequence number match no outstanding request, though the connection was followed since before any request it could answer")
	anomalyPlusResponseWithoutRequest = protocols.DeclareAnomaly("s7comm_plus.response_without_request",
		"S7comm-plus response whose request came before capture started or was lost in a gap: counted, not malformed")
	anomalyPlusInvalidValue = protocols.DeclareAnomaly("s7comm_plus.invalid_value",
		"S7comm-plus value, object or list that runs past the PDU, nests deeper than 32 levels or has an unknown datatype, element or blob type")
	anomalyPlusItemError = protocols.DeclareAnomaly("s7comm_plus.item_error",
		"an item of a Get/SetMultiVariables request failed (the response lists its return value)")
	anomalyPlusInvalidNotification = protocols.DeclareAnomaly("s7comm_plus.invalid_notification",
		"S7comm-plus notification whose header or value list runs past the PDU or carries an unknown item return code")
)
