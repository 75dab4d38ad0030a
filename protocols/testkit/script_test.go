package testkit

import (
	"errors"
	"fmt"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
)

// logSession consumes whole 2-byte PDUs and logs every call; a PDU "ff ff"
// makes it detach.
type logSession struct{ log []string }

func (s *logSession) Feed(dir protocols.Direction, data []byte, pkt protocols.Packet) (int, error) {
	s.log = append(s.log, fmt.Sprintf("feed %d %x @%d", dir, data, pkt.Frame))
	if len(data) >= 2 && data[0] == 0xff && data[1] == 0xff {
		return 0, errors.New("not mine")
	}
	return len(data) / 2 * 2, nil
}

func (s *logSession) Gap(dir protocols.Direction, n int, pkt protocols.Packet) {
	s.log = append(s.log, fmt.Sprintf("gap %d %d @%d", dir, n, pkt.Frame))
}

func (s *logSession) Close(protocols.Packet) {}

func frameNo(n uint64) protocols.Packet { return protocols.Packet{Frame: n} }

func TestReplayScript(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         []string
		frames       uint64
		detached     bool
	}{
		{"leftover offered again", "00 03 010203  80 01 aa  00 01 04",
			[]string{"feed 0 010203 @1", "feed 1 aa @2", "feed 0 0304 @3"}, 3, false},
		{"gap drops leftover", "00 01 01  40 05  00 02 0203",
			[]string{"feed 0 01 @1", "gap 0 5 @1", "feed 0 0203 @2"}, 2, false},
		{"short tail is cut", "80 09 0102", []string{"feed 1 0102 @1"}, 1, false},
		{"detach stops", "00 02 ffff  00 02 0102", []string{"feed 0 ffff @1"}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &logSession{}
			feeds := 0
			frames, detached := ReplayScript(t, s, Hex(t, tc.script), frameNo, func() { feeds++ })
			assert.Equal(t, tc.want, s.log)
			assert.Equal(t, tc.frames, frames)
			assert.Equal(t, tc.detached, detached)
			accepted := int(frames)
			if detached {
				accepted--
			}
			assert.Equal(t, accepted, feeds, "afterFeed runs once per accepted feed")
		})
	}
}

// pileSession keeps every data step as a waiting request and forgets them
// at Close only when closes is set.
type pileSession struct {
	logSession
	waiting int
	closes  bool
}

func (s *pileSession) Feed(dir protocols.Direction, data []byte, pkt protocols.Packet) (int, error) {
	s.waiting++
	return len(data), nil
}

func (s *pileSession) Close(protocols.Packet) {
	if s.closes {
		s.waiting = 0
	}
}

func TestReplayBounded(t *testing.T) {
	script := Hex(t, "00 01 01  80 01 02  00 01 03")
	ok := &pileSession{closes: true}
	ReplayBounded(t, ok, script, frameNo, 3, func() int { return ok.waiting })
	assert.Zero(t, ok.waiting)

	for name, s := range map[string]struct {
		max    int
		closes bool
	}{"over the cap": {2, true}, "left after close": {3, false}} {
		rec := &fatalRecorder{TB: t}
		p := &pileSession{closes: s.closes}
		func() {
			defer func() { _ = recover() }()
			ReplayBounded(rec, p, script, frameNo, s.max, func() int { return p.waiting })
		}()
		assert.True(t, rec.failed, name)
	}
}

// fatalRecorder records a Fatalf and stops the helper with a panic.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.failed = true
	panic("fatal")
}

func (r *fatalRecorder) Helper() {}
