package modbus

import "github.com/otwatch/otwatch/protocols"

// Named anomalies: counted, attached to the transaction they concern, and
// able to raise malformed_pdu alerts.
var (
	anomalyInvalidProtocolID = protocols.DeclareAnomaly("modbus.invalid_protocol_id",
		"MBAP protocol identifier is not 0: not Modbus, or a corrupted stream")
	anomalyInvalidMBAPLength = protocols.DeclareAnomaly("modbus.invalid_mbap_length",
		"MBAP length field outside 2..254")
	anomalyInvalidLength = protocols.DeclareAnomaly("modbus.invalid_length",
		"PDU length does not match what its function code and byte count require")
	anomalyByteCountMismatch = protocols.DeclareAnomaly("modbus.byte_count_mismatch",
		"byte count disagrees with the quantity requested")
	anomalyQuantityOutOfRange = protocols.DeclareAnomaly("modbus.quantity_out_of_range",
		"quantity of coils or registers outside the range the specification allows")
	anomalyInvalidCoilValue = protocols.DeclareAnomaly("modbus.invalid_coil_value",
		"write single coil value is neither 0xFF00 nor 0x0000")
	anomalyUnknownException = protocols.DeclareAnomaly("modbus.unknown_exception_code",
		"exception code not defined by the specification")
	anomalyUnmatchedResponse = protocols.DeclareAnomaly("modbus.unmatched_response",
		"response whose transaction id matches no outstanding request, though the connection was followed since before any request it could answer")
	anomalyResponseWithoutRequest = protocols.DeclareAnomaly("modbus.response_without_request",
		"response whose request came before capture started or was lost in a gap: counted, not malformed")
	anomalyTooManyOutstanding = protocols.DeclareAnomaly("modbus.too_many_outstanding",
		"more requests outstanding than the session keeps; the oldest is closed as no_response")
	anomalyResync = protocols.DeclareAnomaly("modbus.resync",
		"bytes skipped to find the next plausible MBAP header after a gap or a bad header")
	anomalyUnknownFunction = protocols.DeclareAnomaly("modbus.unknown_function",
		"function code neither public nor in the user-defined ranges")
)
