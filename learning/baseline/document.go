package baseline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// DocumentVersion is the version of the baseline document format. Version
// 1 documents (before sliding-window rates, typed points and state-changing
// targets beyond writes) are still read.
const DocumentVersion = 2

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
	Client string    `json:"client"`
	Proto  string    `json:"proto"`
	Count  uint64    `json:"count"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
	// Rates: the most writes, control commands and exceptions learned in
	// any sliding 1 s and 10 s window.
	Rates []RateDoc `json:"rates,omitempty"`
	// version 1 only: the most in a fixed 10 s window
	MaxWrites     uint32 `json:"max_writes_per_window,omitempty"`
	MaxExceptions uint32 `json:"max_exceptions_per_window,omitempty"`
}

// RateDoc is the learned maximum rate of one class of transactions on a link.
type RateDoc struct {
	Class  string `json:"class"` // write, control or exception
	Max1s  uint32 `json:"max_1s"`
	Max10s uint32 `json:"max_10s"`
	// Partial: learned over less than ten seconds of the class, so
	// max_10s is no measure of ten seconds of it (see rate.longMax)
	Partial bool `json:"partial,omitempty"`
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
	// LastSeen is when the function was last used, in detection too (not
	// learned: what a stopped poll is told by).
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// WriteDoc is the set of ranges written or commanded in one space (or the
// ids, for targets named by id).
type WriteDoc struct {
	Proto  string   `json:"proto"`
	Unit   string   `json:"unit"`
	Space  string   `json:"space"`
	Ranges RangeSet `json:"ranges"`
	IDs    []string `json:"ids,omitempty"`
}

// PointDoc is one written point's value model, or one command parameter's.
type PointDoc struct {
	Proto   string   `json:"proto"`
	Unit    string   `json:"unit"`
	Space   string   `json:"space"`
	Address uint64   `json:"address"`
	Bit     *uint8   `json:"bit,omitempty"` // one bit of the addressed unit
	ID      string   `json:"id,omitempty"`
	Field   string   `json:"field,omitempty"` // a command parameter: op, count, on_ms, off_ms
	Type    string   `json:"type,omitempty"`  // wire type: register16, int32, float32, bool, code...
	Class   Class    `json:"class"`
	Model   ValueDoc `json:"model"`
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
		Protocols: a.Protocols(), Links: []LinkDoc{}, Functions: []FunctionDoc{}, Writes: []WriteDoc{}, Points: []PointDoc{}}
	if m.learning(a, now) {
		d.State = "learning"
	}
	if !a.LearnUntil.IsZero() {
		t := a.LearnUntil
		d.LearnUntil = &t
	}
	for k, l := range a.links {
		ld := LinkDoc{Client: m.clients.addr(k.client).String(), Proto: m.strs.name(k.proto), Count: l.Count, First: l.First, Last: l.Last}
		for c, r := range l.rates {
			if r != nil && (r.MaxShort > 0 || r.MaxLong > 0) {
				ld.Rates = append(ld.Rates, RateDoc{rateClassNames[c], r.MaxShort, r.MaxLong, r.Partial})
			}
		}
		d.Links = append(d.Links, ld)
	}
	sort.Slice(d.Links, func(i, j int) bool {
		x, y := d.Links[i], d.Links[j]
		return x.Client+"|"+x.Proto < y.Client+"|"+y.Proto
	})
	for k, f := range a.functions {
		pu := m.pu(k.pu)
		fd := FunctionDoc{Client: m.clients.addr(k.client).String(), Proto: pu.proto, Unit: pu.unit, Op: k.op.String(), Code: k.code,
			Count: f.Count, First: time.Unix(0, f.First).UTC(), Last: time.Unix(0, f.Last).UTC(), PeriodSeconds: f.Period,
			JitterSeconds: f.Jitter, Targets: f.targets(m)}
		if k.subcode >= 0 {
			sub := k.subcode
			fd.Subcode = &sub
		}
		if f.Seen > f.Last {
			seen := time.Unix(0, f.Seen).UTC()
			fd.LastSeen = &seen
		}
		d.Functions = append(d.Functions, fd)
	}
	sort.Slice(d.Functions, func(i, j int) bool { return functionOrder(d.Functions[i]) < functionOrder(d.Functions[j]) })
	ids := map[uint32][]string{}
	for k := range a.changedIDs {
		ids[k.pu] = append(ids[k.pu], m.strs.name(k.id))
	}
	for k, rs := range a.changed {
		pu := m.pu(k.pu)
		d.Writes = append(d.Writes, WriteDoc{Proto: pu.proto, Unit: pu.unit, Space: m.strs.name(k.space), Ranges: slices.Clone(*rs)})
	}
	for id, list := range ids {
		pu := m.pu(id)
		sort.Strings(list)
		d.Writes = append(d.Writes, WriteDoc{Proto: pu.proto, Unit: pu.unit, Space: "node", Ranges: RangeSet{}, IDs: list})
	}
	sort.Slice(d.Writes, func(i, j int) bool {
		x, y := d.Writes[i], d.Writes[j]
		return x.Proto+"|"+x.Unit+"|"+x.Space < y.Proto+"|"+y.Unit+"|"+y.Space
	})
	a.points.each(func(k pointKey, vm ValueModel) {
		pu := m.pu(k.pu)
		typ := ""
		if vm.Type != (protocols.NumType{}) {
			typ = vm.Type.String()
		}
		pd := PointDoc{Proto: pu.proto, Unit: pu.unit, Space: m.strs.name(k.space), Address: k.address, ID: m.strs.name(k.id),
			Field: m.fields.name(uint32(k.field)), Type: typ, Class: vm.Class(), Model: vm.Doc()}
		if k.sub != 0 {
			bit := k.sub - 1
			pd.Bit = &bit
		}
		d.Points = append(d.Points, pd)
	})
	sort.Slice(d.Points, func(i, j int) bool {
		x, y := d.Points[i], d.Points[j]
		if kx, ky := x.Proto+"|"+x.Unit+"|"+x.Space+"|"+x.ID, y.Proto+"|"+y.Unit+"|"+y.Space+"|"+y.ID; kx != ky {
			return kx < ky
		}
		if x.Address != y.Address {
			return x.Address < y.Address
		}
		if bx, by := bitOrder(x.Bit), bitOrder(y.Bit); bx != by {
			return bx < by
		}
		if x.Type != y.Type {
			return x.Type < y.Type
		}
		return x.Field < y.Field
	})
	return d
}

func bitOrder(b *uint8) int {
	if b == nil {
		return -1
	}
	return int(*b)
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
	if doc.Version != DocumentVersion && doc.Version != 1 {
		return fmt.Errorf("baseline document version %d, this build reads 1 and %d", doc.Version, DocumentVersion)
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
	n := New(m.cfg) // built apart: nothing changes when the document is bad
	for i, ad := range doc.Assets {
		a, err := n.importAsset(ad)
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
	m.assets, m.hosts, m.keys, m.assetEpoch = assets, hosts, keys, assetEpochs.Add(1)
	m.knownRecent, m.knownEpoch = [16]netip.Addr{}, knownEpochs.Add(1)
	m.puIDs, m.puNames, m.clients, m.strs, m.fields = n.puIDs, n.puNames, n.clients, n.strs, n.fields
	m.netStart, m.netNew = doc.Network.Start, doc.Network.LastNewHost
	m.netChanged()
	m.newHosts = nil
	m.markFull() // the records are rewritten whole at the next checkpoint
	m.ps.metaDirty = true
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
	a := newAsset(ip, ad.FirstSeen)
	a.LastNewKey, a.Detecting = ad.LastNewKey, ad.State == "detecting"
	if ad.LearnUntil != nil {
		a.LearnUntil = *ad.LearnUntil
	}
	for _, p := range slices.Sorted(maps.Keys(ad.Protocols)) {
		a.setServed(p, ad.Protocols[p])
	}
	for i, l := range ad.Links {
		c, err := netip.ParseAddr(l.Client)
		if err != nil {
			return nil, fmt.Errorf("links[%d].client %q: not an IP address", i, l.Client)
		}
		lk := &Link{Count: l.Count, First: l.First, Last: l.Last}
		if l.MaxWrites > 0 { // version 1: a fixed 10 s window is a lower bound of the sliding one
			lk.rate(rateWrites).MaxLong = l.MaxWrites
		}
		if l.MaxExceptions > 0 {
			lk.rate(rateExceptions).MaxLong = l.MaxExceptions
		}
		for j, r := range l.Rates {
			c := -1
			for k, n := range rateClassNames {
				if n == r.Class {
					c = k
				}
			}
			if c < 0 {
				return nil, fmt.Errorf("links[%d].rates[%d].class %q: want write, control or exception", i, j, r.Class)
			}
			lr := lk.rate(rateClass(c))
			lr.MaxShort, lr.MaxLong, lr.Partial = r.Max1s, r.Max10s, r.Partial
		}
		a.links[linkKey{m.clients.id(c, true), m.strs.id(l.Proto, true)}] = lk
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
		fn := &Function{Count: f.Count, First: f.First.UnixNano(), Last: f.Last.UnixNano(), Period: f.PeriodSeconds, Jitter: f.JitterSeconds,
			Seen: f.Last.UnixNano()}
		if f.LastSeen != nil && f.LastSeen.UnixNano() > fn.Seen {
			fn.Seen = f.LastSeen.UnixNano()
		}
		spaces := make([]string, 0, len(f.Targets))
		for space := range f.Targets {
			spaces = append(spaces, space)
		}
		sort.Strings(spaces)
		for _, space := range spaces {
			for _, r := range f.Targets[space] {
				fn.addRange(m.strs.id(space, true), r.Lo, r.Hi)
			}
		}
		a.functions[funcKey{m.clients.id(c, true), m.puID(f.Proto, f.Unit, true), f.Code, sub, op}] = fn
		a.addUnit(m.puID(f.Proto, f.Unit, true))
		a.keys++
	}
	for i, w := range ad.Writes {
		if err := checkRanges(w.Ranges); err != nil {
			return nil, fmt.Errorf("writes[%d].ranges: %w", i, err)
		}
		pu := m.puID(w.Proto, w.Unit, true)
		for _, id := range w.IDs {
			if a.changedIDs == nil {
				a.changedIDs = map[nodeKey]struct{}{}
			}
			a.changedIDs[nodeKey{pu, m.strs.id(id, true)}] = struct{}{}
			a.keys++
		}
		if len(w.IDs) > 0 && len(w.Ranges) == 0 {
			continue
		}
		rs := append(RangeSet(nil), w.Ranges...)
		a.changed[spaceKey{pu, m.strs.id(w.Space, true)}] = &rs
	}
	for i, p := range ad.Points {
		var typ protocols.NumType
		if p.Type != "" {
			t, ok := protocols.ParseNumType(p.Type)
			if !ok {
				return nil, fmt.Errorf("points[%d].type %q: not a wire type (bool, code, register16, uint8..64, int8..64, float32/64)", i, p.Type)
			}
			typ = t
		}
		vm, err := p.Model.model(typ)
		if err != nil {
			return nil, fmt.Errorf("points[%d].model: %w", i, err)
		}
		var sub uint8
		if p.Bit != nil {
			if *p.Bit > 7 {
				return nil, fmt.Errorf("points[%d].bit %d: want 0..7", i, *p.Bit)
			}
			sub = *p.Bit + 1
		}
		if p.Space == "" {
			return nil, fmt.Errorf("points[%d].space: empty", i)
		}
		k, ok := m.pointKey(m.puID(p.Proto, p.Unit, true), pointRef{space: p.Space, address: p.Address, id: p.ID, sub: sub, field: p.Field,
			typ: typ}, true)
		if !ok {
			return nil, fmt.Errorf("points[%d].field %q: too many distinct fields", i, p.Field)
		}
		a.points.set(k, vm)
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
