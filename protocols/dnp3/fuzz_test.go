package dnp3

import (
	"net/netip"
	"testing"

	"github.com/otwatch/otwatch/protocols"
)

// FuzzLinkFrame: header parsing and block CRC checks never panic, and a
// frame accepted is no longer than the input and MaxLinkFrame.
func FuzzLinkFrame(f *testing.F) {
	f.Add(unhex(f, selectFrame))
	f.Add(unhex(f, "0564 05 49 6400 0100 7e5f"))
	f.Add(linkFrame(0xc4, 1, 2, make([]byte, 250)))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseLinkHeader(b)
		if err != nil {
			return
		}
		if h.FrameLen() > MaxLinkFrame || h.FrameLen() < LinkHeaderLen {
			t.Fatalf("frame length %d", h.FrameLen())
		}
		data, ok := AppendUserData(nil, b, h)
		if ok && len(data) != h.DataLen() {
			t.Fatalf("user data %d, want %d", len(data), h.DataLen())
		}
	})
}

// FuzzDecodeFragment: any application fragment decodes without panic and
// within the caps, as a request and as a response.
func FuzzDecodeFragment(f *testing.F) {
	for _, s := range []string{
		"c0013c0106", "c7030c012801000100030164000000640000000000", "c00229021701 05e80300",
		"c0810000010200006300ff", "f08200000202280200030081010203040506090001010203040506",
		"c1194603 5b012400 1a000a00 000000000000 0000 00000000 00000000 0200 0004 0400 2e2f746573742e786d6c",
		"c0810000 00fc000000 010441434d45", "c0020101 09ffffffff00",
	} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, seen := range []uint64{0, 1} {
			tx := protocols.Transaction{RequestFrame: seen}
			DecodeFragment(b, &tx)
			if len(tx.Targets) > MaxTargets || len(tx.Values) > protocols.MaxValues {
				t.Fatalf("caps: %d targets %d values", len(tx.Targets), len(tx.Values))
			}
		}
	})
}

// FuzzSession feeds chunks in both directions: each chunk is one control
// octet (bit 7: direction, bits 0–6: length) followed by its bytes.
func FuzzSession(f *testing.F) {
	t0 := &testing.T{}
	seed := func(parts ...[]byte) []byte {
		var out []byte
		for i, p := range parts {
			for len(p) > 0 {
				k := min(len(p), 127)
				out = append(out, byte(i%2)<<7|byte(k))
				out = append(out, p[:k]...)
				p = p[k:]
			}
		}
		return out
	}
	f.Add(seed(req("c7 03 0c01 28 0100 0100 03 01 64000000 64000000 00", t0),
		resp("c7 81 0000 0c01 28 0100 0100 03 01 64000000 64000000 00", t0)), false)
	f.Add(seed(req("c0 01 3c01 06", t0), resp("c0 81 0000 1e01 00 00 77 "+string(make([]byte, 0))+
		"0110000000011000000001100000000110000000", t0)), true)
	f.Add(seed(nil, resp("f5 82 0000 0202 28 0100 0300 81 010203040506", t0), req("d5 00", t0)), false)
	f.Fuzz(func(t *testing.T, in []byte, udp bool) {
		client := protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 40000, LinkAddress: -1}
		server := protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: Port, LinkAddress: -1}
		transport := protocols.TCP
		if udp {
			transport = protocols.UDP
		}
		env := protocols.Env{Transport: transport, Client: &client, Server: &server,
			EmitFunc: func(tx *protocols.Transaction) {
				if len(tx.Targets) > MaxTargets || len(tx.Values) > protocols.MaxValues {
					t.Fatalf("caps: %d targets %d values", len(tx.Targets), len(tx.Values))
				}
			}}
		s := newSession(&env)
		var pending [2][]byte
		frame := uint64(0)
		for len(in) > 0 {
			c := in[0]
			dir, n := protocols.Direction(c>>7), min(int(c&0x7F), len(in)-1)
			chunk := in[1 : 1+n]
			in = in[1+n:]
			frame++
			pkt := protocols.Packet{Frame: frame}
			if n == 0 {
				pending[dir] = nil
				s.Gap(dir, 1, pkt)
				continue
			}
			buf := chunk
			if !udp {
				buf = append(pending[dir], chunk...)
			}
			used, err := s.Feed(dir, buf, pkt)
			if used < 0 || used > len(buf) {
				t.Fatalf("consumed %d of %d", used, len(buf))
			}
			if err != nil {
				return
			}
			if !udp {
				pending[dir] = append([]byte(nil), buf[used:]...)
				if len(pending[dir]) >= MaxLinkFrame {
					t.Fatalf("session keeps %d bytes: more than a link frame", len(pending[dir]))
				}
			}
			if len(s.assocs) > MaxAssociations {
				t.Fatalf("%d associations", len(s.assocs))
			}
			for _, a := range s.assocs {
				if a.pending.Len() > MaxOutstanding || len(a.reasm[0].buf) > MaxFragment || len(a.reasm[1].buf) > MaxFragment {
					t.Fatal("association caps exceeded")
				}
			}
		}
		s.Close(protocols.Packet{Frame: frame + 1})
	})
}
