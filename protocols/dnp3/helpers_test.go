package dnp3

import (
	"encoding/binary"
	"testing"

	"github.com/otwatch/otwatch/protocols/testkit"
)

// unhex decodes hex with spaces and "//" comments (one field per line).
func unhex(t testing.TB, s string) []byte { return testkit.Hex(t, s) }

// linkFrame builds a link frame with correct CRCs around user data.
func linkFrame(ctrl byte, dst, src uint16, user []byte) []byte {
	if len(user) > 250 {
		panic("user data too long for one frame")
	}
	b := []byte{StartByte1, StartByte2, byte(5 + len(user)), ctrl, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(b[4:], dst)
	binary.LittleEndian.PutUint16(b[6:], src)
	b = binary.LittleEndian.AppendUint16(b, crc16(b))
	for len(user) > 0 {
		k := min(len(user), blockLen)
		b = append(b, user[:k]...)
		b = binary.LittleEndian.AppendUint16(b, crc16(user[:k]))
		user = user[k:]
	}
	return b
}

// fragmentFrames splits an application fragment into transport segments
// (at most 249 octets each) in link frames from src to dst, starting at
// transport sequence seq. master: the frames go master → outstation.
func fragmentFrames(master bool, dst, src uint16, seq byte, frag []byte) []byte {
	ctrl := byte(LinkPRM | LinkUnconfirmedUserData)
	if master {
		ctrl |= LinkDIR
	}
	var out []byte
	first := true
	for {
		k := min(len(frag), 249)
		th := seq & 0x3F
		if first {
			th |= TransportFIR
		}
		if k == len(frag) {
			th |= TransportFIN
		}
		out = append(out, linkFrame(ctrl, dst, src, append([]byte{th}, frag[:k]...))...)
		frag = frag[k:]
		seq++
		first = false
		if len(frag) == 0 {
			return out
		}
	}
}
