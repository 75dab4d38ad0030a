package protocols

// MaxBadHeaders is how many bad headers in a row a session re-synchronises
// past before it decides that the stream no longer carries its protocol.
// Sixteen rides out a burst of corruption or a capture that starts inside
// a large message; a stream that never shows a sound header that often is
// something else, and following it would only produce anomalies.
const MaxBadHeaders = 16

// BadHeaders counts a session's bad headers in a row, per connection: each
// one makes the session skip a byte and look for the next plausible header,
// a sound header ends the row. A session keeps one and returns its
// "not my protocol any more" error once Bad reports the row too long.
type BadHeaders struct{ inRow int32 }

// Bad counts one more bad header; lost reports that the row is longer
// than MaxBadHeaders.
func (b *BadHeaders) Bad() (lost bool) {
	b.inRow++
	return b.inRow > MaxBadHeaders
}

// Good ends the row: a sound header.
func (b *BadHeaders) Good() { b.inRow = 0 }

// Framer is what a session knows of its protocol's messages on a byte
// stream: where one may start, what its header says, what to do with a
// whole one. Frames does the rest, the same way for every protocol. It
// calls Frame once per message and Boundary once per search: the scans
// byte by byte stay in the protocol's own code, and one call per message
// is all the sharing costs (measured: BenchmarkSessionReadPair, the
// pipeline benchmark).
type Framer interface {
	// Boundary returns the offset of the first plausible message start in
	// b, -1 if none: where framing resumes once it is lost.
	Boundary(b []byte) int
	// Frame reads the header at the start of b, which holds at least
	// Resync.HeaderLen bytes, and handles the message when b holds all of
	// it. n is the whole message's length, header included, at least
	// HeaderLen for a sound header (Frames moves on by n); bad names the
	// anomaly of a header no message can have (framing is lost, nothing is
	// handled), "" for a sound one.
	Frame(dir Direction, b []byte, pkt Packet) (n int, bad string)
}

// Resync is a protocol's facts about finding its messages again once it
// lost them, declared once per protocol.
type Resync struct {
	// HeaderLen is the bytes a header takes: fewer wait for more data, in
	// a search for a boundary too.
	HeaderLen int
	// NotMine is what Frames returns once the stream no longer carries the
	// protocol: more than MaxBadHeaders bad headers in a row, or more than
	// MaxSkipped bytes without a boundary.
	NotMine error
	// Keep is how many bytes at the end of the data a search that found no
	// boundary keeps (at most HeaderLen): they may be the start of the next
	// message's header.
	Keep int
	// MaxSkipped bounds the bytes skipped in a row without finding a
	// boundary (below 1<<30); 0: no bound.
	MaxSkipped int
	// LostAnomaly names the anomaly recorded when a bad header loses the
	// framing (after the header's own, unless the session gives up);
	// SkipAnomaly the one recorded when framing resumes past skipped
	// bytes. "" records none.
	LostAnomaly, SkipAnomaly string
	// Truncated names the anomaly of a datagram (UDP) that ends inside a
	// message, whose rest is then dropped; "" waits for more bytes, as on
	// a stream.
	Truncated string
}

// Framing is one connection's framing state, per direction; small, as a
// session is allocated per connection.
type Framing struct {
	skipped [2]int32 // counted only under a MaxSkipped
	wants   [2]int32 // the length of the message the last Frames waits for, 0: none
	bad     BadHeaders
	lost    [2]bool
}

// Wants is the whole length of the message the last Frames of dir stopped
// at for want of bytes, 0 when it stopped elsewhere (Wanter).
func (fr *Framing) Wants(dir Direction) int { return int(fr.wants[dir]) }

// Lose makes dir search for the next boundary: after a gap, or at the
// start of a connection picked up in the middle.
func (fr *Framing) Lose(dir Direction) { fr.lost[dir] = true }

// Frames has f handle every whole message at the start of data, sent in
// direction dir, and returns how many bytes it consumed; the rest waits
// for more data. A bad header is named (f.Frame's anomaly), counted in a
// row, and framing resumes at the next boundary past its first byte; a
// sound header ends the row.
func Frames(r *Resync, fr *Framing, f Framer, env *Env, dir Direction, data []byte, pkt Packet) (int, error) {
	off := 0
	fr.wants[dir] = 0
	for {
		rest := data[off:]
		if len(rest) < r.HeaderLen {
			return off, nil
		}
		if fr.lost[dir] {
			i := f.Boundary(rest)
			if i < 0 {
				if skip := len(rest) - r.Keep; skip > 0 {
					off += skip
					if r.MaxSkipped > 0 {
						if fr.skipped[dir] += int32(min(skip, r.MaxSkipped+1)); int(fr.skipped[dir]) > r.MaxSkipped {
							return len(data), r.NotMine
						}
					}
				}
				return off, nil
			}
			if i > 0 && r.SkipAnomaly != "" {
				env.Anomaly(r.SkipAnomaly, pkt)
			}
			fr.lost[dir], fr.skipped[dir] = false, 0
			off += i
			continue
		}
		n, bad := f.Frame(dir, rest, pkt)
		if bad != "" {
			env.Anomaly(bad, pkt)
			if fr.bad.Bad() {
				return len(data), r.NotMine
			}
			if r.LostAnomaly != "" {
				env.Anomaly(r.LostAnomaly, pkt)
			}
			fr.lost[dir] = true
			off++
			continue
		}
		if len(rest) < n {
			if r.Truncated != "" && env.Transport == UDP {
				env.Anomaly(r.Truncated, pkt)
				return len(data), nil
			}
			fr.wants[dir] = int32(min(n, 1<<30))
			return off, nil
		}
		fr.bad.Good()
		off += n
	}
}
