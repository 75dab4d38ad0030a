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
type BadHeaders struct{ inRow int }

// Bad counts one more bad header; lost reports that the row is longer
// than MaxBadHeaders.
func (b *BadHeaders) Bad() (lost bool) {
	b.inRow++
	return b.inRow > MaxBadHeaders
}

// Good ends the row: a sound header.
func (b *BadHeaders) Good() { b.inRow = 0 }
