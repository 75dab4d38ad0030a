// Package testkit holds what the protocol packages' tests share: reading the
// commented hex listings their tables are written in, and replaying a fuzzer's
// script into a session the way the pipeline would.
//
// A hex listing is hex digits in any grouping; whitespace is ignored and each line
// may end in a comment started by "//" or "|":
//
//	0001 0000 0006 | MBAP: tid 1, proto 0, length 6
//	01 03 0064 0002 // unit 1, read 2 holding registers at 100
package testkit

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// DecodeHex returns the bytes of a commented hex listing.
func DecodeHex(listing string) ([]byte, error) {
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
		return nil, fmt.Errorf("hex listing %q: %w", listing, err)
	}
	return b, nil
}

// Hex is DecodeHex for tests: a bad listing fails t, or panics when t is nil
// (package-level fixtures are built before any test runs).
func Hex(t testing.TB, listing string) []byte {
	b, err := DecodeHex(listing)
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Helper()
		t.Fatal(err)
	}
	return b
}
