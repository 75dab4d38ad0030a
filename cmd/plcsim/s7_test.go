package main

import (
	"bytes"
	"encoding/hex"
	"io"
	"log"
	"net"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols/testkit"
)

// sink is the responder's connection in unit tests: it keeps what is written.
type sink struct {
	net.Conn
	out bytes.Buffer
}

func (s *sink) Write(b []byte) (int, error) { return s.out.Write(b) }

func unhex(t testing.TB, s string) []byte { return testkit.Hex(t, s) }

// The responder's answers, byte for byte, to the telegrams gos7 sends.
func TestS7Responder(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		fn             string // the request logged
	}{
		{"connect", `0300 0016 11 e0 0000 0001 00 c0010a c1020100 c2020102`,
			`0300 0016 11 d0 0001 0001 00 c0010a c1020100 c2020102`, "connect"},
		{"setup communication 480", `0300 0019 02f080 32 01 0000 0400 0008 0000 f0 00 0001 0001 01e0`,
			`0300 001b 02f080 32 03 0000 0400 0008 0000 0000 f0 00 0001 0001 01e0`, "setup"},
		{"setup communication 960 → 480", `0300 0019 02f080 32 01 0000 0400 0008 0000 f0 00 0001 0001 03c0`,
			`0300 001b 02f080 32 03 0000 0400 0008 0000 0000 f0 00 0001 0001 01e0`, "setup"},
		{"read DB1.DBB100 BYTE 2", `0300 001f 02f080 32 01 0000 0500 000e 0000 04 01 120a10 02 0002 0001 84 000320`,
			`0300 001b 02f080 32 03 0000 0500 0002 0006 0000 04 01 ff 04 0010 01f4`, "read"},
		{"read DB2: object does not exist", `0300 001f 02f080 32 01 0000 0500 000e 0000 04 01 120a10 02 0002 0002 84 000320`,
			`0300 0019 02f080 32 03 0000 0500 0002 0004 0000 04 01 0a 00 0000`, "read"},
		{"read DB1.DBB1023 BYTE 2: out of range", `0300 001f 02f080 32 01 0000 0500 000e 0000 04 01 120a10 02 0002 0001 84 001ff8`,
			`0300 0019 02f080 32 03 0000 0500 0002 0004 0000 04 01 05 00 0000`, "read"},
		{"read M0.1 BIT, DB1.DBB0 BYTE 1 (fill byte after the bit)",
			`0300 002b 02f080 32 01 0000 0500 001a 0000 04 02 120a10 01 0001 0000 83 000001 120a10 02 0001 0001 84 000000`,
			`0300 0020 02f080 32 03 0000 0500 0002 000b 0000 04 02 ff 03 0001 00 00 ff 04 0008 00`, "read"},
		{"write DB1.DBW100 := 550", `0300 0025 02f080 32 01 0000 0500 000e 0006 05 01 120a10 02 0002 0001 84 000320 00 04 0010 0226`,
			`0300 0016 02f080 32 03 0000 0500 0002 0001 0000 05 01 ff`, "write"},
		{"write with a short data item", `0300 0024 02f080 32 01 0000 0500 000e 0005 05 01 120a10 02 0002 0001 84 000320 00 04 0010 02`,
			`0300 0016 02f080 32 03 0000 0500 0002 0001 0000 05 01 07`, "write"},
		{"PLC stop", `0300 0021 02f080 32 01 0000 0e00 0010 0000 29 0000000000 09 505f50524f4752414d`,
			`0300 0014 02f080 32 03 0000 0e00 0001 0000 0000 29`, "stop"},
		{"hot start (PI P_PROGRAM)", `0300 0025 02f080 32 01 0000 0c00 0014 0000 28 0000000000 00fd 0000 09 505f50524f4752414d`,
			`0300 0014 02f080 32 03 0000 0c00 0001 0000 0000 28`, "start"},
		{"request download: not implemented", `0300 0013 02f080 32 01 0000 0700 0002 0000 1a 00`,
			`0300 0013 02f080 32 02 0000 0700 0000 0000 8104`, "other"},
		{"userdata SZL read: not answered", `0300 0021 02f080 32 07 0000 0500 0008 0008 0001 1204 1144 0100 ff09 0004 0011 0000`,
			``, "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newS7PLC(nil)
			c := &sink{}
			sc := &s7Conn{p: p, c: c, client: "192.0.2.1", pduSize: s7MaxPDU}
			in := unhex(t, tc.in)
			if !sc.handle(in[4:]) {
				t.Fatal("connection closed")
			}
			if got, want := c.out.Bytes(), unhex(t, tc.want); !bytes.Equal(got, want) {
				t.Errorf("answer\n got % x\nwant % x", got, want)
			}
			if reqs := p.Requests(); len(reqs) != 1 || reqs[0].Function != tc.fn {
				t.Errorf("logged %+v, want one %s", reqs, tc.fn)
			}
		})
	}
}

// FuzzS7Responder: whatever a client sends, the responder neither panics
// nor answers with a frame that is not a well-formed TPKT.
func FuzzS7Responder(f *testing.F) {
	for _, s := range []string{
		"03000016 11e00000000100c0010ac1020100c2020102",
		"03000019 02f080 320100000400000800 00f0000001000101e0",
		"0300001f 02f080 3201000005000e0000 0401120a100200140001840000 00",
		"03000025 02f080 3201000005000e0006 0501120a10020002000184000320 0004 0010 0226",
		"03000021 02f080 3201000e0e00001000 00290000000000 09505f50524f4752414d",
		"0300000b 02f000 32010000",
	} {
		f.Add([]byte(strings.ReplaceAll(s, " ", "")))
	}
	f.Fuzz(func(t *testing.T, hexish []byte) {
		b, err := hex.DecodeString(string(hexish))
		if err != nil {
			b = hexish
		}
		p := newS7PLC(log.New(io.Discard, "", 0))
		c := &sink{}
		sc := &s7Conn{p: p, c: c, client: "192.0.2.1", pduSize: s7MaxPDU}
		r := bytes.NewReader(b)
		for {
			f, err := readTPKT(r, s7MaxTPKT)
			if err != nil || !sc.handle(f[4:]) {
				break
			}
		}
		out := c.out.Bytes()
		for len(out) > 0 {
			f, err := readTPKT(bytes.NewReader(out), s7MaxTPKT)
			if err != nil {
				t.Fatalf("answer % x: %v", out, err)
			}
			out = out[len(f):]
		}
	})
}
