package evidence

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestNgWriterReadBack: what the hand writer produces, pcapgo's reader (an
// implementation written apart from it) reads back the same: link types per
// interface, nanosecond timestamps, lengths, bytes with odd sizes padded
// away, comments, and an over-long comment cut rather than corrupting the
// block.
func TestNgWriterReadBack(t *testing.T) {
	var buf bytes.Buffer
	nw, err := newNgWriter(&buf, "otwatch", "section comment")
	if err != nil {
		t.Fatal(err)
	}
	eth, _ := nw.addInterface("otwatch", uint32(layers.LinkTypeEthernet))
	raw, _ := nw.addInterface("otwatch", uint32(layers.LinkTypeRaw))
	ts := time.Date(2026, 12, 4, 10, 11, 12, 123456789, time.UTC)
	long := strings.Repeat("x", 70000)
	pkts := []struct {
		iface   int
		data    []byte
		orig    uint32
		comment string
	}{
		{eth, []byte{1, 2, 3, 4, 5}, 60, "first"},
		{raw, []byte{0x45, 0, 0, 20, 1, 2, 3}, 7, ""},
		{eth, bytes.Repeat([]byte{0xAB}, 1514), 1514, long},
	}
	for i, p := range pkts {
		if err := nw.writePacket(p.iface, ts.Add(time.Duration(i)).UnixNano(), p.data, p.orig, p.comment); err != nil {
			t.Fatal(err)
		}
	}
	if err := nw.flush(); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Fatalf("file of %d bytes is not 32-bit aligned", buf.Len())
	}
	r, err := pcapgo.NewNgReader(bytes.NewReader(buf.Bytes()), pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.SectionInfo().Comment; got != "section comment" {
		t.Errorf("section comment %q", got)
	}
	if got := r.SectionInfo().Application; got != "otwatch" {
		t.Errorf("application %q", got)
	}
	for i, want := range pkts {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !bytes.Equal(data, want.data) || ci.Length != int(want.orig) || ci.InterfaceIndex != want.iface {
			t.Errorf("packet %d: %d bytes (orig %d) on interface %d, want %d (%d) on %d",
				i, len(data), ci.Length, ci.InterfaceIndex, len(want.data), want.orig, want.iface)
		}
		if !ci.Timestamp.Equal(ts.Add(time.Duration(i))) {
			t.Errorf("packet %d at %v, want %v", i, ci.Timestamp, ts.Add(time.Duration(i)))
		}
		wantComment := want.comment
		if len(wantComment) > 0xFFFC {
			wantComment = wantComment[:0xFFFC]
		}
		if got := strings.Join(opts.Comments, ""); got != wantComment {
			t.Errorf("packet %d comment of %d bytes, want %d", i, len(got), len(wantComment))
		}
	}
	if _, _, err := r.ReadPacketData(); err != io.EOF {
		t.Errorf("after the last packet: %v, want EOF", err)
	}
	if n := r.NInterfaces(); n != 2 {
		t.Fatalf("%d interfaces, want 2", n)
	}
	for i, want := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw} {
		in, _ := r.Interface(i)
		if in.LinkType != want || in.TimestampResolution != 9 {
			t.Errorf("interface %d: link %v resolution %v", i, in.LinkType, in.TimestampResolution)
		}
	}
}
