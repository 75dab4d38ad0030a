// Package capture reads pcap and pcapng files (gzip-compressed too) as one stream of link-layer
// frames. It is written here rather than taken from gopacket's pcapgo so that
// a truncated file is reported with its exact byte offset, a frame is handed
// out where it lies in the read buffer (no allocation and no copy per
// packet), and pcapng sections with different byte orders and interfaces are
// followed.
package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Link types (LINKTYPE_* values of the tcpdump registry).
const (
	LinkNull     = 0
	LinkEthernet = 1
	LinkRaw      = 101
	LinkLoop     = 108
	LinkLinuxSLL = 113
	LinkIPv4     = 228
	LinkIPv6     = 229
	LinkSLL2     = 276
)

// MaxFrame caps one record; larger claims mean a damaged file.
const MaxFrame = 256 << 10

// Errors of Open that say precisely what the file is instead.
var (
	// ErrNotCapture: a file that is neither pcap nor pcapng.
	ErrNotCapture = errors.New("not a pcap or pcapng capture")
	// ErrEmpty: a file of 0 bytes.
	ErrEmpty = errors.New("an empty file (0 bytes), not a capture")
	// ErrDirectory: a directory was given for a file.
	ErrDirectory = errors.New("a directory, not a capture file")
	// ErrCompressed: a compression Open does not undo (gzip it does).
	ErrCompressed = errors.New("compressed")
)

// compressions are the magic numbers of the compressed files captures
// travel in, with the command that undoes each. gzip (what Wireshark and
// tcpdump users produce most) is read directly.
var compressions = []struct {
	magic      []byte
	name, undo string
}{
	{[]byte{0xFD, '7', 'z', 'X', 'Z', 0}, "xz", "xz -d"},
	{[]byte{0x28, 0xB5, 0x2F, 0xFD}, "zstd", "zstd -d"},
	{[]byte("BZh"), "bzip2", "bunzip2"},
	{[]byte{0x04, 0x22, 0x4D, 0x18}, "lz4", "lz4 -d"},
	{[]byte("PK\x03\x04"), "zip", "unzip"},
	{[]byte{'7', 'z', 0xBC, 0xAF, 0x27, 0x1C}, "7-Zip", "7z x"},
}

// TruncatedError reports where a damaged capture stops making sense.
type TruncatedError struct {
	File   string
	Offset int64
	Reason string
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("%s: capture damaged at byte offset %d: %s", e.File, e.Offset, e.Reason)
}

// Frame is one captured frame. Data is valid until the next call to Next.
type Frame struct {
	Data     []byte
	TimeNano int64
	LinkType uint32
	OrigLen  uint32
}

// Reader reads frames from a pcap or pcapng file.
type Reader struct {
	name   string
	f      *os.File
	r      *readBuffer
	offset int64           // bytes of the capture consumed so far (decompressed)
	file   *countingReader // the compressed file under a gzip capture
	ng     bool
	order  fileOrder
	// pcap
	link    uint32
	nanoRes bool
	// pcapng: per-interface link type and time resolution of the current section
	ifaces []ngInterface
}

// fileOrder is a file's (or a pcapng section's) byte order as a value, not
// the binary.ByteOrder interface: its reads of every record header are then
// inlined instead of called through the interface's table.
type fileOrder struct{ big bool }

var fileLittleEndian, fileBigEndian = fileOrder{false}, fileOrder{true}

