package opcua

import "github.com/otwatch/otwatch/protocols"

// Named anomalies: counted, attached to the transaction they concern, and
// able to raise malformed_pdu alerts.
var (
	anomalyBadHeader = protocols.DeclareAnomaly("opcua.bad_header",
		"message header with an unknown type, a chunk type other than F/C/A or an impossible size")
	anomalyResync = protocols.DeclareAnomaly("opcua.resync",
		"bytes skipped to find the next plausible message header after a gap or a bad header")
	anomalyChunkTooLarge = protocols.DeclareAnomaly("opcua.chunk_too_large",
		"message chunk larger than the session accepts")
	anomalyMalformed = protocols.DeclareAnomaly("opcua.malformed",
		"a field runs past the end of its message or holds an impossible value")
	anomalyUnknownService = protocols.DeclareAnomaly("opcua.unknown_service",
		"service type NodeId that names no known request or response")
	anomalyUnmatchedResponse = protocols.DeclareAnomaly("opcua.unmatched_response",
		"response whose (secure channel, request id) matches no outstanding request, though the connection was followed for longer than any request waits")
	anomalyResponseWithoutRequest = protocols.DeclareAnomaly("opcua.response_without_request",
		"response whose request came before capture started or was lost in a gap: counted, not malformed")
	anomalyTooManyOutstanding = protocols.DeclareAnomaly("opcua.too_many_outstanding",
		"more requests outstanding than the session keeps; the oldest is closed as no_response")
	anomalyTooManyChunks = protocols.DeclareAnomaly("opcua.too_many_chunks",
		"a multi-chunk message exceeds the chunk count or byte cap and is dropped")
	anomalyAbortChunk = protocols.DeclareAnomaly("opcua.abort_chunk",
		"the sender aborted a multi-chunk message (chunk type A)")
	anomalySequenceJump = protocols.DeclareAnomaly("opcua.sequence_jump",
		"secure-channel sequence number did not increase by one")
	anomalyTransportError = protocols.DeclareAnomaly("opcua.transport_error",
		"ERR message: the peer closed the connection with an error status")
	anomalyUnexpectedDirection = protocols.DeclareAnomaly("opcua.unexpected_direction",
		"a request sent by the server or a response sent by the client")
)
