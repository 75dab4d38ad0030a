package enip

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
)

// FuzzDecodeCIP: any bytes as a CIP request (Unconnected Send and Multiple
// Service Packet included) or reply never panic, and stay within the caps.
func FuzzDecodeCIP(f *testing.F) {
	for _, s := range []string{
		"0e03200124013001", "52022006240 10af00600 010220012401 01000100",
		"0a02200224 01 0200 0600 0c00 0e02200124 01 0502200124 01",
		"4d04910554616e6b3100 ca000200 00004842 000020c1", "8a000000 0200 0600 0a00 8e000000 85000c00",
		"cc000000 ca00 00004842", "81000000 01000e003600 1014 6030 5e245100 0a313735362d4c36312f42",
		"4b02206724010701000078563412 0f000100aa02", "91ff41", "2100", "",
	} {
		f.Add(hx(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newRecorder(protocols.TCP)
		s := newSession(&r.Env)
		if len(b) == 0 {
			return
		}
		p := s.request(b, pk(1), protocols.ClientToServer)
		if len(p.members) > maxMembers {
			t.Fatalf("%d members", len(p.members))
		}
		if m, ok := parseMessage(b); ok {
			tx := s.newTransaction()
			tx.Proto, tx.Code = ProtoCIP, int(m.service)
			s.reply(tx, m)
			s.replyMembers(m, tx)
		}
		for _, tx := range append([]*protocols.Transaction{p.tx, p.outer}, p.members...) {
			if tx == nil {
				continue
			}
			if len(tx.Values) > protocols.MaxValues || len(tx.ReadValues) > protocols.MaxValues || len(tx.Points) > protocols.MaxPoints {
				t.Fatal("caps exceeded")
			}
			_ = tx.AppendJSON(nil)
		}
	})
}

// FuzzSession feeds a session chunks with direction tags, as the pipeline
// would: each chunk is [direction bit + length byte][bytes]. Invariants: no
// panic, consumed within bounds (testkit), outstanding requests capped.
func FuzzSession(f *testing.F) {
	add := func(steps ...[]byte) {
		var script []byte
		for i, st := range steps {
			tag := byte(0)
			if i%2 == 1 {
				tag = testkit.ScriptServerToClient
			}
			for len(st) > 0 {
				n := min(len(st), 255)
				script = append(append(script, tag, byte(n)), st[:n]...)
				st = st[n:]
			}
		}
		f.Add(script)
	}
	add(encap(CmdRegisterSession, 1, []byte{1, 0, 0, 0}), encap(CmdRegisterSession, 1, []byte{1, 0, 0, 0}))
	add(rrData(2, hx(f, "0e03200124013001")), rrData(2, hx(f, "8e000000 0100")))
	add(unitData(3, hx(f, "0a02200224 01 0200 0600 0c00 0e02200124 01 0502200124 01")), unitData(3, hx(f, "8a000000 0200 0600 0a00 8e000000 85000c00")))
	add(rrData(4, hx(f, "52022006240 10af00600 010220012401 01000100")), rrData(4, hx(f, "d2000101 0403")))
	f.Fuzz(func(t *testing.T, script []byte) {
		r := newRecorder(protocols.TCP)
		s := newSession(&r.Env)
		testkit.ReplayBounded(t, s, script, pk, MaxOutstanding, s.outstanding.Len)
	})
}

// FuzzIO feeds datagrams to a UDP session and its probe: class 1 I/O (UDP
// 2222) or encapsulation (UDP 44818). Each datagram is a length byte and
// that many bytes. Invariants: no panic, every datagram consumed whole,
// every class 1 datagram reported once (Env.Cyclic), the connections followed bounded.
func FuzzIO(f *testing.F) {
	io1 := ioDatagram(0x004b0603, 4166875, []byte{1, 0, 0, 0, 0, 0})
	f.Add(append([]byte{byte(len(io1))}, io1...))
	io2 := ioDatagram(0x004b0603, 4166877, nil)
	f.Add(append(append([]byte{byte(len(io1))}, io1...), append([]byte{byte(len(io2))}, io2...)...))
	li := encap(CmdListIdentity, 1, nil)
	f.Add(append([]byte{byte(len(li))}, li...))
	f.Fuzz(func(t *testing.T, script []byte) {
		r := newRecorder(protocols.UDP)
		got := countCyclic(&r.Env)
		s := newSession(&r.Env)
		var classOne uint64
		for frame := uint64(1); len(script) > 0; frame++ {
			n := min(int(script[0]), len(script)-1)
			d := script[1 : 1+n]
			script = script[1+n:]
			Dissector.Probe(protocols.ClientToServer, d)
			if _, _, ok := parseIO(d); ok {
				classOne++
			}
			used, err := s.Feed(protocols.ClientToServer, d, pk(frame))
			if err != nil {
				return
			}
			if used != len(d) {
				t.Fatalf("datagram of %d bytes, %d consumed", len(d), used)
			}
		}
		s.Close(pk(0))
		var counted uint64
		for _, c := range got {
			counted += c.Packets
		}
		if counted != classOne || len(s.io.conns) > maxIOConnections {
			t.Fatalf("%d class 1 datagrams, %d reported, %d connections followed", classOne, counted, len(s.io.conns))
		}
	})
}
