package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReader reads random bytes as a capture file (a user may give
// otwatch read any file). Invariants: no panic; every frame and the
// offset stay inside the input; each frame costs at least a record
// header, so a damaged file ends instead of yielding frames from nothing;
// an error opening it names the file, and reading it stops only at a
// named damage (TruncatedError, with its offset).
func FuzzReader(f *testing.F) {
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		f.Add(pcapFile(order, false, LinkEthernet, []byte{1, 2, 3, 4}, make([]byte, 60)))
		f.Add(pcapFile(order, true, LinkRaw, []byte{0x45, 0, 0, 20}))
		var ng []byte
		ng = append(ng, ngSection(order)...)
		ng = append(ng, ngIface(order, uint16(LinkEthernet), 9)...)
		ng = append(ng, ngIface(order, uint16(LinkLinuxSLL), 0x80|20)...)
		ng = append(ng, ngPacket(order, 0, 1e9, make([]byte, 42))...)
		ng = append(ng, ngPacket(order, 1, 1<<20, []byte{9, 9, 9})...)
		ng = append(ng, ngPacket(order, 7, 1, []byte{1})...) // an undeclared interface
		f.Add(ng)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := NewReader("fuzz", bytes.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") && !isTruncated(err) {
				t.Fatalf("opening: an error that does not name the file: %v", err)
			}
			return
		}
		frames := 0
		for {
			fr, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !isTruncated(err) {
					t.Fatalf("frame %d: unexpected error %v", frames, err)
				}
				return
			}
			frames++
			if len(fr.Data) > len(in) || r.Offset() > int64(len(in)) {
				t.Fatalf("frame %d: %d bytes, offset %d, from an input of %d", frames, len(fr.Data), r.Offset(), len(in))
			}
			if frames*minRecord > len(in) {
				t.Fatalf("%d frames from %d bytes", frames, len(in))
			}
		}
	})
}

// minRecord is the smallest record a frame comes from: a pcap record
// header, or a pcapng simple packet block.
const minRecord = 16

func isTruncated(err error) bool {
	var te *TruncatedError
	return errors.As(err, &te)
}
