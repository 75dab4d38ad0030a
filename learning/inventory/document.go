package inventory

import (
	"encoding/csv"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// Document is the RECORDS.md inventory document: json.Marshal of it is
// what `otwatch read --inventory FILE` writes. Fields beyond the contract
// are additions (vlans, packets, bytes, role_evidence, conflicts, routers, ...).
type Document struct {
	Assets []Asset `json:"assets"`
	Links  []Link  `json:"links"`
	// Routers lists the MACs found to carry many hosts' addresses.
	Routers []Router `json:"routers,omitempty"`
	// Neighbors lists the devices known only from LLDP (switches, silent PROFINET devices).
	Neighbors []Neighbor `json:"neighbors,omitempty"`
	// Dropped counts what the limits turned away (absent when nothing was).
	Dropped *Stats `json:"dropped,omitempty"`
}

// Asset is one ASSET of the inventory document.
type Asset struct {
	ID        string              `json:"id"`
	IPs       []string            `json:"ips"`
	MAC       string              `json:"mac"`
	Vendor    string              `json:"vendor"`
	Roles     []string            `json:"roles"`
	Protocols []Protocol          `json:"protocols"`
	Identity  map[string]Identity `json:"identity"`
	FirstSeen string              `json:"first_seen"`
	LastSeen  string              `json:"last_seen"`

	// Additions.
	RoleEvidence    map[string]string `json:"role_evidence,omitempty"`
	Conflicts       []string          `json:"conflicts,omitempty"` // identity fields holding two or more values
	RouterMAC       string            `json:"router_mac,omitempty"`
	RouterVendor    string            `json:"router_vendor,omitempty"`
	VLANs           []uint16          `json:"vlans,omitempty"`
	Services        []string          `json:"services,omitempty"` // TCP/UDP ports it answered on, e.g. "tcp/80"
	Zone            string            `json:"zone,omitempty"`     // the configured zone of its first address (learning/zones)
	Level           *int              `json:"level,omitempty"`    // that zone's Purdue level, when given
	Packets         uint64            `json:"packets"`
	Bytes           uint64            `json:"bytes"`
	PacketsSent     uint64            `json:"packets_sent"`
	BytesSent       uint64            `json:"bytes_sent"`
	PacketsReceived uint64            `json:"packets_received"`
	BytesReceived   uint64            `json:"bytes_received"`
}

// Protocol is one protocol an asset speaks, on one side and port. A
// client's port is 0 unless it uses the server's port as its own.
type Protocol struct {
	Proto        string `json:"proto"`
	Side         string `json:"side"`
	Port         uint16 `json:"port"`
	Transactions uint64 `json:"transactions"`
	FirstFrame   uint64 `json:"first_frame"`
	FirstSeen    string `json:"first_seen"`
	LastSeen     string `json:"last_seen"`
}

// Identity is one identity field: the value seen most recently, where it
// came from, and any other values seen for the field (a conflict).
type Identity struct {
	Value  string          `json:"value"`
	Source Source          `json:"source"`
	Others []IdentityValue `json:"others,omitempty"`
}

// IdentityValue is a further value of a conflicting field.
type IdentityValue struct {
	Value  string `json:"value"`
	Source Source `json:"source"`
}

// Source is the provenance of an identity value.
type Source struct {
	Proto     string `json:"proto"`
	Message   string `json:"message,omitempty"`
	Frame     uint64 `json:"frame"` // first frame that carried it
	TS        string `json:"ts"`    // time first seen
	LastFrame uint64 `json:"last_frame"`
	LastSeen  string `json:"last_seen"`
	Count     uint64 `json:"count"`
}

// Link is one LINK: client → server in one protocol, with op counts.
type Link struct {
	Client     string            `json:"client"`
	Server     string            `json:"server"`
	Proto      string            `json:"proto"`
	Ops        map[string]uint64 `json:"ops"`
	FirstSeen  string            `json:"first_seen"`
	LastSeen   string            `json:"last_seen"`
	FirstFrame uint64            `json:"first_frame"`
}

// Router is a MAC found to carry the addresses of several hosts.
type Router struct {
	MAC    string `json:"mac"`
	Vendor string `json:"vendor"`
	// Addresses: how many host addresses were seen behind it.
	Addresses uint32 `json:"addresses"`
}

func ts(ns int64) string {
	if ns == 0 {
		return ""
	}
	return protocols.FormatTime(time.Unix(0, ns))
}

// Document renders the inventory, sorted: assets by id, links by
// (client, server, proto), protocols by (proto, side, port).
func (inv *Inventory) Document() Document {
	inv.flushCounted()
	doc := Document{Assets: make([]Asset, 0, len(inv.assets)), Links: make([]Link, 0, len(inv.links))}
	// distinct servers per client (a link is per protocol)
	servers := make([]int, len(inv.assets))
	type cs struct{ c, s int32 }
	seen := make(map[cs]bool, len(inv.links))
	for i := range inv.links {
		k := cs{inv.links[i].Key.Client, inv.links[i].Key.Server}
		if !seen[k] {
			seen[k] = true
			servers[k.c]++
		}
	}
	for ai, a := range inv.assets {
		doc.Assets = append(doc.Assets, inv.renderAsset(a, servers[ai]))
	}
	sort.Slice(doc.Assets, func(i, j int) bool { return doc.Assets[i].ID < doc.Assets[j].ID })
	for i := range inv.links {
		l := &inv.links[i]
		ops := map[string]uint64{}
		for op, n := range l.Ops {
			if n > 0 {
				ops[protocols.Op(op).String()] = uint64(n)
			}
		}
		doc.Links = append(doc.Links, Link{Client: inv.assets[l.Key.Client].ID, Server: inv.assets[l.Key.Server].ID,
			Proto: inv.protos[l.Key.Proto].name, Ops: ops, FirstSeen: ts(l.First), LastSeen: ts(l.Last), FirstFrame: l.FirstFrame})
	}
	sort.Slice(doc.Links, func(i, j int) bool {
		a, b := &doc.Links[i], &doc.Links[j]
		if a.Client != b.Client {
			return a.Client < b.Client
		}
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		return a.Proto < b.Proto
	})
	for mac, mi := range inv.macs {
		if mi.Router {
			doc.Routers = append(doc.Routers, Router{MAC: macString(mac), Vendor: Vendor(mac), Addresses: mi.Behind})
		}
	}
	sort.Slice(doc.Routers, func(i, j int) bool { return doc.Routers[i].MAC < doc.Routers[j].MAC })
	if inv.stats != (Stats{}) {
		st := inv.stats
		doc.Dropped = &st
	}
	if nb := inv.neighborList(); len(nb) > 0 {
		doc.Neighbors = nb
	}
	return doc
}

func (inv *Inventory) renderAsset(a *asset, servers int) Asset {
	e := inv.merged(a)
	out := Asset{ID: a.ID, IPs: make([]string, 0, len(a.Hosts)), Protocols: make([]Protocol, 0, len(e.Protos)),
		Identity: map[string]Identity{}}
	first, last := a.First, a.Last
	addrs := make([]netip.Addr, 0, len(a.Hosts))
	var svcs []uint32
	for _, hi := range a.Hosts {
		h := &inv.hosts[hi]
		addrs = append(addrs, h.IP)
		out.PacketsSent += h.PktsOut
		out.BytesSent += h.BytesOut
		out.PacketsReceived += h.PktsIn
		out.BytesReceived += h.BytesIn
		if h.First != 0 && (first == 0 || h.First < first) {
			first = h.First
		}
		if h.Last > last {
			last = h.Last
		}
		for _, svc := range h.Services {
			if !slices.Contains(svcs, svc) {
				svcs = append(svcs, svc)
			}
		}
		if h.VLAN != 0 && len(out.VLANs) < maxVLANs && !containsU16(out.VLANs, h.VLAN) {
			out.VLANs = append(out.VLANs, h.VLAN)
		}
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	for _, ip := range addrs {
		out.IPs = append(out.IPs, ip.String())
	}
	if inv.ZoneOf != nil && len(addrs) > 0 {
		if name, level, ok := inv.ZoneOf(addrs[0]); ok {
			out.Zone = name
			if level >= 0 {
				out.Level = &level
			}
		}
	}
	sort.Slice(out.VLANs, func(i, j int) bool { return out.VLANs[i] < out.VLANs[j] })
	slices.Sort(svcs) // TCP before UDP, ports in numeric order
	for _, svc := range svcs {
		out.Services = append(out.Services, serviceName(svc))
	}
	out.Packets = out.PacketsSent + out.PacketsReceived
	out.Bytes = out.BytesSent + out.BytesReceived
	out.FirstSeen, out.LastSeen = ts(first), ts(last)
	if a.HasMAC {
		out.MAC = macString(a.MAC)
		out.Vendor = Vendor(a.MAC)
	}
	if a.BehindRouter {
		out.RouterMAC = macString(a.RouterMAC)
		out.RouterVendor = Vendor(a.RouterMAC)
	}
	for _, u := range e.Protos {
		out.Protocols = append(out.Protocols, Protocol{Proto: inv.protos[u.Proto].name, Side: sideName(u.Side), Port: u.Port,
			Transactions: u.Count, FirstFrame: u.FirstFrame, FirstSeen: ts(u.First), LastSeen: ts(u.Last)})
	}
	sort.Slice(out.Protocols, func(i, j int) bool {
		a, b := &out.Protocols[i], &out.Protocols[j]
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		if a.Side != b.Side {
			return a.Side < b.Side
		}
		return a.Port < b.Port
	})
	for _, f := range e.Identity {
		if len(f.Values) == 0 {
			continue
		}
		// The current value is the one seen last (ties: the one seen first).
		cur := 0
		for i := 1; i < len(f.Values); i++ {
			if f.Values[i].Last > f.Values[cur].Last {
				cur = i
			}
		}
		id := Identity{Value: f.Values[cur].Value, Source: inv.source(&f.Values[cur])}
		for i := range f.Values {
			if i != cur {
				id.Others = append(id.Others, IdentityValue{Value: f.Values[i].Value, Source: inv.source(&f.Values[i])})
			}
		}
		if len(id.Others) > 0 {
			out.Conflicts = append(out.Conflicts, f.Field)
		}
		out.Identity[f.Field] = id
	}
	sort.Strings(out.Conflicts)
	out.Roles, out.RoleEvidence = inv.roles(e, servers)
	if len(out.RoleEvidence) == 0 {
		out.RoleEvidence = nil
	}
	return out
}

// merged is the evidence of all an asset's addresses (usually one).
func (inv *Inventory) merged(a *asset) *evidence {
	var list []*evidence
	for _, hi := range a.Hosts {
		if ev := inv.hosts[hi].Ev; ev != nil {
			list = append(list, ev)
		}
	}
	switch len(list) {
	case 0:
		return &evidence{}
	case 1:
		return list[0]
	}
	m := &evidence{}
	minNZ := func(a, b uint64) uint64 {
		if a == 0 || (b != 0 && b < a) {
			return b
		}
		return a
	}
	for _, ev := range list {
		for _, u := range ev.Protos {
			found := false
			for i := range m.Protos {
				w := &m.Protos[i]
				if w.Proto == u.Proto && w.Side == u.Side && w.Port == u.Port {
					found = true
					w.Count += u.Count
					w.FirstFrame = minNZ(w.FirstFrame, u.FirstFrame)
					w.First = int64(minNZ(uint64(w.First), uint64(u.First)))
					w.Last = max(w.Last, u.Last)
				}
			}
			if !found {
				m.Protos = append(m.Protos, u)
			}
		}
		for op := range ev.Ops {
			m.Ops[op] = satAdd(m.Ops[op], ev.Ops[op])
			m.OpFrame[op] = minNZ(m.OpFrame[op], ev.OpFrame[op])
		}
		m.SZL = satAdd(m.SZL, ev.SZL)
		m.SZLFrame = minNZ(m.SZLFrame, ev.SZLFrame)
		for _, r := range ev.Reads {
			if !containsU32(m.Reads, r) {
				m.Reads = append(m.Reads, r)
			}
		}
		m.ReadPoints += ev.ReadPoints
		m.IdentityDrop += ev.IdentityDrop
		for _, f := range ev.Identity {
			var mf *identField
			for i := range m.Identity {
				if m.Identity[i].Field == f.Field {
					mf = &m.Identity[i]
				}
			}
			if mf == nil {
				m.Identity = append(m.Identity, identField{Field: f.Field})
				mf = &m.Identity[len(m.Identity)-1]
			}
			for _, v := range f.Values {
				found := false
				for i := range mf.Values {
					w := &mf.Values[i]
					if w.Value != v.Value {
						continue
					}
					found = true
					w.Count += v.Count
					if v.First < w.First {
						w.First, w.FirstFrame, w.Proto, w.Message = v.First, v.FirstFrame, v.Proto, v.Message
					}
					if v.Last > w.Last {
						w.Last, w.LastFrame = v.Last, v.LastFrame
					}
				}
				if !found {
					mf.Values = append(mf.Values, v)
				}
			}
		}
	}
	return m
}

func satAdd(a, b uint32) uint32 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint32(0)
}

func containsU32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (inv *Inventory) source(v *identValue) Source {
	return Source{Proto: inv.protos[v.Proto].name, Message: v.Message, Frame: v.FirstFrame, TS: ts(v.First),
		LastFrame: v.LastFrame, LastSeen: ts(v.Last), Count: v.Count}
}

func containsU16(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// CSVHeader is the header row WriteCSV writes.
var CSVHeader = []string{"type", "id", "client", "server", "proto", "ips", "mac", "vendor", "roles", "protocols",
	"identity", "ops", "first_seen", "last_seen", "packets", "bytes", "zone", "level"}

// WriteCSV writes the document as one CSV table (`otwatch inventory export
// --format csv`): a row per asset (type "asset") then a row per link (type
// "link"). Lists are joined with ";": ips, roles, protocols as
// proto/side/port, identity as field=value, ops as op=count.
func WriteCSV(w io.Writer, doc Document) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, a := range doc.Assets {
		protos := make([]string, 0, len(a.Protocols))
		for _, p := range a.Protocols {
			protos = append(protos, p.Proto+"/"+p.Side+"/"+strconv.Itoa(int(p.Port)))
		}
		fields := make([]string, 0, len(a.Identity))
		for f := range a.Identity {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		ids := make([]string, 0, len(fields))
		for _, f := range fields {
			ids = append(ids, f+"="+a.Identity[f].Value)
		}
		row := []string{"asset", a.ID, "", "", "", strings.Join(a.IPs, ";"), a.MAC, a.Vendor, strings.Join(a.Roles, ";"),
			strings.Join(protos, ";"), strings.Join(ids, ";"), "", a.FirstSeen, a.LastSeen,
			strconv.FormatUint(a.Packets, 10), strconv.FormatUint(a.Bytes, 10), a.Zone, ""}
		if a.Level != nil {
			row[len(row)-1] = strconv.Itoa(*a.Level)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	for _, l := range doc.Links {
		ops := make([]string, 0, len(l.Ops))
		for op, n := range l.Ops {
			ops = append(ops, op+"="+strconv.FormatUint(n, 10))
		}
		sort.Strings(ops)
		row := []string{"link", "", l.Client, l.Server, l.Proto, "", "", "", "", "", "", strings.Join(ops, ";"),
			l.FirstSeen, l.LastSeen, "", "", "", ""}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
