package inventory

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/otwatch/otwatch/protocols"
)

const (
	sideClient uint8 = iota
	sideServer
)

func sideName(s uint8) string {
	if s == sideServer {
		return "server"
	}
	return "client"
}

// host is one IP address as seen on the wire.
type host struct {
	IP       netip.Addr `json:"ip"`
	MAC      [6]byte    `json:"mac"`
	HasMAC   bool       `json:"has_mac,omitempty"`
	VLAN     uint16     `json:"vlan,omitempty"`
	Asset    int32      `json:"asset"` // index in Inventory.assets, -1 none
	PktsOut  uint64     `json:"pkts_out,omitempty"`
	BytesOut uint64     `json:"bytes_out,omitempty"`
	PktsIn   uint64     `json:"pkts_in,omitempty"`
	BytesIn  uint64     `json:"bytes_in,omitempty"`
	First    int64      `json:"first,omitempty"`
	Last     int64      `json:"last,omitempty"`
	LastSent int64      `json:"last_sent,omitempty"`
	// Services: the TCP/UDP ports it answered on (proto<<16 | port), capped.
	Services []uint32 `json:"services,omitempty"`
	// Ev: what the address did as (part of) an asset; nil while pending.
	Ev *evidence `json:"ev,omitempty"`
}

// sent counts n packets, of this many bytes, that h sent between first
// and last (one packet: first == last); received, n it received.
func (h *host) sent(n, bytes uint64, first, last int64) {
	h.PktsOut += n
	h.BytesOut += bytes
	h.touch(first)
	h.touch(last)
	h.LastSent = max(h.LastSent, last)
}

func (h *host) received(n, bytes uint64, first, last int64) {
	h.PktsIn += n
	h.BytesIn += bytes
	h.touch(first)
	h.touch(last)
}

func (h *host) touch(ns int64) {
	if h.First == 0 || ns < h.First {
		h.First = ns
	}
	if ns > h.Last {
		h.Last = ns
	}
}

// macInfo is what one MAC address carried.
type macInfo struct {
	// IPs: distinct addresses (link-local ones aside) seen from it, kept
	// until it is known to be a router's.
	IPs    []netip.Addr `json:"ips,omitempty"`
	Router bool         `json:"router,omitempty"`
	// Asset owning this MAC (-1 none, always -1 for a router).
	Asset int32 `json:"asset"`
	// Behind counts the addresses seen behind a router MAC.
	Behind uint32 `json:"behind,omitempty"`
}

// protoUse is one (protocol, side, port) an asset was seen using.
type protoUse struct {
	Proto      uint8  `json:"proto"`
	Side       uint8  `json:"side"`
	Port       uint16 `json:"port"`
	Count      uint64 `json:"count"`
	FirstFrame uint64 `json:"first_frame"`
	First      int64  `json:"first"`
	Last       int64  `json:"last"`
}

// identValue is one value of an identity field with its provenance.
type identValue struct {
	Value      string `json:"value"`
	Proto      uint8  `json:"proto"`
	Message    string `json:"message"`
	FirstFrame uint64 `json:"first_frame"`
	LastFrame  uint64 `json:"last_frame"`
	First      int64  `json:"first"`
	Last       int64  `json:"last"`
	Count      uint64 `json:"count"`
}

type identField struct {
	Field  string       `json:"field"`
	Values []identValue `json:"values"`
}

// asset is one inventoried device.
type asset struct {
	ID     string  `json:"id"`
	MAC    [6]byte `json:"mac"`
	HasMAC bool    `json:"has_mac,omitempty"` // MAC is the asset's own
	// RouterMAC: the asset is seen behind this router MAC.
	RouterMAC    [6]byte `json:"router_mac"`
	BehindRouter bool    `json:"behind_router,omitempty"`
	Hosts        []int32 `json:"hosts"`
	First        int64   `json:"first"`
	Last         int64   `json:"last"`

	out []outLink // links of which this asset is the client (rebuilt on restore)
}

