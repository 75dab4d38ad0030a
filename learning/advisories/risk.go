package advisories

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/otwatch/otwatch/learning/inventory"
)

// Observed is what otwatch saw, as the risk assessment reads it: the
// inventory (assets, identity, links, zones) and the TCP/UDP conversations
// beyond the ICS protocols (learning/conversations).
type Observed struct {
	Doc           inventory.Document
	Conversations []Conversation
	// Zoned: zones are configured, so an asset without a zone is on the
	// unzoned (IT) side.
	Zoned bool
	// ZoneOf places a host that is not an asset (a conversation's peer);
	// nil: such hosts have no zone.
	ZoneOf func(netip.Addr) (name string, level int, ok bool)
}

// Conversation is one answered TCP/UDP conversation.
type Conversation struct {
	Client, Server netip.Addr
	Proto          uint8 // 6 TCP, 17 UDP
	Port           uint16
}

// Client is one host that reaches an asset, and how.
type Client struct {
	Node    string            `json:"node"` // asset id, or "ip:ADDR" for a host seen only in conversations
	IPs     []string          `json:"ips"`
	Zone    string            `json:"zone,omitempty"`
	Level   *int              `json:"level,omitempty"`
	Protos  []string          `json:"protos"`        // "s7comm", "tcp/80"
	Ops     map[string]uint64 `json:"ops,omitempty"` // the shared op vocabulary
	Changes bool              `json:"changes"`       // writes, controls, downloads, stops…
	Outside string            `json:"outside,omitempty"`
	Entry   string            `json:"entry,omitempty"` // why it is an entry point, when it is one
}

// Exposure is how the asset is reached and what it reaches, as observed.
type Exposure struct {
	Clients  []Client `json:"clients"`
	Changers int      `json:"changers"` // clients that write, control or download
	Outside  []string `json:"outside,omitempty"`
	Internet []string `json:"internet,omitempty"` // public addresses among its peers or its own
	Services []string `json:"services,omitempty"` // non-ICS services it answers on
	TalksOut []string `json:"talks_out,omitempty"`
}

// Hop is one step of an attack path: a client that reaches a server.
type Hop struct {
	From  string   `json:"from"`
	To    string   `json:"to"`
	Proto string   `json:"proto"`
	Ops   []string `json:"ops,omitempty"`
}

// Path is an observed way from an entry point to the asset.
type Path struct {
	Entry    string   `json:"entry"`
	EntryIPs []string `json:"entry_ips"`
	Why      string   `json:"why"` // why the entry is one
	Hops     []Hop    `json:"hops"`
}

// Reason is one part of a score.
type Reason struct {
	Points int    `json:"points"`
	Why    string `json:"why"`
}

// Risk is one asset's place in the patch list.
type Risk struct {
	Rank     int        `json:"rank,omitempty"`
	Asset    string     `json:"asset"`
	IPs      []string   `json:"ips"`
	Identity string     `json:"identity"`
	Roles    []string   `json:"roles,omitempty"`
	Zone     string     `json:"zone,omitempty"`
	Level    *int       `json:"level,omitempty"`
	Score    int        `json:"score"`
	Reasons  []Reason   `json:"reasons"`
	KEV      []string   `json:"kev,omitempty"` // CVE ids in the KEV catalog
	MaxCVSS  float64    `json:"max_cvss"`
	CVEs     []CVE      `json:"cves,omitempty"`
	Match    AssetMatch `json:"match"`
	Exposure Exposure   `json:"exposure"`
	Paths    []Path     `json:"paths,omitempty"`
}

// Entry is a node an attacker can start from.
type Entry struct {
	Node string `json:"node"`
	Why  string `json:"why"`
}

// Report is the ranked patch list.
type Report struct {
	Generated time.Time `json:"generated"`
	Feed      Summary   `json:"feed"`
	Entries   []Entry   `json:"entries"`
	// PatchFirst: assets with at least one affected match, highest risk first.
	PatchFirst []Risk `json:"patch_first"`
	// Undecided: assets with identity but no affected match: possible
	// matches to check, or what their identity lacks.
	Undecided []Risk   `json:"undecided"`
	Notes     []string `json:"notes,omitempty"`
}

// controller roles: the devices that act on the process.
var controllerRoles = []string{"plc", "rtu", "outstation", "opcua_server"}

