package testkit

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
)

// Script step tags: bit 7 is the direction, bit 6 marks a capture gap.
const (
	ScriptServerToClient = 0x80
	ScriptGap            = 0x40
)

// ReplayScript feeds s a fuzzer's script as the pipeline would. Each step is
// a tag byte and a length byte n; a data step is followed by n bytes (fewer
// at the end of the script), a gap step by none and tells s that n bytes were
// lost. Bytes s does not consume are offered again ahead of the next data of
// their direction, and dropped at a gap. Frames count data steps from 1.
//
// ReplayScript fails t when s claims to consume more than it was offered, runs
// afterFeed (the session's own invariants) after each accepted Feed, and stops
// at the first Feed error, as the pipeline detaches a dissector then. It
// returns the last frame number and whether s detached.
func ReplayScript(t testing.TB, s protocols.Session, script []byte, packet func(frame uint64) protocols.Packet, afterFeed func()) (lastFrame uint64, detached bool) {
	t.Helper()
	var rest [2][]byte
	for len(script) >= 2 {
		dir := protocols.Direction(script[0] >> 7)
		gap := script[0]&ScriptGap != 0
		n := int(script[1])
		script = script[2:]
		if gap {
			s.Gap(dir, n, packet(lastFrame))
			rest[dir] = nil
			continue
		}
		n = min(n, len(script))
		lastFrame++
		buf := append(rest[dir], script[:n]...)
		script = script[n:]
		used, err := s.Feed(dir, buf, packet(lastFrame))
		if used < 0 || used > len(buf) {
			t.Fatalf("consumed %d of %d", used, len(buf))
		}
		if err != nil {
			return lastFrame, true
		}
		rest[dir] = append([]byte(nil), buf[used:]...)
		afterFeed()
	}
	return lastFrame, false
}

// ReplayBounded replays a fuzzer's script into s (ReplayScript) and checks
// its table of waiting requests: waiting() may never exceed max after a
// Feed, and must be 0 once s closes the flow (every request then ends as
// a record). A session that detached is not closed.
func ReplayBounded(t testing.TB, s protocols.Session, script []byte, packet func(frame uint64) protocols.Packet, max int, waiting func() int) {
	t.Helper()
	frame, detached := ReplayScript(t, s, script, packet, func() {
		if n := waiting(); n > max {
			t.Fatalf("%d requests waiting, cap %d", n, max)
		}
	})
	if detached {
		return
	}
	s.Close(packet(frame + 1))
	if n := waiting(); n != 0 {
		t.Fatalf("%d requests left after Close", n)
	}
}
