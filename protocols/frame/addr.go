package frame

import "net/netip"

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// UnicastHost reports whether ip can name one host: a party of a
// conversation, a known host, a scan target. The unspecified address
// (a host without an address yet), multicast groups and the limited
// broadcast 255.255.255.255 never do. A subnet's network and directed
// broadcast addresses cannot be told from the address alone (the prefix
// length is not on the wire); a datagram to them goes to the link's
// broadcast MAC, which Decoded.GroupDst reports.
func UnicastHost(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() && ip != limitedBroadcast
}

// ToOneHost reports whether a decoded packet is addressed to one host:
// its destination is a unicast host address and the link delivered it to
// one station (not to the broadcast or a multicast MAC).
func (d *Decoded) ToOneHost() bool { return !d.GroupDst && UnicastHost(d.Dst) }

// sllGroup: a Linux cooked capture's packet type says the frame was
// broadcast (1) or multicast (2) by another host (LINKTYPE_LINUX_SLL and
// LINKTYPE_LINUX_SLL2; 0 is "to us", 3 "to another host", 4 "sent by us").
func sllGroup(packetType uint16) bool { return packetType == 1 || packetType == 2 }