// evidence is what one address of an asset did and said: kept per
// address, so that when a MAC turns out to be a router's and its
// addresses become separate assets, each takes its own history along.
type evidence struct {
	Protos       []protoUse     `json:"protos,omitempty"`
	Ops          [numOps]uint32 `json:"ops"`           // ops as a client
	OpFrame      [numOps]uint64 `json:"op_frame"`      // first frame of each op as a client
	SZL          uint32         `json:"szl,omitempty"` // S7 read SZL as a client
	SZLFrame     uint64         `json:"szl_frame,omitempty"`
	Reads        []uint32       `json:"reads,omitempty"` // hashes of distinct read targets, capped
	ReadPoints   uint64         `json:"read_points,omitempty"`
	Identity     []identField   `json:"identity,omitempty"`
	IdentityDrop uint32         `json:"identity_dropped,omitempty"`
}

func (a *asset) touch(ns int64) {
	if a.First == 0 || ns < a.First {
		a.First = ns
	}
	if ns > a.Last {
		a.Last = ns
	}
}

// useProto records a protocol use; it reports whether the (proto, side)
// pair is new for this address.
func (a *evidence) useProto(pi, side uint8, port uint16, fr uint64, ns int64) bool {
	newPair := true
	for i := range a.Protos {
		u := &a.Protos[i]
		if u.Proto != pi || u.Side != side {
			continue
		}
		newPair = false
		if u.Port == port {
			u.Count++
			if ns > u.Last {
				u.Last = ns
			}
			return false
		}
	}
	if len(a.Protos) < maxProtoUses {
		a.Protos = append(a.Protos, protoUse{Proto: pi, Side: side, Port: port, Count: 1, FirstFrame: fr, First: ns, Last: ns})
	}
	return newPair
}

// clientEvidence records what a client did, for the role rules.
func (a *evidence) clientEvidence(tx *protocols.Transaction, class protocols.Class, fr uint64, rh *readHashes) {
	op := int(tx.Op)
	if op >= numOps {
		op = 0
	}
	if a.Ops[op] != ^uint32(0) {
		a.Ops[op]++
	}
	if a.OpFrame[op] == 0 {
		a.OpFrame[op] = fr
	}
	if class == protocols.ClassEngineering { // e.g. S7 read SZL
		a.SZL++
		if a.SZLFrame == 0 {
			a.SZLFrame = fr
		}
	}
	if tx.Op == protocols.OpRead && len(a.Reads) < maxReadTargets {
		for i := range tx.Targets {
			a.addRead(&tx.Targets[i], rh.hash(&tx.Targets[i]))
		}
	}
}

// readHashes remembers the hashes of recent read targets: a poll asks for
// the same items cycle after cycle, and FNV over each target's bytes was a
// sixth of otwatch read's CPU on the S7comm throughput input.
type readHashes [64]struct {
	t protocols.Target
	h uint32
}

func (rh *readHashes) hash(t *protocols.Target) uint32 {
	e := &rh[(t.Address^t.Count<<3)&63]
	if e.h != 0 && e.t == *t {
		return e.h
	}
	e.t, e.h = *t, readHash(t)
	return e.h
}

func readHash(t *protocols.Target) uint32 {
	k := fnvString(fnvOffset, t.Space)
	k = fnvString(k^0xff, t.ID)
	k = fnvUint(k, t.Address)
	k = fnvUint(k, t.Count)
	return fnvUint(k, uint64(t.File))
}

func (a *evidence) addRead(t *protocols.Target, k uint32) {
	for _, r := range a.Reads {
		if r == k {
			return
		}
	}
	if len(a.Reads) < maxReadTargets {
		a.Reads = append(a.Reads, k)
		n := t.Count
		if n == 0 {
			n = 1
		}
		a.ReadPoints += n
	}
}