// changingOps are the ops that change a device (RECORDS.md vocabulary).
var changingOps = []string{"write", "control", "program_download", "firmware_update", "stop", "start", "restart"}

// riskyServices are non-ICS services an attacker uses on a controller.
var riskyServices = map[string]string{"tcp/21": "FTP", "tcp/22": "SSH", "tcp/23": "Telnet", "tcp/80": "HTTP", "tcp/443": "HTTPS",
	"tcp/8080": "HTTP", "udp/161": "SNMP", "tcp/5900": "VNC", "tcp/3389": "RDP", "udp/69": "TFTP", "tcp/445": "SMB"}

// Score weights. Exploitation in the wild (KEV) outranks everything; then
// severity; then how exposed the asset is; then what it controls.
const (
	pointsKEV      = 40
	pointsPerCVSS  = 4 // × the highest CVSS base score: up to 40
	pointsPath     = 15
	pointsOutside  = 10
	pointsInternet = 10
	pointsChanged  = 5
	pointsServices = 3
	pointsTalksOut = 3
	pointsControl  = 10
	pointsEWS      = 5
	pointsHMI      = 3
)

// Assess matches every asset against the feed, works out its exposure and
// the attack paths to it, and ranks the vulnerable ones.
func (f *Feed) Assess(o Observed, now time.Time) Report {
	r := Report{Generated: now.UTC(), Feed: f.Summary(), Entries: []Entry{}, PatchFirst: []Risk{}, Undecided: []Risk{}}
	g := newGraph(o)
	r.Entries = g.entries
	switch {
	case len(g.entries) == 0 && !o.Zoned:
		r.Notes = append(r.Notes, "no entry point observed: no host with a public address, and no zones configured to tell the IT side from the plant (configure zones: assets outside every zone are then entry points)")
	case len(g.entries) == 0:
		r.Notes = append(r.Notes, "no entry point observed: every asset is in a zone below level 4 and none talks to a public address")
	}
	if r.Feed.Advisories == 0 {
		r.Notes = append(r.Notes, "no advisories imported: otwatch advisories import FILE|DIR, or the dashboard's upload")
	}
	if r.Feed.KEVVersion == "" {
		r.Notes = append(r.Notes, "no KEV catalog imported: known exploitation cannot rank assets")
	}
	cache := map[string]*matchLists{} // assets of one identity match alike
	for i := range o.Doc.Assets {
		a := &o.Doc.Assets[i]
		m := f.match(a, cache)
		if len(a.Identity) == 0 && len(m.Affected) == 0 {
			continue
		}
		risk := Risk{Asset: a.ID, IPs: a.IPs, Identity: m.Identity, Roles: a.Roles, Zone: a.Zone, Level: a.Level, Match: m}
		risk.Exposure = g.exposure(a)
		if len(m.Affected) > 0 {
			risk.Paths = g.paths(a.ID, 3)
		}
		risk.score()
		if len(m.Affected) > 0 {
			r.PatchFirst = append(r.PatchFirst, risk)
		} else {
			r.Undecided = append(r.Undecided, risk)
		}
	}
	sort.SliceStable(r.PatchFirst, func(i, j int) bool { return less(&r.PatchFirst[i], &r.PatchFirst[j]) })
	for i := range r.PatchFirst {
		r.PatchFirst[i].Rank = i + 1
	}
	sort.SliceStable(r.Undecided, func(i, j int) bool {
		a, b := &r.Undecided[i], &r.Undecided[j]
		if len(a.Match.Possible) != len(b.Match.Possible) {
			return len(a.Match.Possible) > len(b.Match.Possible)
		}
		return a.Asset < b.Asset
	})
	return r
}

func less(a, b *Risk) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if len(a.KEV) != len(b.KEV) {
		return len(a.KEV) > len(b.KEV)
	}
	if a.MaxCVSS != b.MaxCVSS {
		return a.MaxCVSS > b.MaxCVSS
	}
	return a.Asset < b.Asset
}

