package dhcp

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols/frame"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reply builds a BOOTP reply with the given options (code, value...).
func reply(yiaddr string, opts ...[]byte) []byte {
	b := make([]byte, 240)
	b[0], b[1], b[2] = 2, 1, 6 // reply, Ethernet, 6-byte addresses
	copy(b[16:20], netip.MustParseAddr(yiaddr).AsSlice())
	copy(b[28:34], []byte{0x02, 0, 0, 0, 0, 0x50}) // chaddr: the client's MAC
	copy(b[236:], []byte{0x63, 0x82, 0x53, 0x63})
	for _, o := range opts {
		b = append(b, o...)
	}
	return append(b, 255)
}

func opt(code byte, val ...byte) []byte { return append([]byte{code, byte(len(val))}, val...) }

func ip4(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

func packet(src string, payload []byte) *frame.Decoded {
	return &frame.Decoded{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr("255.255.255.255"), IPProto: frame.ProtoUDP,
		SrcPort: 67, DstPort: 68, Payload: payload, HasMAC: true, SrcMAC: [6]byte{0, 0x0c, 0x29, 1, 2, 3}}
}

func TestParse(t *testing.T) {
	offer := reply("10.0.0.50", opt(53, 2), opt(54, ip4("10.0.0.1")...), opt(3, ip4("10.0.0.254")...),
		opt(6, append(ip4("10.0.0.53"), ip4("10.0.0.54")...)...), opt(0), opt(51, 0, 0, 14, 16))
	o, ok := Parse(offer)
	require.True(t, ok)
	assert.Equal(t, "10.0.0.1", o.Server.String())
	assert.Equal(t, "10.0.0.50", o.Client.String())
	assert.Equal(t, [6]byte{0x02, 0, 0, 0, 0, 0x50}, o.ClientMAC)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.0.0.254")}, o.Routers)
	assert.Len(t, o.DNS, 2)
	assert.False(t, o.Ack)

	for name, p := range map[string][]byte{
		"a request":              func() []byte { b := reply("0.0.0.0", opt(53, 1)); b[0] = 1; return b }(),
		"a NAK":                  reply("0.0.0.0", opt(53, 6)),
		"no message type":        reply("10.0.0.50", opt(54, ip4("10.0.0.1")...)),
		"an option past the end": append(reply("10.0.0.50", opt(53, 2))[:241], 54, 9, 1),
		"no magic cookie":        make([]byte, 300),
		"shorter than BOOTP":     make([]byte, 100),
	} {
		_, ok := Parse(p)
		assert.False(t, ok, name)
	}
	ack, ok := Parse(reply("10.0.0.50", opt(53, 5)))
	require.True(t, ok)
	assert.True(t, ack.Ack)
}

func TestRogueServer(t *testing.T) {
	learnedUntil := time.Unix(100, 0)
	w := New()
	w.Learning = func(now time.Time) bool { return now.Before(learnedUntil) }
	known := reply("10.0.0.50", opt(53, 2), opt(54, ip4("10.0.0.1")...), opt(3, ip4("10.0.0.254")...))
	assert.Empty(t, w.ObservePacket(packet("10.0.0.1", known), 1, 10*int64(time.Second)), "learning")
	assert.Empty(t, w.ObservePacket(packet("10.0.0.1", known), 2, 200*int64(time.Second)), "the learned server")

	rogue := reply("10.0.0.77", opt(53, 2), opt(3, ip4("10.0.0.66")...), opt(6, ip4("10.0.0.66")...))
	got := w.ObservePacket(packet("10.0.0.66", rogue), 3, 300*int64(time.Second))
	require.Len(t, got, 1)
	f := got[0]
	assert.Equal(t, "rogue_dhcp", f.Kind())
	assert.Equal(t, "10.0.0.66", f.Source.IP, "no server identifier: the packet's source")
	assert.Equal(t, []uint64{3}, f.Frames)
	assert.Equal(t, "10.0.0.77", f.Dest.IP, "the address offered")
	assert.Equal(t, "02:00:00:00:00:50", f.Dest.MAC, "to this client")
	assert.Contains(t, f.Message, "DHCP server 10.0.0.66 (MAC 00:0c:29:01:02:03) offered 10.0.0.77 with gateway 10.0.0.66 and name servers 10.0.0.66")
	assert.Empty(t, w.ObservePacket(packet("10.0.0.66", rogue), 4, 301*int64(time.Second)), "once; the engine folds repeats")

	notDHCP := packet("10.0.0.66", rogue)
	notDHCP.SrcPort = 53
	assert.Empty(t, w.ObservePacket(notDHCP, 5, 302*int64(time.Second)))

	b, err := w.MarshalState()
	require.NoError(t, err)
	again := New()
	again.Learning = func(time.Time) bool { return false }
	require.NoError(t, again.UnmarshalState(b))
	assert.Empty(t, again.ObservePacket(packet("10.0.0.1", known), 6, 400*int64(time.Second)), "still known after a restart")
	assert.Error(t, again.UnmarshalState([]byte(`[{"ip":"x"}]`)))
}

// FuzzParse: any bytes, no panic; a parsed offer has a valid offered address.
func FuzzParse(f *testing.F) {
	f.Add(reply("10.0.0.50", opt(53, 2), opt(54, ip4("10.0.0.1")...), opt(3, ip4("10.0.0.254")...)))
	f.Add(reply("10.0.0.50", opt(53, 5), opt(6, append(ip4("10.0.0.53"), ip4("10.0.0.54")...)...)))
	f.Add(append(reply("10.0.0.50", opt(53, 2))[:241], 54, 9, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		if o, ok := Parse(b); ok && !o.Client.IsValid() {
			t.Fatalf("offer without an address: %+v", o)
		}
	})
}

// ITI__ICS-Security-Tools/pcaps/openics/EIP-IPAddressChangeAttempt.pcap frames
// 2946 and 2948 (BOOTP payloads up to the End option): 192.168.10.105
// offers, then acknowledges, 192.168.10.131 to the device 00:e0:62:60:35:d0
// (host name KoyoDL405). The first 60 bytes run through the 16 used bytes
// of sname ("DBLicenseServer"); the rest of sname and file are zeros.
var (
	eipOffer = "02010600abcd00130000000000000000c0a80a83c0a80a690000000000e0626035d00000000000000000000044424c6963656e736553657276657200" +
		strings.Repeat("00", 176) +
		"638253633501020104ffffff003a04ffffffff3b04ffffffff3304ffffffff3604c0a80a690304c0a80a010c094b6f796f444c343035ff"
	eipAck = "02010600abcd00140000000000000000c0a80a83c0a80a690000000000e0626035d00000000000000000000044424c6963656e736553657276657200" +
		strings.Repeat("00", 176) +
		"638253633501050104ffffff003a04ffffffff3b04ffffffff3304ffffffff3604c0a80a690304c0a80a010c094b6f796f444c343035ff"
)

func TestLeasesFromRealFrames(t *testing.T) {
	w := New()
	var leased []string
	w.Leased = func(ip netip.Addr, _ time.Time) { leased = append(leased, ip.String()) }
	for _, payload := range []string{eipOffer, eipAck} {
		b, err := hex.DecodeString(payload)
		require.NoError(t, err)
		p := packet("192.168.10.105", b)
		w.ObservePacket(p, 1, 0)
	}
	assert.Equal(t, []string{"192.168.10.131"}, leased, "the acknowledged address, not the offer")
}
