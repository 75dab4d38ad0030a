// Package inventory builds the passive asset inventory and network map from
// what the pipeline sees: every decoded packet (ObservePacket: packet and
// byte counts, MAC↔IP bindings, VLANs) and every ICS transaction (Observe:
// assets, the protocols they speak and on which side, client→server links
// with op counts, roles with their evidence, identity facts with
// provenance). Document renders it as the RECORDS.md inventory document.
//
// An Inventory is NOT safe for concurrent use: it is fed by the one
// goroutine that runs the pipeline (network stream and transaction sink).
// Call Document, MarshalState and UnmarshalState from that goroutine too,
// or with the pipeline stopped.
//
// Asset ids: "mac:xx:xx:xx:xx:xx:xx" when the asset was first seen with a
// MAC that is its own, "ip:ADDR" otherwise (no link layer, or the MAC is a
// router's). See README.md for why and for the router rule.
package inventory

//go:generate go run ./ouigen -in /usr/share/ieee-data/oui.csv -out oui_gen.go

import (
	"net/netip"
	"time"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/frame"
)

// Defaults for zero Limits fields.
const (
	DefaultMaxAssets = 10000
	DefaultMaxLinks  = 100000
	DefaultRouterIPs = 3
)

// Per-asset caps: the inventory never grows without bound.
const (
	maxProtoUses     = 32 // (proto, side, port) entries per asset
	maxIdentity      = 32 // identity fields per asset
	maxIdentityVals  = 4  // distinct values kept per identity field
	maxIdentityValue = 256
	maxReadTargets   = 64 // distinct read targets remembered (historian rule)
	maxVLANs         = 8
	maxServices      = 32 // TCP/UDP ports served per address
	maxProtos        = 64 // distinct protocol names
)

// Limits bounds the inventory. Zero fields take the defaults.
type Limits struct {
	MaxAssets, MaxLinks int
	// MaxHosts caps the addresses tracked by ObservePacket that are not
	// (yet) assets; default MaxAssets.
	MaxHosts int
	// RouterIPs: a MAC that carries this many IP addresses (link-local
	// ones aside) is a router's; default 3. Two addresses of one family in
	// different subnets (/24, /64) also mark it.
	RouterIPs int
}

// maxAssetIndex bounds MaxAssets: a link key packs two asset indexes in 28 bits each.
const maxAssetIndex = 1<<28 - 1

func (l Limits) withDefaults() Limits {
	if l.MaxAssets <= 0 {
		l.MaxAssets = DefaultMaxAssets
	}
	if l.MaxAssets > maxAssetIndex {
		l.MaxAssets = maxAssetIndex
	}
	if l.MaxLinks <= 0 {
		l.MaxLinks = DefaultMaxLinks
	}
	if l.MaxHosts <= 0 {
		l.MaxHosts = l.MaxAssets
	}
	if l.RouterIPs < 2 {
		l.RouterIPs = DefaultRouterIPs
	}
	return l
}

// numOps is the size of the shared operation vocabulary.
const numOps = int(protocols.OpDiscovery) + 1

// Stats counts what the limits turned away.
type Stats struct {
	AssetsDropped uint64 `json:"assets_dropped"`          // transactions endpoints not inventoried: asset limit
	LinksDropped  uint64 `json:"links_dropped"`           // transactions not counted on a link: link limit
	HostsDropped  uint64 `json:"hosts_dropped"`           // packets from addresses not tracked: host limit
	ARPChanges    uint64 `json:"arp_changes,omitempty"`   // addresses claimed in ARP by a new MAC (events raised)
	ARPLimitHit   uint64 `json:"arp_limit_hit,omitempty"` // ARP claims not tracked: host limit
}

