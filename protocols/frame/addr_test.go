package frame

import (
	"net/netip"
	"testing"

	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnicastHost(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"192.168.1.104", true},
		{"127.0.0.1", true}, // a host talking to itself is still one host
		{"::1", true},
		{"0.0.0.0", false},         // a DHCP client without its address yet
		{"255.255.255.255", false}, // limited broadcast
		{"224.0.0.252", false},     // LLMNR group
		{"239.255.255.250", false}, // SSDP group
		{"ff02::1:2", false},       // DHCPv6 servers and relays
		{"::", false},
		{"::ffff:255.255.255.255", false}, // mapped forms are the address they map
	} {
		assert.Equal(t, tc.want, UnicastHost(netip.MustParseAddr(tc.addr)), tc.addr)
	}
	assert.False(t, UnicastHost(netip.Addr{}))
}

// The link layer says when a datagram went to a group: real frames of
// antoine-lemay__Modbus_dataset/moving_two_files_modbus_6RTU.pcap, and the
// Linux cooked capture headers of the same datagram.
func TestGroupDst(t *testing.T) {
	const (
		query = `ffffffffffff 000c293c113f 0800 | frame 331: to the broadcast MAC
			4500004e 0779 0000 80 11 ae6e c0a80168 c0a801ff | 192.168.1.104 -> 192.168.1.255, UDP
			0089 0089 003a 711e | 137 -> 137
			801701100001000000000000 20454e46454646434e4447444245424448444a44454447444844434444444343410000200001 | NetBIOS name query`
		answer = `000c293c113f 000c29eeb784 0800 | frame 332: to .104's MAC
			4500005a 51cc 0000 80 11 64aa c0a80164 c0a80168 | 192.168.1.100 -> 192.168.1.104
			0089 0089 0046 97b9
			801785000000000100000000 20454e46454646434e4447444245424448444a44454447444844434444444343410000200001000493e000060000c0a80164`
		ip = `4500004e 0779 0000 80 11 ae6e c0a80168 c0a80168 | to 192.168.1.104 this time
			0089 0089 003a 711e
			801701100001000000000000 20454e46454646434e4447444245424448444a44454447444844434444444343410000200001`
	)
	for _, tc := range []struct {
		name      string
		link      uint32
		data      string
		group, to bool // GroupDst, ToOneHost
	}{
		{"Ethernet broadcast MAC, subnet broadcast address", capture.LinkEthernet, query, true, false},
		{"Ethernet unicast", capture.LinkEthernet, answer, false, true},
		{"Ethernet multicast MAC", capture.LinkEthernet, "01005e7ffffa" + answer[12:], true, false},
		{"SLL broadcast by another host", capture.LinkLinuxSLL, "0001 0001 0006 000c293c113f 0000 0800 " + ip, true, false},
		{"SLL multicast by another host", capture.LinkLinuxSLL, "0002 0001 0006 000c293c113f 0000 0800 " + ip, true, false},
		{"SLL to us", capture.LinkLinuxSLL, "0000 0001 0006 000c293c113f 0000 0800 " + ip, false, true},
		{"SLL2 broadcast", capture.LinkSLL2, "0800 0000 00000002 0001 01 06 000c293c113f 0000 " + ip, true, false},
		{"SLL2 sent by us", capture.LinkSLL2, "0800 0000 00000002 0001 04 06 000c293c113f 0000 " + ip, false, true},
		{"raw IP: only the address tells", capture.LinkRaw, ip, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoded
			d.GroupDst = true // a previous packet's value must not stick
			require.NoError(t, Decode(tc.link, hx(tc.data), &d))
			assert.Equal(t, tc.group, d.GroupDst)
			assert.Equal(t, tc.to, d.ToOneHost())
		})
	}
}
