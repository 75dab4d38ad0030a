package main

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/conversations"
	"github.com/otwatch/otwatch/learning/dhcp"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/scan"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/learning/zones"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/frame"
	"github.com/otwatch/otwatch/protocols/lldp"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// monitor is what `read` and `run` share: inventory, baselines and alerts,
// fed by one pipeline, saved as one set of components.
type monitor struct {
	inv    *inventory.Inventory
	model  *baseline.Model
	engine *alerts.Engine
	scans  *scan.Detector
	convs  *conversations.Detector
	dhcp   *dhcp.Watch
	zones  *zones.Policy // nil: no zones configured
	peers  baseline.Peers
	vulns  *vulns // imported advisories and the vulnerable_asset watch (advisories.go)
	// onTx, when set, also gets every transaction (the dashboard's time series)
	onTx func(*protocols.Transaction)
	// logf, when set, says what internal error was survived (the daemon's
	// log, read's stderr); panics counts them (internalerror.go)
	logf   func(format string, args ...any)
	panics uint64
}

// setZones places assets in the configured zones and checks conduits from now on.
func (m *monitor) setZones(p *zones.Policy) {
	m.zones = p
	m.inv.ZoneOf = zoneLookup(p)
}

// zoneLookup is the inventory's view of a zones policy (nil for none).
func zoneLookup(p *zones.Policy) func(netip.Addr) (string, int, bool) {
	if p == nil {
		return nil
	}
	return func(ip netip.Addr) (string, int, bool) {
		z, ok := p.ZoneOf(ip)
		return z.Name, z.Level, ok
	}
}

func newMonitor(cfg baseline.Config, limits inventory.Limits, sink func(*alerts.Alert)) *monitor {
	m := &monitor{inv: inventory.New(limits), model: baseline.New(cfg), scans: scan.New(scan.Config{})}
	m.scans.Heard = m.inv.LastHeard
	m.convs = conversations.New(0)
	m.convs.Learning, m.convs.Controller = m.model.NetworkLearning, m.inv.Controller
	m.scans.Known = func(client, server netip.Addr, port uint16) bool {
		return m.convs.Known(client, server, frame.ProtoTCP, port)
	}
	m.dhcp = dhcp.New()
	m.dhcp.Learning = m.model.NetworkLearning
	m.dhcp.Leased = func(ip netip.Addr, now time.Time) { m.model.LearnHost(ip, now) }
	m.engine = alerts.NewEngine(alerts.Config{}, m.model, sink)
	m.engine.OnMarkNormal = m.acceptARP
	m.vulns = newVulns()
	return m
}

func (m *monitor) components() map[string]store.Component {
	return map[string]store.Component{"inventory": m.inv, "baseline": m.model, "alerts": m.engine,
		"conversations": m.convs, "dhcp": m.dhcp, "vulnerable": m.vulns.watch}
}

// attach feeds the monitor from a pipeline: transactions (the sink, set by
// the caller) to the inventory and the alert engine, and the pipeline's
// network stream to the inventory and the network detectors.
func (m *monitor) attach(p *pipeline.Pipeline) {
	p.Events = m.network
	p.OnConsumerPanic, p.OnFramePanic = m.consumerPanic, m.framePanic
	m.inv.FrameOf = p.Frames
}

// network takes the pipeline's second output, its network stream: packets
// to the inventory's counters, the DHCP watch and the scan detector; ARP,
// ICMP, LLDP and conversations to the detectors that watch them.
func (m *monitor) network(e *pipeline.Event) {
	d, ns := e.Decoded, e.Time
	m.model.Heard(ns) // the feed is alive: absent polls count (Tick)
	switch e.Kind {
	case pipeline.PacketSeen:
		m.inv.ObservePacket(d, e.Len, ns, e.Memo)
		m.model.LearnFlowHost(d.Src, d.Dst, ns, e.Memo)
		m.raise(m.scans.ObservePacket(d, e.Frame, ns))
		m.raise(m.dhcp.ObservePacket(d, e.Frame, ns))
	case pipeline.ARPSeen:
		m.observeARP(d, e.Frame, ns)
	case pipeline.ConversationAnswered:
		m.observeConversation(e.Client, e.Server, e.IPProto, e.Frame, ns)
	case pipeline.ConversationPickedUp:
		m.raise(m.convs.ObservePickedUp(e.Client, e.Server, e.IPProto, e.Frame, ns))
	case pipeline.LLDPSeen:
		if in, err := lldp.Parse(d.LLDP); err == nil && d.HasMAC {
			m.inv.ObserveLLDP(d.SrcMAC, in, e.Frame, ns)
			for _, ip := range in.MgmtAddrs {
				m.learnHost(ip, ns)
			}
		}
	case pipeline.ICMPSeen:
		m.learnHost(d.Src, ns)
		m.raise(m.scans.ObserveICMP(d, e.Frame, ns))
	case pipeline.FlowEnded:
		m.inv.FlushMemo(e.Memo)
	}
}

