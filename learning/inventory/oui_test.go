package inventory

import (
	"strconv"
	"strings"
	"testing"
)

// TestOUITable: the generated index is sorted, well formed, and every
// offset starts a name.
func TestOUITable(t *testing.T) {
	if len(ouiIndex) != 11*ouiCount {
		t.Fatalf("index length %d for %d records", len(ouiIndex), ouiCount)
	}
	prev := ""
	for i := 0; i < ouiCount; i++ {
		rec := ouiIndex[11*i : 11*i+11]
		if rec[:6] <= prev {
			t.Fatalf("record %d %q not after %q", i, rec, prev)
		}
		prev = rec[:6]
		off, err := strconv.ParseUint(rec[6:], 16, 32)
		if err != nil || int(off) >= len(ouiNames) || (off > 0 && ouiNames[off-1] != '\n') {
			t.Fatalf("record %d %q: bad name offset", i, rec)
		}
	}
	if !strings.HasSuffix(ouiNames, "\n") {
		t.Error("names must end with a newline")
	}
}

func BenchmarkVendor(b *testing.B) {
	m := [6]byte{0x00, 0x1b, 0x1b, 1, 2, 3}
	for i := 0; i < b.N; i++ {
		if Vendor(m) == "" {
			b.Fatal("no vendor")
		}
	}
}
