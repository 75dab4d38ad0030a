package pipeline

import (
	"net/netip"
	"time"
)

// groupQueryWindow is how long a unicast datagram back to a host that sent
// to a group is taken for a reply to it: the longest answer delay of the
// common discovery protocols (SSDP's MX is at most 5 s in UPnP 1.1;
// NetBIOS, LLMNR, WS-Discovery and EtherNet/IP ListIdentity answer within
// a second or two).
const groupQueryWindow = int64(5 * time.Second)

// maxGroupQueries bounds the senders remembered; a flood of broadcast
// senders beyond it only makes their replies look like conversations.
const maxGroupQueries = 4096

// groupQueries remembers which address:port recently sent to a group.
type groupQueries struct {
	last map[netip.AddrPort]int64
}

func (q *groupQueries) ask(from netip.AddrPort, now int64) {
	if q.last == nil {
		q.last = map[netip.AddrPort]int64{}
	}
	if _, ok := q.last[from]; !ok && len(q.last) >= maxGroupQueries {
		for k, at := range q.last {
			if now-at > groupQueryWindow {
				delete(q.last, k)
			}
		}
		if len(q.last) >= maxGroupQueries {
			return
		}
	}
	q.last[from] = now
}

// answered says whether a datagram to dst replies to a group query: dst
// sent to a group from that port within the window, or a host without an
// address yet did (a DHCP client's offer goes to the address offered).
func (q *groupQueries) answered(dst netip.AddrPort, now int64) bool {
	if len(q.last) == 0 {
		return false
	}
	unspecified := netip.IPv4Unspecified()
	if dst.Addr().Is6() {
		unspecified = netip.IPv6Unspecified()
	}
	for _, k := range [2]netip.AddrPort{dst, netip.AddrPortFrom(unspecified, dst.Port())} {
		if at, ok := q.last[k]; ok && now >= at && now-at <= groupQueryWindow {
			return true
		}
	}
	return false
}
