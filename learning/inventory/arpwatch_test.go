package inventory

import (
	"net/netip"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols/frame"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	plcMAC      = [6]byte{0x00, 0x0e, 0x8c, 0x01, 0x02, 0x03} // Siemens
	hmiMAC      = [6]byte{0x00, 0x80, 0xf4, 0x0a, 0x0b, 0x0c} // Schneider
	attackerMAC = [6]byte{0x00, 0x0c, 0x29, 0xde, 0xad, 0x01} // VMware
	spareMAC    = [6]byte{0x00, 0x0e, 0x8c, 0x09, 0x09, 0x09} // Siemens, the replacement CPU
)

// claim is one ARP packet in which mac says it has ip, at second sec.
type claim struct {
	sec int64
	ip  string
	mac [6]byte
}

func arpPacket(c claim) *frame.Decoded {
	d := &frame.Decoded{}
	d.ARP = frame.ARP{Valid: true, Op: frame.ARPReply, SenderMAC: c.mac, SenderIP: netip.MustParseAddr(c.ip)}
	return d
}

func TestARPWatch(t *testing.T) {
	const plc, hmi = "10.0.0.10", "10.0.0.20"
	tests := []struct {
		name   string
		claims []claim
		want   []EventKind // one per claim; 0 for none
		check  func(t *testing.T, evs []Event)
	}{
		{"a static plant: nothing", []claim{{0, plc, plcMAC}, {0, hmi, hmiMAC}, {30, plc, plcMAC}, {3600, hmi, hmiMAC}},
			[]EventKind{NewHost, NewHost, 0, 0}, func(t *testing.T, evs []Event) {
				assert.Equal(t, plc, evs[0].IP)
				assert.Equal(t, "00:0e:8c:01:02:03", evs[0].MAC)
				assert.Contains(t, evs[0].Message, "new device 10.0.0.10 (MAC 00:0e:8c:01:02:03 (Siemens AG))")
			}},
		{"a replaced CPU: a change, not an attack", []claim{{0, plc, plcMAC}, {3600, plc, spareMAC}, {3700, plc, spareMAC}},
			[]EventKind{NewHost, MACChanged, 0}, func(t *testing.T, evs []Event) {
				ev := evs[1]
				assert.Equal(t, plc, ev.IP)
				assert.Equal(t, "00:0e:8c:09:09:09", ev.MAC)
				assert.Equal(t, "00:0e:8c:01:02:03", ev.OldMAC)
				assert.Contains(t, ev.Message, "replaced device")
				assert.Contains(t, ev.Message, "Siemens")
			}},
		{"poisoning: the attacker claims the PLC while the PLC still answers", []claim{
			{0, plc, plcMAC}, {1, hmi, hmiMAC}, {20, plc, attackerMAC}, {22, plc, plcMAC}, {24, plc, attackerMAC}},
			[]EventKind{NewHost, NewHost, ARPSpoofing, ARPSpoofing, ARPSpoofing}, func(t *testing.T, evs []Event) {
				assert.Contains(t, evs[2].Message, "00:0e:8c:01:02:03 claimed it 20s before")
				assert.Contains(t, evs[2].Message, "VMware")
				assert.Contains(t, evs[4].Message, "flips back and forth")
			}},
		{"one MAC claims the HMI and the PLC: in the middle", []claim{
			{0, plc, plcMAC}, {0, hmi, hmiMAC}, {300, hmi, attackerMAC}, {600, plc, attackerMAC}},
			[]EventKind{NewHost, NewHost, MACChanged, ARPSpoofing}, func(t *testing.T, evs []Event) {
				assert.Contains(t, evs[3].Message, "00:0c:29:de:ad:01 also claims 10.0.0.20")
			}},
		{"the attacker's own address names it", []claim{
			{0, plc, plcMAC}, {5, "10.0.0.66", attackerMAC}, {20, plc, attackerMAC}},
			[]EventKind{NewHost, NewHost, ARPSpoofing}, func(t *testing.T, evs []Event) {
				assert.Equal(t, "10.0.0.66", evs[2].By)
				assert.Contains(t, evs[2].Message, "also claims 10.0.0.66")
			}},
		{"probes and broadcast senders are not claims", []claim{
			{0, plc, plcMAC}, {1, "0.0.0.0", attackerMAC}, {2, plc, [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, {3, plc, [6]byte{}}},
			[]EventKind{NewHost, 0, 0, 0}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := New(Limits{})
			var all []Event
			for i, c := range tc.claims {
				evs := inv.ObserveARP(arpPacket(c), uint64(i+1), c.sec*int64(time.Second))
				var got EventKind
				var ev Event
				if len(evs) > 0 {
					require.Len(t, evs, 1)
					got, ev = evs[0].Kind, evs[0]
					assert.Equal(t, uint64(i+1), ev.Frame, "the evidence is the ARP frame")
				}
				assert.Equal(t, tc.want[i], got, "claim %d (%s by %x)", i, c.ip, c.mac)
				all = append(all, ev)
			}
			if tc.check != nil {
				tc.check(t, all)
			}
		})
	}
}

func TestARPWatchAcceptedAndRestored(t *testing.T) {
	plc := netip.MustParseAddr("10.0.0.10")
	inv := New(Limits{})
	observe := func(sec int64, mac [6]byte) []Event {
		return inv.ObserveARP(arpPacket(claim{sec, plc.String(), mac}), 1, sec*int64(time.Second))
	}
	require.Equal(t, NewHost, observe(0, plcMAC)[0].Kind)
	require.Len(t, observe(10, spareMAC), 1, "a redundant CPU pair takes over")
	inv.AcceptMACs(plc, plcMAC, spareMAC) // the operator: normal

	// the state survives a restart, acceptance included
	b, err := inv.MarshalState()
	require.NoError(t, err)
	inv = New(Limits{})
	require.NoError(t, inv.UnmarshalState(b))

	assert.Empty(t, observe(20, plcMAC), "switching back between accepted MACs is silent")
	assert.Empty(t, observe(30, spareMAC))
	evs := observe(40, attackerMAC)
	require.Len(t, evs, 1, "a third MAC is not accepted")
	assert.Equal(t, ARPSpoofing, evs[0].Kind, "the spare still claimed it 10 s before")
	assert.Equal(t, uint64(2), inv.Stats().ARPChanges, "the take-over and the attacker; the accepted moves are not counted")
}

func TestLastHeard(t *testing.T) {
	inv := New(Limits{})
	plc := netip.MustParseAddr("10.0.0.10")
	_, ok := inv.LastHeard(plc)
	assert.False(t, ok, "never heard of")
	inv.ObserveARP(arpPacket(claim{5, plc.String(), plcMAC}), 1, 5*int64(time.Second))
	ns, ok := inv.LastHeard(plc)
	assert.True(t, ok)
	assert.Equal(t, 5*int64(time.Second), ns, "its ARP claim")
	d := &frame.Decoded{Src: plc, Dst: netip.MustParseAddr("10.0.0.20"), IPProto: frame.ProtoTCP}
	inv.ObservePacket(d, 60, 9*int64(time.Second), nil)
	ns, _ = inv.LastHeard(plc)
	assert.Equal(t, 9*int64(time.Second), ns, "a packet it sent later")
}

// BenchmarkARPFlood: an attacker flips the MACs of known addresses as fast
// as it can; each change must cost the same on a network of 20,000 hosts.
func BenchmarkARPFlood(b *testing.B) {
	inv := New(Limits{MaxAssets: 20000})
	for i := 0; i < 20000; i++ {
		mac := [6]byte{0x00, 0x0e, 0x8c, byte(i >> 16), byte(i >> 8), byte(i)}
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		inv.ObserveARP(arpPacket(claim{0, ip.String(), mac}), 1, 0)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		mac := attackerMAC
		mac[5] = byte(i & 1)
		d := &frame.Decoded{}
		d.ARP = frame.ARP{Valid: true, Op: frame.ARPReply, SenderMAC: mac, SenderIP: ip}
		inv.ObserveARP(d, uint64(i), int64(i)*1000)
	}
}
