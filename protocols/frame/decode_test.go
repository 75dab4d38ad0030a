package frame

import (
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hx turns "aa bb | comment" lines into bytes.
func hx(s string) []byte { return testkit.Hex(nil, s) }

const tcpHeader = `
	c350 01f6 | ports 50000 -> 502
	0000 0064 | seq 100
	0000 00c8 | ack 200
	50 18 2000 | data offset 5, PSH+ACK, window
	0000 0000 | checksum, urgent
`

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		link    uint32
		data    string
		wantErr error
		check   func(t *testing.T, d *Decoded)
	}{
		{"ethernet QinQ IPv4 TCP", capture.LinkEthernet, `
			0080f40a0b0c 000e8c010203 | dst, src MAC
			88a8 0064 | 802.1ad tag, VLAN 100
			8100 002a | 802.1Q tag, VLAN 42
			0800 | IPv4
			4500 002b 0001 0000 4006 0000 | IPv4, total 43, TCP
			0a000001 0a000002 | 10.0.0.1 -> 10.0.0.2` + tcpHeader + `
			010203 | 3 bytes payload
			000000000000 | Ethernet padding, not payload`, nil,
			func(t *testing.T, d *Decoded) {
				assert.Equal(t, uint16(42), d.VLAN)
				assert.Equal(t, "10.0.0.1", d.Src.String())
				assert.Equal(t, uint16(502), d.DstPort)
				assert.Equal(t, uint32(100), d.Seq)
				assert.Equal(t, []byte{1, 2, 3}, d.Payload, "padding is cut by the IP length")
				assert.True(t, d.HasMAC)
				assert.Equal(t, [6]byte{0x00, 0x0e, 0x8c, 1, 2, 3}, d.SrcMAC)
			}},
		{"ARP reply on VLAN 7", capture.LinkEthernet, `
			0080f40a0b0c 000e8c010203 | dst, src MAC
			8100 0007 0806 | 802.1Q VLAN 7, ARP
			0001 0800 06 04 0002 | Ethernet/IPv4, reply
			000e8c010203 c0a80105 | sender MAC, 192.168.1.5
			0080f40a0b0c c0a8010a | target MAC, 192.168.1.10
			000000000000000000000000000000000000 | padding`, ErrNotIP,
			func(t *testing.T, d *Decoded) {
				a := d.ARP
				require.True(t, a.Valid)
				assert.Equal(t, uint16(ARPReply), a.Op)
				assert.Equal(t, [6]byte{0x00, 0x0e, 0x8c, 1, 2, 3}, a.SenderMAC)
				assert.Equal(t, "192.168.1.5", a.SenderIP.String())
				assert.Equal(t, "192.168.1.10", a.TargetIP.String())
				assert.Equal(t, uint16(7), d.VLAN)
			}},
		{"ARP truncated", capture.LinkEthernet, `
			ffffffffffff 000e8c010203 0806
			0001 0800 06 04 0001 000e8c010203`, ErrNotIP,
			func(t *testing.T, d *Decoded) { assert.False(t, d.ARP.Valid) }},
		{"ARP for another protocol", capture.LinkEthernet, `
			ffffffffffff 000e8c010203 0806
			0001 86dd 06 10 0001 000e8c010203 | IPv6 addresses: not RFC 826 IPv4
			fd000000000000000000000000000001 000000000000 fd000000000000000000000000000002`, ErrNotIP,
			func(t *testing.T, d *Decoded) { assert.False(t, d.ARP.Valid) }},
		{"ICMP echo request", capture.LinkRaw, `
			4500 001c 0001 0000 4001 0000 0a000042 0a000001 | ICMP 10.0.0.66 -> 10.0.0.1
			08 00 0000 0001 0001 | echo request`, ErrOtherProto,
			func(t *testing.T, d *Decoded) {
				assert.True(t, d.ICMP.Echo())
				assert.False(t, d.ICMP.PortUnreachable())
			}},
		{"ICMP port unreachable about a UDP probe", capture.LinkRaw, `
			4500 0038 0002 0000 4001 0000 0a000001 0a000042 | ICMP 10.0.0.1 -> 10.0.0.66
			03 03 0000 00000000 | destination unreachable, port unreachable
			4500 001c 1234 0000 4011 0000 0a000042 0a000001 | the probe: UDP 10.0.0.66 -> 10.0.0.1
			9c40 00a1 0008 0000 | 40000 -> 161`, ErrOtherProto,
			func(t *testing.T, d *Decoded) {
				m := d.ICMP
				require.True(t, m.PortUnreachable())
				assert.Equal(t, uint8(ProtoUDP), m.OrigProto)
				assert.Equal(t, "10.0.0.66", m.OrigSrc.String())
				assert.Equal(t, "10.0.0.1", m.OrigDst.String())
				assert.Equal(t, uint16(161), m.OrigDstPort)
			}},
		{"ICMPv6 port unreachable", capture.LinkRaw, `
			6000 0000 0038 3a 40 fd000000000000000000000000000001 fd000000000000000000000000000042
			01 04 0000 00000000 | destination unreachable, port unreachable
			6000 0000 0008 11 40 fd000000000000000000000000000042 fd000000000000000000000000000001
			9c40 bac0 0008 0000 | UDP 40000 -> 47808 (BACnet)`, ErrOtherProto,
			func(t *testing.T, d *Decoded) {
				m := d.ICMP
				require.True(t, m.PortUnreachable())
				assert.True(t, m.V6)
				assert.Equal(t, "fd00::42", m.OrigSrc.String())
				assert.Equal(t, uint16(47808), m.OrigDstPort)
			}},
		{"ICMP error quoting too little", capture.LinkRaw, `
			4500 0024 0002 0000 4001 0000 0a000001 0a000042
			03 03 0000 00000000 4500 001c`, ErrOtherProto,
			func(t *testing.T, d *Decoded) {
				assert.True(t, d.ICMP.Valid)
				assert.False(t, d.ICMP.PortUnreachable(), "no quoted datagram to blame")
			}},
		{"IPv4 options", capture.LinkRaw, `
			4600 002d 0001 0000 4006 0000 0a000001 0a000002 | IHL 6, total 45
			01010100 | options: NOP NOP NOP EOL` + tcpHeader + `ff`, nil,
			func(t *testing.T, d *Decoded) { assert.Equal(t, []byte{0xff}, d.Payload) }},
		{"IPv6 hop-by-hop then TCP", capture.LinkRaw, `
			6000 0000 001d 00 40 | payload 29, next header hop-by-hop
			fd000000000000000000000000000001 fd000000000000000000000000000002
			06 00 0000 00000000 | hop-by-hop: next TCP, length 8` + tcpHeader + `aa`, nil,
			func(t *testing.T, d *Decoded) {
				assert.Equal(t, "fd00::1", d.Src.String())
				assert.Equal(t, uint8(ProtoTCP), d.IPProto)
				assert.Equal(t, []byte{0xaa}, d.Payload)
			}},
		{"IPv6 fragment", capture.LinkRaw, `
			6000 0000 0010 2c 40 | payload 16, next header fragment
			fd000000000000000000000000000001 fd000000000000000000000000000002
			11 00 0011 00001234 | next UDP, offset 2 (16 bytes), M=1, id 0x1234
			0102030405060708`, nil,
			func(t *testing.T, d *Decoded) {
				assert.True(t, d.Fragment)
				assert.Equal(t, 16, d.FragOffset)
				assert.True(t, d.MoreFrags)
				assert.Equal(t, uint32(0x1234), d.FragID)
				assert.Equal(t, uint32(0x1234), d.IPID)
				assert.Equal(t, uint8(ProtoUDP), d.IPProto)
			}},
		{"NULL loopback big-endian family", capture.LinkNull, `00000002
			4500 0024 0001 0000 4011 0000 7f000001 7f000001
			c350 01f6 0010 0000 | UDP 50000 -> 502, length 16
			0102030405060708`, nil,
			func(t *testing.T, d *Decoded) {
				assert.Equal(t, uint32(1), d.IPID, "IPv4 identification of an unfragmented packet")
				assert.Equal(t, uint8(ProtoUDP), d.IPProto)
				assert.Len(t, d.Payload, 8)
				assert.False(t, d.HasMAC)
			}},
		{"snap length cut the TCP payload", capture.LinkRaw, `
			4500 0064 0001 0000 4006 0000 0a000001 0a000002` + tcpHeader + `0102`, nil,
			func(t *testing.T, d *Decoded) {
				assert.True(t, d.IPTruncated)
				assert.Equal(t, 2, len(d.Payload))
				assert.Equal(t, 100-40, d.WireLen)
			}},
		{"ARP is not IP", capture.LinkEthernet, `ffffffffffff 000e8c010203 0806 0001`, ErrNotIP, nil},
		{"ICMP", capture.LinkRaw, `4500 001c 0001 0000 4001 0000 0a000001 0a000002 0800 0000 0000 0000`, ErrOtherProto, nil},
		{"truncated TCP header", capture.LinkRaw, `4500 0028 0001 0000 4006 0000 0a000001 0a000002 c350 01f6`, ErrTruncated, nil},
		{"IHL below 5", capture.LinkRaw, `4400 0028 0001 0000 4006 0000 0a000001 0a000002`, ErrBadHeader, nil},
		{"TCP data offset below 5", capture.LinkRaw, `4500 0028 0001 0000 4006 0000 0a000001 0a000002
			c350 01f6 00000064 000000c8 4018 2000 00000000`, ErrBadHeader, nil},
		{"unknown link type", 147, `00`, ErrUnsupported, nil},
		{"short Ethernet", capture.LinkEthernet, `0080f40a0b0c`, ErrTruncated, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoded
			err := Decode(tc.link, hx(tc.data), &d)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				if tc.check != nil {
					tc.check(t, &d)
				}
				return
			}
			require.NoError(t, err)
			tc.check(t, &d)
		})
	}
}