// score adds up the reasons.
func (r *Risk) score() {
	seen := map[string]bool{}
	var worst *CVE
	for _, m := range r.Match.Affected {
		for i := range m.CVEs {
			c := m.CVEs[i]
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			r.CVEs = append(r.CVEs, c)
			if c.KEV {
				r.KEV = append(r.KEV, c.ID)
			}
			if c.CVSS > r.MaxCVSS {
				r.MaxCVSS = c.CVSS
			}
		}
	}
	sort.Slice(r.CVEs, func(i, j int) bool {
		if r.CVEs[i].KEV != r.CVEs[j].KEV {
			return r.CVEs[i].KEV
		}
		if r.CVEs[i].CVSS != r.CVEs[j].CVSS {
			return r.CVEs[i].CVSS > r.CVEs[j].CVSS
		}
		return r.CVEs[i].ID < r.CVEs[j].ID
	})
	if len(r.CVEs) > 0 {
		worst = &r.CVEs[0]
	}
	add := func(p int, format string, args ...any) {
		r.Reasons = append(r.Reasons, Reason{p, fmt.Sprintf(format, args...)})
		r.Score += p
	}
	if len(r.KEV) > 0 {
		sort.Strings(r.KEV)
		add(pointsKEV, "known exploited (CISA KEV): %s", strings.Join(r.KEV, ", "))
	}
	if worst != nil && r.MaxCVSS > 0 {
		add(int(r.MaxCVSS*pointsPerCVSS+0.5), "highest CVSS %.1f (%s) among %d CVEs in %d advisories", r.MaxCVSS, worstID(r.CVEs, r.MaxCVSS),
			len(r.CVEs), len(r.Match.Affected))
	}
	e := &r.Exposure
	switch {
	case len(r.Paths) > 0 && len(r.Paths[0].Hops) == 0:
		add(pointsPath, "it is itself an entry point (%s)", r.Paths[0].Why)
	case len(r.Paths) > 0:
		add(pointsPath, "reachable from entry point %s (%s) in %d hop(s)", strings.Join(r.Paths[0].EntryIPs, ","), r.Paths[0].Why, len(r.Paths[0].Hops))
	}
	if len(e.Outside) > 0 {
		add(pointsOutside, "reached from outside its zone or level: %s", strings.Join(first(e.Outside, 3), "; "))
	}
	if len(e.Internet) > 0 {
		add(pointsInternet, "public addresses among it and its peers: %s", strings.Join(first(e.Internet, 3), ", "))
	}
	if e.Changers > 0 {
		add(pointsChanged, "%d client(s) write to it, control or program it", e.Changers)
	}
	if len(e.Services) > 0 {
		add(pointsServices, "answers on %s", strings.Join(e.Services, ", "))
	}
	if len(e.TalksOut) > 0 {
		add(pointsTalksOut, "it calls out: %s", strings.Join(first(e.TalksOut, 3), ", "))
	}
	switch {
	case hasAny(r.Roles, controllerRoles):
		add(pointsControl, "a controller (%s): it acts on the process", strings.Join(r.Roles, ", "))
	case slices.Contains(r.Roles, "engineering_workstation"):
		add(pointsEWS, "an engineering workstation: it programs controllers")
	case hasAny(r.Roles, []string{"hmi", "scada_master", "historian"}):
		add(pointsHMI, "an operator station (%s)", strings.Join(r.Roles, ", "))
	}
	r.Score = min(r.Score, 100)
}

func worstID(cs []CVE, cvss float64) string {
	for _, c := range cs {
		if c.CVSS == cvss {
			return c.ID
		}
	}
	return ""
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(append([]string(nil), s[:n]...), fmt.Sprintf("%d more", len(s)-n))
	}
	return s
}

func hasAny(list, want []string) bool {
	for _, x := range list {
		if slices.Contains(want, x) {
			return true
		}
	}
	return false
}

// graph is the observed who-reaches-whom: client → server edges of the
// inventory's links and of the conversations.
type graph struct {
	o       *Observed
	assets  map[string]*inventory.Asset
	byIP    map[string]string // address → asset id
	in      map[string][]edge // server → its clients
	out     map[string][]edge // client → its servers
	entries []Entry
	entry   map[string]string
}

type edge struct {
	from, to, proto string
	ops             map[string]uint64
}

