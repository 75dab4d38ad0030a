package baseline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// DocumentVersion is the version of the baseline document format.
const DocumentVersion = 1

// Document is the baseline as a reviewable file: stable, sorted and
// human-readable, so a site can review and approve changes like code.
type Document struct {
	Version int        `json:"version"`
	Network NetworkDoc `json:"network"`
	Assets  []AssetDoc `json:"assets"`
}

// NetworkDoc is the network-level learning: which hosts exist.
type NetworkDoc struct {
	Start       time.Time `json:"start"`
	LastNewHost time.Time `json:"last_new_host"`
	Hosts       []HostDoc `json:"hosts"`
}

// HostDoc is one known host.
type HostDoc struct {
	IP        string    `json:"ip"`
	FirstSeen time.Time `json:"first_seen"`
}

// AssetDoc is one server asset's baseline.
type AssetDoc struct {
	Server     string            `json:"server"`
	State      string            `json:"state"` // learning or detecting (at export time)
	FirstSeen  time.Time         `json:"first_seen"`
	LastNewKey time.Time         `json:"last_new_key"`
	LearnUntil *time.Time        `json:"learn_until,omitempty"`
	Protocols  map[string]uint64 `json:"protocols"`
	Links      []LinkDoc         `json:"links"`
	Functions  []FunctionDoc     `json:"functions"`
	Writes     []WriteDoc        `json:"writes"`
	Points     []PointDoc        `json:"points"`
}

// LinkDoc is a client of the asset.
type LinkDoc struct {
	Client        string    `json:"client"`
	Proto         string    `json:"proto"`
	Count         uint64    `json:"count"`
	First         time.Time `json:"first"`
	Last          time.Time `json:"last"`
	MaxWrites     uint32    `json:"max_writes_per_window"`
	MaxExceptions uint32    `json:"max_exceptions_per_window"`
}

// FunctionDoc is one learned (client, protocol, unit, op, code).
type FunctionDoc struct {
	Client        string              `json:"client"`
	Proto         string              `json:"proto"`
	Unit          string              `json:"unit"`
	Op            string              `json:"op"`
	Code          int32               `json:"code"`
	Subcode       *int32              `json:"subcode,omitempty"`
	Count         uint64              `json:"count"`
	First         time.Time           `json:"first"`
	Last          time.Time           `json:"last"`
	PeriodSeconds float64             `json:"period_s,omitempty"`
	JitterSeconds float64             `json:"jitter_s,omitempty"`
	Targets       map[string]RangeSet `json:"targets,omitempty"`
}

// WriteDoc is the set of written ranges in one space.
type WriteDoc struct {
	Proto  string   `json:"proto"`
	Unit   string   `json:"unit"`
	Space  string   `json:"space"`
	Ranges RangeSet `json:"ranges"`
}

// PointDoc is one written point's value model.
type PointDoc struct {
	Proto   string     `json:"proto"`
	Unit    string     `json:"unit"`
	Space   string     `json:"space"`
	Address uint64     `json:"address"`
	ID      string     `json:"id,omitempty"`
	Class   Class      `json:"class"`
	Model   ValueModel `json:"model"`
}

// Export renders the model as a document at packet time now.
func (m *Model) Export(now time.Time) Document {
	doc := Document{Version: DocumentVersion, Network: NetworkDoc{Start: m.netStart, LastNewHost: m.netNew, Hosts: []HostDoc{}},
		Assets: []AssetDoc{}}
	for ip, t := range m.hosts {
		doc.Network.Hosts = append(doc.Network.Hosts, HostDoc{ip.String(), t})
	}
	sort.Slice(doc.Network.Hosts, func(i, j int) bool { return doc.Network.Hosts[i].IP < doc.Network.Hosts[j].IP })
	servers := make([]netip.Addr, 0, len(m.assets))
	for ip := range m.assets {
		servers = append(servers, ip)
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].Less(servers[j]) })
	for _, ip := range servers {
		doc.Assets = append(doc.Assets, m.exportAsset(m.assets[ip], now))
	}
	return doc
}