// FNV-1a, inline: hashing a read target allocates nothing.
const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

func fnvString(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * fnvPrime
	}
	return h
}

func fnvUint(h uint32, v uint64) uint32 {
	for i := 0; i < 8; i++ {
		h = (h ^ uint32(byte(v>>(8*i)))) * fnvPrime
	}
	return h
}

// addIdentity records a fact; added is true when the value is new for the field.
func (a *evidence) addIdentity(f protocols.IdentityFact, pi uint8, fr uint64, ns int64) (added bool) {
	val := f.Value
	if len(val) > maxIdentityValue {
		val = val[:maxIdentityValue]
	}
	var fld *identField
	for i := range a.Identity {
		if a.Identity[i].Field == f.Field {
			fld = &a.Identity[i]
			break
		}
	}
	if fld == nil {
		if len(a.Identity) >= maxIdentity {
			a.IdentityDrop++
			return false
		}
		a.Identity = append(a.Identity, identField{Field: f.Field})
		fld = &a.Identity[len(a.Identity)-1]
	}
	for i := range fld.Values {
		v := &fld.Values[i]
		if v.Value == val {
			v.Count++
			if ns >= v.Last {
				v.Last, v.LastFrame = ns, fr
			}
			return false
		}
	}
	if len(fld.Values) >= maxIdentityVals {
		a.IdentityDrop++
		return false
	}
	fld.Values = append(fld.Values, identValue{Value: val, Proto: pi, Message: f.Message,
		FirstFrame: fr, LastFrame: fr, First: ns, Last: ns, Count: 1})
	return true
}

// otherValue returns a value of the field that differs from val, if any.
func (a *evidence) otherValue(field, val string) (string, bool) {
	for i := range a.Identity {
		if a.Identity[i].Field != field {
			continue
		}
		for _, v := range a.Identity[i].Values {
			if v.Value != val {
				return v.Value, true
			}
		}
	}
	return "", false
}

// hasPair reports whether the evidence shows the (proto, side) pair.
func (a *evidence) hasPair(pi, side uint8) bool {
	for i := range a.Protos {
		if a.Protos[i].Proto == pi && a.Protos[i].Side == side {
			return true
		}
	}
	return false
}

// link is one client→server edge of one protocol.
type linkKey struct {
	Client int32 `json:"client"`
	Server int32 `json:"server"`
	Proto  uint8 `json:"proto"`
}

// outLink indexes a link from its client asset: a client's links sorted by
// (server, proto), found by binary search. A sorted slice per client costs
// less memory than a map of every link and stays in a few cache lines.
type outLink struct {
	key  uint64 // server<<8 | proto
	link int32
}

func outKey(k linkKey) uint64 { return uint64(k.Server)<<8 | uint64(k.Proto) }

// findOut returns where the link is (or would be inserted) among a's links.
func (a *asset) findOut(k linkKey) (pos int, li int32, ok bool) {
	key := outKey(k)
	lo, hi := 0, len(a.out)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a.out[m].key < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(a.out) && a.out[lo].key == key {
		return lo, a.out[lo].link, true
	}
	return lo, -1, false
}

func (a *asset) insertOut(pos int, k linkKey, li int32) {
	a.out = append(a.out, outLink{})
	copy(a.out[pos+1:], a.out[pos:])
	a.out[pos] = outLink{key: outKey(k), link: li}
}

type link struct {
	Key        linkKey        `json:"key"`
	Ops        [numOps]uint32 `json:"ops"`
	First      int64          `json:"first"`
	Last       int64          `json:"last"`
	FirstFrame uint64         `json:"first_frame"`
}

func (inv *Inventory) lookupHost(ip netip.Addr) (int32, bool) {
	if ip.Is4() {
		a := ip.As4()
		hi, ok := inv.hosts4[uint32(a[0])<<24|uint32(a[1])<<16|uint32(a[2])<<8|uint32(a[3])]
		return hi, ok
	}
	hi, ok := inv.hosts6[ip]
	return hi, ok
}

