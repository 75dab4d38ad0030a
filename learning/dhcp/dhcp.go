// Package dhcp watches the DHCP servers of the monitored segment. A DHCP
// server hands every client its gateway and name servers, so a rogue one
// (a laptop running dnsmasq, a misconfigured router) puts itself in the
// middle of everything a client sends (T0830) or simply breaks addressing.
// Plant networks have one or two known servers, if any: one that answers
// after the network was learned is alerted, with what it offered.
package dhcp

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/protocols/frame"
)

// Offer is what one DHCP OFFER or ACK said.
type Offer struct {
	Server    netip.Addr   // option 54, else the packet's source
	ServerMAC [6]byte      // the Ethernet source, when known
	Client    netip.Addr   // yiaddr: the address offered
	ClientMAC [6]byte      // chaddr: the client's Ethernet address (htype 1, hlen 6)
	Routers   []netip.Addr // option 3
	DNS       []netip.Addr // option 6
	Ack       bool
}

// Parse reads a BOOTP reply carrying a DHCP OFFER (2) or ACK (5); ok is
// false for anything else (requests, other message types, malformed).
func Parse(payload []byte) (o Offer, ok bool) {
	// op 2 (reply), htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr@16,
	// siaddr, giaddr, chaddr[16], sname[64], file[128], magic cookie @236
	if len(payload) < 240 || payload[0] != 2 || binary.BigEndian.Uint32(payload[236:]) != 0x63825363 {
		return o, false
	}
	o.Client = netip.AddrFrom4([4]byte(payload[16:20]))
	if payload[1] == 1 && payload[2] == 6 {
		o.ClientMAC = [6]byte(payload[28:34])
	}
	msgType := byte(0)
	opts := payload[240:]
	for len(opts) > 0 {
		code := opts[0]
		if code == 255 {
			break
		}
		if code == 0 {
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || len(opts) < 2+int(opts[1]) {
			return o, false // an option runs past the packet
		}
		val := opts[2 : 2+int(opts[1])]
		switch code {
		case 53:
			if len(val) == 1 {
				msgType = val[0]
			}
		case 54:
			if len(val) == 4 {
				o.Server = netip.AddrFrom4([4]byte(val))
			}
		case 3, 6:
			for i := 0; i+4 <= len(val) && i < 4*8; i += 4 {
				a := netip.AddrFrom4([4]byte(val[i : i+4]))
				if code == 3 {
					o.Routers = append(o.Routers, a)
				} else {
					o.DNS = append(o.DNS, a)
				}
			}
		}
		opts = opts[2+int(opts[1]):]
	}
	if msgType != 2 && msgType != 5 {
		return o, false
	}
	o.Ack = msgType == 5
	return o, true
}

// maxServers bounds what is remembered: a flood of forged servers alerts
// (folded by the engine) but is not kept.
const maxServers = 256

// Watch is fed by the pipeline's goroutine; not safe for concurrent use.
type Watch struct {
	servers map[netip.Addr]int64 // known servers, last answer (packet time)
	// Learning says whether the network still learns at a time (the
	// baseline's network clock).
	Learning func(now time.Time) bool
	// Leased, when set, hears of each address a server acknowledged
	// (DHCPACK's yiaddr): the host that takes it is on the network.
	Leased func(client netip.Addr, now time.Time)
}

// New returns an empty watch.
func New() *Watch { return &Watch{servers: map[netip.Addr]int64{}} }

// ObservePacket looks at a decoded packet (the pipeline's PacketSeen events):
// only UDP from port 67 to port 68 matters, so the cost for everything
// else is two comparisons.
func (w *Watch) ObservePacket(d *frame.Decoded, frameNo uint64, ns int64) []finding.Finding {
	if d.IPProto != frame.ProtoUDP || d.SrcPort != 67 || d.DstPort != 68 {
		return nil
	}
	o, ok := Parse(d.Payload)
	if !ok {
		return nil
	}
	if !o.Server.IsValid() || o.Server.IsUnspecified() {
		o.Server = d.Src
	}
	if d.HasMAC {
		o.ServerMAC = d.SrcMAC
	}
	if o.Ack && w.Leased != nil && o.Client.IsValid() && !o.Client.IsUnspecified() {
		w.Leased(o.Client, time.Unix(0, ns).UTC())
	}
	if _, ok := w.servers[o.Server]; ok {
		w.servers[o.Server] = ns
		return nil
	}
	now := time.Unix(0, ns).UTC()
	learning := w.Learning == nil || w.Learning(now)
	if len(w.servers) < maxServers {
		w.servers[o.Server] = ns
	}
	if learning {
		return nil
	}
	what := "offered"
	if o.Ack {
		what = "acknowledged"
	}
	mac := ""
	if o.ServerMAC != ([6]byte{}) {
		mac = net.HardwareAddr(o.ServerMAC[:]).String()
	}
	msg := fmt.Sprintf("DHCP server %s", o.Server)
	if mac != "" {
		msg += " (MAC " + mac + ")"
	}
	msg += fmt.Sprintf(" %s %s", what, o.Client)
	if len(o.Routers) > 0 {
		msg += " with gateway " + joinAddrs(o.Routers)
	}
	if len(o.DNS) > 0 {
		msg += " and name servers " + joinAddrs(o.DNS)
	}
	msg += ": a DHCP server never seen while the network was learned; a rogue one puts itself in the middle of its clients' traffic"
	// a rogue_dhcp finding: the server acts, on the client it answered
	// (the address offered; the MAC when known): whom it would sit in
	// front of.
	server := o.Server.String()
	f := finding.Finding{Key: finding.NewKey("rogue_dhcp", server), Time: now, Asset: server,
		Source: &finding.Host{IP: server, Port: 67, MAC: mac}, Frames: []uint64{frameNo}, Message: msg}
	if o.Client.IsValid() && !o.Client.IsUnspecified() {
		f.Dest = &finding.Host{IP: o.Client.String(), Port: 68}
		if o.ClientMAC != ([6]byte{}) {
			f.Dest.MAC = net.HardwareAddr(o.ClientMAC[:]).String()
		}
	}
	return []finding.Finding{f}
}

func joinAddrs(a []netip.Addr) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = x.String()
	}
	return strings.Join(s, ", ")
}

// serverJSON is a known server in the state snapshot.
type serverJSON struct {
	IP   netip.Addr `json:"ip"`
	Last int64      `json:"last"`
}

// MarshalState saves the known servers (learning/store.Component).
func (w *Watch) MarshalState() ([]byte, error) {
	list := make([]serverJSON, 0, len(w.servers))
	for ip, last := range w.servers {
		list = append(list, serverJSON{ip, last})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].IP.Less(list[j].IP) })
	return json.Marshal(list)
}

// UnmarshalState restores them.
func (w *Watch) UnmarshalState(b []byte) error {
	var list []serverJSON
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("dhcp state: %w", err)
	}
	servers := make(map[netip.Addr]int64, len(list))
	for _, e := range list {
		if !e.IP.IsValid() {
			return fmt.Errorf("dhcp state: invalid server address")
		}
		servers[e.IP] = e.Last
	}
	w.servers = servers
	return nil
}
