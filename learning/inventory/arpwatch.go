package inventory

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/otwatch/otwatch/protocols/frame"
)

// The ARP watch. Only a host on the segment answers ARP for its own
// address, and only its own (routers answer for their interfaces, never for
// the hosts behind them), so an address claimed in ARP by a new MAC is a
// replaced device or an impersonation: ARP spoofing, the usual first step
// of a man in the middle between an HMI and its PLC. Plant networks are
// static, which keeps this quiet where it matters.

// arpBinding is what ARP says about one IPv4 address.
type arpBinding struct {
	MAC      [6]byte `json:"mac"`               // the MAC that claims it now
	LastSeen int64   `json:"last"`              // last claim by MAC
	Prev     [6]byte `json:"prev"`              // the MAC before the last change
	Changed  int64   `json:"changed,omitempty"` // time of the last change
	Changes  uint32  `json:"changes,omitempty"`
	// Accepted: MACs an operator called normal for this address (a
	// redundant pair, a replaced device); moving between them is silent.
	Accepted [][6]byte `json:"accepted,omitempty"`
}

// arpFlipWindow: an address that returns to the MAC it had within this
// long flips between two claimants. arpConflictWindow: a MAC that still
// claimed the address this recently is still there, so two devices claim it.
const (
	arpFlipWindow     = int64(10 * time.Minute)
	arpConflictWindow = int64(60 * time.Second)
	maxAcceptedMACs   = 4
)

// ObserveARP takes the pipeline's ARPSeen events. It returns a NewHost event for
// an address claimed for the first time, a MACChanged or ARPSpoofing event
// when an address is claimed by another MAC than before (nil otherwise). Probes (sender 0.0.0.0) and group or zero MACs are not
// claims.
func (inv *Inventory) ObserveARP(d *frame.Decoded, frameNo uint64, ns int64) []Event {
	inv.version++
	a := &d.ARP
	ip, mac := a.SenderIP, a.SenderMAC
	if !a.Valid || !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) ||
		!usableMAC(mac) {
		return nil
	}
	b := inv.arp[ip]
	if b == nil {
		if len(inv.arp) >= inv.limits.MaxHosts+inv.limits.MaxAssets {
			inv.stats.ARPLimitHit++
			return nil
		}
		inv.arp[ip] = &arpBinding{MAC: mac, LastSeen: ns}
		inv.claim(mac, ip)
		return []Event{{Kind: NewHost, Time: time.Unix(0, ns).UTC(), Frame: frameNo, IP: ip.String(),
			MAC:     net.HardwareAddr(mac[:]).String(),
			Message: fmt.Sprintf("new device %s (MAC %s%s) appeared on the monitored network after it was learned", ip, net.HardwareAddr(mac[:]), vendorNote(mac))}}
	}
	if b.MAC == mac {
		b.LastSeen = ns
		return nil
	}
	old, oldLast := b.MAC, b.LastSeen
	flipped := mac == b.Prev && b.Changed != 0 && ns-b.Changed <= arpFlipWindow
	b.Prev, b.MAC, b.LastSeen, b.Changed = old, mac, ns, ns
	b.Changes++
	inv.unclaim(old, ip)
	others := inv.arpClaims(mac, ip)
	inv.claim(mac, ip)
	if b.accepted(old) && b.accepted(mac) {
		return nil
	}
	inv.stats.ARPChanges++

	var why []string
	if flipped {
		why = append(why, "it flips back and forth between the two")
	}
	if ns-oldLast <= arpConflictWindow {
		why = append(why, fmt.Sprintf("%s claimed it %s before", net.HardwareAddr(old[:]), time.Duration(ns-oldLast).Round(time.Millisecond)))
	}
	if len(others) > 0 {
		why = append(why, fmt.Sprintf("%s also claims %s", net.HardwareAddr(mac[:]), joinAddrs(others)))
	}
	ev := Event{Kind: MACChanged, Time: time.Unix(0, ns).UTC(), Frame: frameNo, IP: ip.String(),
		MAC: net.HardwareAddr(mac[:]).String(), OldMAC: net.HardwareAddr(old[:]).String()}
	for _, o := range others {
		if ob := inv.arp[o]; ob != nil && ob.Changes == 0 { // never anyone else's: its own
			ev.By = o.String()
			break
		}
	}
	if hi, ok := inv.lookupHost(ip); ok && inv.hosts[hi].Asset >= 0 {
		ev.Asset = inv.assets[inv.hosts[hi].Asset].ID
	}
	who := ip.String()
	if ev.Asset != "" && ev.Asset != who {
		who += " (asset " + ev.Asset + ")"
	}
	if len(why) > 0 {
		ev.Kind = ARPSpoofing
		ev.Message = fmt.Sprintf("ARP spoofing: %s is claimed by %s%s, was %s%s; %s", who, ev.MAC, vendorNote(mac), ev.OldMAC, vendorNote(old), joinWords(why))
	} else {
		ev.Message = fmt.Sprintf("%s is now claimed in ARP by %s%s instead of %s%s: a replaced device, or an impersonation", who, ev.MAC, vendorNote(mac), ev.OldMAC, vendorNote(old))
	}
	return []Event{ev}
}

