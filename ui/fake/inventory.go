package fake

import (
	"encoding/json"
	"fmt"
	"github.com/otwatch/otwatch/learning/zones"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// The inventory document shape of RECORDS.md (plus the additions the
// dashboard shows). It mirrors what learning/inventory writes; the fake
// builds a simplified one from transactions so the dashboard can be
// developed and tested without the daemon.

type invDoc struct {
	Assets    []invAsset        `json:"assets"`
	Links     []invLink         `json:"links"`
	Neighbors []json.RawMessage `json:"neighbors,omitempty"` // as learning/inventory.Neighbor
}

type invAsset struct {
	ID           string                 `json:"id"`
	IPs          []string               `json:"ips"`
	MAC          string                 `json:"mac"`
	Vendor       string                 `json:"vendor"`
	Roles        []string               `json:"roles"`
	Protocols    []invProto             `json:"protocols"`
	Identity     map[string]invIdentity `json:"identity"`
	FirstSeen    string                 `json:"first_seen"`
	LastSeen     string                 `json:"last_seen"`
	RoleEvidence map[string]string      `json:"role_evidence,omitempty"`
	VLANs        []uint16               `json:"vlans,omitempty"`
	Services     []string               `json:"services,omitempty"`
	Zone         string                 `json:"zone,omitempty"`
	Level        *int                   `json:"level,omitempty"`
	Packets      uint64                 `json:"packets"`
	Bytes        uint64                 `json:"bytes"`
}

type invProto struct {
	Proto        string `json:"proto"`
	Side         string `json:"side"`
	Port         uint16 `json:"port"`
	Transactions uint64 `json:"transactions"`
	FirstFrame   uint64 `json:"first_frame"`
}

type invIdentity struct {
	Value  string    `json:"value"`
	Source invSource `json:"source"`
}

type invSource struct {
	Proto   string `json:"proto"`
	Message string `json:"message,omitempty"`
	Frame   uint64 `json:"frame"`
	TS      string `json:"ts"`
}

type invLink struct {
	Client    string            `json:"client"`
	Server    string            `json:"server"`
	Proto     string            `json:"proto"`
	Ops       map[string]uint64 `json:"ops"`
	FirstSeen string            `json:"first_seen"`
	LastSeen  string            `json:"last_seen"`
}

type protoKey struct {
	proto, side string
	port        uint16
}

type hostState struct {
	ip          netip.Addr
	mac         string
	first, last time.Time
	protos      map[protoKey]*invProto
	identity    map[string]invIdentity
	ops         map[string]uint64 // as a client
	servers     map[netip.Addr]bool
	services    []string // "tcp/502": ports it answered on
	tx          uint64
}

type linkKey struct {
	client, server netip.Addr
	proto          string
}

type linkState struct {
	ops         map[string]uint64
	first, last time.Time
}

// inventory is the fake's transaction-fed inventory.
type inventory struct {
	hosts     map[netip.Addr]*hostState
	links     map[linkKey]*linkState
	zones     *zones.Policy // nil: no zones
	neighbors []json.RawMessage
}

// service records a TCP/UDP port a known host answered on.
func (inv *inventory) service(server netip.AddrPort, proto uint8) {
	h := inv.hosts[server.Addr()]
	if h == nil {
		return
	}
	name := "tcp/" + strconv.Itoa(int(server.Port()))
	if proto == 17 {
		name = "udp/" + strconv.Itoa(int(server.Port()))
	}
	if !slices.Contains(h.services, name) {
		h.services = append(h.services, name)
		slices.Sort(h.services)
	}
}

// setZones places the assets in zones (the daemon takes them from its configuration).
func (inv *inventory) setZones(p *zones.Policy) { inv.zones = p }

func newInventory() *inventory {
	return &inventory{hosts: map[netip.Addr]*hostState{}, links: map[linkKey]*linkState{}}
}

func (inv *inventory) host(ip netip.Addr, ep protocols.Endpoint, t time.Time) *hostState {
	h := inv.hosts[ip]
	if h == nil {
		h = &hostState{ip: ip, first: t, protos: map[protoKey]*invProto{}, identity: map[string]invIdentity{},
			ops: map[string]uint64{}, servers: map[netip.Addr]bool{}}
		inv.hosts[ip] = h
	}
	if ep.HasMAC && h.mac == "" {
		h.mac = string(protocols.AppendMAC(nil, ep.MAC))
	}
	if t.After(h.last) {
		h.last = t
	}
	if t.Before(h.first) {
		h.first = t
	}
	h.tx++
	return h
}

func (inv *inventory) observe(tx *protocols.Transaction) {
	if !tx.Client.IP.IsValid() || !tx.Server.IP.IsValid() {
		return
	}
	t := tx.Time()
	c := inv.host(tx.Client.IP, tx.Client, t)
	s := inv.host(tx.Server.IP, tx.Server, t)
	frame := tx.RequestFrame
	if frame == 0 {
		frame = tx.ResponseFrame
	}
	for _, side := range []struct {
		h    *hostState
		side string
		port uint16
	}{{c, "client", 0}, {s, "server", tx.Server.Port}} {
		k := protoKey{tx.Proto, side.side, side.port}
		p := side.h.protos[k]
		if p == nil {
			p = &invProto{Proto: tx.Proto, Side: side.side, Port: side.port, FirstFrame: frame}
			side.h.protos[k] = p
		}
		p.Transactions++
	}
	op := tx.Op.String()
	c.ops[op]++
	c.servers[tx.Server.IP] = true
	lk := linkKey{tx.Client.IP, tx.Server.IP, tx.Proto}
	l := inv.links[lk]
	if l == nil {
		l = &linkState{ops: map[string]uint64{}, first: t}
		inv.links[lk] = l
	}
	l.ops[op]++
	l.last = t
	for _, f := range protocols.IdentityOf(tx) {
		h := s
		if f.OfClient {
			h = c
		}
		if _, ok := h.identity[f.Field]; !ok && f.Value != "" {
			h.identity[f.Field] = invIdentity{Value: f.Value, Source: invSource{Proto: tx.Proto, Message: f.Message, Frame: frame,
				TS: protocols.FormatTime(t)}}
		}
	}
}

// serverRole is the last role the protocol's profile gives its servers
// (the most specific: "rtu" over "outstation").
func serverRole(proto string) string {
	p, _ := protocols.ProfileOf(proto)
	if len(p.ServerRoles) == 0 {
		return ""
	}
	return p.ServerRoles[len(p.ServerRoles)-1]
}

// serverPort is the protocol's first registered server port, 0 if none.
func serverPort(proto string) uint16 {
	if d := protocols.Lookup(proto); d != nil && len(d.Ports) > 0 {
		return d.Ports[0]
	}
	return 0
}

// clientRole is a role every client of the protocol takes, "" if none.
func clientRole(proto string) string {
	p, _ := protocols.ProfileOf(proto)
	if len(p.ClientRoles) == 0 {
		return ""
	}
	return p.ClientRoles[0]
}

func (h *hostState) roles() ([]string, map[string]string) {
	ev := map[string]string{}
	clientOf := map[string]bool{}
	for _, p := range h.protos {
		if p.Side == "client" {
			clientOf[p.Proto] = true
			continue
		}
		if r := serverRole(p.Proto); r != "" {
			ev[r] = fmt.Sprintf("%s server on port %d: %d transactions since frame %d", p.Proto, p.Port, p.Transactions, p.FirstFrame)
		}
	}
	for _, op := range []string{"program_download", "program_upload", "firmware_update", "stop", "start"} {
		if n := h.ops[op]; n > 0 {
			ev["engineering_workstation"] = fmt.Sprintf("%s ×%d", op, n)
		}
	}
	roleOf := map[string]string{}
	for p := range clientOf {
		if r := clientRole(p); r != "" {
			roleOf[r] = p
		}
	}
	if roleOf["scada_master"] != "" || len(h.servers) >= 3 {
		ev["scada_master"] = fmt.Sprintf("client of %d servers", len(h.servers))
	} else if p := roleOf["opcua_client"]; p != "" {
		ev["opcua_client"] = p + " client"
	} else if len(clientOf) > 0 && ev["engineering_workstation"] == "" {
		ev["hmi"] = fmt.Sprintf("client reading/writing process data (%d reads, %d writes)", h.ops["read"], h.ops["write"])
	}
	roles := make([]string, 0, len(ev))
	for r := range ev {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles, ev
}

func (inv *inventory) document() invDoc {
	doc := invDoc{Assets: []invAsset{}, Links: []invLink{}}
	for _, h := range inv.hosts {
		roles, ev := h.roles()
		a := invAsset{ID: "ip:" + h.ip.String(), IPs: []string{h.ip.String()}, MAC: h.mac, Roles: roles, RoleEvidence: ev,
			Protocols: []invProto{}, Identity: h.identity, FirstSeen: protocols.FormatTime(h.first), LastSeen: protocols.FormatTime(h.last),
			Packets: h.tx * 2, Bytes: h.tx * 150, Services: h.services}
		if v, ok := h.identity["vendor_name"]; ok {
			a.Vendor = v.Value
		}
		if z, ok := inv.zones.ZoneOf(h.ip); ok {
			a.Zone = z.Name
			if z.Level >= 0 {
				level := z.Level
				a.Level = &level
			}
		}
		for _, p := range h.protos {
			a.Protocols = append(a.Protocols, *p)
		}
		sort.Slice(a.Protocols, func(i, j int) bool {
			x, y := a.Protocols[i], a.Protocols[j]
			return x.Proto+x.Side < y.Proto+y.Side
		})
		doc.Assets = append(doc.Assets, a)
	}
	sort.Slice(doc.Assets, func(i, j int) bool { return doc.Assets[i].ID < doc.Assets[j].ID })
	for k, l := range inv.links {
		doc.Links = append(doc.Links, invLink{Client: "ip:" + k.client.String(), Server: "ip:" + k.server.String(), Proto: k.proto,
			Ops: l.ops, FirstSeen: protocols.FormatTime(l.first), LastSeen: protocols.FormatTime(l.last)})
	}
	sort.Slice(doc.Links, func(i, j int) bool {
		a, b := doc.Links[i], doc.Links[j]
		return a.Client+"|"+a.Server+"|"+a.Proto < b.Client+"|"+b.Server+"|"+b.Proto
	})
	doc.Neighbors = inv.neighbors
	return doc
}
