package inventory

import (
	"net"
	"sort"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/lldp"
)

// Neighbor is a device known only from its LLDP announcements: a switch,
// a PROFINET device that talked to no one the SPAN port sees.
type Neighbor struct {
	MAC          string   `json:"mac"`
	Vendor       string   `json:"vendor"`
	ChassisID    string   `json:"chassis_id"`
	PortID       string   `json:"port_id"`
	SystemName   string   `json:"system_name,omitempty"`
	SystemDesc   string   `json:"system_description,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
	MgmtAddrs    []string `json:"management_addresses,omitempty"`
	FirstFrame   uint64   `json:"first_frame"`
	FirstSeen    string   `json:"first_seen"`
	LastSeen     string   `json:"last_seen"`
}

type neighbor struct {
	Info        lldp.Info `json:"info"`
	First, Last int64
	FirstFrame  uint64
}

const maxNeighbors = 1024

// ObserveLLDP takes the pipeline's LLDPSeen events (with the frame's source MAC).
// An announcement from an inventoried asset (by its MAC, chassis MAC or
// management address) adds identity facts to it, with LLDP as their
// provenance: system_name, system_description. Any other announcer is a
// neighbor: the document's "neighbors".
func (inv *Inventory) ObserveLLDP(src [6]byte, in lldp.Info, frameNo uint64, ns int64) {
	inv.version++
	if hi, ok := inv.hostOfLLDP(src, in); ok {
		pi, ok := inv.protoIndex("lldp")
		if !ok {
			return
		}
		ev := inv.ev(hi)
		for _, f := range []protocols.IdentityFact{
			{Field: "system_name", Value: in.SystemName, Message: "lldp"},
			{Field: "system_description", Value: in.SystemDesc, Message: "lldp"},
		} {
			if f.Value != "" {
				ev.addIdentity(f, pi, frameNo, ns)
			}
		}
		return
	}
	if !usableMAC(src) {
		return
	}
	n := inv.neighbors[src]
	if n == nil {
		if len(inv.neighbors) >= maxNeighbors {
			return
		}
		n = &neighbor{First: ns, FirstFrame: frameNo}
		inv.neighbors[src] = n
	}
	n.Info, n.Last = in, ns
}

// hostOfLLDP finds the inventoried address an announcement is about.
func (inv *Inventory) hostOfLLDP(src [6]byte, in lldp.Info) (int32, bool) {
	for _, mac := range [][6]byte{src, in.ChassisMAC} {
		if mi := inv.macs[mac]; mi != nil && mi.Asset >= 0 && mac != ([6]byte{}) {
			if a := inv.assets[mi.Asset]; len(a.Hosts) > 0 {
				return a.Hosts[0], true
			}
		}
	}
	for _, ip := range in.MgmtAddrs {
		if hi, ok := inv.lookupHost(ip); ok && inv.hosts[hi].Asset >= 0 {
			return hi, true
		}
	}
	return 0, false
}

var capabilityNames = [...]string{"other", "repeater", "bridge", "wlan_access_point", "router", "telephone", "docsis", "station"}

// neighborList renders the neighbors that are not (or no longer) assets, sorted by MAC.
func (inv *Inventory) neighborList() []Neighbor {
	out := make([]Neighbor, 0, len(inv.neighbors))
	for mac, n := range inv.neighbors {
		if _, ok := inv.hostOfLLDP(mac, n.Info); ok {
			continue // it became an asset since
		}
		nb := Neighbor{MAC: net.HardwareAddr(mac[:]).String(), Vendor: Vendor(mac), ChassisID: n.Info.ChassisID, PortID: n.Info.PortID,
			SystemName: n.Info.SystemName, SystemDesc: n.Info.SystemDesc, FirstFrame: n.FirstFrame, FirstSeen: ts(n.First), LastSeen: ts(n.Last)}
		for bit, name := range capabilityNames {
			if n.Info.Capabilities&(1<<bit) != 0 {
				nb.Capabilities = append(nb.Capabilities, name)
			}
		}
		for _, a := range n.Info.MgmtAddrs {
			if a.IsValid() && !a.IsUnspecified() {
				nb.MgmtAddrs = append(nb.MgmtAddrs, a.String())
			}
		}
		out = append(out, nb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MAC < out[j].MAC })
	return out
}

// stateNeighbor is a neighbor in the state snapshot.
type stateNeighbor struct {
	MAC [6]byte `json:"mac"`
	neighbor
}

func (inv *Inventory) neighborState() []stateNeighbor {
	out := make([]stateNeighbor, 0, len(inv.neighbors))
	for mac, n := range inv.neighbors {
		out = append(out, stateNeighbor{mac, *n})
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].MAC[:]) < string(out[j].MAC[:]) })
	return out
}
