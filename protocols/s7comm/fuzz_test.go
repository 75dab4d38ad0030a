package s7comm

import (
	"net/netip"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

func checkTx(t *testing.T, tx *protocols.Transaction) {
	t.Helper()
	if len(tx.Values) > protocols.MaxValues {
		t.Fatalf("%d values kept, cap %d", len(tx.Values), protocols.MaxValues)
	}
	if len(tx.Targets) > 255 {
		t.Fatalf("%d targets from at most 255 items", len(tx.Targets))
	}
	if tx.Proto != ProtoS7 && tx.Proto != ProtoS7Plus {
		t.Fatalf("proto %q", tx.Proto)
	}
}

// FuzzDecode feeds one TPKT packet (or a bare S7/S7comm-plus PDU) to every
// decoder: TPKT, COTP, S7comm header + job/ack/userdata semantics, S7comm-plus.
func FuzzDecode(f *testing.F) {
	for _, h := range []string{hexReadVarJob, hexWriteVarJob, hexReadVarAck, hexSZLRequest, hexPlusRequest, hexSetMulti} {
		raw := unhex(f, h)
		f.Add(raw)
		f.Add(frameTPKT(raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := ParseTPKT(b); err == nil && n <= len(b) {
			if c, err := ParseCOTP(b[TPKTHeaderLen:n]); err == nil {
				_ = RackSlot(c.DstTSAP)
				if len(c.Payload) > 0 {
					b = c.Payload
				}
			}
		}
		probe(b, ProtocolIDS7)
		probe(b, ProtocolIDS7Plus)
		if p, err := DecodePDU(b); err == nil {
			var tx protocols.Transaction
			switch p.ROSCTR {
			case ROSCTRJob:
				DecodeJob(&p, &tx)
			case ROSCTRUserdata:
				DecodeUserdata(&p, &tx, false)
				DecodeUserdata(&p, &tx, true)
			default:
				DecodeAck(&p, &tx, false)
			}
			if tx.Proto != "" {
				checkTx(t, &tx)
			}
		}
		if p, err := DecodePlus(b); err == nil && p.HasFunction {
			var tx protocols.Transaction
			DecodePlusRequest(&p, &tx)
			checkTx(t, &tx)
			_ = plusWritesSession(&p)
		}
	})
}

// FuzzSession drives a session with chunked, direction-tagged bytes: each
// control byte gives the direction (bit 0) and the chunk length (bits 1-6);
// bit 7 reports a gap first. Unconsumed bytes are offered again, as the
// pipeline does.
func FuzzSession(f *testing.F) {
	cr := unhex(f, "03 00 0016 11 e0 0000 0001 00 c0 01 0a c1 02 0100 c2 02 0102")
	job := frameTPKT(unhex(f, hexReadVarJob))
	ack := frameTPKT(unhex(f, hexReadVarAck))
	plus := frameTPKT(unhex(f, hexPlusRequest))
	seed := func(parts ...[]byte) []byte {
		var out []byte
		for i, p := range parts {
			for len(p) > 0 {
				n := min(len(p), 63)
				out = append(out, byte(n<<1|i&1))
				out = append(out, p[:n]...)
				p = p[n:]
			}
		}
		return out
	}
	f.Add(seed(cr, cr, job, ack))
	f.Add(seed(job, ack, job, ack))
	f.Add(seed(plus, plus))
	f.Add(append([]byte{0x85}, seed(job[3:], ack)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		client := protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 49152, LinkAddress: -1}
		server := protocols.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: Port, LinkAddress: -1}
		env := &protocols.Env{Transport: protocols.TCP, Client: &client, Server: &server,
			EmitFunc: func(tx *protocols.Transaction) { checkTx(t, tx) }}
		s := newSession(env)
		var pending [2][]byte
		frame := uint64(0)
		now := time.Unix(1700000000, 0)
		for len(b) > 0 {
			c := b[0]
			b = b[1:]
			dir := protocols.Direction(c & 1)
			n := min(int(c>>1&0x3f), len(b))
			frame++
			now = now.Add(time.Millisecond)
			pkt := protocols.Packet{Frame: frame, Time: now}
			if c&0x80 != 0 {
				pending[dir] = pending[dir][:0]
				s.Gap(dir, 1, pkt)
			}
			pending[dir] = append(pending[dir], b[:n]...)
			b = b[n:]
			used, err := s.Feed(dir, pending[dir], pkt)
			if used < 0 || used > len(pending[dir]) {
				t.Fatalf("consumed %d of %d", used, len(pending[dir]))
			}
			if err != nil {
				return // the driver detaches
			}
			pending[dir] = append(pending[dir][:0], pending[dir][used:]...)
			if s.orphans.Len() > maxOrphans {
				t.Fatalf("%d held responses, cap %d", s.orphans.Len(), maxOrphans)
			}
			if s.outstanding.Len() > MaxOutstanding {
				t.Fatalf("%d outstanding, cap %d", s.outstanding.Len(), MaxOutstanding)
			}
			for _, h := range s.half {
				if len(h.tsdu) > MaxTSDU {
					t.Fatalf("TSDU buffer %d, cap %d", len(h.tsdu), MaxTSDU)
				}
			}
		}
		s.Close(protocols.Packet{Frame: frame + 1, Time: now})
		if s.outstanding.Len() != 0 || s.orphans.Len() != 0 {
			t.Fatalf("%d requests, %d responses left after Close", s.outstanding.Len(), s.orphans.Len())
		}
	})
}

// FuzzFraming: TPKT and COTP parsing alone. Invariants: lengths within
// the input, TSAPs decoded without panic.
func FuzzFraming(f *testing.F) {
	f.Add(unhex(f, "03 00 0016 11 e0 0000 0001 00 c0 01 0a c1 02 0100 c2 02 0102"))
	f.Add(frameTPKT(unhex(f, hexReadVarJob)))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseTPKT(b)
		if err != nil {
			return
		}
		if n < TPKTHeaderLen {
			t.Fatalf("TPKT length %d below its header", n)
		}
		if n > len(b) {
			return // needs more bytes
		}
		if c, err := ParseCOTP(b[TPKTHeaderLen:n]); err == nil {
			if len(c.Payload) > n-TPKTHeaderLen {
				t.Fatalf("COTP payload %d longer than the TPKT packet %d", len(c.Payload), n)
			}
			_ = RackSlot(c.SrcTSAP)
			_ = RackSlot(c.DstTSAP)
		}
	})
}

// FuzzDecodePlus: the S7comm-plus decoder alone, with the value cap checked.
func FuzzDecodePlus(f *testing.F) {
	f.Add(unhex(f, hexPlusRequest))
	f.Add(unhex(f, hexSetMulti))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePlus(b)
		if err != nil || !p.HasFunction {
			return
		}
		var tx protocols.Transaction
		DecodePlusRequest(&p, &tx)
		checkTx(t, &tx)
	})
}