// learnHost adds a host that sent something to the known-host set while
// the network learns (baseline.Model.LearnHost).
func (m *monitor) learnHost(ip netip.Addr, ns int64) { m.model.LearnHost(ip, time.Unix(0, ns).UTC()) }

// observeConversation takes the network stream's answered conversations: new
// conversations with (or from) a controller, once the network is learned.
func (m *monitor) observeConversation(client, server netip.AddrPort, proto uint8, frameNo uint64, ns int64) {
	m.inv.ObserveService(server, proto)
	m.raise(m.convs.Observe(client, server, proto, frameNo, ns))
}

// raise alerts what a detector found.
func (m *monitor) raise(found []finding.Finding) {
	for _, f := range found {
		m.engine.Raise(f)
	}
}

// advance moves the detectors' packet time on a quiet network.
func (m *monitor) advance(ns int64) { m.raise(m.scans.Advance(ns)) }

// observeARP takes the network stream's ARP packets: the inventory's ARP
// watch, whose findings are alerts keyed by the address and its two MACs
// (in order, so flips either way fold together).
func (m *monitor) observeARP(d *frame.Decoded, frameNo uint64, ns int64) {
	m.raise(m.scans.ObserveARP(d, frameNo, ns))
	m.learnHost(d.ARP.SenderIP, ns)
	if now := time.Unix(0, ns).UTC(); d.ARP.Op == frame.ARPRequest && m.model.NetworkLearning(now) &&
		m.peers.Ask(d.ARP.SenderIP, d.ARP.TargetIP, now) {
		m.model.LearnHost(d.ARP.TargetIP, now) // a peer the host keeps resolving
	}
	for _, ev := range m.inv.ObserveARP(d, frameNo, ns) {
		if ev.Kind == inventory.NewHost {
			// a device on the segment the network learned without: a
			// transient laptop, a rogue box. A host that sent anything
			// while the network learned is no new device, however late
			// its first ARP (an RTU polled all day keeps its ARP cache).
			if !m.model.NetworkLearning(ev.Time) && !m.model.KnownHost(d.ARP.SenderIP) {
				m.engine.Raise(finding.Finding{Key: finding.NewKey("new_host", ev.IP), Time: ev.Time, Asset: ev.IP,
					Source: &finding.Host{IP: ev.IP, MAC: ev.MAC}, Frames: []uint64{ev.Frame}, Message: ev.Message})
			}
			continue
		}
		macs := []string{ev.MAC, ev.OldMAC}
		sort.Strings(macs)
		// the claimer acts: filed under its own address when known, so an
		// attacker's new_host, scans and spoofing make one incident
		var source *finding.Host
		if ev.By != "" {
			source = &finding.Host{IP: ev.By, MAC: ev.MAC}
		}
		// the address claimed, at the MAC that held it: the host whose traffic is diverted
		claimed := &finding.Host{IP: ev.IP, MAC: ev.OldMAC}
		m.engine.Raise(finding.Finding{Key: finding.NewKey(ev.Kind.String(), ev.IP, macs[0], macs[1]), Time: ev.Time, Asset: ev.IP,
			Source: source, Dest: claimed, Frames: []uint64{ev.Frame}, Message: ev.Message})
	}
}

