package inventory

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestClipDiff: two long identity values that differ only at the end show
// where they differ, not the same first 64 characters twice.
func TestClipDiff(t *testing.T) {
	base := strings.Repeat("SIMATIC S7-1500 CPU 1516-3 PN/DP ", 3)
	a, b, pos := clipDiff(base+"V2.8.3", base+"V2.9.1")
	if a == b {
		t.Fatalf("same text shown for both: %q", a)
	}
	if !strings.HasPrefix(a, "…") || !strings.Contains(a, "V2.8.3") || !strings.Contains(b, "V2.9.1") {
		t.Errorf("the difference is not shown: %q / %q", a, b)
	}
	if want := len(base) + 4; pos != want {
		t.Errorf("first difference at %d, want %d", pos, want)
	}
	// short values: shown whole
	a, b, pos = clipDiff("V2.8", "V2.9")
	if a != "V2.8" || b != "V2.9" || pos != 4 {
		t.Errorf("%q %q %d", a, b, pos)
	}
	// a multi-byte character is never cut
	a, b, _ = clipDiff(strings.Repeat("é", 40)+"x", strings.Repeat("é", 40)+"y")
	for _, s := range []string{a, b} {
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8: %q", s)
		}
	}
}