// Inventory is the asset inventory. See the package comment on concurrency.
type Inventory struct {
	readHashes readHashes // hashes of recent read targets (evidence.addRead)
	classes    protocols.Classifier
	limits     Limits
	// version counts the calls that may change the state (StateVersion):
	// a checkpoint skips an inventory that did not change.
	version uint64
	// ps: the records of the state file (persist.go)
	ps persisted

	// FrameOf, when set, gives the number of the frame being handled (the
	// pipeline's Frames), so events raised from packets name their frame.
	FrameOf func() uint64
	// ZoneOf, when set, places an address in the plant's configured zones
	// (the document's zone and level; level -1 when not given).
	ZoneOf func(ip netip.Addr) (zone string, level int, ok bool)

	hosts    []host
	hosts4   map[uint32]int32     // IPv4 address → host (fast 32-bit map)
	hosts6   map[netip.Addr]int32 // other addresses → host
	pending  int                  // hosts without an asset
	macs     map[[6]byte]*macInfo
	arp      map[netip.Addr]*arpBinding // the ARP watch (arpwatch.go)
	arpByMAC map[[6]byte][]netip.Addr   // its reverse index
	// neighbors: LLDP announcers that are not assets (lldp.go)
	neighbors map[[6]byte]*neighbor
	assets    []*asset
	links     []link

	protos []protoName

	// counted: the flows' memos holding packets not yet added to the
	// hosts; countEpoch: what a memo's last check vouches for (counted.go).
	counted    []*protocols.FlowMemo
	countEpoch uint32

	scratch  []Event // events of the Observe call in progress
	deferred []Event // events raised by ObservePacket, delivered by the next Observe

	stats         Stats
	assetLimitHit bool
	linkLimitHit  bool

	// identity returns a transaction's identity facts; tests may replace it.
	identity func(pi uint8, tx *protocols.Transaction) []protocols.IdentityFact
}

type protoName struct {
	name string
	id   func(*protocols.Transaction) []protocols.IdentityFact // nil: the protocol reveals no identity
	idOK bool                                                  // id was looked up
}

// New returns an empty inventory.
func New(l Limits) *Inventory {
	inv := &Inventory{
		limits:     l.withDefaults(),
		hosts4:     map[uint32]int32{},
		hosts6:     map[netip.Addr]int32{},
		macs:       map[[6]byte]*macInfo{},
		arp:        map[netip.Addr]*arpBinding{},
		arpByMAC:   map[[6]byte][]netip.Addr{},
		neighbors:  map[[6]byte]*neighbor{},
		countEpoch: 1,
	}
	inv.identity = inv.registryIdentity
	return inv
}

// Limits returns the limits in force (defaults filled in).
func (inv *Inventory) Limits() Limits { return inv.limits }

// Stats returns the limit counters.
func (inv *Inventory) Stats() Stats { return inv.stats }

// Len returns the number of assets and links.
func (inv *Inventory) Len() (assets, links int) { return len(inv.assets), len(inv.links) }

// registryIdentity asks the protocol's dissector (Dissector.Identity),
// looked up once per protocol name.
func (inv *Inventory) registryIdentity(pi uint8, tx *protocols.Transaction) []protocols.IdentityFact {
	p := &inv.protos[pi]
	if !p.idOK {
		p.idOK = true
		if d := protocols.Lookup(p.name); d != nil {
			p.id = d.Identity
		}
	}
	if p.id == nil {
		return nil
	}
	return p.id(tx)
}

// protoIndex interns a protocol name.
func (inv *Inventory) protoIndex(name string) (uint8, bool) {
	for i := range inv.protos {
		if inv.protos[i].name == name {
			return uint8(i), true
		}
	}
	if len(inv.protos) >= maxProtos {
		return 0, false
	}
	inv.protos = append(inv.protos, protoName{name: name})
	return uint8(len(inv.protos) - 1), true
}