// acceptARP: an ARP watch alert marked normal lets the address move
// between its two MACs from now on.
func (m *monitor) acceptARP(a *alerts.Alert) {
	if a.Kind != inventory.MACChanged.String() && a.Kind != inventory.ARPSpoofing.String() {
		return
	}
	k, _ := finding.ParseKey(a.Key, 0) // the address, its two MACs
	if len(k.Parts) != 3 {
		return
	}
	ip, err := netip.ParseAddr(k.Parts[0])
	if err != nil {
		return
	}
	var macs [][6]byte
	for _, s := range k.Parts[1:] {
		if hw, err := net.ParseMAC(s); err == nil && len(hw) == 6 {
			macs = append(macs, [6]byte(hw))
		}
	}
	m.inv.AcceptMACs(ip, macs...)
}

// observe is the pipeline's transaction sink.
func (m *monitor) observe(tx *protocols.Transaction) {
	for _, ev := range m.inv.Observe(tx) {
		switch ev.Kind {
		case inventory.IdentityConflict:
			// the device that reported the new identity is the destination
			dev := tx.Server
			if id, ok := m.inv.AssetID(tx.Client.IP); ok && id == ev.Asset {
				dev = tx.Client
			}
			m.engine.Raise(finding.Finding{Key: finding.NewKey("identity_conflict", ev.Asset, ev.Proto), Time: ev.Time, Asset: dev.IP.String(),
				Dest: &finding.Host{IP: dev.IP.String(), Port: dev.Port}, Frames: []uint64{ev.Frame}, Message: ev.Message})
		case inventory.LimitReached:
			m.engine.Raise(finding.Finding{Key: finding.NewKey("limit_reached", "inventory", ev.Message), Time: ev.Time, Message: ev.Message})
		}
	}
	if f, bad := m.zones.Check(tx); bad {
		m.engine.Raise(f)
	}
	m.engine.Observe(tx)
	if m.onTx != nil {
		m.onTx(tx)
	}
}

// summary is the learning part of the end-of-run summary. raised is the
// number of alerts the sink received: the engine counts each of them by
// kind (a summary of folded repeats too), so the kinds add up to it, as
// they do on the dashboard, in /metrics and in alerts list.
func (m *monitor) summary(raised int) string {
	kinds := make([]string, 0, len(m.engine.Raised))
	for k, n := range m.engine.Raised {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	assets, links := m.inv.Len()
	var b strings.Builder
	fmt.Fprintf(&b, "  inventory     %s, %s\n", plural(assets, "asset", "assets"), plural(links, "link", "links"))
	fmt.Fprintf(&b, "  alerts        %s", plural(raised, "alert", "alerts"))
	if len(kinds) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(kinds, " "))
	}
	if f := int(m.engine.Folded); f > 0 {
		fmt.Fprintf(&b, "; %s folded into them", plural(f, "repeat", "repeats"))
	}
	fmt.Fprintf(&b, "\n  baseline      %s, %s\n", plural(m.model.AssetCount(), "asset", "assets"), plural(m.model.Keys(), "key", "keys"))
	return b.String() + m.detectionSummary()
}

// detectionSummary says whether behaviour alerts could be raised: how many
// assets detect, how many still learn and until when, and what to do when
// none detects.
func (m *monitor) detectionSummary() string {
	now := m.model.LastSeen()
	st := m.model.Status(now)
	n := st.Learning + st.Detecting
	howTo := "learn on a first capture with --mode learn --db state.db, then read what follows with --mode detect --db state.db"
	switch {
	case n == 0:
		return ""
	case m.model.Config().Mode == baseline.ModeLearn:
		return fmt.Sprintf("  detection     off: --mode learn only learns (%s learned); no behaviour alert could be raised. To detect, read what follows with --mode detect and the same --db\n",
			plural(n, "asset", "assets"))
	case st.Detecting == 0:
		return fmt.Sprintf("  detection     off: %s still learning at the end (until %s at the earliest); no behaviour alert could be raised. To detect, %s\n",
			plural(n, "asset was", "assets were"), st.LearningUntil.UTC().Format(time.RFC3339), howTo)
	case st.Learning > 0:
		return fmt.Sprintf("  detection     %s detecting; %s still learning (until %s at the earliest)\n",
			plural(st.Detecting, "asset", "assets"), plural(st.Learning, "asset", "assets"), st.LearningUntil.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("  detection     on for %s\n", plural(st.Detecting, "asset", "assets"))
}

// plural writes "1 asset" or "3 assets".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