func TestDefragmenterIPv6AndLimits(t *testing.T) {
	f := NewDefragmenter(1, 30e9)
	first := `6000 0000 0018 2c 40
		fd000000000000000000000000000001 fd000000000000000000000000000002
		11 00 0001 00000007 | offset 0, M=1, id 7
		c350 01f6 0014 0000 | UDP header, length 20
		0102030405060708`
	second := `6000 0000 000c 2c 40
		fd000000000000000000000000000001 fd000000000000000000000000000002
		11 00 0010 00000007 | offset 16, last
		090a0b0c`
	var d Decoded
	require.NoError(t, Decode(capture.LinkRaw, hx(first), &d))
	done, err := f.Add(&d, 1)
	require.NoError(t, err)
	require.False(t, done)
	// a second datagram while one is in progress: over the limit of 1
	var other Decoded
	require.NoError(t, Decode(capture.LinkRaw, hx(strings.Replace(first, "00000007", "00000008", 1)), &other))
	done, _ = f.Add(&other, 2)
	assert.False(t, done)
	assert.Equal(t, uint64(1), f.LimitHit)
	require.NoError(t, Decode(capture.LinkRaw, hx(second), &d))
	done, err = f.Add(&d, 3)
	require.NoError(t, err)
	require.True(t, done)
	assert.Equal(t, uint16(502), d.DstPort)
	assert.Equal(t, hx("0102030405060708090a0b0c"), d.Payload)
	// a lone fragment times out
	require.NoError(t, Decode(capture.LinkRaw, hx(first), &d))
	f.Add(&d, 10)
	f.Add(&other, 10+31e9)
	assert.Equal(t, uint64(1), f.Dropped)
}

func BenchmarkDecodeEthernetTCP(b *testing.B) {
	data := hx(`0080f40a0b0c 000e8c010203 0800
		4500 0034 0001 0000 4006 0000 0a000001 0a000002` + tcpHeader + `000100000006010300000001`)
	var d Decoded
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := Decode(capture.LinkEthernet, data, &d); err != nil {
			b.Fatal(err)
		}
	}
}