func (inv *Inventory) indexHost(ip netip.Addr, hi int32) {
	if ip.Is4() {
		a := ip.As4()
		inv.hosts4[uint32(a[0])<<24|uint32(a[1])<<16|uint32(a[2])<<8|uint32(a[3])] = hi
		return
	}
	inv.hosts6[ip] = hi
}

// notedHost is hostFor through a flow's notes (protocols.FlowMemo) on
// ip, whose flow's other endpoint is other: a noted host that is still
// ip's, else the one hostFor finds or makes, noted in ip's slot for the
// flow's next packet. A note is checked against its address anyway, so
// both slots are tried rather than ordering the two addresses (MemoSlot)
// on every packet; the other slot's host is the one asked for next.
func (inv *Inventory) notedHost(memo *protocols.FlowMemo, ip, other netip.Addr, create bool) (int32, bool) {
	if memo == nil {
		return inv.hostFor(ip, create)
	}
	for _, n := range memo.Hosts {
		if hi := n - 1; hi >= 0 && int(hi) < len(inv.hosts) && inv.hosts[hi].IP == ip {
			return hi, true
		}
	}
	hi, ok := inv.hostFor(ip, create)
	if ok {
		memo.Hosts[protocols.MemoSlot(ip, other)] = hi + 1
	}
	return hi, ok
}

// hostFor returns the host of an address, creating it when create is set
// and the host limit allows.
func (inv *Inventory) hostFor(ip netip.Addr, create bool) (int32, bool) {
	if hi, ok := inv.lookupHost(ip); ok {
		return hi, true
	}
	if !create || !usable(ip) {
		return -1, false
	}
	if inv.pending >= inv.limits.MaxHosts {
		inv.stats.HostsDropped++
		return -1, false
	}
	return inv.newHost(ip), true
}

func (inv *Inventory) newHost(ip netip.Addr) int32 {
	hi := int32(len(inv.hosts))
	inv.hosts = append(inv.hosts, host{IP: ip, Asset: -1})
	inv.indexHost(ip, hi)
	inv.pending++
	return hi
}

// bind learns that host hi sends with this source MAC.
func (inv *Inventory) bind(hi int32, mac [6]byte, ns int64, fr uint64) {
	h := &inv.hosts[hi]
	if h.HasMAC && h.MAC == mac {
		return
	}
	inv.flushCounted() // what follows reads the hosts' times
	inv.hostsChanged()
	h.MAC, h.HasMAC = mac, true
	ip := h.IP
	mi := inv.macs[mac]
	if mi == nil {
		if len(inv.macs) >= inv.limits.MaxHosts+inv.limits.MaxAssets {
			return
		}
		mi = &macInfo{Asset: -1}
		inv.macs[mac] = mi
	}
	if mi.Router {
		mi.Behind++
		return
	}
	if !ip.IsLinkLocalUnicast() {
		known := false
		for _, x := range mi.IPs {
			if x == ip {
				known = true
				break
			}
		}
		if !known {
			concurrent := inv.concurrent(mi.IPs, ip, ns)
			mi.IPs = append(mi.IPs, ip)
			// An address the MAC claimed in ARP itself is its own: a
			// multi-homed host, not a router (routers never claim the hosts
			// behind them). Only a claim seen before this packet counts.
			own := false
			if b := inv.arp[ip]; b != nil && b.MAC == mac {
				own = true
			}
			if !own && (concurrent || inv.routerLike(mi.IPs)) {
				inv.becomeRouter(mac, mi, ns, fr)
				return
			}
		}
	}
	// A host already inventoried without a MAC adopts it when it is free.
	if ai := h.Asset; ai >= 0 && mi.Asset < 0 {
		a := inv.assets[ai]
		if !a.HasMAC && !a.BehindRouter {
			a.MAC, a.HasMAC = mac, true
			mi.Asset = ai
		}
	}
}