func newGraph(o Observed) *graph {
	g := &graph{o: &o, assets: map[string]*inventory.Asset{}, byIP: map[string]string{}, in: map[string][]edge{}, out: map[string][]edge{},
		entry: map[string]string{}}
	for i := range o.Doc.Assets {
		a := &o.Doc.Assets[i]
		g.assets[a.ID] = a
		for _, ip := range a.IPs {
			g.byIP[ip] = a.ID
		}
	}
	add := func(e edge) {
		g.out[e.from] = append(g.out[e.from], e)
		g.in[e.to] = append(g.in[e.to], e)
	}
	for _, l := range o.Doc.Links {
		if l.Client != l.Server {
			add(edge{l.Client, l.Server, l.Proto, l.Ops})
		}
	}
	for _, c := range o.Conversations {
		from, to := g.node(c.Client), g.node(c.Server)
		if from == to {
			continue
		}
		t := "tcp"
		if c.Proto == 17 {
			t = "udp"
		}
		add(edge{from, to, fmt.Sprintf("%s/%d", t, c.Port), nil})
	}
	// entry points: the unzoned (IT) side and the business levels when
	// zones are drawn; anything with a public address, or talking to one
	nodes := map[string]bool{}
	for id := range g.assets {
		nodes[id] = true
	}
	for n := range g.out {
		nodes[n] = true
	}
	for n := range g.in {
		nodes[n] = true
	}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if why := g.entryWhy(n); why != "" {
			g.entry[n] = why
			g.entries = append(g.entries, Entry{n, why})
		}
	}
	return g
}

func (g *graph) node(ip netip.Addr) string {
	if id, ok := g.byIP[ip.String()]; ok {
		return id
	}
	return "ip:" + ip.String()
}

func (g *graph) ips(node string) []string {
	if a := g.assets[node]; a != nil {
		return a.IPs
	}
	return []string{strings.TrimPrefix(node, "ip:")}
}

// zone of a node: name, level (-1 unknown), known.
func (g *graph) zone(node string) (string, int, bool) {
	if a := g.assets[node]; a != nil {
		if a.Zone == "" {
			return "", -1, false
		}
		l := -1
		if a.Level != nil {
			l = *a.Level
		}
		return a.Zone, l, true
	}
	if g.o.ZoneOf != nil {
		if ip, err := netip.ParseAddr(strings.TrimPrefix(node, "ip:")); err == nil {
			if name, l, ok := g.o.ZoneOf(ip); ok {
				return name, l, true
			}
		}
	}
	return "", -1, false
}

func public(s string) bool {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
}

// internet says whether an address is on the internet side: public, and
// in no configured zone (a plant that numbers its own networks with public
// addresses puts them in its zones).
func (g *graph) internet(node, ip string) bool {
	if !public(ip) {
		return false
	}
	_, _, zoned := g.zone(node)
	return !(g.o.Zoned && zoned)
}

func (g *graph) entryWhy(n string) string {
	for _, ip := range g.ips(n) {
		if g.internet(n, ip) {
			return "public address " + ip
		}
	}
	for _, e := range append(append([]edge(nil), g.out[n]...), g.in[n]...) {
		peer := e.to
		if peer == n {
			peer = e.from
		}
		for _, ip := range g.ips(peer) {
			if g.internet(peer, ip) {
				return "talks with public address " + ip
			}
		}
	}
	if g.o.Zoned {
		name, level, ok := g.zone(n)
		switch {
		case !ok:
			return "outside every zone (the IT side)"
		case level >= 4:
			return fmt.Sprintf("zone %s is at level %d (business network)", name, level)
		}
	}
	return ""
}

