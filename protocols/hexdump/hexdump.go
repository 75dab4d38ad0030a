// Package hexdump turns the commented hex listings that the protocol table
// tests are written in into bytes, so every package reads them the same way.
//
// A listing is hex digits in any grouping; whitespace is ignored and each line
// may end in a comment started by "//" or "|":
//
//	0001 0000 0006 | MBAP: tid 1, proto 0, length 6
//	01 03 0064 0002 // unit 1, read 2 holding registers at 100
package hexdump

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// Decode returns the bytes of a commented hex listing.
func Decode(listing string) ([]byte, error) {
	var digits strings.Builder
	for _, line := range strings.Split(listing, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		if i := strings.IndexByte(line, '|'); i >= 0 {
			line = line[:i]
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		return nil, fmt.Errorf("hexdump %q: %w", listing, err)
	}
	return b, nil
}

// Bytes is Decode for tests: a bad listing fails t, or panics when t is nil
// (package-level fixtures are built before any test runs).
func Bytes(t testing.TB, listing string) []byte {
	b, err := Decode(listing)
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Helper()
		t.Fatal(err)
	}
	return b
}
