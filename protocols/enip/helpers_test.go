package enip

import (
	"encoding/binary"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/require"
)

type recorder = testkit.Recorder

func newRecorder(transport protocols.Transport) *recorder {
	return testkit.NewRecorder(transport, Port)
}

func pk(frame uint64) protocols.Packet { return testkit.Packet(frame) }

func hx(t testing.TB, listing string) []byte { return testkit.Hex(t, listing) }

// encap wraps data in an encapsulation header (session 0x11223344, the given sender context).
func encap(command uint16, context uint64, data []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(data))
	binary.LittleEndian.PutUint16(b, command)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(data)))
	binary.LittleEndian.PutUint32(b[4:], 0x11223344)
	binary.LittleEndian.PutUint64(b[12:], context)
	return append(b, data...)
}

// rrData is SendRRData with a null address item and an unconnected data item.
func rrData(context uint64, cip []byte) []byte {
	b := []byte{0, 0, 0, 0, 0x0a, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(cip)))
	return encap(CmdSendRRData, context, append(b, cip...))
}

// unitData is SendUnitData with a connected address and data item.
func unitData(seq uint16, cip []byte) []byte {
	b := []byte{0, 0, 0, 0, 0, 0, 2, 0, 0xa1, 0, 4, 0, 0x78, 0x56, 0x34, 0x12, 0xb1, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(cip)+2))
	b = binary.LittleEndian.AppendUint16(b, seq)
	return encap(CmdSendUnitData, 0, append(b, cip...))
}

func feed(t *testing.T, s *session, dir protocols.Direction, b []byte, frame uint64) {
	t.Helper()
	n, err := s.Feed(dir, b, pk(frame))
	require.NoError(t, err)
	require.Equal(t, len(b), n)
}