func (o fileOrder) Uint16(b []byte) uint16 {
	if o.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (o fileOrder) Uint32(b []byte) uint32 {
	if o.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// bufferSize holds the largest record (MaxFrame and its header) at once, so
// every record can be read in place (the buffer grows to it when needed).
const bufferSize = 512 << 10

type ngInterface struct {
	link uint32
	// timestamp units per second, and whether the resolution is a power of 2
	unitsPerSec uint64
}

// Open opens a capture file and reads its header. A gzip-compressed
// capture is read as it is; an empty file, a directory and other
// compressions are named as such (ErrEmpty, ErrDirectory, ErrCompressed).
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := open(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.f = f
	return r, nil
}

func open(path string, f *os.File) (*Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: %w (give the captures in it, e.g. %s/*.pcap)", path, ErrDirectory, path)
	}
	if st.Mode().IsRegular() && st.Size() == 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrEmpty)
	}
	br := newReadBuffer(f)
	magic, _ := br.Peek(8)
	if len(magic) >= 2 && magic[0] == 0x1F && magic[1] == 0x8B {
		cr := &countingReader{r: br}
		zr, err := gzip.NewReader(cr)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip-compressed, but damaged: %v", path, err)
		}
		r, err := NewReader(path, zr)
		if errors.Is(err, ErrNotCapture) {
			return nil, fmt.Errorf("%s: gzip-compressed, and inside %w", path, ErrNotCapture)
		}
		if err != nil {
			return nil, err
		}
		r.file = cr
		return r, nil
	}
	for _, c := range compressions {
		if bytes.HasPrefix(magic, c.magic) {
			return nil, fmt.Errorf("%s: %w with %s: decompress it first (%s %s), or recompress it with gzip, which otwatch reads",
				path, ErrCompressed, c.name, c.undo, path)
		}
	}
	return NewReader(path, br)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// NewReader reads a capture from rd; name is used in error messages.
func NewReader(name string, rd io.Reader) (*Reader, error) {
	rb, ok := rd.(*readBuffer)
	if !ok {
		rb = newReadBuffer(rd)
	}
	r := &Reader{name: name, r: rb}
	magic, err := r.r.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNotCapture)
	}
	switch {
	case binary.LittleEndian.Uint32(magic) == 0x0A0D0D0A:
		r.ng = true
		if err := r.readSectionHeader(); err != nil {
			if _, ok := err.(*TruncatedError); ok {
				return nil, fmt.Errorf("%s: %w", name, ErrNotCapture)
			}
			return nil, err
		}
		return r, nil
	default:
		return r, r.readPcapHeader()
	}
}

// Close closes the underlying file.
func (r *Reader) Close() error {
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

// Offset is the number of bytes of the capture consumed so far (of the
// decompressed capture, for a gzip file).
func (r *Reader) Offset() int64 { return r.offset }

// FileOffset is how far into the file itself reading got: Offset, or the
// compressed bytes read for a gzip file (for progress against its size).
func (r *Reader) FileOffset() int64 {
	if r.file != nil {
		return r.file.n
	}
	return r.offset
}

// Compressed says whether the file is a gzip-compressed capture.
func (r *Reader) Compressed() bool { return r.file != nil }

func (r *Reader) truncated(at int64, reason string) error {
	if r.file != nil {
		reason += " (offset in the decompressed capture)"
	}
	return &TruncatedError{File: r.name, Offset: at, Reason: reason}
}

// peek returns the next n bytes without consuming them, valid until the
// next read; io.EOF when the input ends cleanly at start, a truncation at
// start when it ends inside them (what they were is the reason).
func (r *Reader) peek(n int, start int64, what string) ([]byte, error) {
	b, err := r.r.Peek(n)
	if len(b) == n {
		return b, nil
	}
	if err == io.EOF && len(b) == 0 && start == r.offset {
		return nil, io.EOF
	}
	reason := "incomplete " + what
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		reason += ": " + err.Error() // a damaged gzip stream, a read error
	}
	r.r.Discard(len(b))
	r.offset += int64(len(b))
	return nil, r.truncated(start, reason)
}

// take is peek that consumes the bytes.
func (r *Reader) take(n int, start int64, what string) ([]byte, error) {
	b, err := r.peek(n, start, what)
	if err == nil {
		r.r.Discard(n)
		r.offset += int64(n)
	}
	return b, err
}

func (r *Reader) readPcapHeader() error {
	h, err := r.r.Peek(24)
	if err != nil {
		return fmt.Errorf("%s: %w", r.name, ErrNotCapture)
	}
	r.r.Discard(24)
	r.offset = 24
	switch binary.LittleEndian.Uint32(h) {
	case 0xA1B2C3D4:
		r.order = fileLittleEndian
	case 0xA1B23C4D:
		r.order, r.nanoRes = fileLittleEndian, true
	case 0xD4C3B2A1:
		r.order = fileBigEndian
	case 0x4D3CB2A1:
		r.order, r.nanoRes = fileBigEndian, true
	default:
		return fmt.Errorf("%s: %w", r.name, ErrNotCapture)
	}
	if major := r.order.Uint16(h[4:]); major != 2 {
		return fmt.Errorf("%s: unsupported pcap version %d", r.name, major)
	}
	r.link = r.order.Uint32(h[20:]) & 0x0FFFFFFF // upper bits: FCS length flags
	return nil
}

// Next returns the next frame, io.EOF at the clean end, or a
// *TruncatedError when the rest of the file cannot be read.
func (r *Reader) Next() (Frame, error) {
	if r.ng {
		return r.nextNg()
	}
	start := r.offset
	h, err := r.peek(16, start, "record header")
	if err != nil {
		return Frame{}, err
	}
	sec, frac := r.order.Uint32(h[0:]), r.order.Uint32(h[4:])
	capLen, origLen := r.order.Uint32(h[8:]), r.order.Uint32(h[12:])
	if capLen > MaxFrame {
		return Frame{}, r.truncated(start, fmt.Sprintf("record claims %d bytes", capLen))
	}
	rec, err := r.take(16+int(capLen), start, "record")
	if err != nil {
		return Frame{}, err
	}
	ns := int64(frac) * 1000
	if r.nanoRes {
		ns = int64(frac)
	}
	return Frame{Data: rec[16:], TimeNano: int64(sec)*1e9 + ns, LinkType: r.link, OrigLen: origLen}, nil
}

// pcapng block types
const (
	ngSectionHeader = 0x0A0D0D0A
	ngInterfaceDesc = 0x00000001
	ngPacketObs     = 0x00000002
	ngSimplePacket  = 0x00000003
	ngEnhPacket     = 0x00000006
)

func (r *Reader) readSectionHeader() error {
	start := r.offset
	h, err := r.peek(12, start, "section header")
	if err != nil {
		if err == io.EOF {
			return r.truncated(start, "empty")
		}
		return err
	}
	switch binary.LittleEndian.Uint32(h[8:]) {
	case 0x1A2B3C4D:
		r.order = fileLittleEndian
	case 0x4D3C2B1A:
		r.order = fileBigEndian
	default:
		if start > 0 { // a later section: the file is a capture, damaged here
			return r.truncated(start, "section header without its byte-order magic")
		}
		return fmt.Errorf("%s: %w", r.name, ErrNotCapture)
	}
	total := r.order.Uint32(h[4:])
	if total < 28 || total%4 != 0 || total > MaxFrame {
		return r.truncated(start, fmt.Sprintf("section header length %d", total))
	}
	if _, err := r.take(int(total), start, "section header"); err != nil {
		return err
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

func (r *Reader) nextNg() (Frame, error) {
	for {
		start := r.offset
		h, err := r.peek(8, start, "block header")
		if err != nil {
			return Frame{}, err
		}
		if binary.LittleEndian.Uint32(h) == ngSectionHeader {
			// A new section may change byte order: its header is read from here.
			if err := r.readSectionHeader(); err != nil {
				return Frame{}, err
			}
			continue
		}
		typ, total := r.order.Uint32(h[0:]), r.order.Uint32(h[4:])
		if total < 12 || total%4 != 0 || total > MaxFrame {
			return Frame{}, r.truncated(start, fmt.Sprintf("block length %d", total))
		}
		block, err := r.take(int(total), start, "block")
		if err != nil {
			return Frame{}, err
		}
		body := block[8 : len(block)-4] // without header and trailing length copy
		switch typ {
		case ngInterfaceDesc:
			if len(body) < 8 {
				return Frame{}, r.truncated(start, "short interface description")
			}
			units, ok := r.tsResolution(body[8:])
			if !ok {
				return Frame{}, r.truncated(start, fmt.Sprintf("interface %d's timestamp resolution (if_tsresol) is impossible", len(r.ifaces)))
			}
			r.ifaces = append(r.ifaces, ngInterface{link: uint32(r.order.Uint16(body)), unitsPerSec: units})
		case ngEnhPacket, ngPacketObs:
			if len(body) < 20 {
				return Frame{}, r.truncated(start, "short packet block")
			}
			var ifIndex uint32
			if typ == ngEnhPacket {
				ifIndex = r.order.Uint32(body)
			} else {
				ifIndex = uint32(r.order.Uint16(body))
			}
			hi, lo := r.order.Uint32(body[4:]), r.order.Uint32(body[8:])
			capLen, origLen := r.order.Uint32(body[12:]), r.order.Uint32(body[16:])
			if int(capLen) > len(body)-20 {
				return Frame{}, r.truncated(start, "packet longer than its block")
			}
			if int(ifIndex) >= len(r.ifaces) {
				return Frame{}, r.truncated(start, fmt.Sprintf("packet on undeclared interface %d", ifIndex))
			}
			iface := r.ifaces[ifIndex]
			return Frame{Data: body[20 : 20+capLen], TimeNano: toNano(uint64(hi)<<32|uint64(lo), iface.unitsPerSec),
				LinkType: iface.link, OrigLen: origLen}, nil
		case ngSimplePacket:
			if len(body) < 4 || len(r.ifaces) == 0 {
				return Frame{}, r.truncated(start, "simple packet without interface")
			}
			origLen := r.order.Uint32(body)
			n := len(body) - 4
			if int(origLen) < n {
				n = int(origLen)
			}
			return Frame{Data: body[4 : 4+n], LinkType: r.ifaces[0].link, OrigLen: origLen}, nil
		}
		// other blocks (statistics, name resolution, custom) carry no frames
	}
}

// tsResolution reads if_tsresol from an interface block's options: units
// per second, 10^v or, with the top bit set, 2^v. A resolution that does
// not fit 64 bits (2^64 and up, 10^20 and up) is no clock's: not ok.
func (r *Reader) tsResolution(opts []byte) (uint64, bool) {
	for len(opts) >= 4 {
		code, n := r.order.Uint16(opts), int(r.order.Uint16(opts[2:]))
		if code == 0 || 4+n > len(opts) {
			break
		}
		if code == 9 && n >= 1 {
			v := opts[4]
			if v&0x80 != 0 {
				return 1 << (v & 0x7F), v&0x7F < 64
			}
			if v > 19 {
				return 0, false
			}
			u := uint64(1)
			for range v {
				u *= 10
			}
			return u, true
		}
		opts = opts[4+(n+3)&^3:]
	}
	return 1e6, true
}

func toNano(ts, unitsPerSec uint64) int64 {
	if unitsPerSec == 1e9 {
		return int64(ts)
	}
	sec, frac := ts/unitsPerSec, ts%unitsPerSec
	if unitsPerSec > 1e9 { // finer than a nanosecond: avoid overflowing frac*1e9
		return int64(sec)*1e9 + int64(frac/(unitsPerSec/1e9))
	}
	return int64(sec)*1e9 + int64(frac*1e9/unitsPerSec)
}