// ipChangeQuiet: a MAC's new address is an address change of the same
// host only when its other addresses (of the same family) have sent
// nothing for this long; otherwise several hosts share the MAC: a router.
const ipChangeQuiet = int64(60 * time.Second)

func (inv *Inventory) concurrent(ips []netip.Addr, ip netip.Addr, ns int64) bool {
	for _, x := range ips {
		if x.Is4() != ip.Is4() {
			continue // dual stack
		}
		if hi, ok := inv.lookupHost(x); ok {
			if last := inv.hosts[hi].LastSent; last != 0 && ns-last < ipChangeQuiet {
				return true
			}
		}
	}
	return false
}

// routerLike: the addresses of one MAC are too many, or of one family in
// different subnets (/24 for IPv4, /64 for IPv6).
func (inv *Inventory) routerLike(ips []netip.Addr) bool {
	if len(ips) >= inv.limits.RouterIPs {
		return true
	}
	last := ips[len(ips)-1]
	for _, x := range ips[:len(ips)-1] {
		if x.Is4() != last.Is4() {
			continue // dual stack
		}
		bits := 24
		if !x.Is4() {
			bits = 64
		}
		p, _ := x.Prefix(bits)
		if !p.Contains(last) {
			return true
		}
	}
	return false
}

// becomeRouter marks a MAC as a router's: the asset that owned it keeps
// its first address (and is renamed to its IP id), its other addresses
// become assets of their own, each with its own evidence; the links stay
// with the first. It raises a RouterDetected event and a NewAsset event
// per new asset, delivered with the next Observe call.
func (inv *Inventory) becomeRouter(mac [6]byte, mi *macInfo, ns int64, fr uint64) {
	mi.Router = true
	mi.Behind = uint32(len(mi.IPs))
	mi.IPs = nil
	ai := mi.Asset
	mi.Asset = -1
	if ai < 0 {
		return
	}
	a := inv.assets[ai]
	a.HasMAC, a.MAC = false, [6]byte{}
	a.BehindRouter, a.RouterMAC = true, mac
	if len(a.Hosts) == 0 {
		return
	}
	oldID := a.ID
	a.ID = ipID(inv.hosts[a.Hosts[0]].IP)
	at := time.Unix(0, ns).UTC()
	inv.deferEvent(Event{Kind: RouterDetected, Time: at, Frame: fr, Asset: a.ID, Peer: oldID,
		Message: sprintf("MAC %s (%s) carries several hosts' addresses: it is a router's; asset %s is now %s",
			macString(mac), Vendor(mac), oldID, a.ID)})
	rest := a.Hosts[1:]
	a.Hosts = a.Hosts[:1:1]
	for _, hi := range rest {
		h := &inv.hosts[hi]
		if len(inv.assets) >= inv.limits.MaxAssets {
			a.Hosts = append(a.Hosts, hi) // no room: stays merged
			continue
		}
		b := &asset{ID: ipID(h.IP), BehindRouter: true, RouterMAC: mac, Hosts: []int32{hi}, First: h.First, Last: h.Last}
		if ev := h.Ev; ev != nil {
			for _, u := range ev.Protos {
				if b.First == 0 || u.First < b.First {
					b.First = u.First
				}
				b.Last = max(b.Last, u.Last)
			}
		}
		h.Asset = int32(len(inv.assets))
		inv.assets = append(inv.assets, b)
		inv.deferEvent(Event{Kind: NewAsset, Time: at, Frame: fr, Asset: b.ID, Peer: oldID,
			Message: sprintf("new asset %s (behind router %s), split from %s", b.ID, macString(mac), oldID)})
	}
}

// maxDeferred caps the events waiting for the next Observe call.
const maxDeferred = 1024

func (inv *Inventory) deferEvent(e Event) {
	if len(inv.deferred) < maxDeferred {
		inv.deferred = append(inv.deferred, e)
	}
}

