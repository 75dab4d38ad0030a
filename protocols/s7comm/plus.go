package s7comm

import "encoding/binary"

// S7comm-plus framing: 0x72, protocol version, data length (2), then the
// data: opcode (1), reserved (2), function (2), reserved (2), sequence
// number (2), ... and a 4-byte trailer 0x72 version 0x0000 on the last
// fragment. Version 3 sessions with integrity protection put a digest length
// (0x20) and a 32-byte digest before the opcode.

// Protocol versions of the S7comm-plus header.
const (
	PlusV1        = 0x01
	PlusV2        = 0x02
	PlusV3        = 0x03
	PlusKeepAlive = 0xfe
)

const plusDigestLen = 32

// PlusPDU is what the decoder reads of an S7comm-plus COTP payload.
type PlusPDU struct {
	Version     byte
	DataLen     int
	Digest      bool // V3 integrity digest present (the payload itself is cleartext)
	Opcode      byte
	Function    uint16
	Seq         uint16
	HasFunction bool   // opcode and a known function code were found
	Body        []byte // bytes after the sequence number (aliases the input)
	// Off is the offset of the opcode (4, or 37 behind a V3 digest).
	Off int
	// Trailer: the PDU ends with the 4-byte trailer (72 version 0000); a PDU
	// without it is a fragment continued by the next PDU of its direction.
	Trailer bool
}

// DecodePlus reads the header of an S7comm-plus payload (a reassembled COTP
// TSDU). HasFunction is false for notifications, keep-alives and fragment
// continuations, whose function cannot be named.
func DecodePlus(b []byte) (p PlusPDU, err error) {
	if len(b) < 4 || b[0] != ProtocolIDS7Plus {
		return p, ErrNotS7Plus
	}
	p.Version = b[1]
	p.DataLen = int(binary.BigEndian.Uint16(b[2:]))
	p.Trailer = len(b) > p.DataLen+4
	switch p.Version {
	case PlusV1, PlusV2, PlusV3, PlusKeepAlive:
	default:
		return p, ErrNotS7Plus
	}
	var offs [2]int
	offs[0], offs[1] = 4, -1
	if p.Version == PlusV3 && len(b) > 4+1+plusDigestLen+5 && b[4] == plusDigestLen {
		offs[0], offs[1] = 4+1+plusDigestLen, 4
	}
	for _, off := range offs {
		if off < 0 || off+9 > len(b) {
			continue
		}
		op := b[off]
		if op != OpcodeRequest && op != OpcodeResponse && op != OpcodeNotification && op != OpcodeResponse2 {
			continue
		}
		fc := binary.BigEndian.Uint16(b[off+3:])
		if _, ok := codes.PlusFunctions[fc]; !ok {
			continue
		}
		p.Digest = off > 4
		p.Opcode, p.Function, p.Seq, p.HasFunction = op, fc, binary.BigEndian.Uint16(b[off+7:]), true
		p.Body, p.Off = b[off+9:], off
		return p, nil
	}
	if p.Version == PlusV3 && len(b) > 4 && b[4] == plusDigestLen {
		p.Digest = true
	}
	if len(b) > 4 {
		p.Opcode, p.Off = b[4], 4
		if p.Digest && len(b) > 4+1+plusDigestLen {
			p.Opcode, p.Off = b[4+1+plusDigestLen], 4+1+plusDigestLen
		}
	}
	return p, nil
}
