package inventory_test

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/otwatch/otwatch/learning/inventory"
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

// restarted is inv after a save and a load, as a restarted daemon has it.
func restarted(t testing.TB, inv *inventory.Inventory) *inventory.Inventory {
	t.Helper()
	b, err := inv.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	out := inventory.New(inventory.Limits{})
	if err := out.UnmarshalState(b); err != nil {
		t.Fatal(err)
	}
	return out
}