func macID(mac [6]byte) string { return "mac:" + macString(mac) }

// ipID writes an IPv6 address in brackets ("ip:[::1]", as in a URL): "ip:::1" reads as garbage.
func ipID(ip netip.Addr) string {
	if ip.Is6() && !ip.Is4In6() {
		return "ip:[" + ip.String() + "]"
	}
	return "ip:" + ip.String()
}

func macString(m [6]byte) string {
	const hexd = "0123456789abcdef"
	var b [17]byte
	for i, x := range m {
		if i > 0 {
			b[3*i-1] = ':'
		}
		b[3*i], b[3*i+1] = hexd[x>>4], hexd[x&15]
	}
	return string(b[:])
}

// sent: this side of the transaction was seen sending.
func (c *obsCtx) sent(side uint8) bool {
	if side == sideServer {
		return c.tx.ResponseFrame != 0
	}
	return c.tx.RequestFrame != 0
}

// assetFor returns the asset index of a transaction endpoint (-1 when it
// cannot be one) and its host, creating the asset when needed; isNew
// tells it was created.
func (c *obsCtx) assetFor(ep *protocols.Endpoint, side uint8) (int, int32, bool) {
	inv := c.inv
	if side == sideServer && c.tx.Broadcast {
		return -1, -1, false
	}
	hasMAC := ep.HasMAC && usableMAC(ep.MAC)
	other := c.tx.Server.IP
	if side == sideServer {
		other = c.tx.Client.IP
	}
	hi, ok := inv.notedHost(c.tx.Memo, ep.IP, other, false)
	if ok {
		if hasMAC {
			inv.bind(hi, ep.MAC, c.ns, c.frame)
		}
		if h := &inv.hosts[hi]; c.sent(side) && c.ns > h.LastSent {
			h.LastSent = c.ns
		}
		if ai := inv.hosts[hi].Asset; ai >= 0 {
			return int(ai), hi, false
		}
	} else {
		if !usable(ep.IP) {
			return -1, -1, false
		}
		if len(inv.assets) >= inv.limits.MaxAssets && !(hasMAC && inv.macAsset(ep.MAC) >= 0) {
			inv.assetLimit(c)
			return -1, -1, false
		}
		hi = inv.newHost(ep.IP)
		if hasMAC {
			inv.bind(hi, ep.MAC, c.ns, c.frame)
		}
		if c.sent(side) {
			inv.hosts[hi].LastSent = c.ns
		}
	}
	h := &inv.hosts[hi]
	var ai int32 = int32(len(inv.assets))
	var a *asset
	var mi *macInfo
	if h.HasMAC {
		mi = inv.macs[h.MAC]
	}
	switch {
	case mi != nil && !mi.Router && mi.Asset >= 0:
		// another address of a MAC-keyed asset (an address change)
		ai = mi.Asset
		a = inv.assets[ai]
		a.Hosts = append(a.Hosts, hi)
		h.Asset = ai
		h.Ev = &evidence{}
		inv.pending--
		return int(ai), hi, false
	case len(inv.assets) >= inv.limits.MaxAssets:
		inv.assetLimit(c)
		return -1, -1, false
	case mi != nil && !mi.Router:
		a = &asset{ID: macID(h.MAC), MAC: h.MAC, HasMAC: true}
		mi.Asset = ai
	case mi != nil:
		a = &asset{ID: ipID(h.IP), BehindRouter: true, RouterMAC: h.MAC}
	default:
		a = &asset{ID: ipID(h.IP)}
	}
	a.Hosts = []int32{hi}
	a.First, a.Last = c.ns, c.ns
	h.Asset = ai
	h.Ev = &evidence{}
	inv.pending--
	inv.assets = append(inv.assets, a)
	*c.evs = append(*c.evs, c.event(NewAsset, a.ID, "", "new asset %s%s seen as %s %s", a.ID, inv.describe(h, a), c.tx.Proto, sideName(side)))
	return int(ai), hi, true
}

