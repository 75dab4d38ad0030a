package inventory_test

import (
	"net/netip"
	"strconv"
	"testing"
)

func mustAddr(t testing.TB, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return a
}

func itoa(n int) string { return strconv.Itoa(n) }
