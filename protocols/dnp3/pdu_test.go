package dnp3

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
)

func TestCRC16DNP(t *testing.T) {
	// The catalogue check value of CRC-16/DNP.
	if got := crc16([]byte("123456789")); got != 0xEA82 {
		t.Fatalf("crc16(123456789) = %#04x, want 0xea82", got)
	}
}

// TestCRCSlicingMatchesBitwise checks the table-driven CRC, eight bytes at
// a time, against the polynomial applied bit by bit, for every length a
// link frame uses and then some.
func TestCRCSlicingMatchesBitwise(t *testing.T) {
	bitwise := func(b []byte) uint16 {
		var c uint16
		for _, x := range b {
			c ^= uint16(x)
			for range 8 {
				if c&1 != 0 {
					c = c>>1 ^ 0xA6BC
				} else {
					c >>= 1
				}
			}
		}
		return ^c
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 64; n++ {
		for range 50 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.UintN(256))
			}
			if got, want := crc16(b), bitwise(b); got != want {
				t.Fatalf("% x: crc16 %#04x, bitwise %#04x", b, got, want)
			}
		}
	}
}

// selectFrame is frame 4 of zeek's dnp3_select_operate.pcap.
const selectFrame = `
0564            // start bytes
1a              // length 26: control + addresses + 21 user data octets
c4              // control: DIR, PRM, unconfirmed user data
0200            // destination 2
0300            // source 3
40f2            // header CRC
c6c7030c012801000100030164000000 8fda  // block 1: transport FIR|FIN seq 6, app FIR|FIN seq 7 SELECT, g12v1 q28 count 1 index 1, CROB...
6400000000 005b                        // block 2: rest of the CROB
`

func TestParseLinkHeader(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		want    LinkHeader
		wantLen int
		wantErr error
	}{
		{name: "select frame", hex: selectFrame, want: LinkHeader{Length: 26, Control: 0xc4, Dst: 2, Src: 3}, wantLen: 35},
		{name: "request link status", hex: `
			0564 05  // start, length 5: no user data
			49       // DIR, PRM, FCV... function 9 request link status
			6400     // destination 100
			0100     // source 1
			7e5f     // header CRC`, want: LinkHeader{Length: 5, Control: 0x49, Dst: 100, Src: 1}, wantLen: 10},
		{name: "short", hex: `0564 05 49 6400`, wantErr: ErrShort},
		{name: "no start bytes", hex: `0102 05 49 6400 0100 7e5f`, wantErr: ErrNoStart},
		{name: "second start byte wrong", hex: `0565`, wantErr: ErrNoStart},
		{name: "bad header CRC", hex: `0564 05 49 6400 0100 7e5e`, wantErr: ErrHeaderCRC},
		{name: "length below 5", hex: fmt.Sprintf("%x", linkFrame(0x44, 1, 2, nil)[:2]) + "04" + "44 0100 0200" +
			fmt.Sprintf("%04x", swap(crc16([]byte{5, 0x64, 4, 0x44, 1, 0, 2, 0}))), wantErr: ErrLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseLinkHeader(unhex(t, tc.hex))
			if err != tc.wantErr {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if h != tc.want || h.FrameLen() != tc.wantLen {
				t.Fatalf("got %+v len %d, want %+v len %d", h, h.FrameLen(), tc.want, tc.wantLen)
			}
		})
	}
}

func swap(v uint16) uint16 { return v>>8 | v<<8 }

// TestAppendUserDataEveryLength: for every user data length a frame can
// carry (whole blocks and a short last one), the data is appended after
// what dst held, and a corrupted octet of the first or the last block, or
// of either CRC, fails the frame and leaves dst as it was.
func TestAppendUserDataEveryLength(t *testing.T) {
	prefix := []byte("held")
	for n := 1; n <= 250; n++ {
		user := make([]byte, n)
		for i := range user {
			user[i] = byte(i*31 + n)
		}
		frame := linkFrame(0xC4, 1, 2, user)
		h, err := ParseLinkHeader(frame)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := AppendUserData(append([]byte(nil), prefix...), frame, h)
		if !ok || !bytes.Equal(got, append(append([]byte(nil), prefix...), user...)) {
			t.Fatalf("%d octets: got %x ok=%v", n, got, ok)
		}
		last := len(frame) - 3 // the last block's last data octet
		for _, at := range []int{LinkHeaderLen, LinkHeaderLen + min(n, blockLen), last, len(frame) - 1} {
			bad := append([]byte(nil), frame...)
			bad[at] ^= 0x20
			got, ok := AppendUserData(append([]byte(nil), prefix...), bad, h)
			if ok || !bytes.Equal(got, prefix) {
				t.Fatalf("%d octets, octet %d corrupted: got %x ok=%v", n, at, got, ok)
			}
		}
	}
}

