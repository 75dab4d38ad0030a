// Package scan finds reconnaissance in the packets a SPAN port shows: port
// scans and sweeps (TCP connection attempts that many distinct host:port
// targets refuse or leave unanswered, UDP probes refused with ICMP port
// unreachable) and host sweeps (ARP requests and pings for many addresses
// that do not exist). It complements the alert engine's `scan`,
// which sees only what speaks an ICS protocol: an nmap run against a PLC
// mostly touches ports nothing answers on.
//
// Only failures count, and only attempts on one host: a broadcast,
// multicast or unspecified address (or a datagram to the link's broadcast
// MAC) is never a target. Plant clients open few connections and keep them,
// and every one of them succeeds, so a SCADA master polling 200 RTUs is
// not a scan. A pair (client, server, port) that ever connected is known
// good and never counts (Detector.Known: learning/conversations remembers
// them), which keeps a master's reconnect storm after an outage quiet.
package scan

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/protocols/frame"
)

// Config tunes the detector. Zero values take the defaults.
type Config struct {
	Window         time.Duration // failures are counted per source over this long (60 s)
	AnswerTimeout  time.Duration // a SYN or ARP request unanswered this long failed (3 s)
	PortThreshold  int           // distinct host:port targets failed by one source (16)
	SweepThreshold int           // distinct non-existent addresses asked by one source, ARP or ping (16)
	MaxSources     int           // sources tracked at once (4096)
	MaxPending     int           // attempts awaiting an answer per source (512)
}

func (c Config) withDefaults() Config {
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.AnswerTimeout <= 0 {
		c.AnswerTimeout = 3 * time.Second
	}
	if c.PortThreshold <= 0 {
		c.PortThreshold = 16
	}
	if c.SweepThreshold <= 0 {
		c.SweepThreshold = 16
	}
	if c.MaxSources <= 0 {
		c.MaxSources = 4096
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 512
	}
	return c
}

// found is a scan found, with its source for ordering.
type found struct {
	src netip.Addr
	f   finding.Finding
}

// newFinding is a scan by src (of the one host only, when valid), keyed by
// its source: the scanner's repeats fold, whatever it scans next.
func newFinding(kind string, ns int64, src, only netip.Addr, hosts, ports int, frames []uint64, msg string) found {
	f := finding.Finding{Key: finding.NewKey(kind, src.String()), Time: time.Unix(0, ns).UTC(), Asset: src.String(),
		Source: finding.HostOf(src), Hosts: hosts, Ports: ports, Frames: frames, Message: msg}
	if only.IsValid() { // one host scanned: it is the asset concerned
		f.Asset, f.Dest = only.String(), finding.HostOf(only)
	}
	return found{src, f}
}

// target is what one attempt tried: a TCP or UDP port of a host, or
// (proto 0: ARP, 1: ping) whether an address exists at all.
type target struct {
	ip    netip.Addr
	proto uint8
	port  uint16
}

const (
	probeARP  = 0
	probePing = frame.ProtoICMP
)

// sweep: the attempt asks whether a host exists rather than for a service.
func (t target) sweep() bool { return t.proto == probeARP || t.proto == probePing }

type attempt struct {
	at    int64
	frame uint64
}

type pendingAttempt struct {
	t target
	a attempt
}

// source is one scanning suspect's window.
type source struct {
	start      int64
	pending    map[target]attempt // TCP SYNs and ARP requests awaiting an answer
	failed     map[target]struct{}
	missing    map[netip.Addr]struct{} // addresses asked for that do not exist
	frames     []uint64                // of the failed attempts, first 8
	sweepFrame []uint64
	portSeen   bool // port_scan raised in this window
	sweepSeen  bool
}

// Detector is fed by the pipeline's goroutine; it is not safe for concurrent use.
type Detector struct {
	cfg       Config
	sources   map[netip.Addr]*source
	alive     map[netip.Addr]int64 // addresses seen sending, last time
	lastSweep int64
	expired   []pendingAttempt // sweep's scratch
	out       []found
	// Heard, when set, says when an address last sent anything (the
	// inventory knows); the detector then keeps no list of its own.
	Heard func(ip netip.Addr) (ns int64, ok bool)
	// Known, when set, says whether client ever connected to server's TCP
	// port (learning/conversations keeps that): such an attempt is no probe.
	Known func(client, server netip.Addr, port uint16) bool
	// Dropped counts attempts not tracked because a limit was reached.
	Dropped uint64
}

// New returns an empty detector.
func New(cfg Config) *Detector {
	return &Detector{cfg: cfg.withDefaults(), sources: map[netip.Addr]*source{},
		alive: map[netip.Addr]int64{}}
}

const maxAlive = 65536