// ObservePacket counts a decoded TCP/UDP packet for its source and
// destination hosts and learns the source's MAC and VLAN. It is the
// pipeline's PacketSeen events. Hosts seen only here are tracked (up to
// Limits.MaxHosts) so that an asset created later includes its earlier
// packets; they become assets only through Observe.
func (inv *Inventory) ObservePacket(d *frame.Decoded, frameLen int, timeNano int64, memo *protocols.FlowMemo) {
	inv.version++
	if memo != nil && inv.countInMemo(d, frameLen, timeNano, memo) {
		return
	}
	src, srcOK := inv.notedHost(memo, d.Src, d.Dst, true)
	if srcOK {
		h := &inv.hosts[src]
		h.sent(1, uint64(frameLen), timeNano, timeNano)
		if d.VLAN != 0 && h.VLAN != d.VLAN {
			h.VLAN = d.VLAN
			inv.hostsChanged()
		}
		if d.HasMAC && usableMAC(d.SrcMAC) {
			var fr uint64
			if inv.FrameOf != nil {
				fr = inv.FrameOf()
			}
			inv.bind(src, d.SrcMAC, timeNano, fr)
		}
	}
	dst, dstOK := inv.notedHost(memo, d.Dst, d.Src, false)
	if dstOK {
		inv.hosts[dst].received(1, uint64(frameLen), timeNano, timeNano)
	}
	if memo != nil && srcOK && dstOK {
		inv.noteChecked(d, memo, src, dst)
	}
}

// Observe adds a transaction: its client and server become assets (when
// new), the protocol and side are recorded on each, the client→server link
// counts the op, role evidence and identity facts are updated. It returns
// the events this transaction caused (nil when none).
func (inv *Inventory) Observe(tx *protocols.Transaction) []Event {
	inv.version++
	t := tx.Time()
	ns := t.UnixNano()
	fr := tx.RequestFrame
	if fr == 0 {
		fr = tx.ResponseFrame
	}
	pi, ok := inv.protoIndex(tx.Proto)
	if !ok {
		return nil
	}
	inv.scratch = append(inv.scratch[:0], inv.deferred...)
	inv.deferred = inv.deferred[:0]
	evs := &inv.scratch
	ctx := obsCtx{inv: inv, tx: tx, pi: pi, ns: ns, t: t, frame: fr, evs: evs}
	ci, chi, cNew := ctx.assetFor(&tx.Client, sideClient)
	si, shi, sNew := ctx.assetFor(&tx.Server, sideServer)
	if chi >= 0 {
		// the server's MAC binding may have split the client's asset (one MAC)
		ci = int(inv.hosts[chi].Asset)
	}

	serverPort := tx.Server.Port
	if ci >= 0 {
		c := inv.assets[ci]
		c.touch(ns)
		port := uint16(0)
		if tx.Client.Port == serverPort {
			port = serverPort // a fixed client port (DNP3 20000→20000)
		}
		ev := inv.ev(chi)
		if ev.useProto(pi, sideClient, port, fr, ns) && !cNew && !inv.otherHasPair(c, chi, pi, sideClient) {
			*evs = append(*evs, ctx.event(NewProtocol, c.ID, "", "asset %s now speaks %s as a client", c.ID, tx.Proto))
		}
		ev.clientEvidence(tx, inv.classes.Of(tx), fr, &inv.readHashes)
	}
	if si >= 0 {
		s := inv.assets[si]
		s.touch(ns)
		if inv.ev(shi).useProto(pi, sideServer, serverPort, fr, ns) && !sNew && !inv.otherHasPair(s, shi, pi, sideServer) {
			*evs = append(*evs, ctx.event(NewProtocol, s.ID, "", "asset %s now serves %s on port %d", s.ID, tx.Proto, serverPort))
		}
	}
	if ci >= 0 && si >= 0 { // a self link (client and server on one host) is kept
		inv.countLink(&ctx, int32(ci), int32(si))
	}
	if facts := inv.identity(pi, tx); len(facts) > 0 {
		for _, f := range facts {
			ai, hi := si, shi
			if f.OfClient {
				ai, hi = ci, chi
			}
			// a host that is its own client runs two applications (an
			// OPC UA client beside its server): the host's identity is
			// its server's, and the client's description conflicts with nothing
			if ai < 0 || (f.OfClient && ci == si) {
				continue
			}
			a := inv.assets[ai]
			// Provenance: the message that carried the fact, the request
			// for a client's, the response for a server's.
			ffr, fns := tx.ResponseFrame, tx.ResponseTime.UnixNano()
			if f.OfClient || ffr == 0 {
				ffr, fns = tx.RequestFrame, tx.RequestTime.UnixNano()
			}
			if ffr == 0 {
				ffr, fns = fr, ns
			}
			if !inv.ev(hi).addIdentity(f, pi, ffr, fns) {
				continue
			}
			val := f.Value
			if len(val) > maxIdentityValue {
				val = val[:maxIdentityValue]
			}
			for _, h := range a.Hosts {
				if old, ok := inv.ev(h).otherValue(f.Field, val); ok {
					newShown, oldShown, pos := clipDiff(f.Value, old)
					*evs = append(*evs, ctx.event(IdentityConflict, a.ID, "",
						"asset %s reports %s %q (%s frame %d) but %q was seen before (they differ from character %d)", a.ID, f.Field,
						newShown, tx.Proto, ffr, oldShown, pos))
					break
				}
			}
		}
	}
	*evs = append(*evs, inv.deferred...) // raised by this call's MAC bindings
	inv.deferred = inv.deferred[:0]
	if len(*evs) == 0 {
		return nil
	}
	return append([]Event(nil), *evs...)
}