// macAsset is the asset owning a MAC, -1 when none.
func (inv *Inventory) macAsset(mac [6]byte) int32 {
	if mi := inv.macs[mac]; mi != nil && !mi.Router {
		return mi.Asset
	}
	return -1
}

func (inv *Inventory) describe(h *host, a *asset) string {
	s := ""
	if a.HasMAC {
		s = " (" + h.IP.String()
		if v := Vendor(a.MAC); v != "" {
			s += ", " + v
		}
		s += ")"
	} else if a.BehindRouter {
		s = " (behind router " + macString(a.RouterMAC) + ")"
	}
	return s
}

func (inv *Inventory) assetLimit(c *obsCtx) {
	inv.stats.AssetsDropped++
	if !inv.assetLimitHit {
		inv.assetLimitHit = true
		*c.evs = append(*c.evs, c.event(LimitReached, "", "",
			"asset limit %d reached: further new hosts are not inventoried", inv.limits.MaxAssets))
	}
}

// AssetID returns the id of the asset that has this address.
func (inv *Inventory) AssetID(ip netip.Addr) (string, bool) {
	if hi, ok := inv.lookupHost(ip); ok {
		if ai := inv.hosts[hi].Asset; ai >= 0 {
			return inv.assets[ai].ID, true
		}
	}
	return "", false
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func clip(s string) string {
	if len(s) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "…"
	}
	return s
}

// clipDiff clips two values that differ so that where they differ shows:
// the window starts a little before the first difference, marked by "…"
// when it does not start at the beginning. It also returns the position
// (in characters, from 1) of the first difference.
func clipDiff(a, b string) (string, string, int) {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	for i > 0 && i < len(a) && !utf8.RuneStart(a[i]) {
		i--
	}
	pos := utf8.RuneCountInString(a[:i]) + 1
	start := 0
	if i > 24 {
		start = i - 16
		for start > 0 && !utf8.RuneStart(a[start]) {
			start--
		}
	}
	window := func(s string) string {
		if start >= len(s) {
			return "…"
		}
		out := clip(s[start:])
		if start > 0 {
			out = "…" + out
		}
		return out
	}
	return window(a), window(b), pos
}

// Controller says whether ip serves an ICS protocol (a PLC, RTU or OPC UA
// server): the protocol it serves first and the ports it serves ICS on.
func (inv *Inventory) Controller(ip netip.Addr) (proto string, ports []uint16, ok bool) {
	hi, found := inv.lookupHost(ip)
	if !found || inv.hosts[hi].Ev == nil {
		return "", nil, false
	}
	for _, u := range inv.hosts[hi].Ev.Protos {
		if u.Side != sideServer {
			continue
		}
		if !ok {
			proto, ok = inv.protos[u.Proto].name, true
		}
		ports = append(ports, u.Port)
	}
	return proto, ports, ok
}

// ObserveService records that server answered a TCP/UDP conversation on
// its port (the pipeline's ConversationAnswered): the services the inventory
// lists per asset, beyond the ICS protocols (a PLC's web server, SNMP…).
func (inv *Inventory) ObserveService(server netip.AddrPort, ipProto uint8) {
	inv.version++
	hi, ok := inv.lookupHost(server.Addr().Unmap())
	if !ok {
		return
	}
	h := &inv.hosts[hi]
	svc := uint32(ipProto)<<16 | uint32(server.Port())
	if slices.Contains(h.Services, svc) || len(h.Services) >= maxServices {
		return
	}
	h.Services = append(h.Services, svc)
}

// serviceName is "tcp/80" or "udp/161".
func serviceName(svc uint32) string {
	proto := "tcp"
	if svc>>16 == 17 {
		proto = "udp"
	}
	return proto + "/" + strconv.Itoa(int(svc&0xFFFF))
}