// exposure of an asset, from its clients, services and calls.
func (g *graph) exposure(a *inventory.Asset) Exposure {
	e := Exposure{Clients: []Client{}}
	byClient := map[string]*Client{}
	var order []string
	azone, alevel, azoned := g.zone(a.ID)
	for _, ed := range g.in[a.ID] {
		c := byClient[ed.from]
		if c == nil {
			c = &Client{Node: ed.from, IPs: g.ips(ed.from), Ops: map[string]uint64{}, Entry: g.entry[ed.from]}
			if name, l, ok := g.zone(ed.from); ok {
				c.Zone = name
				if l >= 0 {
					lv := l
					c.Level = &lv
				}
			}
			byClient[ed.from] = c
			order = append(order, ed.from)
		}
		if !slices.Contains(c.Protos, ed.proto) {
			c.Protos = append(c.Protos, ed.proto)
		}
		for op, n := range ed.ops {
			c.Ops[op] += n
			if slices.Contains(changingOps, op) && n > 0 {
				c.Changes = true
			}
		}
	}
	for _, n := range order {
		c := byClient[n]
		czone, clevel, czoned := g.zone(n)
		switch {
		case g.o.Zoned && czone != azone:
			from, to := czone, azone
			if !czoned {
				from = "unzoned"
			}
			if !azoned {
				to = "unzoned"
			}
			c.Outside = fmt.Sprintf("from zone %s into zone %s", from, to)
		case g.o.Zoned && czoned && azoned && clevel >= 0 && alevel >= 0 && (clevel-alevel > 1 || alevel-clevel > 1):
			c.Outside = fmt.Sprintf("from level %d to level %d, skipping a level", clevel, alevel)
		case !g.o.Zoned && !sameSubnet(c.IPs, a.IPs):
			c.Outside = "from another subnet (zones not configured)"
		}
		if c.Outside != "" {
			e.Outside = append(e.Outside, strings.Join(c.IPs, ",")+" "+c.Outside)
		}
		if c.Changes {
			e.Changers++
		}
		for _, ip := range c.IPs {
			if g.internet(n, ip) {
				e.Internet = append(e.Internet, ip)
			}
		}
		sort.Strings(c.Protos)
		if len(c.Ops) == 0 {
			c.Ops = nil
		}
		e.Clients = append(e.Clients, *c)
	}
	for _, ip := range a.IPs {
		if g.internet(a.ID, ip) {
			e.Internet = append([]string{ip + " (its own)"}, e.Internet...)
		}
	}
	for _, s := range a.Services {
		if name, ok := riskyServices[s]; ok {
			e.Services = append(e.Services, s+" ("+name+")")
		}
	}
	seen := map[string]bool{}
	for _, ed := range g.out[a.ID] {
		t := strings.Join(g.ips(ed.to), ",") + " " + ed.proto
		if !seen[t] {
			seen[t] = true
			e.TalksOut = append(e.TalksOut, t)
		}
		for _, ip := range g.ips(ed.to) {
			if g.internet(ed.to, ip) && !slices.Contains(e.Internet, ip) {
				e.Internet = append(e.Internet, ip)
			}
		}
	}
	sort.Strings(e.TalksOut)
	return e
}

func sameSubnet(a, b []string) bool {
	for _, x := range a {
		px, err := netip.ParseAddr(x)
		if err != nil {
			continue
		}
		bits := 24
		if px.Is6() && !px.Is4In6() {
			bits = 64
		}
		p, _ := px.Unmap().Prefix(bits)
		for _, y := range b {
			if py, err := netip.ParseAddr(y); err == nil && p.Contains(py.Unmap()) {
				return true
			}
		}
	}
	return false
}

// paths finds the shortest observed path from each entry point to the
// target (breadth first over client → server edges), the n shortest of them.
func (g *graph) paths(target string, n int) []Path {
	if why, ok := g.entry[target]; ok {
		return []Path{{Entry: target, EntryIPs: g.ips(target), Why: why, Hops: []Hop{}}}
	}
	// breadth first backwards from the target: the first entries reached
	// are the nearest
	prev := map[string]edge{}
	seen := map[string]bool{target: true}
	queue := []string{target}
	var found []string
	for len(queue) > 0 && len(found) < n {
		cur := queue[0]
		queue = queue[1:]
		ins := g.in[cur]
		sort.Slice(ins, func(i, j int) bool { return ins[i].from < ins[j].from })
		for _, e := range ins {
			if seen[e.from] {
				continue
			}
			seen[e.from] = true
			prev[e.from] = e
			if _, ok := g.entry[e.from]; ok {
				found = append(found, e.from)
				if len(found) >= n {
					break
				}
			}
			queue = append(queue, e.from)
		}
	}
	var out []Path
	for _, start := range found {
		p := Path{Entry: start, EntryIPs: g.ips(start), Why: g.entry[start], Hops: []Hop{}}
		for cur := start; cur != target; {
			e := prev[cur]
			h := Hop{From: e.from, To: e.to, Proto: e.proto}
			for op, c := range e.ops {
				if c > 0 {
					h.Ops = append(h.Ops, op)
				}
			}
			sort.Strings(h.Ops)
			p.Hops = append(p.Hops, h)
			cur = e.to
		}
		out = append(out, p)
	}
	return out
}