// ObservePacket looks at one decoded TCP/UDP packet (the pipeline's PacketSeen).
func (d *Detector) ObservePacket(p *frame.Decoded, frameNo uint64, ns int64) []finding.Finding {
	d.out = d.out[:0]
	d.markAlive(p.Src, ns)
	if p.IPProto == frame.ProtoTCP {
		syn, ack, rst := p.Flags&frame.FlagSYN != 0, p.Flags&frame.FlagACK != 0, p.Flags&frame.FlagRST != 0
		switch {
		case syn && !ack && p.ToOneHost():
			d.attempt(p.Src, target{p.Dst, frame.ProtoTCP, p.DstPort}, frameNo, ns)
		case syn && ack: // the server answered: a connection
			if s := d.sources[p.Dst]; s != nil {
				delete(s.pending, target{p.Src, frame.ProtoTCP, p.SrcPort})
			}
		case rst: // refused
			if s := d.sources[p.Dst]; s != nil {
				t := target{p.Src, frame.ProtoTCP, p.SrcPort}
				if a, ok := s.pending[t]; ok {
					delete(s.pending, t)
					d.fail(p.Dst, s, t, a, ns)
				}
			}
		}
	}
	d.sweep(ns)
	return d.findings()
}

// Advance moves packet time on without a packet (a quiet live network):
// attempts left unanswered fail.
func (d *Detector) Advance(ns int64) []finding.Finding {
	d.out = d.out[:0]
	d.sweep(ns)
	return d.findings()
}

// ObserveICMP looks at one ICMP message (the pipeline's ICMPSeen): a ping is
// an attempt its echo reply answers; a port unreachable refuses a UDP probe.
func (d *Detector) ObserveICMP(p *frame.Decoded, frameNo uint64, ns int64) []finding.Finding {
	d.out = d.out[:0]
	m := &p.ICMP
	switch {
	case m.Echo():
		// a ping to a subnet's broadcast address or a group asks no one host
		if p.ToOneHost() {
			d.attempt(p.Src, target{p.Dst, probePing, 0}, frameNo, ns)
		}
	case m.EchoReply():
		if s := d.sources[p.Dst]; s != nil {
			delete(s.pending, target{p.Src, probePing, 0})
		}
	case m.PortUnreachable() && m.OrigProto == frame.ProtoUDP && m.OrigDst == p.Src && frame.UnicastHost(p.Src):
		// refused at once; a UDP client retrying one dead service stays one
		// target. Only the destination host itself refuses a port (RFC 1122
		// 3.2.2.1): an unreachable from another host is about a datagram to
		// a group (hosts that answer broadcasts) and refuses no target.
		src, t := m.OrigSrc, target{m.OrigDst, frame.ProtoUDP, m.OrigDstPort}
		if s := d.source(src, ns); s != nil {
			d.fail(src, s, t, attempt{at: ns, frame: frameNo}, ns)
		}
	}
	d.sweep(ns)
	return d.findings()
}

// ObserveARP looks at one ARP packet (the pipeline's ARPSeen).
func (d *Detector) ObserveARP(p *frame.Decoded, frameNo uint64, ns int64) []finding.Finding {
	d.out = d.out[:0]
	a := &p.ARP
	if a.Valid && a.SenderIP.IsValid() && !a.SenderIP.IsUnspecified() {
		d.markAlive(a.SenderIP, ns)
		if a.Op == frame.ARPRequest && a.TargetIP != a.SenderIP && frame.UnicastHost(a.TargetIP) {
			d.attempt(a.SenderIP, target{ip: a.TargetIP, proto: probeARP}, frameNo, ns)
		}
	}
	d.sweep(ns)
	return d.findings()
}

func (d *Detector) markAlive(ip netip.Addr, ns int64) {
	if d.Heard != nil {
		return
	}
	if _, ok := d.alive[ip]; ok || len(d.alive) < maxAlive {
		d.alive[ip] = ns
	}
}

func (d *Detector) heard(ip netip.Addr) (int64, bool) {
	if d.Heard != nil {
		return d.Heard(ip)
	}
	ns, ok := d.alive[ip]
	return ns, ok
}

// source is src's window, made on its first attempt (nil at the limit).
func (d *Detector) source(src netip.Addr, ns int64) *source {
	s := d.sources[src]
	if s == nil {
		if len(d.sources) >= d.cfg.MaxSources {
			d.Dropped++
			return nil
		}
		s = &source{start: ns, pending: map[target]attempt{}, failed: map[target]struct{}{}, missing: map[netip.Addr]struct{}{}}
		d.sources[src] = s
	}
	return s
}

func (d *Detector) attempt(src netip.Addr, t target, frameNo uint64, ns int64) {
	if t.proto == frame.ProtoTCP && d.Known != nil && d.Known(src, t.ip, t.port) {
		return
	}
	s := d.source(src, ns)
	if s == nil {
		return
	}
	if _, ok := s.pending[t]; ok {
		return // a retransmitted SYN or repeated request
	}
	if len(s.pending) >= d.cfg.MaxPending {
		d.Dropped++
		return
	}
	s.pending[t] = attempt{at: ns, frame: frameNo}
}

