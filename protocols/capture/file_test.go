package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func pcapFile(order byteOrder, nano bool, link uint32, frames ...[]byte) []byte {
	var b bytes.Buffer
	magic := uint32(0xA1B2C3D4)
	if nano {
		magic = 0xA1B23C4D
	}
	hdr := make([]byte, 24)
	order.PutUint32(hdr, magic)
	order.PutUint16(hdr[4:], 2)
	order.PutUint16(hdr[6:], 4)
	order.PutUint32(hdr[16:], 65535)
	order.PutUint32(hdr[20:], link)
	b.Write(hdr)
	for i, f := range frames {
		rec := make([]byte, 16)
		order.PutUint32(rec, uint32(1000+i))
		order.PutUint32(rec[4:], 500)
		order.PutUint32(rec[8:], uint32(len(f)))
		order.PutUint32(rec[12:], uint32(len(f)+10))
		b.Write(rec)
		b.Write(f)
	}
	return b.Bytes()
}

// ngBlock builds one pcapng block.
func ngBlock(order byteOrder, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := make([]byte, 8, n)
	order.PutUint32(b, typ)
	order.PutUint32(b[4:], n)
	b = append(b, body...)
	return order.AppendUint32(b, n)
}

func ngSection(order byteOrder) []byte {
	body := order.AppendUint32(nil, 0x1A2B3C4D)
	body = order.AppendUint16(body, 1)
	body = order.AppendUint16(body, 0)
	body = append(body, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	return ngBlock(order, ngSectionHeader, body)
}

func ngIface(order byteOrder, link uint16, tsresol byte) []byte {
	body := order.AppendUint16(nil, link)
	body = order.AppendUint16(body, 0)
	body = order.AppendUint32(body, 65535)
	if tsresol != 0 {
		body = order.AppendUint16(body, 9)
		body = order.AppendUint16(body, 1)
		body = append(body, tsresol, 0, 0, 0)
		body = append(body, 0, 0, 0, 0) // opt_endofopt
	}
	return ngBlock(order, ngInterfaceDesc, body)
}

func ngPacket(order byteOrder, iface uint32, ts uint64, data []byte) []byte {
	body := order.AppendUint32(nil, iface)
	body = order.AppendUint32(body, uint32(ts>>32))
	body = order.AppendUint32(body, uint32(ts))
	body = order.AppendUint32(body, uint32(len(data)))
	body = order.AppendUint32(body, uint32(len(data)))
	body = append(body, data...)
	return ngBlock(order, ngEnhPacket, body)
}

func readAll(t *testing.T, data []byte) ([]Frame, error) {
	r, err := NewReader("test", bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var out []Frame
	for {
		f, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		f.Data = append([]byte(nil), f.Data...)
		out = append(out, f)
	}
}

func TestPcapByteOrdersAndResolutions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order byteOrder
		nano  bool
		ns    int64
	}{
		{"little endian usec", binary.LittleEndian, false, 1000*1e9 + 500*1e3},
		{"big endian usec", binary.BigEndian, false, 1000*1e9 + 500*1e3},
		{"little endian nsec", binary.LittleEndian, true, 1000*1e9 + 500},
		{"big endian nsec", binary.BigEndian, true, 1000*1e9 + 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := readAll(t, pcapFile(tc.order, tc.nano, LinkEthernet, []byte("abc"), []byte("defg")))
			require.NoError(t, err)
			require.Len(t, frames, 2)
			assert.Equal(t, []byte("abc"), frames[0].Data)
			assert.Equal(t, tc.ns, frames[0].TimeNano)
			assert.Equal(t, uint32(LinkEthernet), frames[1].LinkType)
			assert.Equal(t, uint32(14), frames[1].OrigLen)
		})
	}
}

