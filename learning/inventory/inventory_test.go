package inventory_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/frame"
	"github.com/otwatch/otwatch/protocols/lldp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mac(last byte) [6]byte { return [6]byte{0x00, 0x1b, 0x1b, 0x00, 0x00, last} } // 001B1B: Siemens

// ep builds an endpoint; a zero mac means no link layer.
func ep(ip string, port uint16, m [6]byte) protocols.Endpoint {
	e := protocols.Endpoint{IP: netip.MustParseAddr(ip), Port: port, LinkAddress: -1}
	if m != ([6]byte{}) {
		e.MAC, e.HasMAC = m, true
	}
	return e
}

type txOpt func(*protocols.Transaction)

func withOp(op protocols.Op) txOpt { return func(t *protocols.Transaction) { t.Op = op } }
func withProto(p string) txOpt     { return func(t *protocols.Transaction) { t.Proto = p } }
func withCode(c, sub int) txOpt {
	return func(t *protocols.Transaction) { t.Code, t.Subcode, t.HasSubcode = c, sub, sub >= 0 }
}
func withTarget(space string, addr, count uint64) txOpt {
	return func(t *protocols.Transaction) {
		t.Targets = append(t.Targets, protocols.Target{Space: space, Address: addr, Count: count})
	}
}

// tx builds a Modbus read transaction at t0+frame seconds.
func tx(client, server protocols.Endpoint, frame uint64, opts ...txOpt) *protocols.Transaction {
	at := t0.Add(time.Duration(frame) * time.Second)
	t := &protocols.Transaction{Proto: "modbus", Client: client, Server: server, Op: protocols.OpRead, Code: 3,
		RequestFrame: frame, ResponseFrame: frame + 1, RequestTime: at, ResponseTime: at.Add(time.Millisecond)}
	for _, o := range opts {
		o(t)
	}
	return t
}

// deviceID builds a Modbus 43/14 response carrying identification objects.
func deviceID(client, server protocols.Endpoint, frame uint64, kv ...string) *protocols.Transaction {
	t := tx(client, server, frame, withOp(protocols.OpDiscovery), withCode(43, 14))
	for i := 0; i+1 < len(kv); i += 2 {
		t.Attrs = append(t.Attrs, protocols.Attr{Key: kv[i], Value: kv[i+1]})
	}
	return t
}

func kinds(evs []inventory.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind.String())
	}
	return out
}

func asset(t *testing.T, doc inventory.Document, id string) inventory.Asset {
	t.Helper()
	for _, a := range doc.Assets {
		if a.ID == id {
			return a
		}
	}
	t.Fatalf("no asset %s in %v", id, ids(doc))
	return inventory.Asset{}
}

func ids(doc inventory.Document) []string {
	var out []string
	for _, a := range doc.Assets {
		out = append(out, a.ID)
	}
	return out
}

func TestAssetsLinksEvents(t *testing.T) {
	inv := inventory.New(inventory.Limits{})
	hmi := ep("10.0.0.10", 40000, mac(0x10))
	plc := ep("10.0.0.20", 502, mac(0x20))
	evs := inv.Observe(tx(hmi, plc, 1))
	if got := kinds(evs); !reflect.DeepEqual(got, []string{"new_asset", "new_asset", "new_link"}) {
		t.Fatalf("events %v", got)
	}
	if e := evs[2]; e.Asset != "mac:00:1b:1b:00:00:20" || e.Peer != "mac:00:1b:1b:00:00:10" || e.Proto != "modbus" || e.Frame != 1 || !e.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("new_link event %+v", e)
	}
	if evs := inv.Observe(tx(hmi, plc, 3, withOp(protocols.OpWrite))); evs != nil {
		t.Errorf("second transaction: events %v", kinds(evs))
	}
	// the PLC becomes a client too: a new protocol side for a known asset
	pc := ep("10.0.0.30", 502, mac(0x30))
	if got := kinds(inv.Observe(tx(plc, pc, 5))); !reflect.DeepEqual(got, []string{"new_asset", "new_protocol", "new_link"}) {
		t.Errorf("plc as client: events %v", got)
	}
	doc := inv.Document()
	if len(doc.Assets) != 3 || len(doc.Links) != 2 {
		t.Fatalf("doc %+v", doc)
	}
	p := asset(t, doc, "mac:00:1b:1b:00:00:20")
	if p.MAC != "00:1b:1b:00:00:20" || p.Vendor != "Siemens AG," || !reflect.DeepEqual(p.IPs, []string{"10.0.0.20"}) {
		t.Errorf("plc %+v", p)
	}
	if len(p.Protocols) != 2 || p.Protocols[0].Side != "client" || p.Protocols[1].Side != "server" || p.Protocols[1].Port != 502 {
		t.Errorf("plc protocols %+v", p.Protocols)
	}
	l := doc.Links[0]
	if l.Client != "mac:00:1b:1b:00:00:10" || l.Server != "mac:00:1b:1b:00:00:20" || !reflect.DeepEqual(l.Ops, map[string]uint64{"read": 1, "write": 1}) {
		t.Errorf("link %+v", l)
	}
	if l.FirstSeen != "2026-01-02T03:04:06.000000000Z" || l.LastSeen != "2026-01-02T03:04:08.000000000Z" {
		t.Errorf("link times %s %s", l.FirstSeen, l.LastSeen)
	}
	if id, ok := inv.AssetID(netip.MustParseAddr("10.0.0.10")); !ok || id != "mac:00:1b:1b:00:00:10" {
		t.Errorf("AssetID = %q %v", id, ok)
	}
	if _, ok := inv.AssetID(netip.MustParseAddr("10.9.9.9")); ok {
		t.Error("AssetID of an unknown address")
	}
}