// fail counts a failed attempt and raises a finding at the threshold.
func (d *Detector) fail(src netip.Addr, s *source, t target, a attempt, ns int64) {
	if ns-s.start > int64(d.cfg.Window) { // a new window
		s.start, s.portSeen, s.sweepSeen, s.frames, s.sweepFrame = a.at, false, false, nil, nil
		clear(s.failed)
		clear(s.missing)
	}
	if t.sweep() {
		s.missing[t.ip] = struct{}{}
		if len(s.sweepFrame) < 8 {
			s.sweepFrame = append(s.sweepFrame, a.frame)
		}
		if len(s.missing) >= d.cfg.SweepThreshold && !s.sweepSeen {
			s.sweepSeen = true
			how := "asked ARP for"
			if t.proto == probePing {
				how = "pinged"
			}
			d.out = append(d.out, newFinding("host_sweep", ns, src, netip.Addr{}, len(s.missing), 0, append([]uint64(nil), s.sweepFrame...),
				fmt.Sprintf("%s %s at least %d addresses that do not exist within %s: a sweep for hosts",
					src, how, len(s.missing), time.Duration(ns-s.start).Round(time.Millisecond))))
		}
		return
	}
	s.failed[t] = struct{}{}
	if len(s.frames) < 8 {
		s.frames = append(s.frames, a.frame)
	}
	if len(s.failed) >= d.cfg.PortThreshold && !s.portSeen {
		s.portSeen = true
		hosts, ports := map[netip.Addr]struct{}{}, map[[2]uint16]struct{}{}
		protos := map[uint8]bool{}
		for t := range s.failed {
			hosts[t.ip], ports[[2]uint16{uint16(t.proto), t.port}] = struct{}{}, struct{}{}
			protos[t.proto] = true
		}
		kind := "TCP"
		switch {
		case protos[frame.ProtoUDP] && protos[frame.ProtoTCP]:
			kind = "TCP and UDP"
		case protos[frame.ProtoUDP]:
			kind = "UDP"
		}
		what := fmt.Sprintf("%d %s ports on %s", len(ports), kind, oneOf(hosts))
		if len(hosts) > 1 {
			what = fmt.Sprintf("%d hosts on %d %s ports", len(hosts), len(ports), kind)
		}
		var only netip.Addr
		if len(hosts) == 1 {
			only = t.ip
		}
		d.out = append(d.out, newFinding("port_scan", ns, src, only, len(hosts), len(ports), append([]uint64(nil), s.frames...),
			fmt.Sprintf("%s tried at least %s within %s, refused or unanswered: a port scan",
				src, what, time.Duration(ns-s.start).Round(time.Millisecond))))
	}
}

func oneOf(hosts map[netip.Addr]struct{}) string {
	for h := range hosts {
		return h.String()
	}
	return ""
}

// sweep fails the attempts unanswered for AnswerTimeout (an ARP request
// only if its address has not been heard from since) and forgets idle
// sources. It runs once per second of packet time.
func (d *Detector) sweep(ns int64) {
	if ns-d.lastSweep < int64(time.Second) && ns >= d.lastSweep {
		return
	}
	d.lastSweep = ns
	timeout := int64(d.cfg.AnswerTimeout)
	for src, s := range d.sources {
		// The attempts that timed out fail in the order they were made:
		// which frames are kept as evidence, and when a threshold is
		// crossed, must not depend on the map's order.
		expired := d.expired[:0]
		for t, a := range s.pending {
			if ns-a.at >= timeout {
				expired = append(expired, pendingAttempt{t, a})
			}
		}
		slices.SortFunc(expired, func(x, y pendingAttempt) int {
			return cmp.Or(cmp.Compare(x.a.at, y.a.at), cmp.Compare(x.a.frame, y.a.frame))
		})
		d.expired = expired
		for _, e := range expired {
			t, a := e.t, e.a
			delete(s.pending, t)
			if t.sweep() {
				if last, ok := d.heard(t.ip); ok && last >= a.at-int64(d.cfg.Window) {
					continue // it exists: the reply was not mirrored to us
				}
			}
			d.fail(src, s, t, a, ns)
		}
		if len(s.pending) == 0 && ns-s.start > 2*int64(d.cfg.Window) {
			delete(d.sources, src)
		}
	}
}

func (d *Detector) findings() []finding.Finding {
	if len(d.out) == 0 {
		return nil
	}
	sort.SliceStable(d.out, func(i, j int) bool { return d.out[i].src.Less(d.out[j].src) })
	out := make([]finding.Finding, len(d.out))
	for i := range d.out {
		out[i] = d.out[i].f
	}
	return out
}