func TestPcapTruncatedNamesOffset(t *testing.T) {
	data := pcapFile(binary.LittleEndian, false, LinkEthernet, []byte("abcdef"), []byte("0123456789"))
	cut := data[:len(data)-4] // second record loses its tail
	frames, err := readAll(t, cut)
	require.Len(t, frames, 1, "the readable frame is delivered")
	var trunc *TruncatedError
	require.True(t, errors.As(err, &trunc), "got %v", err)
	assert.Equal(t, int64(24+16+6), trunc.Offset, "offset of the damaged record")
	assert.Contains(t, err.Error(), "byte offset 46")

	// a record header cut in the middle
	_, err = readAll(t, data[:24+16+6+5])
	require.True(t, errors.As(err, &trunc))
	assert.Equal(t, int64(46), trunc.Offset)
}

func TestNotACapture(t *testing.T) {
	for _, data := range [][]byte{[]byte("hello world, this is text\n"), {}, {1, 2}} {
		_, err := readAll(t, data)
		assert.ErrorIs(t, err, ErrNotCapture)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.txt")
	require.NoError(t, os.WriteFile(path, []byte("not a capture at all"), 0o644))
	_, err := Open(path)
	assert.ErrorIs(t, err, ErrNotCapture)
}

func TestPcapngSectionsInterfacesAndResolution(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	var file []byte
	// section 1, little endian: Ethernet (µs) and raw IP (ns) interfaces
	file = append(file, ngSection(le)...)
	file = append(file, ngIface(le, LinkEthernet, 0)...)
	file = append(file, ngIface(le, LinkRaw, 9)...)
	file = append(file, ngPacket(le, 0, 2_000_000, []byte("eth"))...)
	file = append(file, ngBlock(le, 5, []byte{1, 2, 3, 4})...) // statistics block: skipped
	file = append(file, ngPacket(le, 1, 3_000_000_007, []byte("raw"))...)
	// section 2, big endian: interfaces restart at index 0
	file = append(file, ngSection(be)...)
	file = append(file, ngIface(be, LinkLinuxSLL, 0x80|10)...) // 2^-10 s
	file = append(file, ngPacket(be, 0, 1024*5, []byte("sll"))...)
	frames, err := readAll(t, file)
	require.NoError(t, err)
	require.Len(t, frames, 3)
	assert.Equal(t, uint32(LinkEthernet), frames[0].LinkType)
	assert.Equal(t, int64(2e9), frames[0].TimeNano)
	assert.Equal(t, uint32(LinkRaw), frames[1].LinkType)
	assert.Equal(t, int64(3_000_000_007), frames[1].TimeNano)
	assert.Equal(t, uint32(LinkLinuxSLL), frames[2].LinkType)
	assert.Equal(t, []byte("sll"), frames[2].Data)
	assert.Equal(t, int64(5e9), frames[2].TimeNano)

	// truncation inside section 2 names the offset of the damaged block
	cut := file[:len(file)-6]
	frames, err = readAll(t, cut)
	require.Len(t, frames, 2)
	var trunc *TruncatedError
	require.True(t, errors.As(err, &trunc))
	assert.Equal(t, int64(len(file)-len(ngPacket(be, 0, 0, []byte("sll")))), trunc.Offset)
}

// An interface whose timestamp resolution cannot be a clock's (2^116 or
// 10^20 units per second: no 64-bit count holds it) is damage named at
// its block, after the frames before it; it used to divide by zero.
// FuzzReader found it.
func TestPcapngImpossibleResolution(t *testing.T) {
	le := binary.LittleEndian
	for _, tsresol := range []byte{0x80 | 116, 0x80 | 64, 20} {
		file := append(ngSection(le), ngIface(le, LinkEthernet, 0)...)
		file = append(file, ngPacket(le, 0, 1e6, []byte("ok"))...)
		at := len(file)
		file = append(file, ngIface(le, LinkEthernet, tsresol)...)
		file = append(file, ngPacket(le, 1, 1e6, []byte("lost"))...)
		frames, err := readAll(t, file)
		require.Len(t, frames, 1, "tsresol %#x", tsresol)
		var trunc *TruncatedError
		require.True(t, errors.As(err, &trunc), "tsresol %#x: %v", tsresol, err)
		assert.Equal(t, int64(at), trunc.Offset)
		assert.Contains(t, err.Error(), "interface 1's timestamp resolution (if_tsresol) is impossible")
	}
	for _, tsresol := range []byte{0x80 | 63, 19} { // the largest that fit
		file := append(ngSection(le), ngIface(le, LinkEthernet, tsresol)...)
		file = append(file, ngPacket(le, 0, 1<<40, []byte("ok"))...)
		frames, err := readAll(t, file)
		require.NoError(t, err, "tsresol %#x", tsresol)
		require.Len(t, frames, 1)
	}
}

// A second section whose header lacks the byte-order magic is damage at
// its offset, not "not a capture": the frames before it were read.
func TestPcapngDamagedSecondSection(t *testing.T) {
	le := binary.LittleEndian
	file := append(ngSection(le), ngIface(le, LinkEthernet, 0)...)
	file = append(file, ngPacket(le, 0, 1e6, []byte("ok"))...)
	at := len(file)
	bad := ngSection(le)
	copy(bad[8:], []byte{1, 2, 3, 4})
	file = append(file, bad...)
	frames, err := readAll(t, file)
	require.Len(t, frames, 1)
	var trunc *TruncatedError
	require.True(t, errors.As(err, &trunc), "%v", err)
	assert.Equal(t, int64(at), trunc.Offset)
	assert.Contains(t, err.Error(), "section header without its byte-order magic")
}

func TestPcapngPacketOnUndeclaredInterface(t *testing.T) {
	le := binary.LittleEndian
	file := append(ngSection(le), ngPacket(le, 3, 0, []byte("x"))...)
	_, err := readAll(t, file)
	var trunc *TruncatedError
	require.True(t, errors.As(err, &trunc))
	assert.Contains(t, trunc.Reason, "undeclared interface")
}

func BenchmarkPcapRead(b *testing.B) {
	frame := make([]byte, 66)
	frames := make([][]byte, 10000)
	for i := range frames {
		frames[i] = frame
	}
	data := pcapFile(binary.LittleEndian, false, LinkEthernet, frames...)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r, _ := NewReader("bench", bytes.NewReader(data))
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

func writeFile(t *testing.T, name string, data []byte) string {
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}

func gzipped(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.Bytes()
}

func openAll(t *testing.T, path string) ([]Frame, *Reader, error) {
	r, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var out []Frame
	for {
		f, err := r.Next()
		if err == io.EOF {
			return out, r, nil
		}
		if err != nil {
			return out, r, err
		}
		f.Data = bytes.Clone(f.Data)
		out = append(out, f)
	}
}

// An empty file and a directory are named for what they are.
func TestOpenEmptyFileAndDirectory(t *testing.T) {
	empty := writeFile(t, "empty.pcap", nil)
	_, err := Open(empty)
	assert.ErrorIs(t, err, ErrEmpty)
	assert.EqualError(t, err, empty+": an empty file (0 bytes), not a capture")

	dir := t.TempDir()
	_, err = Open(dir)
	assert.ErrorIs(t, err, ErrDirectory)
	assert.EqualError(t, err, dir+": a directory, not a capture file (give the captures in it, e.g. "+dir+"/*.pcap)")
}

// A gzip-compressed capture is read as it is, frame for frame.
func TestOpenGzipCapture(t *testing.T) {
	data := pcapFile(binary.LittleEndian, true, LinkEthernet, []byte("abcdef"), []byte("0123456789"), []byte("xyz"))
	plain, _, err := openAll(t, writeFile(t, "c.pcap", data))
	require.NoError(t, err)
	zipped, r, err := openAll(t, writeFile(t, "c.pcap.gz", gzipped(t, data)))
	require.NoError(t, err)
	assert.Equal(t, plain, zipped)
	assert.True(t, r.Compressed())
	assert.Equal(t, int64(len(data)), r.Offset(), "offsets count the capture's bytes")

	// damaged: cut inside the compressed stream
	z := gzipped(t, data)
	frames, _, err := openAll(t, writeFile(t, "cut.pcap.gz", z[:len(z)-12]))
	var trunc *TruncatedError
	require.True(t, errors.As(err, &trunc), "got %v", err)
	assert.Contains(t, err.Error(), "(offset in the decompressed capture)")
	assert.NotEmpty(t, frames, "what was readable was delivered")

	// gzip around something else
	_, err = Open(writeFile(t, "notes.txt.gz", gzipped(t, []byte("these are notes, not packets"))))
	assert.ErrorIs(t, err, ErrNotCapture)
	assert.Contains(t, err.Error(), "gzip-compressed, and inside not a pcap or pcapng capture")
}

// Other compressions say how to undo them.
func TestOpenOtherCompressions(t *testing.T) {
	for _, c := range []struct {
		name  string
		magic []byte
		want  string
	}{
		{"xz", []byte{0xFD, '7', 'z', 'X', 'Z', 0, 0, 4}, "compressed with xz: decompress it first (xz -d "},
		{"zstd", []byte{0x28, 0xB5, 0x2F, 0xFD, 0x24, 0, 0, 0}, "compressed with zstd: decompress it first (zstd -d "},
		{"bzip2", []byte("BZh91AY&SY"), "compressed with bzip2: decompress it first (bunzip2 "},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00"), "compressed with zip: decompress it first (unzip "},
	} {
		path := writeFile(t, "c.pcap."+c.name, append(c.magic, make([]byte, 64)...))
		_, err := Open(path)
		assert.ErrorIs(t, err, ErrCompressed, c.name)
		assert.Contains(t, err.Error(), c.want, c.name)
		assert.Contains(t, err.Error(), "or recompress it with gzip, which otwatch reads")
	}
}

// The buffer starts small and grows for a record larger than it: frames of
// every size up to MaxFrame come back whole and in order, whether the
// input arrives in large reads or a byte at a time.
func TestRecordsLargerThanTheStartingBuffer(t *testing.T) {
	sizes := []int{60, startBuffer - 16, startBuffer, startBuffer + 1, 3 * startBuffer, 70, MaxFrame, 1}
	var frames [][]byte
	for i, n := range sizes {
		f := bytes.Repeat([]byte{byte(i + 1)}, n)
		f[0], f[n-1] = 0xAA, 0xBB
		frames = append(frames, f)
	}
	file := pcapFile(binary.LittleEndian, false, 1, frames...)
	for name, rd := range map[string]io.Reader{
		"whole":        bytes.NewReader(file),
		"byte by byte": iotest.OneByteReader(bytes.NewReader(file)),
		"half reads":   iotest.HalfReader(bytes.NewReader(file)),
	} {
		r, err := NewReader(name, rd)
		require.NoError(t, err, name)
		for i, want := range frames {
			fr, err := r.Next()
			require.NoError(t, err, "%s: frame %d", name, i)
			require.Equal(t, want, fr.Data, "%s: frame %d (%d bytes)", name, i, len(want))
		}
		_, err = r.Next()
		assert.Equal(t, io.EOF, err, name)
		assert.Equal(t, int64(len(file)), r.Offset(), name)
		assert.LessOrEqual(t, len(r.r.buf), bufferSize, "%s: the buffer grows no further than the largest record needs", name)
	}
}

// A capture of small frames keeps the starting buffer.
func TestSmallFramesKeepTheStartingBuffer(t *testing.T) {
	var frames [][]byte
	for range 5000 {
		frames = append(frames, bytes.Repeat([]byte{7}, 1514))
	}
	r, err := NewReader("small", bytes.NewReader(pcapFile(binary.LittleEndian, false, 1, frames...)))
	require.NoError(t, err)
	n := 0
	for {
		if _, err := r.Next(); err != nil {
			require.Equal(t, io.EOF, err)
			break
		}
		n++
	}
	assert.Equal(t, 5000, n)
	assert.Equal(t, startBuffer, len(r.r.buf))
}