func TestAppendUserData(t *testing.T) {
	frame := unhex(t, selectFrame)
	h, err := ParseLinkHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := AppendUserData(nil, frame, h)
	want := unhex(t, "c6c7030c0128010001000301640000006400000000")
	if !ok || !bytes.Equal(got, want) {
		t.Fatalf("user data %x ok=%v, want %x", got, ok, want)
	}
	bad := append([]byte(nil), frame...)
	bad[len(bad)-3] ^= 1 // a data octet of block 2
	if _, ok := AppendUserData(nil, bad, h); ok {
		t.Fatal("corrupted block accepted")
	}
	if _, ok := AppendUserData(nil, frame[:20], h); ok {
		t.Fatal("short frame accepted")
	}
}

// summary renders the fields of a transaction the tests compare.
func summary(t *protocols.Transaction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "code=%d op=%s", t.Code, t.Op)
	for _, tg := range t.Targets {
		fmt.Fprintf(&b, " %s:%d+%d", tg.Space, tg.Address, tg.Count)
	}
	if len(t.Values) > 0 {
		b.WriteString(" values=")
		for i, v := range t.Values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(valueString(v))
		}
	}
	fmt.Fprintf(&b, " outcome=%s", t.Outcome)
	if t.HasException {
		fmt.Fprintf(&b, " exc=%d", t.ExceptionCode)
	}
	if len(t.Anomalies) > 0 {
		fmt.Fprintf(&b, " anomalies=%s", strings.Join(t.Anomalies, ","))
	}
	return b.String()
}

func valueString(v protocols.Value) string {
	switch v.Kind {
	case protocols.ValueFloat:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case protocols.ValueString:
		return strconv.Quote(v.Str)
	case protocols.ValueBool:
		return strconv.FormatBool(v.Int != 0)
	}
	return strconv.FormatInt(v.Int, 10)
}