func TestDocumentJSONContract(t *testing.T) {
	inv := inventory.New(inventory.Limits{})
	inv.Observe(tx(ep("10.0.0.10", 40000, [6]byte{}), ep("10.0.0.20", 502, [6]byte{}), 1))
	b, err := json.Marshal(inv.Document())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string][]map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"id", "ips", "mac", "vendor", "roles", "protocols", "identity", "first_seen", "last_seen"} {
		if _, ok := doc["assets"][0][f]; !ok {
			t.Errorf("asset lacks %q: %s", f, b)
		}
	}
	for _, f := range []string{"client", "server", "proto", "ops", "first_seen", "last_seen"} {
		if _, ok := doc["links"][0][f]; !ok {
			t.Errorf("link lacks %q: %s", f, b)
		}
	}
	a := doc["assets"][0]
	if a["id"] != "ip:10.0.0.10" || a["mac"] != "" || a["vendor"] != "" {
		t.Errorf("asset without link layer: %v", a)
	}
	if !bytes.Contains(b, []byte(`"identity":{}`)) || bytes.Contains(b, []byte("null")) {
		t.Errorf("empty lists and objects must not be null: %s", b)
	}
	// deterministic
	b2, _ := json.Marshal(inv.Document())
	if !bytes.Equal(b, b2) {
		t.Error("Document is not deterministic")
	}
}

