package protocols

import "testing"

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