func TestDecodeFragment(t *testing.T) {
	tests := []struct {
		name     string
		hex      string
		response bool // decode as a response whose request was seen
		want     string
		attr     string // key=value expected among the details
		wantErr  bool   // fragment too short
	}{
		{name: "read class 0", hex: `
			c0       // app control: FIR FIN seq 0
			01       // READ
			3c01 06  // g60v1, qualifier 0x06 all`,
			want: "code=1 op=read g60v1:0+0 outcome=ok"},
		{name: "read classes 1-3", hex: `
			c3 01
			3c02 06  // class 1
			3c03 06  // class 2
			3c04 06  // class 3`,
			want: "code=1 op=read g60v2:0+0 g60v3:0+0 g60v4:0+0 outcome=ok"},
		{name: "read analog inputs 1-octet start-stop", hex: `
			c1 01
			1e01 00  // g30v1, qualifier 0x00
			00 09    // start 0, stop 9`,
			want: "code=1 op=read g30v1:0+10 outcome=ok"},
		{name: "read 2-octet start-stop", hex: `c1 01 0102 01 0a00 1400  // g1v2 indices 10..20`,
			want: "code=1 op=read g1v2:10+11 outcome=ok"},
		{name: "read 4-octet count", hex: `c1 01 0200 09 05000000  // g2v0 up to 5 events`,
			want: "code=1 op=read g2v0:0+5 outcome=ok"},
		{name: "read index-prefixed", hex: `
			c1 01
			0a02 17  // g10v2, 1-octet index prefix, 1-octet count
			03       // three indices
			01 02 07 // 1, 2, 7`,
			want: "code=1 op=read g10v2:1+2 g10v2:7+1 outcome=ok"},
		{name: "select CROB", hex: `
			c7 03           // SELECT seq 7
			0c01 28         // g12v1, 2-octet index prefix, 2-octet count
			0100            // one object
			0100            // index 1
			03              // control code: latch on
			01              // count 1
			64000000        // on time 100 ms
			64000000        // off time 100 ms
			00              // status`,
			want: `code=3 op=control g12v1:1+1 values="latch_on" outcome=ok`,
			attr: "crob.1=op=latch_on count=1 on=100 off=100 status=0"},
		{name: "direct operate trip pulse", hex: `
			c2 05 0c01 17 01 04  // g12v1 index 4
			81 01 f4010000 00000000 00  // trip, pulse on, 500 ms`,
			want: `code=5 op=control g12v1:4+1 values="trip_pulse_on" outcome=ok`},
		{name: "direct operate analog output int16", hex: `
			c2 05
			2902 17   // g41v2, 1-octet index, 1-octet count
			01 05     // one object, index 5
			e803 00   // value 1000, status 0`,
			want: "code=5 op=control g41v2:5+1 values=1000 outcome=ok"},
		{name: "operate analog output float", hex: `
			c3 04 2903 28 0100 0200
			0000c03f 00  // 1.5`,
			want: "code=4 op=control g41v3:2+1 values=1.5 outcome=ok"},
		{name: "analog output int32 and double", hex: `
			c3 05 2901 17 01 00 feffffff 00   // -2
			2904 17 01 01 000000000000f03f 00 // 1.0`,
			want: "code=5 op=control g41v1:0+1 g41v4:1+1 values=-2,1 outcome=ok"},
		{name: "write time", hex: `
			c4 02 3201 07 01  // WRITE g50v1, count 1
			d2029c503401      // 48-bit time in ms since 1970`,
			want: "code=2 op=write g50v1:0+1 values=1324202328786 outcome=ok"},
		{name: "write IIN restart bit clear", hex: `
			c5 02 5001 00 07 07  // g80v1 indices 7..7
			00                   // packed bit: 0`,
			want: "code=2 op=write g80v1:7+1 values=false outcome=ok"},
		{name: "cold restart", hex: `c0 0d`, want: "code=13 op=restart outcome=ok"},
		{name: "stop application", hex: `c0 12`, want: "code=18 op=stop outcome=ok"},
		{name: "open file for writing", hex: `
			c1 19 4603 5b 01 2400  // g70v3 free-format, one object of 36 octets
			1a00 0a00              // name offset 26, length 10
			000000000000 0000      // created, permissions
			00000000 00000000      // auth key, file size
			0200 0004 0400         // mode write, max block 1024, request id 4
			2e2f746573742e786d6c   // ./test.xml`,
			want: "code=25 op=program_download g70v3:0+1 outcome=ok", attr: "file_name=./test.xml"},
		{name: "response with IIN error", response: true, hex: `
			c0 81   // RESPONSE
			00 04   // IIN1 0, IIN2 parameter error`,
			want: "code=0 op=other outcome=exception exc=4"},
		{name: "response CROB status not supported", response: true, hex: `
			c7 81 0000 0c01 28 0100 0100 03 01 64000000 64000000 04`,
			want: "code=0 op=other outcome=exception exc=4"},
		{name: "unsolicited events", hex: `
			f0 82 0000          // UNS, CON
			0202 28 0200        // g2v2, 2-octet index, two events
			0300 81 010203040506
			0900 01 010203040506`,
			want: "code=130 op=read g2v2:3+1 g2v2:9+1 outcome=unsolicited"},
		{name: "device attributes", hex: `
			c0 81 0000
			00fc 00 00 00   // g0v252 index 0..0
			01 04 41434d45  // VSTR length 4 "ACME"`,
			want: "code=129 op=read g0v252:0+1 outcome=ok", attr: "vendor_name=ACME"},
		{name: "packed binary inputs", hex: `c0 81 0000 0101 00 00 09 ff03`,
			want: "code=129 op=read g1v1:0+10 outcome=ok"},
		{name: "octet string write", hex: `c0 02 6e05 07 01 68656c6c6f`,
			want: `code=2 op=write g110v5:0+1 values="hello" outcome=ok`},
		// Malformed.
		{name: "too short", hex: `c0`, wantErr: true, want: "code=0 op=other outcome=ok anomalies=dnp3.fragment_too_short"},
		{name: "response without IIN", hex: `c0 81 00`, wantErr: true,
			want: "code=129 op=read outcome=ok anomalies=dnp3.fragment_too_short"},
		{name: "unknown function", hex: `c0 40`, want: "code=64 op=other outcome=ok anomalies=dnp3.unknown_function"},
		{name: "header cut", hex: `c0 01 1e`, want: "code=1 op=read outcome=ok anomalies=dnp3.trailing_bytes"},
		{name: "range cut", hex: `c0 01 1e01 01 0000`, want: "code=1 op=read outcome=ok anomalies=dnp3.object_truncated"},
		{name: "stop below start", hex: `c0 01 1e01 00 09 01`, want: "code=1 op=read outcome=ok anomalies=dnp3.bad_range"},
		{name: "reserved range code", hex: `c0 01 1e01 0a 00`, want: "code=1 op=read outcome=ok anomalies=dnp3.bad_qualifier"},
		{name: "prefix with all-range", hex: `c0 01 1e01 16`, want: "code=1 op=read outcome=ok anomalies=dnp3.bad_qualifier"},
		{name: "unknown group with data", hex: `c0 02 6301 07 01 00`,
			want: "code=2 op=write outcome=ok anomalies=dnp3.unknown_object"},
		{name: "count far beyond data", hex: `c0 02 1e01 08 ffff 0000000000`,
			want: "code=2 op=write outcome=ok anomalies=dnp3.object_truncated"},
		{name: "4-octet count of packed bits beyond data", hex: `c0 81 0000 0101 09 ffffffff 00`,
			want: "code=129 op=read outcome=ok anomalies=dnp3.object_truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tx protocols.Transaction
			if tc.response {
				tx.RequestFrame = 1
			}
			_, ok := DecodeFragment(unhex(t, tc.hex), &tx)
			if ok == tc.wantErr {
				t.Fatalf("ok = %v, want %v", ok, !tc.wantErr)
			}
			if got := summary(&tx); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if tc.attr != "" {
				k, v, _ := strings.Cut(tc.attr, "=")
				if got := tx.Attr(k); got != v {
					t.Errorf("attr %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestObjectSizesCoverIssueGroups(t *testing.T) {
	for _, gv := range []string{"g1v2", "g2v1", "g3v2", "g4v1", "g10v2", "g11v1", "g12v1", "g12v2", "g12v3",
		"g20v1", "g21v1", "g22v1", "g23v1", "g30v1", "g32v1", "g40v1", "g41v1", "g42v1", "g43v1", "g50v1",
		"g51v1", "g52v2", "g60v1", "g70v3", "g80v1", "g110v4", "g111v4", "g120v1"} {
		var g, v int
		fmt.Sscanf(gv, "g%dv%d", &g, &v)
		if _, ok := objectSizeOf(uint8(g), uint8(v)); !ok {
			t.Errorf("%s has no size", gv)
		}
	}
	if spaceName(12, 1) != "g12v1" || spaceName(200, 201) != "g200v201" {
		t.Fatal("space names")
	}
}

// TestObjectTablesAgreeWithTheRules checks the size and name tables (array
// lookups, for speed) against the rules written out as a map, the way they
// were first built, for all 65,536 group/variation pairs.
func TestObjectTablesAgreeWithTheRules(t *testing.T) {
	want := map[uint16]objectSize{}
	fixed := func(g uint8, sizes ...uint8) {
		for i, s := range sizes {
			if s != 0 {
				want[uint16(g)<<8|uint16(i+1)] = objectSize{sizeFixed, s}
			}
		}
	}
	bits := func(g, v, n uint8) { want[uint16(g)<<8|uint16(v)] = objectSize{sizeBits, n} }
	bits(1, 1, 1)
	fixed(1, 0, 1)
	fixed(2, 1, 7, 3)
	bits(3, 1, 2)
	fixed(3, 0, 1)
	fixed(4, 1, 7, 3)
	bits(10, 1, 1)
	fixed(10, 0, 1)
	fixed(11, 1, 7)
	fixed(12, 11, 11)
	bits(12, 3, 1)
	fixed(13, 1, 7)
	fixed(20, 5, 3, 5, 3, 4, 2, 4, 2)
	fixed(21, 5, 3, 5, 3, 11, 9, 11, 9, 4, 2, 4, 2)
	fixed(22, 5, 3, 5, 3, 11, 9, 11, 9)
	fixed(23, 5, 3, 5, 3, 11, 9, 11, 9)
	fixed(30, 5, 3, 4, 2, 5, 9)
	fixed(31, 5, 3, 11, 9, 4, 2, 5, 9)
	fixed(32, 5, 3, 11, 9, 5, 9, 11, 15)
	fixed(33, 5, 3, 11, 9, 5, 9, 11, 15)
	fixed(34, 2, 4, 4)
	fixed(40, 5, 3, 5, 9)
	fixed(41, 5, 3, 5, 9)
	fixed(42, 5, 3, 11, 9, 5, 9, 11, 15)
	fixed(43, 5, 3, 11, 9, 5, 9, 11, 15)
	fixed(50, 6, 10, 6, 11)
	fixed(51, 6, 6)
	fixed(52, 2, 2)
	for v := uint16(1); v <= 4; v++ {
		want[60<<8|v] = objectSize{sizeNone, 0}
	}
	bits(80, 1, 1)
	fixed(81, 3)
	fixed(101, 2, 4, 8)
	fixed(102, 1)
	fixed(121, 7)
	fixed(122, 7, 13)
	for g := range uint16(256) {
		if _, ok := want[g<<8]; !ok {
			want[g<<8] = objectSize{sizeNone, 0}
		}
	}
	for v := range uint16(256) {
		want[v] = objectSize{sizeAttr, 0}
		for _, g := range []uint16{110, 111, 112, 113} {
			if v > 0 {
				want[g<<8|v] = objectSize{sizeVarIsLen, 0}
			}
		}
	}
	for _, g := range []uint16{70, 82, 83, 85, 86, 87, 88, 90, 91, 120} {
		for v := uint16(1); v < 256; v++ {
			if _, ok := want[g<<8|v]; !ok {
				want[g<<8|v] = objectSize{sizePrefixed, 0}
			}
		}
	}
	want[120<<8|3] = objectSize{sizeFixed, 6}
	want[120<<8|4] = objectSize{sizeFixed, 2}
	for g := range 256 {
		for v := range 256 {
			w, wok := want[uint16(g)<<8|uint16(v)]
			got, ok := objectSizeOf(uint8(g), uint8(v))
			if ok != wok || got != w {
				t.Errorf("g%dv%d: size %v %v, want %v %v", g, v, got, ok, w, wok)
			}
			if name := fmt.Sprintf("g%dv%d", g, v); spaceName(uint8(g), uint8(v)) != name {
				t.Errorf("g%dv%d named %q", g, v, spaceName(uint8(g), uint8(v)))
			}
		}
	}
}

func BenchmarkParseLinkFrame(b *testing.B) {
	frame := unhex(b, selectFrame)
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		h, err := ParseLinkHeader(frame)
		if err != nil {
			b.Fatal(err)
		}
		buf, _ = AppendUserData(buf[:0], frame, h)
	}
}

func BenchmarkDecodeRequestSelect(b *testing.B) {
	frag := unhex(b, "c7030c012801000100030164000000640000000000")
	b.ReportAllocs()
	for b.Loop() {
		var tx protocols.Transaction
		DecodeFragment(frag, &tx)
	}
}

func BenchmarkDecodeRequestRead(b *testing.B) {
	frag := unhex(b, "c0013c02063c03063c04063c0106")
	b.ReportAllocs()
	for b.Loop() {
		var tx protocols.Transaction
		DecodeFragment(frag, &tx)
	}
}

func BenchmarkDecodeResponseClass0(b *testing.B) {
	// g1v2 0..99, g30v1 0..99: a typical integrity poll answer.
	frag := unhex(b, "c0810000"+"0102010000"+"6300"+strings.Repeat("01", 100)+"1e01010000"+"6300"+strings.Repeat("0110000000", 100))
	b.SetBytes(int64(len(frag)))
	b.ReportAllocs()
	for b.Loop() {
		tx := protocols.Transaction{RequestFrame: 1}
		DecodeFragment(frag, &tx)
	}
}

// TestHostileDeviceAttribute: a g0 device attribute string reaches the
// inventory with controls, bidi overrides, separators and bad bytes escaped.
func TestHostileDeviceAttribute(t *testing.T) {
	var tx protocols.Transaction
	DecodeFragment(unhex(t, "c0 81 0000 00fc 00 00 00 01 1c "+testkit.HostileHex), &tx)
	if got := tx.Attr("vendor_name"); got != testkit.HostileShown {
		t.Errorf("vendor_name = %q, want %q", got, testkit.HostileShown)
	}
}

// BenchmarkAppendUserData strips the CRCs of a full link frame (250 octets
// of user data in sixteen blocks), the per-byte work of every DNP3 frame.
func BenchmarkAppendUserData(b *testing.B) {
	user := make([]byte, 250)
	for i := range user {
		user[i] = byte(i * 7)
	}
	frame := linkFrame(0xC4, 1, 2, user)
	h, err := ParseLinkHeader(frame)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 256)
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		var ok bool
		if dst, ok = AppendUserData(dst[:0], frame, h); !ok {
			b.Fatal("CRC")
		}
	}
}