// ev returns a host's evidence, creating it.
func (inv *Inventory) ev(hi int32) *evidence {
	h := &inv.hosts[hi]
	if h.Ev == nil {
		h.Ev = &evidence{}
	}
	return h.Ev
}

// otherHasPair: another address of the asset already shows (proto, side).
func (inv *Inventory) otherHasPair(a *asset, hi int32, pi, side uint8) bool {
	for _, h := range a.Hosts {
		if h != hi && inv.hosts[h].Ev != nil && inv.hosts[h].Ev.hasPair(pi, side) {
			return true
		}
	}
	return false
}

// countLink adds the transaction's op to the client→server link.
func (inv *Inventory) countLink(ctx *obsCtx, ci, si int32) {
	key := linkKey{Client: ci, Server: si, Proto: ctx.pi}
	c := inv.assets[ci]
	pos, li, ok := c.findOut(key)
	if !ok {
		if len(inv.links) >= inv.limits.MaxLinks {
			inv.stats.LinksDropped++
			if !inv.linkLimitHit {
				inv.linkLimitHit = true
				*ctx.evs = append(*ctx.evs, ctx.event(LimitReached, inv.assets[si].ID, inv.assets[ci].ID,
					"link limit %d reached: further new links are not inventoried", inv.limits.MaxLinks))
			}
			return
		}
		li = int32(len(inv.links))
		inv.links = append(inv.links, link{Key: key, First: ctx.ns, Last: ctx.ns, FirstFrame: ctx.frame})
		c.insertOut(pos, key, li)
		s := inv.assets[si]
		*ctx.evs = append(*ctx.evs, ctx.event(NewLink, s.ID, c.ID, "new %s link from %s to %s", ctx.tx.Proto, c.ID, s.ID))
	}
	l := &inv.links[li]
	if op := int(ctx.tx.Op); op < numOps && l.Ops[op] != ^uint32(0) {
		l.Ops[op]++
	}
	if ctx.ns > l.Last {
		l.Last = ctx.ns
	}
	if ctx.ns < l.First {
		l.First = ctx.ns
	}
}

// obsCtx carries one Observe call's data to its helpers.
type obsCtx struct {
	inv   *Inventory
	tx    *protocols.Transaction
	pi    uint8
	ns    int64
	t     time.Time
	frame uint64
	evs   *[]Event
}

func (c *obsCtx) event(kind EventKind, asset, peer, format string, args ...any) Event {
	return Event{Kind: kind, Time: c.t, Frame: c.frame, Asset: asset, Peer: peer, Proto: c.tx.Proto,
		Message: sprintf(format, args...)}
}

// usableMAC: not all-zero (loopback and some capture tools), not a group address.
func usableMAC(m [6]byte) bool {
	return m != [6]byte{} && m[0]&1 == 0
}

// usable reports whether an address can name a host: a unicast address.
func usable(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() {
		return false
	}
	if ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	return true
}

// StateVersion changes whenever the saved state may have (store.Versioned).
func (inv *Inventory) StateVersion() uint64 { return inv.version }
