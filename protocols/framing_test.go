package protocols

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestBadHeadersInARow(t *testing.T) {
	var b BadHeaders
	for i := 1; i <= MaxBadHeaders; i++ {
		if b.Bad() {
			t.Fatalf("lost after %d bad headers, want more than %d", i, MaxBadHeaders)
		}
	}
	b.Good()
	for i := 1; i <= MaxBadHeaders; i++ {
		if b.Bad() {
			t.Fatalf("a sound header did not end the row: lost after %d more", i)
		}
	}
	if !b.Bad() {
		t.Fatalf("%d bad headers in a row: not lost", MaxBadHeaders+1)
	}
}

// toy is a protocol for Frames: a message is 'M', its whole length (2 or
// more), then its body; anything else is a bad header.
type toy struct {
	env  *Env
	got  []string
	seen []string // anomalies, in order
}

func (p *toy) Boundary(b []byte) int { return bytes.IndexByte(b, 'M') }

func (p *toy) Frame(dir Direction, b []byte, pkt Packet) (int, string) {
	if b[0] != 'M' || b[1] < 2 {
		return 0, "toy.bad_header"
	}
	n := int(b[1])
	if len(b) >= n {
		p.got = append(p.got, string(b[2:n]))
	}
	return n, ""
}

func newToy(transport Transport) *toy {
	p := &toy{}
	p.env = &Env{Transport: transport, AnomalyFunc: func(name string, _ Packet) { p.seen = append(p.seen, name) }}
	return p
}

var errNotToy = errors.New("not toy")

func TestFrames(t *testing.T) {
	lostNamed := Resync{HeaderLen: 2, Keep: 1, NotMine: errNotToy, LostAnomaly: "toy.resync"}
	skipNamed := Resync{HeaderLen: 2, Keep: 1, NotMine: errNotToy, SkipAnomaly: "toy.resync"}
	for _, c := range []struct {
		name      string
		r         Resync
		udp, lost bool
		data      string
		consumed  int
		wants     int // the length of the message Frames stopped at, 0 when none
		err       error
		got, seen []string
	}{
		{name: "whole messages, the partial one waits", r: lostNamed, data: "M\x03aM\x04bcM\x05d",
			consumed: 7, wants: 5, got: []string{"a", "bc"}},
		{name: "every message whole: nothing wanted", r: lostNamed, data: "M\x03aM\x04bc", consumed: 7, got: []string{"a", "bc"}},
		{name: "fewer bytes than a header wait", r: lostNamed, data: "M", consumed: 0},
		{name: "bad header: named, then resync when lost", r: lostNamed, data: "xyM\x03a",
			consumed: 5, got: []string{"a"}, seen: []string{"toy.bad_header", "toy.resync"}},
		{name: "bad header: resync named when bytes are skipped", r: skipNamed, data: "xyM\x03a",
			consumed: 5, got: []string{"a"}, seen: []string{"toy.bad_header", "toy.resync"}},
		{name: "the next byte is a boundary: nothing skipped", r: skipNamed, data: "xM\x03a",
			consumed: 4, got: []string{"a"}, seen: []string{"toy.bad_header"}},
		{name: "lost without a boundary: keeps Keep bytes", r: skipNamed, lost: true, data: "abcdef", consumed: 5},
		{name: "lost: the boundary ends the search", r: skipNamed, lost: true, data: "abM\x03a",
			consumed: 5, got: []string{"a"}, seen: []string{"toy.resync"}},
		{name: "too many bad headers in a row: not mine", r: lostNamed, data: strings.Repeat("M\x00", MaxBadHeaders+1) + "M\x03a",
			consumed: 2*MaxBadHeaders + 5, err: errNotToy,
			seen: append(slices.Repeat([]string{"toy.bad_header", "toy.resync"}, MaxBadHeaders), "toy.bad_header")},
		{name: "too many bytes without a boundary: not mine", r: Resync{HeaderLen: 2, Keep: 1, MaxSkipped: 4, NotMine: errNotToy},
			lost: true, data: "abcdef", consumed: 6, err: errNotToy},
		{name: "a datagram that ends inside a message", r: Resync{HeaderLen: 2, Truncated: "toy.truncated"}, udp: true,
			data: "M\x03aM\x09b", consumed: 6, got: []string{"a"}, seen: []string{"toy.truncated"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			transport := TCP
			if c.udp {
				transport = UDP
			}
			p := newToy(transport)
			var fr Framing
			if c.lost {
				fr.Lose(ClientToServer)
			}
			n, err := Frames(&c.r, &fr, p, p.env, ClientToServer, []byte(c.data), Packet{})
			if n != c.consumed || err != c.err || !slices.Equal(p.got, c.got) || !slices.Equal(p.seen, c.seen) {
				t.Errorf("consumed %d, %v, messages %q, anomalies %q; want %d, %v, %q, %q",
					n, err, p.got, p.seen, c.consumed, c.err, c.got, c.seen)
			}
			if w := fr.Wants(ClientToServer); w != c.wants {
				t.Errorf("wants %d, want %d", w, c.wants)
			}
		})
	}
}

// TestFramesSoundHeaderEndsTheRow: bad headers count in a row across
// calls; a sound one starts the count again.
func TestFramesSoundHeaderEndsTheRow(t *testing.T) {
	r := Resync{HeaderLen: 2, NotMine: errNotToy}
	p := newToy(TCP)
	var fr Framing
	bad := strings.Repeat("M\x00", MaxBadHeaders) + "M\x03a"
	for i := 0; i < 3; i++ {
		if _, err := Frames(&r, &fr, p, p.env, ClientToServer, []byte(bad), Packet{}); err != nil {
			t.Fatalf("round %d: %v after %d bad headers and a sound one", i, err, MaxBadHeaders)
		}
	}
	if len(p.got) != 3 {
		t.Errorf("messages %q, want 3", p.got)
	}
}
