// Package scan finds reconnaissance in the packets a SPAN port shows: TCP
// port scans and sweeps (connection attempts that many distinct host:port
// targets refuse or leave unanswered) and ARP sweeps (requests for many
// addresses that do not exist). It complements the alert engine's `scan`,
// which sees only what speaks an ICS protocol: an nmap run against a PLC
// mostly touches ports nothing answers on.
//
// Only failures count. Plant clients open few connections and keep them,
// and every one of them succeeds, so a SCADA master polling 200 RTUs is
// not a scan. A pair (client, server, port) that ever connected is known
// good and never counts, which keeps a master's reconnect storm after an
// outage quiet.
package scan

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/otwatch/otwatch/protocols/frame"
)

// Config tunes the detector. Zero values take the defaults.
type Config struct {
	Window        time.Duration // failures are counted per source over this long (60 s)
	AnswerTimeout time.Duration // a SYN or ARP request unanswered this long failed (3 s)
	PortThreshold int           // distinct host:port targets failed by one source (16)
	ARPThreshold  int           // distinct non-existent addresses asked by one source (16)
	MaxSources    int           // sources tracked at once (4096)
	MaxPending    int           // attempts awaiting an answer per source (512)
	MaxKnown      int           // known-good client/server/port triples (65536)
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
	if c.ARPThreshold <= 0 {
		c.ARPThreshold = 16
	}
	if c.MaxSources <= 0 {
		c.MaxSources = 4096
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 512
	}
	if c.MaxKnown <= 0 {
		c.MaxKnown = 65536
	}
	return c
}

// Finding is one scan found.
type Finding struct {
	Kind    string // port_scan or arp_sweep
	Time    time.Time
	Source  netip.Addr
	Hosts   int      // distinct hosts among the failed targets
	Ports   int      // distinct ports among them (port_scan)
	Frames  []uint64 // the first failed attempts: the evidence
	Message string
}

type target struct {
	ip   netip.Addr
	port uint16 // 0 for ARP
}

type attempt struct {
	at    int64
	frame uint64
}

// source is one scanning suspect's window.
type source struct {
	start    int64
	pending  map[target]attempt // TCP SYNs and ARP requests awaiting an answer
	failed   map[target]struct{}
	arpMiss  map[netip.Addr]struct{}
	frames   []uint64 // of the failed attempts, first 8
	arpFrame []uint64
	portSeen bool // port_scan raised in this window
	arpSeen  bool
}

type known struct {
	client, server netip.Addr
	port           uint16
}

// Detector is fed by the pipeline's goroutine; it is not safe for concurrent use.
type Detector struct {
	cfg       Config
	sources   map[netip.Addr]*source
	known     map[known]struct{}
	alive     map[netip.Addr]int64 // addresses seen sending, last time
	lastSweep int64
	out       []Finding
	// Heard, when set, says when an address last sent anything (the
	// inventory knows); the detector then keeps no list of its own.
	Heard func(ip netip.Addr) (ns int64, ok bool)
	// Dropped counts attempts not tracked because a limit was reached.
	Dropped uint64
}

// New returns an empty detector.
func New(cfg Config) *Detector {
	return &Detector{cfg: cfg.withDefaults(), sources: map[netip.Addr]*source{}, known: map[known]struct{}{},
		alive: map[netip.Addr]int64{}}
}

const maxAlive = 65536