func (b *arpBinding) accepted(mac [6]byte) bool {
	for _, m := range b.Accepted {
		if m == mac {
			return true
		}
	}
	return false
}

// AcceptMACs is the operator saying the address may be claimed by these
// MACs (an alert of the ARP watch marked normal): moving between them no
// longer raises events.
func (inv *Inventory) AcceptMACs(ip netip.Addr, macs ...[6]byte) {
	inv.version++
	b := inv.arp[ip]
	if b == nil {
		return
	}
	for _, m := range macs {
		if !b.accepted(m) && len(b.Accepted) < maxAcceptedMACs {
			b.Accepted = append(b.Accepted, m)
		}
	}
}

// maxClaimsIndexed bounds the reverse index per MAC: a MAC claiming more
// addresses than this is in the middle of many hosts either way.
const maxClaimsIndexed = 16

// claim and unclaim keep the reverse index (MAC → addresses it claims
// now), so a change costs the same however many hosts the network has.
func (inv *Inventory) claim(mac [6]byte, ip netip.Addr) {
	if l := inv.arpByMAC[mac]; len(l) < maxClaimsIndexed {
		inv.arpByMAC[mac] = append(l, ip)
	}
}

func (inv *Inventory) unclaim(mac [6]byte, ip netip.Addr) {
	l := inv.arpByMAC[mac]
	for i, x := range l {
		if x == ip {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(inv.arpByMAC, mac)
	} else {
		inv.arpByMAC[mac] = l
	}
}

// arpClaims lists the other addresses mac claims now (sorted).
func (inv *Inventory) arpClaims(mac [6]byte, except netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, ip := range inv.arpByMAC[mac] {
		if ip != except {
			out = append(out, ip)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

func vendorNote(mac [6]byte) string {
	if v := Vendor(mac); v != "" {
		return " (" + v + ")"
	}
	return ""
}

func joinAddrs(ips []netip.Addr) string {
	s := make([]string, 0, 3)
	for i, ip := range ips {
		if i == 3 {
			return fmt.Sprintf("%s and %d more", joinWords(s), len(ips)-3)
		}
		s = append(s, ip.String())
	}
	return joinWords(s)
}

func joinWords(w []string) string {
	switch len(w) {
	case 0:
		return ""
	case 1:
		return w[0]
	}
	out := w[0]
	for _, x := range w[1 : len(w)-1] {
		out += ", " + x
	}
	return out + " and " + w[len(w)-1]
}

// LastHeard says when ip last sent a packet or claimed itself in ARP
// (packet time), for detectors that must tell a silent host from a
// missing one (learning/scan's ARP sweeps).
func (inv *Inventory) LastHeard(ip netip.Addr) (int64, bool) {
	inv.flushCounted()
	var last int64
	found := false
	if hi, ok := inv.lookupHost(ip); ok && inv.hosts[hi].LastSent != 0 {
		last, found = inv.hosts[hi].LastSent, true
	}
	if b := inv.arp[ip]; b != nil && b.LastSeen > last {
		last, found = b.LastSeen, true
	}
	return last, found
}