func TestRouterHandling(t *testing.T) {
	router := [6]byte{0x00, 0x00, 0x0c, 0x07, 0xac, 0x01} // 00000C: Cisco
	plc := ep("10.0.0.20", 502, mac(0x20))
	t.Run("many IPs behind one MAC", func(t *testing.T) {
		inv := inventory.New(inventory.Limits{RouterIPs: 3})
		// the first remote client looks like a host with its own MAC
		evs := inv.Observe(tx(ep("192.168.5.1", 40000, router), plc, 1))
		if evs[0].Asset != "mac:00:00:0c:07:ac:01" {
			t.Fatalf("first: %+v", evs[0])
		}
		inv.Observe(tx(ep("192.168.5.2", 40000, router), plc, 300))       // same /24, first quiet: an address change?
		evs = inv.Observe(tx(ep("192.168.5.3", 40000, router), plc, 600)) // third: a router
		if got := kinds(evs); !reflect.DeepEqual(got, []string{"new_asset", "new_link", "router_detected", "new_asset"}) {
			t.Errorf("events %v", got)
		} else if evs[0].Asset != "ip:192.168.5.3" || evs[2].Asset != "ip:192.168.5.1" || evs[2].Peer != "mac:00:00:0c:07:ac:01" ||
			evs[3].Asset != "ip:192.168.5.2" || evs[3].Peer != "mac:00:00:0c:07:ac:01" {
			t.Errorf("events %+v", evs)
		}
		doc := inv.Document()
		for i, ip := range []string{"192.168.5.1", "192.168.5.2", "192.168.5.3"} {
			a := asset(t, doc, "ip:"+ip)
			if a.MAC != "" || a.Vendor != "" || a.RouterMAC != "00:00:0c:07:ac:01" || !reflect.DeepEqual(a.IPs, []string{ip}) {
				t.Errorf("asset %d: %+v", i, a)
			}
			if id, _ := inv.AssetID(netip.MustParseAddr(ip)); id != "ip:"+ip {
				t.Errorf("AssetID(%s) = %s", ip, id)
			}
		}
		if len(doc.Routers) != 1 || doc.Routers[0].MAC != "00:00:0c:07:ac:01" || doc.Routers[0].Vendor != "Cisco Systems, Inc" {
			t.Errorf("routers %+v", doc.Routers)
		}
		if len(doc.Assets) != 4 {
			t.Errorf("assets %v", ids(doc))
		}
	})
	t.Run("two subnets behind one MAC, learnt from packets", func(t *testing.T) {
		inv := inventory.New(inventory.Limits{})
		for _, ip := range []string{"192.168.5.1", "172.16.0.9"} {
			d := &frame.Decoded{SrcMAC: router, HasMAC: true, Src: netip.MustParseAddr(ip), Dst: plc.IP, IPProto: frame.ProtoTCP}
			inv.ObservePacket(d, 60, t0.UnixNano(), nil)
		}
		evs := inv.Observe(tx(ep("172.16.0.9", 40000, router), plc, 3))
		if evs[0].Asset != "ip:172.16.0.9" || !strings.Contains(evs[0].Message, "behind router") {
			t.Errorf("event %+v", evs[0])
		}
		a := asset(t, inv.Document(), "ip:172.16.0.9")
		if a.MAC != "" || a.Packets != 1 || a.Bytes != 60 {
			t.Errorf("asset %+v", a)
		}
	})
	t.Run("two hosts at once behind one MAC, one subnet", func(t *testing.T) {
		inv := inventory.New(inventory.Limits{})
		inv.Observe(tx(ep("192.168.5.1", 40000, router), plc, 1))
		inv.Observe(tx(ep("192.168.5.2", 40000, router), plc, 3)) // the first sent 2 s ago: concurrent
		doc := inv.Document()
		for _, id := range []string{"ip:192.168.5.1", "ip:192.168.5.2"} {
			if a := asset(t, doc, id); a.MAC != "" || len(a.Protocols) != 1 || a.Protocols[0].Side != "client" {
				t.Errorf("%s: %+v", id, a)
			}
		}
	})
	t.Run("a multi-homed host that claims both addresses in ARP is not a router", func(t *testing.T) {
		inv := inventory.New(inventory.Limits{})
		station := mac(0x42)
		for _, ip := range []string{"192.168.5.1", "192.168.7.1"} { // two subnets, one NIC
			d := &frame.Decoded{}
			d.ARP = frame.ARP{Valid: true, Op: frame.ARPRequest, SenderMAC: station, SenderIP: netip.MustParseAddr(ip)}
			inv.ObserveARP(d, 1, t0.UnixNano())
		}
		inv.Observe(tx(ep("192.168.5.1", 40000, station), plc, 1))
		inv.Observe(tx(ep("192.168.7.1", 40000, station), plc, 3)) // at once, and in another subnet
		doc := inv.Document()
		a := asset(t, doc, "mac:00:1b:1b:00:00:42")
		if a.RouterMAC != "" || !reflect.DeepEqual(a.IPs, []string{"192.168.5.1", "192.168.7.1"}) {
			t.Errorf("the station: %+v", a)
		}
		if len(doc.Routers) != 0 {
			t.Errorf("routers %+v", doc.Routers)
		}
		// the same MAC forwarding a third address it never claimed is a router after all
		inv.Observe(tx(ep("10.9.9.9", 40000, station), plc, 5))
		if len(inv.Document().Routers) != 1 {
			t.Error("a MAC carrying an address it does not claim was not called a router")
		}
	})
	t.Run("sporadic hosts behind a router keep their own history", func(t *testing.T) {
		inv := inventory.New(inventory.Limits{})
		plc3 := ep("10.0.0.23", 102, mac(0x23))
		inv.Observe(tx(ep("192.168.5.1", 40000, router), plc, 1))
		// an hour later another address: looks like an address change...
		inv.Observe(tx(ep("192.168.5.2", 40000, router), plc3, 3600, withProto("s7comm"), withOp(protocols.OpProgramDownload)))
		if doc := inv.Document(); len(doc.Assets) != 3 {
			t.Fatalf("before: %v", ids(doc))
		}
		// ...until a third shows the MAC is a router's
		inv.Observe(tx(ep("192.168.5.3", 40000, router), plc, 7200))
		doc := inv.Document()
		a, b := asset(t, doc, "ip:192.168.5.1"), asset(t, doc, "ip:192.168.5.2")
		if !reflect.DeepEqual(a.Roles, []string{"hmi"}) || len(a.Protocols) != 1 || a.Protocols[0].Proto != "modbus" {
			t.Errorf("first host %+v", a)
		}
		if !reflect.DeepEqual(b.Roles, []string{"engineering_workstation"}) || len(b.Protocols) != 1 || b.Protocols[0].Proto != "s7comm" {
			t.Errorf("second host %+v", b)
		}
	})
	t.Run("address change keeps one asset", func(t *testing.T) {
		inv := inventory.New(inventory.Limits{})
		inv.Observe(tx(ep("10.0.0.10", 40000, mac(0x10)), plc, 1))
		evs := inv.Observe(tx(ep("10.0.0.11", 40000, mac(0x10)), plc, 200)) // after a quiet period
		if evs != nil {
			t.Errorf("address change raised %v", kinds(evs))
		}
		a := asset(t, inv.Document(), "mac:00:1b:1b:00:00:10")
		if !reflect.DeepEqual(a.IPs, []string{"10.0.0.10", "10.0.0.11"}) || a.MAC == "" {
			t.Errorf("asset %+v", a)
		}
	})
	t.Run("dual stack and link-local are not a router", func(t *testing.T) {
		inv := inventory.New(inventory.Limits{})
		m := mac(0x44)
		for _, ip := range []string{"10.0.0.44", "fe80::21b:1bff:fe00:44", "2001:db8::44"} {
			inv.Observe(tx(ep(ip, 40000, m), plc, 1))
		}
		a := asset(t, inv.Document(), "mac:00:1b:1b:00:00:44")
		if len(a.IPs) != 3 {
			t.Errorf("asset %+v", a)
		}
	})
}