// ObservePacket looks at one decoded TCP/UDP packet (the pipeline's OnPacket).
func (d *Detector) ObservePacket(p *frame.Decoded, frameNo uint64, ns int64) []Finding {
	d.out = d.out[:0]
	d.markAlive(p.Src, ns)
	if p.IPProto == frame.ProtoTCP {
		syn, ack, rst := p.Flags&frame.FlagSYN != 0, p.Flags&frame.FlagACK != 0, p.Flags&frame.FlagRST != 0
		switch {
		case syn && !ack:
			d.attempt(p.Src, target{p.Dst, p.DstPort}, frameNo, ns)
		case syn && ack: // the server answered: a connection, and a known-good pair
			if s := d.sources[p.Dst]; s != nil {
				delete(s.pending, target{p.Src, p.SrcPort})
			}
			if len(d.known) < d.cfg.MaxKnown {
				d.known[known{p.Dst, p.Src, p.SrcPort}] = struct{}{}
			}
		case rst: // refused
			if s := d.sources[p.Dst]; s != nil {
				t := target{p.Src, p.SrcPort}
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
func (d *Detector) Advance(ns int64) []Finding {
	d.out = d.out[:0]
	d.sweep(ns)
	return d.findings()
}

// ObserveARP looks at one ARP packet (the pipeline's OnARP).
func (d *Detector) ObserveARP(p *frame.Decoded, frameNo uint64, ns int64) []Finding {
	d.out = d.out[:0]
	a := &p.ARP
	if a.Valid && a.SenderIP.IsValid() && !a.SenderIP.IsUnspecified() {
		d.markAlive(a.SenderIP, ns)
		if a.Op == frame.ARPRequest && a.TargetIP != a.SenderIP && a.TargetIP.IsValid() {
			d.attempt(a.SenderIP, target{ip: a.TargetIP}, frameNo, ns)
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

func (d *Detector) attempt(src netip.Addr, t target, frameNo uint64, ns int64) {
	if t.port != 0 {
		if _, ok := d.known[known{src, t.ip, t.port}]; ok {
			return
		}
	}
	s := d.sources[src]
	if s == nil {
		if len(d.sources) >= d.cfg.MaxSources {
			d.Dropped++
			return
		}
		s = &source{start: ns, pending: map[target]attempt{}, failed: map[target]struct{}{}, arpMiss: map[netip.Addr]struct{}{}}
		d.sources[src] = s
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
		s.start, s.portSeen, s.arpSeen, s.frames, s.arpFrame = a.at, false, false, nil, nil
		clear(s.failed)
		clear(s.arpMiss)
	}
	if t.port == 0 {
		s.arpMiss[t.ip] = struct{}{}
		if len(s.arpFrame) < 8 {
			s.arpFrame = append(s.arpFrame, a.frame)
		}
		if len(s.arpMiss) >= d.cfg.ARPThreshold && !s.arpSeen {
			s.arpSeen = true
			d.out = append(d.out, Finding{Kind: "arp_sweep", Time: time.Unix(0, ns).UTC(), Source: src, Hosts: len(s.arpMiss),
				Frames: append([]uint64(nil), s.arpFrame...),
				Message: fmt.Sprintf("%s asked ARP for at least %d addresses that do not exist within %s: a sweep for hosts",
					src, len(s.arpMiss), time.Duration(ns-s.start).Round(time.Millisecond))})
		}
		return
	}
	s.failed[t] = struct{}{}
	if len(s.frames) < 8 {
		s.frames = append(s.frames, a.frame)
	}
	if len(s.failed) >= d.cfg.PortThreshold && !s.portSeen {
		s.portSeen = true
		hosts, ports := map[netip.Addr]struct{}{}, map[uint16]struct{}{}
		for t := range s.failed {
			hosts[t.ip], ports[t.port] = struct{}{}, struct{}{}
		}
		what := fmt.Sprintf("%d ports on %s", len(ports), oneOf(hosts))
		if len(hosts) > 1 {
			what = fmt.Sprintf("%d hosts on %d ports", len(hosts), len(ports))
		}
		d.out = append(d.out, Finding{Kind: "port_scan", Time: time.Unix(0, ns).UTC(), Source: src, Hosts: len(hosts), Ports: len(ports),
			Frames: append([]uint64(nil), s.frames...),
			Message: fmt.Sprintf("%s tried at least %s within %s, refused or unanswered: a port scan",
				src, what, time.Duration(ns-s.start).Round(time.Millisecond))})
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
		for t, a := range s.pending {
			if ns-a.at < timeout {
				continue
			}
			delete(s.pending, t)
			if t.port == 0 {
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

func (d *Detector) findings() []Finding {
	if len(d.out) == 0 {
		return nil
	}
	sort.SliceStable(d.out, func(i, j int) bool { return d.out[i].Source.Less(d.out[j].Source) })
	return append([]Finding(nil), d.out...)
}

// The known-good pairs are the state worth keeping across restarts: the
// rest is a minute's window.
type knownJSON struct {
	Client netip.Addr `json:"c"`
	Server netip.Addr `json:"s"`
	Port   uint16     `json:"p"`
}

// MarshalState saves the known-good client/server/port triples.
func (d *Detector) MarshalState() ([]byte, error) {
	list := make([]knownJSON, 0, len(d.known))
	for k := range d.known {
		list = append(list, knownJSON{k.client, k.server, k.port})
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.Client != b.Client {
			return a.Client.Less(b.Client)
		}
		if a.Server != b.Server {
			return a.Server.Less(b.Server)
		}
		return a.Port < b.Port
	})
	return json.Marshal(list)
}

// UnmarshalState restores them.
func (d *Detector) UnmarshalState(b []byte) error {
	var list []knownJSON
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("scan state: %w", err)
	}
	d.known = make(map[known]struct{}, len(list))
	for _, k := range list {
		if !k.Client.IsValid() || !k.Server.IsValid() {
			return fmt.Errorf("scan state: invalid address in %+v", k)
		}
		if len(d.known) < d.cfg.MaxKnown {
			d.known[known{k.Client, k.Server, k.Port}] = struct{}{}
		}
	}
	return nil
}