func (m *Model) exportAsset(a *Asset, now time.Time) AssetDoc {
	d := AssetDoc{Server: a.Server.String(), State: "detecting", FirstSeen: a.FirstSeen, LastNewKey: a.LastNewKey,
		Protocols: a.Protocols, Links: []LinkDoc{}, Functions: []FunctionDoc{}, Writes: []WriteDoc{}, Points: []PointDoc{}}
	if m.learning(a, now) {
		d.State = "learning"
	}
	if !a.LearnUntil.IsZero() {
		t := a.LearnUntil
		d.LearnUntil = &t
	}
	for k, l := range a.links {
		d.Links = append(d.Links, LinkDoc{k.client.String(), k.proto, l.Count, l.First, l.Last, l.MaxWrites, l.MaxExceptions})
	}
	sort.Slice(d.Links, func(i, j int) bool {
		x, y := d.Links[i], d.Links[j]
		return x.Client+"|"+x.Proto < y.Client+"|"+y.Proto
	})
	for k, f := range a.functions {
		pu := m.pu(k.pu)
		fd := FunctionDoc{Client: k.client.String(), Proto: pu.proto, Unit: pu.unit, Op: k.op.String(), Code: k.code, Count: f.Count,
			First: time.Unix(0, f.First).UTC(), Last: time.Unix(0, f.Last).UTC(), PeriodSeconds: f.Period, JitterSeconds: f.Jitter,
			Targets: f.targets()}
		if k.subcode >= 0 {
			sub := k.subcode
			fd.Subcode = &sub
		}
		d.Functions = append(d.Functions, fd)
	}
	sort.Slice(d.Functions, func(i, j int) bool { return functionOrder(d.Functions[i]) < functionOrder(d.Functions[j]) })
	for k, rs := range a.writes {
		d.Writes = append(d.Writes, WriteDoc{k.proto, k.unit, k.space, *rs})
	}
	sort.Slice(d.Writes, func(i, j int) bool {
		x, y := d.Writes[i], d.Writes[j]
		return x.Proto+"|"+x.Unit+"|"+x.Space < y.Proto+"|"+y.Unit+"|"+y.Space
	})
	for k, vm := range a.points {
		d.Points = append(d.Points, PointDoc{k.proto, k.unit, k.space, k.address, k.id, vm.Class(), *vm})
	}
	sort.Slice(d.Points, func(i, j int) bool {
		x, y := d.Points[i], d.Points[j]
		if kx, ky := x.Proto+"|"+x.Unit+"|"+x.Space+"|"+x.ID, y.Proto+"|"+y.Unit+"|"+y.Space+"|"+y.ID; kx != ky {
			return kx < ky
		}
		return x.Address < y.Address
	})
	return d
}

func functionOrder(f FunctionDoc) string {
	sub := int32(-1)
	if f.Subcode != nil {
		sub = *f.Subcode
	}
	return fmt.Sprintf("%s|%s|%s|%08d|%08d|%s", f.Client, f.Proto, f.Unit, f.Code, sub+1, f.Op)
}

// Import replaces the model's baselines with a document, after checking it
// whole: nothing is changed when any part is invalid.
func (m *Model) Import(doc Document) error {
	if doc.Version != DocumentVersion {
		return fmt.Errorf("baseline document version %d, this build reads %d", doc.Version, DocumentVersion)
	}
	assets := map[netip.Addr]*Asset{}
	hosts := map[netip.Addr]time.Time{}
	keys := 0
	for i, h := range doc.Network.Hosts {
		ip, err := netip.ParseAddr(h.IP)
		if err != nil {
			return fmt.Errorf("network.hosts[%d].ip %q: not an IP address", i, h.IP)
		}
		hosts[ip] = h.FirstSeen
	}
	puIDs, puNames := m.puIDs, m.puNames
	m.puIDs, m.puNames = map[protoUnit]uint32{}, nil
	defer func() {
		if len(assets) == 0 && len(doc.Assets) > 0 { // failed: keep the old table
			m.puIDs, m.puNames = puIDs, puNames
		}
	}()
	for i, ad := range doc.Assets {
		a, err := m.importAsset(ad)
		if err != nil {
			assets = nil
			return fmt.Errorf("assets[%d] (%s): %w", i, ad.Server, err)
		}
		if _, dup := assets[a.Server]; dup {
			assets = nil
			return fmt.Errorf("assets[%d]: server %s appears twice", i, ad.Server)
		}
		assets[a.Server] = a
		keys += a.keys
	}
	m.assets, m.hosts, m.keys = assets, hosts, keys
	m.netStart, m.netNew = doc.Network.Start, doc.Network.LastNewHost
	return nil
}