func TestIdentityConflict(t *testing.T) {
	inv := inventory.New(inventory.Limits{})
	hmi, plc := ep("10.0.0.10", 40000, mac(0x10)), ep("10.0.0.20", 502, mac(0x20))
	inv.Observe(deviceID(hmi, plc, 10, "vendor_name", "Schneider Electric", "major_minor_revision", "V2.1"))
	if evs := inv.Observe(deviceID(hmi, plc, 20, "vendor_name", "Schneider Electric", "major_minor_revision", "V2.1")); evs != nil {
		t.Errorf("same identity again: %v", kinds(evs))
	}
	evs := inv.Observe(deviceID(hmi, plc, 30, "vendor_name", "Schneider Electric", "major_minor_revision", "V3.0"))
	if got := kinds(evs); !reflect.DeepEqual(got, []string{"identity_conflict"}) {
		t.Fatalf("events %v", got)
	}
	if e := evs[0]; e.Asset != "mac:00:1b:1b:00:00:20" || !strings.Contains(e.Message, `"V3.0"`) || !strings.Contains(e.Message, `"V2.1"`) {
		t.Errorf("event %+v", e)
	}
	a := asset(t, inv.Document(), "mac:00:1b:1b:00:00:20")
	fw := a.Identity["firmware"]
	if fw.Value != "V3.0" || fw.Source.Frame != 31 || fw.Source.Proto != "modbus" || fw.Source.Message != "read_device_identification" {
		t.Errorf("firmware %+v", fw)
	}
	if len(fw.Others) != 1 || fw.Others[0].Value != "V2.1" || fw.Others[0].Source.Frame != 11 || fw.Others[0].Source.LastFrame != 21 || fw.Others[0].Source.Count != 2 {
		t.Errorf("other values %+v", fw.Others)
	}
	if !reflect.DeepEqual(a.Conflicts, []string{"firmware"}) {
		t.Errorf("conflicts %v", a.Conflicts)
	}
	if v := a.Identity["vendor_name"]; v.Value != "Schneider Electric" || v.Source.Count != 3 || v.Source.Frame != 11 || v.Source.LastFrame != 31 || v.Others != nil {
		t.Errorf("vendor_name %+v", v)
	}
	if v := a.Identity["vendor_name"]; v.Source.TS != "2026-01-02T03:04:15.001000000Z" {
		t.Errorf("provenance time is the response's: %s", v.Source.TS)
	}
}

func TestLimits(t *testing.T) {
	inv := inventory.New(inventory.Limits{MaxAssets: 3, MaxLinks: 1})
	plc := ep("10.0.0.20", 502, mac(0x20))
	var all []inventory.Event
	for i := 0; i < 6; i++ {
		c := ep(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}).String(), 40000, mac(byte(i)))
		all = append(all, inv.Observe(tx(c, plc, uint64(2*i+1)))...)
	}
	count := map[string]int{}
	for _, e := range all {
		count[e.Kind.String()]++
	}
	if count["new_asset"] != 3 || count["new_link"] != 1 || count["limit_reached"] != 2 {
		t.Errorf("events %v", kinds(all))
	}
	if a, l := inv.Len(); a != 3 || l != 1 {
		t.Errorf("%d assets, %d links", a, l)
	}
	st := inv.Stats()
	if st.AssetsDropped != 4 || st.LinksDropped != 1 { // clients 2..5; client 1's link
		t.Errorf("stats %+v", st)
	}
	doc := inv.Document()
	if doc.Dropped == nil || doc.Dropped.AssetsDropped != 4 {
		t.Errorf("document dropped %+v", doc.Dropped)
	}
	// host tracking from packets is bounded too
	inv2 := inventory.New(inventory.Limits{MaxAssets: 2, MaxHosts: 5})
	for i := 0; i < 100; i++ {
		d := &frame.Decoded{Src: netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), Dst: plc.IP, IPProto: frame.ProtoUDP}
		inv2.ObservePacket(d, 60, t0.UnixNano(), nil)
	}
	if inv2.Stats().HostsDropped != 95 {
		t.Errorf("hosts dropped %d", inv2.Stats().HostsDropped)
	}
}

