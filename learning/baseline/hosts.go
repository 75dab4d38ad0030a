package baseline

import (
	"net/netip"
	"time"

	"github.com/otwatch/otwatch/protocols"
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
	if m.known(ip) {
		return true
	}
	if !frame.UnicastHost(ip) || !m.NetworkLearning(now) {
		return false
	}
	m.learnHost(ip, now) // bounded, and saved with the next checkpoint
	return m.KnownHost(ip)
}

// LearnFlowHost is LearnHost for the source of a packet of a flow whose
// other endpoint is other. Once both endpoints are known hosts, the flow's
// notes say so, and its next packets cost no lookup (a known host stays
// known until the set is replaced, which starts a new epoch). So they do
// once network learning is over while one is not (a host that came after
// the baseline, talking on): the note holds for later packets until what
// learning depends on changes (a new network epoch).
func (m *Model) LearnFlowHost(ip, other netip.Addr, ns int64, memo *protocols.FlowMemo) {
	if memo != nil && (memo.Known == m.knownEpoch || memo.Over == m.netEpoch && memo.Over != 0 && ns >= memo.OverAt) {
		return // most packets: no time built
	}
	now := time.Unix(0, ns).UTC()
	known := m.LearnHost(ip, now)
	switch {
	case memo == nil:
	case known && m.known(other):
		m.noteKnown(memo, ip, other)
	case !m.networkLearning(now):
		memo.Over, memo.OverAt = m.netEpoch, ns
	}
}

// noteKnown notes in a flow's memo that both its endpoints, a and b, are
// known hosts. Only for an IPv4 pair: LearnHost unmaps an IPv4-mapped
// IPv6 address and Observe does not, so for other forms the two paths
// could disagree about one address.
func (m *Model) noteKnown(memo *protocols.FlowMemo, a, b netip.Addr) {
	if memo != nil && a.Is4() && b.Is4() {
		memo.Known = m.knownEpoch
	}
}

// unknownHosts lists the transaction's server and client, leaving out
// (as the zero Addr) each one that is a known host; its flow's notes
// answer when both are.
func (m *Model) unknownHosts(tx *protocols.Transaction) [2]netip.Addr {
	if tx.Memo != nil && tx.Memo.Known == m.knownEpoch {
		return [2]netip.Addr{}
	}
	hosts := [2]netip.Addr{tx.Server.IP, tx.Client.IP}
	for i, h := range hosts {
		if m.known(h) {
			hosts[i] = netip.Addr{}
		}
	}
	if hosts == [2]netip.Addr{} {
		m.noteKnown(tx.Memo, tx.Server.IP, tx.Client.IP)
	}
	return hosts
}

// KnownHost reports whether ip is in the known-host set.
func (m *Model) KnownHost(ip netip.Addr) bool { return m.known(ip.Unmap()) }

// known reports whether ip is a known host. Every packet asks it for both of
// its addresses, mostly about the few hosts of the last packets; a known
// host stays known until an import replaces the set (which clears
// knownRecent), so those answers are remembered (by recentSlot).
func (m *Model) known(ip netip.Addr) bool {
	r := &m.knownRecent[recentSlot(ip)]
	if *r == ip && ip.IsValid() {
		return true
	}
	if _, ok := m.hosts[ip]; ok {
		*r = ip
		return true
	}
	return false
}

// Peers finds the addresses known hosts keep resolving in ARP while the
// network learns: a PLC re-resolves each configured peer whenever its ARP
// cache entry ages out (every minute or so), and the peer's unicast reply
// rarely reaches a SPAN port that mirrors the HMI's or the uplink's
// traffic. Such an address is an expected peer and joins the known hosts
// (Model.LearnHost), though nothing of the peer itself was seen. A retry
// of an unanswered request comes within seconds and a sweep asks once, so
// only two requests at least PeerRefresh apart count, and a host that
// resolves more than MaxPeersPerHost addresses is sweeping: its requests
// prove nothing.
type Peers struct {
	first  map[netip.Addr]time.Time // target -> first request
	askers map[netip.Addr]int       // requester -> distinct targets asked
}

const (
	// PeerRefresh: two requests for one address this far apart are cache refreshes.
	PeerRefresh = 30 * time.Second
	// MaxPeersPerHost: more distinct targets from one requester is a sweep.
	MaxPeersPerHost = 16
	maxPeerTargets  = 4096
)

// Ask notes that sender asked ARP for target at now and reports whether
// target is now an expected peer.
func (p *Peers) Ask(sender, target netip.Addr, now time.Time) bool {
	if !frame.UnicastHost(sender) || !frame.UnicastHost(target) || sender == target {
		return false
	}
	if p.first == nil {
		p.first, p.askers = map[netip.Addr]time.Time{}, map[netip.Addr]int{}
	}
	at, seen := p.first[target]
	if !seen {
		if len(p.first) >= maxPeerTargets {
			return false
		}
		p.first[target] = now
		if p.askers[sender] < MaxPeersPerHost+1 && len(p.askers) < maxPeerTargets {
			p.askers[sender]++
		}
		return false
	}
	return p.askers[sender] <= MaxPeersPerHost && now.Sub(at) >= PeerRefresh
}
