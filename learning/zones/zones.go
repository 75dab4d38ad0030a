// Package zones is the plant's segmentation as IEC 62443 draws it: zones
// (address ranges with a Purdue level) and the conduits allowed between
// them. Assets are placed in the zone of their address; a transaction from
// one zone to another that no conduit allows is a violation, learned
// baseline or not, because the policy is the plant's own word.
package zones

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/protocols"
)

// Unzoned names the addresses of no configured zone in conduits and messages.
const Unzoned = "unzoned"

// Protocols are the names a conduit may allow: the records' proto values
// (RECORDS.md) of the registered dissectors.
func Protocols() []string { return protocols.RecordProtocols() }

// Zone is one zone: its networks and, optionally, its Purdue level.
type Zone struct {
	Name     string
	Networks []netip.Prefix
	Level    int // 0..5; -1 when not given
}

// Conduit allows clients in From to use servers in To, in the given
// protocols and ops (empty: any).
type Conduit struct {
	From, To  string
	Protocols []string
	Ops       []protocols.Op
}

// Policy places addresses in zones and checks transactions against the conduits.
type Policy struct {
	zones    []Zone
	conduits []Conduit
	prefixes []placed // every network, most specific first
}

type placed struct {
	prefix netip.Prefix
	zone   int
}

// New checks and indexes a policy: zone names unique, every network valid,
// no network in two zones, conduits naming known zones and protocols.
func New(zones []Zone, conduits []Conduit) (*Policy, error) {
	p := &Policy{zones: zones, conduits: conduits}
	names := map[string]bool{Unzoned: true}
	for i, z := range zones {
		switch {
		case z.Name == "":
			return nil, fmt.Errorf("zone %d: no name", i)
		case z.Name == Unzoned:
			return nil, fmt.Errorf("zone %d: %q names the addresses of no zone", i, Unzoned)
		case names[z.Name]:
			return nil, fmt.Errorf("zone %q is defined twice", z.Name)
		case len(z.Networks) == 0:
			return nil, fmt.Errorf("zone %q: no networks", z.Name)
		}
		names[z.Name] = true
		for _, n := range z.Networks {
			if !n.IsValid() {
				return nil, fmt.Errorf("zone %q: invalid network", z.Name)
			}
			n = n.Masked()
			for _, q := range p.prefixes {
				if q.prefix == n {
					return nil, fmt.Errorf("network %s is in zones %q and %q", n, zones[q.zone].Name, z.Name)
				}
			}
			p.prefixes = append(p.prefixes, placed{n, i})
		}
	}
	// longest prefix first: a cell's /26 inside its area's /24 belongs to the cell
	sort.SliceStable(p.prefixes, func(i, j int) bool { return p.prefixes[i].prefix.Bits() > p.prefixes[j].prefix.Bits() })
	for i, c := range conduits {
		for _, z := range []string{c.From, c.To} {
			if !names[z] {
				return nil, fmt.Errorf("conduit %d: %q is not a zone (zones: %s)", i, z, strings.Join(p.Names(), ", "))
			}
		}
		for _, proto := range c.Protocols {
			if _, ok := protocols.ProfileOf(proto); !ok {
				return nil, fmt.Errorf("conduit %d: %q is not a protocol otwatch dissects (%s)", i, proto, strings.Join(Protocols(), ", "))
			}
		}
	}
	return p, nil
}

// Names lists the zone names in configuration order, then Unzoned.
func (p *Policy) Names() []string {
	out := make([]string, 0, len(p.zones)+1)
	for _, z := range p.zones {
		out = append(out, z.Name)
	}
	return append(out, Unzoned)
}

// ZoneOf is the zone of an address: the one with the most specific
// network holding it. ok is false for an address of no zone.
func (p *Policy) ZoneOf(ip netip.Addr) (z Zone, ok bool) {
	if p == nil {
		return Zone{}, false
	}
	ip = ip.Unmap()
	for _, q := range p.prefixes {
		if q.prefix.Contains(ip) {
			return p.zones[q.zone], true
		}
	}
	return Zone{}, false
}

func (p *Policy) zoneName(ip netip.Addr) string {
	if z, ok := p.ZoneOf(ip); ok {
		return z.Name
	}
	return Unzoned
}

// Enforced: conduits are checked only once at least one is configured;
// zones alone just place assets.
func (p *Policy) Enforced() bool { return p != nil && len(p.conduits) > 0 }

// Check returns the zone_violation a transaction commits, if any, keyed
// by its parties, protocol and op. Within one zone everything is allowed
// (IEC 62443 trusts a zone's members alike); between zones a conduit must
// allow the protocol and the op.
func (p *Policy) Check(tx *protocols.Transaction) (finding.Finding, bool) {
	if !p.Enforced() {
		return finding.Finding{}, false
	}
	from, to := p.zoneName(tx.Client.IP), p.zoneName(tx.Server.IP)
	if from == to {
		return finding.Finding{}, false
	}
	var narrower string // a conduit between the zones that does not allow this
	for _, c := range p.conduits {
		if c.From != from || c.To != to {
			continue
		}
		protoOK := len(c.Protocols) == 0 || slices.Contains(c.Protocols, tx.Proto)
		opOK := len(c.Ops) == 0 || slices.Contains(c.Ops, tx.Op)
		if protoOK && opOK {
			return finding.Finding{}, false
		}
		if narrower == "" {
			narrower = describe(c)
		}
	}
	msg := fmt.Sprintf("%s (zone %s) sent %s %s to %s (zone %s): no conduit allows %s from %s to %s",
		tx.Client.IP, from, tx.Proto, tx.CodeName, tx.Server.IP, to, tx.Proto, from, to)
	if narrower != "" {
		msg = fmt.Sprintf("%s (zone %s) sent %s %s (%s) to %s (zone %s): the conduit %s does not allow it",
			tx.Client.IP, from, tx.Proto, tx.CodeName, tx.Op, tx.Server.IP, to, narrower)
	}
	return finding.Finding{Key: finding.NewKey("zone_violation", tx.Client.IP.String(), tx.Server.IP.String(), tx.Proto, tx.Op.String()),
		Time: tx.Time(), Asset: tx.Server.IP.String(), Tx: tx, Message: msg}, true
}

func describe(c Conduit) string {
	s := c.From + " → " + c.To
	var parts []string
	if len(c.Protocols) > 0 {
		parts = append(parts, strings.Join(c.Protocols, "/"))
	}
	if len(c.Ops) > 0 {
		ops := make([]string, len(c.Ops))
		for i, o := range c.Ops {
			ops[i] = o.String()
		}
		parts = append(parts, strings.Join(ops, "/")+" only")
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}
