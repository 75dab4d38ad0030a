package baseline

import (
	"net/netip"
	"time"

	"github.com/otwatch/otwatch/protocols/frame"
)

// The known-host set. A host is new only if nothing of it was seen while
// the network learned: it sent an IP packet, claimed its address in ARP,
// got it from DHCP or announced it in LLDP, or took part in a transaction
// (Observe). RTUs that a master polls all day may not ARP for hours; they
// are still known. The set is the baseline document's network.hosts
// (exported, reviewable, persisted).

// LearnHost records ip as a host of the network if the network still
// learns at now (see NetworkLearning), and reports whether ip is known
// afterwards. Addresses that name no one host (unspecified, multicast,
// broadcast) are never recorded. Hosts seen this way do not extend auto
// mode's network learning as a new ICS party does: every address a
// gateway relays would otherwise keep it learning for ever.
func (m *Model) LearnHost(ip netip.Addr, now time.Time) bool {
	ip = ip.Unmap()
	if _, ok := m.hosts[ip]; ok {
		return true
	}
	if !frame.UnicastHost(ip) || !m.NetworkLearning(now) || len(m.hosts) >= maxHosts {
		return false
	}
	m.hosts[ip] = now
	return true
}

// KnownHost reports whether ip is in the known-host set.
func (m *Model) KnownHost(ip netip.Addr) bool {
	_, ok := m.hosts[ip.Unmap()]
	return ok
}