func TestRoles(t *testing.T) {
	inv := inventory.New(inventory.Limits{})
	plc1, plc2, plc3 := ep("10.0.0.21", 502, mac(0x21)), ep("10.0.0.22", 502, mac(0x22)), ep("10.0.0.23", 102, mac(0x23))
	scada := ep("10.0.0.5", 40000, mac(0x05))
	hmi := ep("10.0.0.6", 40001, mac(0x06))
	ews := ep("10.0.0.7", 40002, mac(0x07))
	hist := ep("10.0.0.8", 40003, mac(0x08))
	ua := ep("10.0.0.9", 4840, mac(0x09))
	rtu := ep("10.0.0.30", 20000, mac(0x30))
	f := uint64(1)
	next := func() uint64 { f += 2; return f }
	for _, p := range []protocols.Endpoint{plc1, plc2, plc3} {
		inv.Observe(tx(scada, p, next(), withOp(protocols.OpWrite)))
	}
	inv.Observe(tx(hmi, plc1, next(), withOp(protocols.OpWrite)))
	inv.Observe(tx(ews, plc3, next(), withProto("s7comm"), withOp(protocols.OpDiscovery), withCode(4, 1)))
	inv.Observe(tx(ews, plc3, next(), withProto("s7comm"), withOp(protocols.OpProgramDownload), withCode(0x1a, -1)))
	for i := 0; i < 40; i++ {
		inv.Observe(tx(hist, plc2, next(), withTarget("holding_register", uint64(i*10), 10)))
	}
	inv.Observe(tx(hist, ua, next(), withProto("opcua"), withCode(631, -1)))
	inv.Observe(tx(scada, rtu, next(), withProto("dnp3"), withCode(1, -1)))
	doc := inv.Document()
	want := map[string][]string{
		"mac:00:1b:1b:00:00:21": {"plc"},
		"mac:00:1b:1b:00:00:23": {"plc"},
		"mac:00:1b:1b:00:00:05": {"scada_master"},
		"mac:00:1b:1b:00:00:06": {"hmi"},
		"mac:00:1b:1b:00:00:07": {"engineering_workstation"},
		"mac:00:1b:1b:00:00:08": {"historian", "opcua_client"},
		"mac:00:1b:1b:00:00:09": {"opcua_server"},
		"mac:00:1b:1b:00:00:30": {"outstation", "rtu"},
	}
	for id, roles := range want {
		a := asset(t, doc, id)
		if !reflect.DeepEqual(a.Roles, roles) {
			t.Errorf("%s roles %v, want %v (evidence %v)", id, a.Roles, roles, a.RoleEvidence)
		}
		for _, r := range roles {
			if a.RoleEvidence[r] == "" {
				t.Errorf("%s: no evidence for %s", id, r)
			}
		}
	}
	ev := asset(t, doc, "mac:00:1b:1b:00:00:07").RoleEvidence["engineering_workstation"]
	if !strings.Contains(ev, "program_download ×1, first in frame") || !strings.Contains(ev, "engineering-only requests ×1") {
		t.Errorf("evidence %q", ev)
	}
}

func TestPacketsAndVLAN(t *testing.T) {
	inv := inventory.New(inventory.Limits{})
	hmi, plc := ep("10.0.0.10", 40000, mac(0x10)), ep("10.0.0.20", 502, mac(0x20))
	pkt := func(src, dst protocols.Endpoint, n int, at time.Time) {
		d := &frame.Decoded{SrcMAC: src.MAC, HasMAC: true, VLAN: 7, Src: src.IP, Dst: dst.IP, IPProto: frame.ProtoTCP}
		inv.ObservePacket(d, n, at.UnixNano(), nil)
	}
	pkt(hmi, plc, 74, t0) // SYN before any transaction
	pkt(plc, hmi, 74, t0.Add(time.Millisecond))
	inv.Observe(tx(hmi, plc, 3))
	pkt(hmi, plc, 66, t0.Add(time.Hour))
	a := asset(t, inv.Document(), "mac:00:1b:1b:00:00:10")
	if a.PacketsSent != 2 || a.BytesSent != 140 || a.PacketsReceived != 1 || a.BytesReceived != 74 || a.Packets != 3 || a.Bytes != 214 {
		t.Errorf("counts %+v", a)
	}
	if !reflect.DeepEqual(a.VLANs, []uint16{7}) {
		t.Errorf("vlans %v", a.VLANs)
	}
	if a.FirstSeen != "2026-01-02T03:04:05.000000000Z" || a.LastSeen != "2026-01-02T04:04:05.000000000Z" {
		t.Errorf("first/last %s %s", a.FirstSeen, a.LastSeen)
	}
}

