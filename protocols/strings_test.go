package protocols

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStringsKeepRepeatsWithoutAllocating(t *testing.T) {
	s := NewStrings()
	b := []byte("ns=2;s=Tank1.Level")
	first := s.Bytes(b)
	assert.Equal(t, "ns=2;s=Tank1.Level", first)
	b[0] = 'x' // the string is a copy: changing the wire bytes later changes nothing
	assert.Equal(t, "ns=2;s=Tank1.Level", first)
	b[0] = 'n'
	assert.Zero(t, testing.AllocsPerRun(100, func() { s.Bytes(b) }), "a repeat allocates nothing")
	long1 := []byte("ns=2;s=sps-2.DB.OPC_UA.BandO_doSortMetal") // beyond a conversion's 32-byte stack buffer
	long2 := []byte("op=latch_on count=1 on=1000 off=1000 status=0")
	assert.Zero(t, testing.AllocsPerRun(100, func() { s.Bytes(long1); s.Bytes(long2) }), "long repeats allocate nothing")
	assert.Equal(t, first, s.Bytes([]byte("ns=2;s=Tank1.Level")))
	assert.Equal(t, "", s.Bytes(nil))

	// Texts that share a slot replace each other and stay correct.
	for i := range 5000 {
		v := []byte(strings.Repeat("a", i%300))
		assert.Equal(t, string(v), s.Bytes(v))
	}
	long := []byte(strings.Repeat("x", maxStringLen+1))
	assert.Equal(t, string(long), s.Bytes(long), "too long to keep, still right")

	var none *Strings
	assert.Equal(t, "abc", none.Bytes([]byte("abc")), "a nil table allocates")
	assert.Equal(t, `a\x01`, none.Printable([]byte("a\x01")))
	assert.Equal(t, `bad\xff`, s.Printable([]byte("bad\xff")), "escaped as Printable does")
	assert.Equal(t, "plain", s.Printable([]byte("plain")))
}

func TestStringsRecallWhatWasRenderedForAKey(t *testing.T) {
	s := NewStrings()
	key := []byte{0x12, 0x0a, 0x10, 0x02, 0x00, 0x04, 0x00, 0x01, 0x84, 0x00, 0x00, 0x10}
	_, ok := s.Recall(RenderS7Item, key)
	assert.False(t, ok, "nothing remembered yet")
	assert.Equal(t, "DB1.DBX 2.0 BYTE 4", s.Remember(RenderS7Item, key, []byte("DB1.DBX 2.0 BYTE 4")))
	got, ok := s.Recall(RenderS7Item, key)
	assert.True(t, ok)
	assert.Equal(t, "DB1.DBX 2.0 BYTE 4", got)
	assert.Zero(t, testing.AllocsPerRun(100, func() { s.Recall(RenderS7Item, key) }), "a recall allocates nothing")
	other := append([]byte(nil), key...)
	other[11] = 0x18
	_, ok = s.Recall(RenderS7Item, other)
	assert.False(t, ok, "another key is not the first one's text")

	// Keys that share a slot replace each other; a recall never returns
	// another key's text.
	texts := map[string]string{}
	for i := range 3000 {
		k := []byte{byte(i), byte(i >> 8), 0x84}
		texts[string(k)] = s.Remember(RenderS7Item, k, []byte{'t', byte(i), byte(i >> 8)})
	}
	hits := 0
	for k, want := range texts {
		if got, ok := s.Recall(RenderS7Item, []byte(k)); ok {
			hits++
			assert.Equal(t, want, got)
		}
	}
	assert.Positive(t, hits)
	assert.LessOrEqual(t, hits, renderedSlots, "bounded")

	// The same bytes rendered by another decoder are another text.
	s.Remember(RenderS7Item, key, []byte("DB1.DBX 2.0 BYTE 4"))
	_, ok = s.Recall(RenderOPCUANode, key)
	assert.False(t, ok, "an S7 item's text is not an OPC UA node's")
	assert.Equal(t, "ns=1;s=x", s.Remember(RenderOPCUANode, key, []byte("ns=1;s=x")))
	got, ok = s.Recall(RenderOPCUANode, key)
	assert.True(t, ok)
	assert.Equal(t, "ns=1;s=x", got)
	_, ok = s.Recall(RenderS7Item, key)
	assert.False(t, ok, "the OPC UA node's text took the slot: it is not the S7 item's")

	// An empty key is never remembered: the text is still returned.
	assert.Equal(t, "i=85", s.Remember(RenderOPCUANode, nil, []byte("i=85")))
	_, ok = s.Recall(RenderOPCUANode, nil)
	assert.False(t, ok, "nothing remembered for an empty key")

	var none *Strings
	_, ok = none.Recall(RenderS7Item, key)
	assert.False(t, ok)
	assert.Equal(t, "x", none.Remember(RenderS7Item, key, []byte("x")), "a nil table still returns the text")
}

func TestAppendPrintableIsPrintable(t *testing.T) {
	for _, in := range []string{"", "abc", "a\x1bb", "admin\u202egnp.exe", "\xff\xfe", "tab\there"} {
		assert.Equal(t, Printable([]byte(in)), string(AppendPrintable(nil, []byte(in))), "%q", in)
	}
}

// TestAddrTextsNameEachAddress: AddrTexts gives each address its own text
// (v4, v6, a zone, the zero address; MACs; more of them than slots, so
// some share one), and a repeat makes no string.
func TestAddrTextsNameEachAddress(t *testing.T) {
	var c AddrTexts
	addrs := []netip.Addr{{}, netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("fe80::1"), netip.MustParseAddr("::ffff:10.0.0.1")}
	for i := range 3000 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}))
	}
	for round := range 2 {
		for _, a := range addrs {
			if got := c.Text(a); got != a.String() {
				t.Fatalf("round %d: %v named %q", round, a, got)
			}
		}
	}
	a := netip.MustParseAddr("192.168.7.20")
	c.Text(a)
	if n := testing.AllocsPerRun(100, func() { c.Text(a) }); n != 0 {
		t.Errorf("a repeat allocates %v times", n)
	}
	for round := range 2 {
		for i := range 1000 {
			mac := [6]byte{0, 0x1b, 0x1b, byte(i >> 8), byte(i), byte(round)}
			if got, want := c.MAC(mac), string(AppendMAC(nil, mac)); got != want {
				t.Fatalf("%x named %q, not %q", mac, got, want)
			}
		}
	}
	mac := [6]byte{0, 0x1b, 0x1b, 1, 2, 3}
	c.MAC(mac)
	if n := testing.AllocsPerRun(100, func() { c.MAC(mac) }); n != 0 {
		t.Errorf("a repeated MAC allocates %v times", n)
	}
	var none *AddrTexts
	if none.Text(a) != "192.168.7.20" || none.MAC(mac) != "00:1b:1b:01:02:03" {
		t.Error("a nil table must still format")
	}
}