func (m *Model) importAsset(ad AssetDoc) (*Asset, error) {
	ip, err := netip.ParseAddr(ad.Server)
	if err != nil {
		return nil, fmt.Errorf("server %q: not an IP address", ad.Server)
	}
	if ad.State != "learning" && ad.State != "detecting" {
		return nil, fmt.Errorf("state %q: want learning or detecting", ad.State)
	}
	a := &Asset{Server: ip, FirstSeen: ad.FirstSeen, LastNewKey: ad.LastNewKey, Detecting: ad.State == "detecting",
		Protocols: map[string]uint64{}, links: map[linkKey]*Link{}, functions: map[funcKey]*Function{},
		writes: map[spaceKey]*RangeSet{}, points: map[pointKey]*ValueModel{}}
	if ad.LearnUntil != nil {
		a.LearnUntil = *ad.LearnUntil
	}
	for p, n := range ad.Protocols {
		a.Protocols[p] = n
	}
	for i, l := range ad.Links {
		c, err := netip.ParseAddr(l.Client)
		if err != nil {
			return nil, fmt.Errorf("links[%d].client %q: not an IP address", i, l.Client)
		}
		a.links[linkKey{c, l.Proto}] = &Link{Count: l.Count, First: l.First, Last: l.Last, MaxWrites: l.MaxWrites, MaxExceptions: l.MaxExceptions}
	}
	for i, f := range ad.Functions {
		c, err := netip.ParseAddr(f.Client)
		if err != nil {
			return nil, fmt.Errorf("functions[%d].client %q: not an IP address", i, f.Client)
		}
		op, ok := protocols.ParseOp(f.Op)
		if !ok {
			return nil, fmt.Errorf("functions[%d].op %q: not an operation", i, f.Op)
		}
		if f.Proto == "" {
			return nil, fmt.Errorf("functions[%d].proto: empty", i)
		}
		sub := int32(-1)
		if f.Subcode != nil {
			sub = *f.Subcode
		}
		for space, rs := range f.Targets {
			if err := checkRanges(rs); err != nil {
				return nil, fmt.Errorf("functions[%d].targets[%q]: %w", i, space, err)
			}
		}
		fn := &Function{Count: f.Count, First: f.First.UnixNano(), Last: f.Last.UnixNano(), Period: f.PeriodSeconds, Jitter: f.JitterSeconds}
		spaces := make([]string, 0, len(f.Targets))
		for space := range f.Targets {
			spaces = append(spaces, space)
		}
		sort.Strings(spaces)
		for _, space := range spaces {
			for _, r := range f.Targets[space] {
				fn.addRange(space, r.Lo, r.Hi)
			}
		}
		a.functions[funcKey{c, m.puID(f.Proto, f.Unit, true), op, f.Code, sub}] = fn
		a.keys++
	}
	for i, w := range ad.Writes {
		if err := checkRanges(w.Ranges); err != nil {
			return nil, fmt.Errorf("writes[%d].ranges: %w", i, err)
		}
		rs := append(RangeSet(nil), w.Ranges...)
		a.writes[spaceKey{w.Proto, w.Unit, w.Space}] = &rs
	}
	for i, p := range ad.Points {
		vm := p.Model
		if vm.Count > 0 && vm.Min > vm.Max {
			return nil, fmt.Errorf("points[%d].model: min %v above max %v", i, vm.Min, vm.Max)
		}
		if !sort.Float64sAreSorted(vm.Distinct) || len(vm.Distinct) > maxEnum {
			return nil, fmt.Errorf("points[%d].model.distinct: must be sorted and at most %d values", i, maxEnum)
		}
		a.points[pointKey{p.Proto, p.Unit, p.Space, p.Address, p.ID}] = &vm
		a.keys++
	}
	return a, nil
}

func checkRanges(rs RangeSet) error {
	for i, r := range rs {
		if r.Lo > r.Hi {
			return fmt.Errorf("range %d: lo %d above hi %d", i, r.Lo, r.Hi)
		}
		if i > 0 && r.Lo <= rs[i-1].Hi {
			return fmt.Errorf("range %d: overlaps or is out of order", i)
		}
	}
	return nil
}

// DecodeDocument parses a baseline document strictly: an unknown field is an error naming it.
func DecodeDocument(b []byte) (Document, error) {
	var doc Document
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return doc, fmt.Errorf("not valid JSON at byte %d: %v", syn.Offset, err)
		}
		return doc, err
	}
	return doc, nil
}

// MarshalState is the model as an indented document (the state is the document).
func (m *Model) MarshalState() ([]byte, error) {
	return json.Marshal(m.Export(m.LastSeen()))
}

// UnmarshalState restores the model from MarshalState's output.
func (m *Model) UnmarshalState(b []byte) error {
	doc, err := DecodeDocument(b)
	if err != nil {
		return err
	}
	return m.Import(doc)
}

// LastSeen is the latest packet time the model knows of.
func (m *Model) LastSeen() time.Time {
	var last time.Time
	for _, a := range m.assets {
		if a.LastNewKey.After(last) {
			last = a.LastNewKey
		}
		for _, l := range a.links {
			if l.Last.After(last) {
				last = l.Last
			}
		}
	}
	return last
}