// TestStateRoundTrip: a restored inventory continues counts, first/last
// seen and knows what it already reported; the store checkpoints it.
func TestStateRoundTrip(t *testing.T) {
	hmi, plc := ep("10.0.0.10", 40000, mac(0x10)), ep("10.0.0.20", 502, mac(0x20))
	router := [6]byte{0x00, 0x00, 0x0c, 0x07, 0xac, 0x01}
	first := inventory.New(inventory.Limits{})
	first.Observe(tx(hmi, plc, 1))
	first.Observe(deviceID(hmi, plc, 3, "vendor_name", "ACME"))
	for i := 0; i < 3; i++ {
		first.Observe(tx(ep(netip.AddrFrom4([4]byte{192, 168, 9, byte(i)}).String(), 1, router), plc, 5))
	}
	first.ObservePacket(&frame.Decoded{SrcMAC: hmi.MAC, HasMAC: true, Src: hmi.IP, Dst: plc.IP}, 100, t0.UnixNano(), nil)
	before := first.Document()

	path := t.TempDir() + "/state.db"
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Checkpoint(map[string]store.Component{"inventory": first}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	second := inventory.New(inventory.Limits{})
	if err := st.Load(map[string]store.Component{"inventory": second}); err != nil {
		t.Fatal(err)
	}
	if after := second.Document(); !reflect.DeepEqual(before, after) {
		a, _ := json.Marshal(before)
		b, _ := json.Marshal(after)
		t.Fatalf("restored document differs:\n%s\n%s", a, b)
	}
	// continuing: no new events for what is known; counts and last seen go on
	later := t0.Add(24 * time.Hour)
	again := tx(hmi, plc, 1)
	again.RequestTime, again.ResponseTime = later, later
	if evs := second.Observe(again); evs != nil {
		t.Errorf("known link after restart raised %v", kinds(evs))
	}
	if evs := second.Observe(deviceID(hmi, plc, 3, "vendor_name", "ACME")); evs != nil {
		t.Errorf("known identity after restart raised %v", kinds(evs))
	}
	if evs := second.Observe(tx(ep("192.168.9.77", 1, router), plc, 5)); len(evs) != 2 || evs[0].Asset != "ip:192.168.9.77" {
		t.Errorf("router state lost: %v", evs)
	}
	second.ObservePacket(&frame.Decoded{SrcMAC: hmi.MAC, HasMAC: true, Src: hmi.IP, Dst: plc.IP}, 100, later.UnixNano(), nil)
	doc := second.Document()
	a := asset(t, doc, "mac:00:1b:1b:00:00:10")
	if a.FirstSeen != asset(t, before, a.ID).FirstSeen {
		t.Errorf("first seen moved: %s", a.FirstSeen)
	}
	if a.LastSeen != protocols.FormatTime(later) || a.PacketsSent != 2 || a.BytesSent != 200 {
		t.Errorf("after restart: %+v", a)
	}
	for _, l := range doc.Links {
		if l.Client == a.ID && (l.Ops["read"] != 2 || l.LastSeen != protocols.FormatTime(later)) {
			t.Errorf("link after restart %+v", l)
		}
	}
	if v := asset(t, doc, "mac:00:1b:1b:00:00:20").Identity["vendor_name"]; v.Source.Count != 2 || v.Source.Frame != 4 {
		t.Errorf("identity after restart %+v", v)
	}
	// damaged snapshots are refused, the inventory is left as it was
	for _, bad := range []string{"", "{", `{"version":99}`, `{"version":1,"hosts":[{"ip":"10.0.0.1","asset":5}]}`,
		`{"version":1,"protos":["modbus"],"links":[[0,1,0,0,0,0]]}`, `{"version":1,"protos":["modbus"],"links":[[0,0,0,0,0,0,99,1]]}`} {
		if err := second.UnmarshalState([]byte(bad)); err == nil {
			t.Errorf("snapshot %q accepted", bad)
		}
	}
	if n, _ := second.Len(); n != len(doc.Assets) {
		t.Errorf("failed restore changed the inventory")
	}
}

func TestVendor(t *testing.T) {
	for _, c := range []struct {
		mac  [6]byte
		want string
	}{
		{[6]byte{0x00, 0x1b, 0x1b, 1, 2, 3}, "Siemens AG,"}, // as registered
		{[6]byte{0x00, 0x80, 0xf4, 1, 2, 3}, "TELEMECANIQUE ELECTRIQUE"},
		{[6]byte{0x08, 0x00, 0x30, 1, 2, 3}, "CERN / NETWORK RESEARCH CORPORATION / ROYAL MELBOURNE INST OF TECH"},
		{[6]byte{0x02, 0x1b, 0x1b, 1, 2, 3}, ""}, // locally administered
		{[6]byte{0x01, 0x00, 0x5e, 1, 2, 3}, ""}, // multicast
		{[6]byte{0xfc, 0xff, 0xff, 1, 2, 3}, ""}, // unassigned
	} {
		if got := inventory.Vendor(c.mac); got != c.want {
			t.Errorf("Vendor(% x) = %q, want %q", c.mac, got, c.want)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	inv := inventory.New(inventory.Limits{})
	inv.ZoneOf = func(ip netip.Addr) (string, int, bool) {
		if ip.String() == "10.0.0.20" {
			return "cell-1", 1, true
		}
		return "", -1, false
	}
	hmi, plc := ep("10.0.0.10", 40000, mac(0x10)), ep("10.0.0.20", 502, mac(0x20))
	inv.Observe(tx(hmi, plc, 1))
	inv.Observe(deviceID(hmi, plc, 3, "vendor_name", "ACME, Inc.", "product_name", `Say "hi"`))
	var b bytes.Buffer
	if err := inventory.WriteCSV(&b, inv.Document()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(rows) != 4 || !reflect.DeepEqual(rows[0], inventory.CSVHeader) {
		t.Fatalf("rows %q", rows)
	}
	if rows[2][0] != "asset" || rows[2][1] != "mac:00:1b:1b:00:00:20" || rows[2][9] != "modbus/server/502" ||
		rows[2][10] != `product_name=Say "hi";vendor_name=ACME, Inc.` || rows[2][8] != "plc" ||
		rows[2][16] != "cell-1" || rows[2][17] != "1" || rows[1][16] != "" {
		t.Errorf("asset row %q", rows[2])
	}
	if rows[3][0] != "link" || rows[3][2] != "mac:00:1b:1b:00:00:10" || rows[3][11] != "discovery=1;read=1" {
		t.Errorf("link row %q", rows[3])
	}
}

func TestServices(t *testing.T) {
	inv := inventory.New(inventory.Limits{})
	hmi, plc := ep("10.0.0.10", 40000, mac(0x10)), ep("10.0.0.20", 502, mac(0x20))
	inv.Observe(tx(hmi, plc, 1))
	for _, s := range []struct {
		port  string
		proto uint8
	}{{"502", 6}, {"80", 6}, {"161", 17}, {"80", 6}} {
		inv.ObserveService(netip.MustParseAddrPort("10.0.0.20:"+s.port), s.proto)
	}
	inv.ObserveService(netip.MustParseAddrPort("10.9.9.9:22"), 6) // no such host: nothing
	restored := restarted(t, inv)
	a := asset(t, restored.Document(), "mac:00:1b:1b:00:00:20")
	if !reflect.DeepEqual(a.Services, []string{"tcp/80", "tcp/502", "udp/161"}) {
		t.Errorf("services %q", a.Services)
	}
	if h := asset(t, restored.Document(), "mac:00:1b:1b:00:00:10"); len(h.Services) != 0 {
		t.Errorf("the HMI served nothing: %q", h.Services)
	}
}

func TestLLDP(t *testing.T) {
	inv := inventory.New(inventory.Limits{})
	hmi, plc := ep("10.0.0.10", 40000, mac(0x10)), ep("10.0.0.20", 502, mac(0x20))
	inv.Observe(tx(hmi, plc, 1))
	// the PLC announces itself by its MAC; the HMI only by its management address
	inv.ObserveLLDP(mac(0x20), lldp.Info{ChassisID: "00:1b:1b:00:00:20", SystemName: "PLC-3",
		SystemDesc: "Siemens, SIMATIC S7, CPU 1516-3 PN/DP, FW: V2.8.1"}, 5, t0.UnixNano())
	inv.ObserveLLDP(mac(0x99), lldp.Info{ChassisID: "hmi", SystemName: "HMI-1",
		MgmtAddrs: []netip.Addr{netip.MustParseAddr("10.0.0.10")}}, 6, t0.UnixNano())
	// a switch that talks to no one
	sw := [6]byte{0x00, 0x1b, 0x1b, 0x34, 0x34, 0xce}
	inv.ObserveLLDP(sw, lldp.Info{ChassisID: "00:1b:1b:34:34:cb", PortID: "port-003", SystemDesc: "SCALANCE X 200", Capabilities: 1 << 2}, 7, t0.UnixNano())

	restored := restarted(t, inv)
	doc := restored.Document()
	p := asset(t, doc, "mac:00:1b:1b:00:00:20")
	if p.Identity["system_description"].Value != "Siemens, SIMATIC S7, CPU 1516-3 PN/DP, FW: V2.8.1" ||
		p.Identity["system_name"].Source.Proto != "lldp" || p.Identity["system_name"].Source.Frame != 5 {
		t.Errorf("PLC identity %+v", p.Identity)
	}
	if h := asset(t, doc, "mac:00:1b:1b:00:00:10"); h.Identity["system_name"].Value != "HMI-1" {
		t.Errorf("HMI identity by management address %+v", h.Identity)
	}
	if len(doc.Neighbors) != 1 || doc.Neighbors[0].MAC != "00:1b:1b:34:34:ce" || doc.Neighbors[0].SystemDesc != "SCALANCE X 200" ||
		!reflect.DeepEqual(doc.Neighbors[0].Capabilities, []string{"bridge"}) || doc.Neighbors[0].FirstFrame != 7 {
		t.Errorf("neighbors %+v", doc.Neighbors)
	}
}

// An asset known by an IPv6 address only (OPC UA on ::1 in a loopback
// capture) has its address in brackets: "ip:[::1]", not "ip:::1".
func TestIPv6AssetIDInBrackets(t *testing.T) {
	inv := inventory.New(inventory.Limits{})
	inv.Observe(tx(ep("::1", 50000, [6]byte{}), ep("::1", 4840, [6]byte{}), 1, withProto("opcua")))
	inv.Observe(tx(ep("fe80::2", 50001, [6]byte{}), ep("::ffff:10.0.0.7", 502, [6]byte{}), 3))
	doc := inv.Document()
	asset(t, doc, "ip:[::1]")
	asset(t, doc, "ip:[fe80::2]")
	if id, _ := inv.AssetID(netip.MustParseAddr("::1")); id != "ip:[::1]" {
		t.Errorf("AssetID(::1) = %q", id)
	}
}

// A flow's notes save lookups and never change an answer: fed the same
// packets and transactions, an inventory that keeps notes (right ones,
// notes of another flow, notes naming hosts that no longer exist after a
// reload) describes the network exactly as one that keeps none.
func TestFlowNotesChangeNothing(t *testing.T) {
	hosts := []protocols.Endpoint{ep("10.0.0.10", 40000, mac(0x10)), ep("10.0.0.20", 502, mac(0x20)),
		ep("10.0.0.30", 40001, mac(0x30)), ep("10.0.0.40", 502, mac(0x40)), ep("10.0.0.50", 502, protocols.Endpoint{}.MAC)}
	feed := func(inv *inventory.Inventory, noteFor func(a, b int) *protocols.FlowMemo) {
		for i := range 400 {
			a, b := i%len(hosts), (i*7+1)%len(hosts)
			if a == b {
				continue
			}
			at := t0.Add(time.Duration(i) * time.Second)
			src, dst := hosts[a], hosts[b]
			d := &frame.Decoded{SrcMAC: src.MAC, HasMAC: src.HasMAC, Src: src.IP, Dst: dst.IP, IPProto: frame.ProtoTCP}
			inv.ObservePacket(d, 60+i, at.UnixNano(), noteFor(a, b))
			if i%3 == 0 {
				x := tx(src, dst, uint64(i))
				x.Memo = noteFor(a, b)
				inv.Observe(x)
			}
		}
	}
	plain := inventory.New(inventory.Limits{})
	feed(plain, func(a, b int) *protocols.FlowMemo { return nil })
	want, err := json.Marshal(plain.Document())
	require.NoError(t, err)

	memos := map[[2]int]*protocols.FlowMemo{}
	right := func(a, b int) *protocols.FlowMemo {
		k := [2]int{min(a, b), max(a, b)}
		if memos[k] == nil {
			memos[k] = &protocols.FlowMemo{}
		}
		return memos[k]
	}
	shared := &protocols.FlowMemo{}
	for name, noteFor := range map[string]func(a, b int) *protocols.FlowMemo{
		"a flow's own notes":            right,
		"one set of notes for all":      func(a, b int) *protocols.FlowMemo { return shared },
		"notes naming hosts not there":  func(a, b int) *protocols.FlowMemo { return &protocols.FlowMemo{Hosts: [2]int32{3, 1 << 20}} },
		"notes naming the other's host": func(a, b int) *protocols.FlowMemo { return &protocols.FlowMemo{Hosts: [2]int32{2, 1}} },
	} {
		inv := inventory.New(inventory.Limits{})
		feed(inv, noteFor)
		got, err := json.Marshal(inv.Document())
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(got), name)
	}
	hits := 0
	for _, m := range memos {
		if m.Hosts[0] > 0 && m.Hosts[1] > 0 {
			hits++
		}
	}
	assert.Positive(t, hits, "the flows' notes were written")
}
