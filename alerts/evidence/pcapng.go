package evidence

import (
	"bufio"
	"encoding/binary"
	"io"
	"runtime"
)

// ngWriter writes the little part of pcapng (draft-ietf-opsawg-pcapng) an
// evidence slice needs: one section header block, an interface description
// block per link type, and enhanced packet blocks carrying a comment each.
// Timestamps are in nanoseconds (if_tsresol 9), as capture keeps them.
//
// It is written here rather than taken from gopacket's pcapgo because
// linking that package brings gopacket/layers into the daemon, whose
// tables (several MiB of pointer-holding globals) the garbage collector
// scans on every cycle of the capture loop. The tests read what it writes
// back with pcapgo and with tshark.
type ngWriter struct {
	w     *bufio.Writer
	ifs   int
	block []byte
}

// Block types and option codes used here.
const (
	ngSHB        = 0x0A0D0D0A
	ngIDB        = 0x00000001
	ngEPB        = 0x00000006
	ngByteOrder  = 0x1A2B3C4D
	ngOptEnd     = 0
	ngOptComment = 1
	ngSHBUserApp = 4
	ngIfName     = 2
	ngIfTsresol  = 9
	ngIfOS       = 12
)

// newNgWriter writes the section header, with the section comment.
func newNgWriter(w io.Writer, application, comment string) (*ngWriter, error) {
	nw := &ngWriter{w: bufio.NewWriter(w)}
	b := nw.begin(ngSHB)
	b = binary.LittleEndian.AppendUint32(b, ngByteOrder)
	b = binary.LittleEndian.AppendUint16(b, 1) // major version
	b = binary.LittleEndian.AppendUint16(b, 0) // minor version
	b = binary.LittleEndian.AppendUint64(b, ^uint64(0))
	b = appendOption(b, ngOptComment, []byte(comment))
	b = appendOption(b, ngSHBUserApp, []byte(application))
	b = appendOption(b, ngOptEnd, nil)
	return nw, nw.end(b)
}

// addInterface writes an interface description block for a link type and
// returns its index for the packets captured on it.
func (nw *ngWriter) addInterface(name string, linkType uint32) (int, error) {
	b := nw.begin(ngIDB)
	b = binary.LittleEndian.AppendUint16(b, uint16(linkType))
	b = binary.LittleEndian.AppendUint16(b, 0) // reserved
	b = binary.LittleEndian.AppendUint32(b, 0) // snap length: unlimited
	b = appendOption(b, ngIfName, []byte(name))
	b = appendOption(b, ngIfTsresol, []byte{9})
	b = appendOption(b, ngIfOS, []byte(runtime.GOOS))
	b = appendOption(b, ngOptEnd, nil)
	nw.ifs++
	return nw.ifs - 1, nw.end(b)
}

// writePacket writes an enhanced packet block: ts in Unix nanoseconds,
// origLen the packet's length on the wire, and a comment.
func (nw *ngWriter) writePacket(iface int, ts int64, data []byte, origLen uint32, comment string) error {
	b := nw.begin(ngEPB)
	b = binary.LittleEndian.AppendUint32(b, uint32(iface))
	b = binary.LittleEndian.AppendUint32(b, uint32(uint64(ts)>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(uint64(ts)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, origLen)
	b = appendPadded(b, data)
	if comment != "" {
		b = appendOption(b, ngOptComment, []byte(comment))
		b = appendOption(b, ngOptEnd, nil)
	}
	return nw.end(b)
}

func (nw *ngWriter) flush() error { return nw.w.Flush() }

// begin starts a block: type and a length filled in by end.
func (nw *ngWriter) begin(blockType uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nw.block[:0], blockType)
	return binary.LittleEndian.AppendUint32(b, 0)
}

// end sets the block's total length at both ends and writes it.
func (nw *ngWriter) end(b []byte) error {
	total := uint32(len(b) + 4)
	binary.LittleEndian.PutUint32(b[4:], total)
	b = binary.LittleEndian.AppendUint32(b, total)
	nw.block = b
	_, err := nw.w.Write(b)
	return err
}

// appendOption appends one option (code, length, value padded to 32 bits).
// A value longer than an option can say is cut at 65,532 bytes.
func appendOption(b []byte, code uint16, value []byte) []byte {
	if len(value) > 0xFFFC {
		value = value[:0xFFFC]
	}
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(value)))
	return appendPadded(b, value)
}

func appendPadded(b, data []byte) []byte {
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
