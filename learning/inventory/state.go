package inventory

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
)

// stateVersion is bumped on an incompatible change of the snapshot.
const stateVersion = 1

type stateMAC struct {
	MAC [6]byte `json:"mac"`
	macInfo
}

type stateARP struct {
	IP netip.Addr `json:"ip"`
	arpBinding
}

type state struct {
	Version       int             `json:"version"`
	Protos        []string        `json:"protos"`
	Hosts         []host          `json:"hosts"`
	MACs          []stateMAC      `json:"macs"`
	Assets        []*asset        `json:"assets"`
	Links         []link          `json:"links"`
	ARP           []stateARP      `json:"arp,omitempty"`
	Neighbors     []stateNeighbor `json:"neighbors,omitempty"`
	Stats         Stats           `json:"stats"`
	AssetLimitHit bool            `json:"asset_limit_hit,omitempty"`
	LinkLimitHit  bool            `json:"link_limit_hit,omitempty"`
}

// MarshalState snapshots the whole inventory (counters and first/last
// seen included) for the state store (learning/store.Component).
func (inv *Inventory) MarshalState() ([]byte, error) {
	inv.flushCounted()
	st := inv.metaState()
	st.Hosts, st.Assets, st.Links = inv.hosts, inv.assets, inv.links
	return json.Marshal(st)
}

// UnmarshalState replaces the inventory with a snapshot; observing more
// traffic then continues its counts and first/last-seen times. The limits
// are this Inventory's (a snapshot larger than them is kept whole, and
// only stops growing).
func (inv *Inventory) UnmarshalState(b []byte) error {
	inv.version++
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("inventory state: %w", err)
	}
	if err := inv.restore(&st); err != nil {
		return err
	}
	inv.ps.full = true // the state file's records are another inventory's
	return nil
}

// restore replaces the inventory with a decoded snapshot, checked.
func (inv *Inventory) restore(st *state) error {
	if st.Version != stateVersion {
		return fmt.Errorf("inventory state: version %d, this build reads %d", st.Version, stateVersion)
	}
	if len(st.Protos) > maxProtos {
		return fmt.Errorf("inventory state: %d protocols", len(st.Protos))
	}
	fresh := New(inv.limits)
	fresh.identity = inv.identity
	fresh.FrameOf, fresh.ZoneOf = inv.FrameOf, inv.ZoneOf // hooks belong to the running process, not the snapshot
	for _, p := range st.Protos {
		fresh.protos = append(fresh.protos, protoName{name: p})
	}
	np, nh, na := len(st.Protos), int32(len(st.Hosts)), int32(len(st.Assets))
	fresh.hosts = st.Hosts
	for i := range fresh.hosts {
		h := &fresh.hosts[i]
		if h.Asset < -1 || h.Asset >= na || !h.IP.IsValid() {
			return fmt.Errorf("inventory state: host %d inconsistent", i)
		}
		if _, dup := fresh.lookupHost(h.IP); dup {
			return fmt.Errorf("inventory state: address %s twice", h.IP)
		}
		fresh.indexHost(h.IP, int32(i))
		if h.Asset < 0 {
			fresh.pending++
		}
		if ev := h.Ev; ev != nil {
			for _, u := range ev.Protos {
				if int(u.Proto) >= np {
					return fmt.Errorf("inventory state: host %s: protocol %d unknown", h.IP, u.Proto)
				}
			}
			for _, f := range ev.Identity {
				for _, v := range f.Values {
					if int(v.Proto) >= np {
						return fmt.Errorf("inventory state: host %s: protocol %d unknown", h.IP, v.Proto)
					}
				}
			}
		}
	}
	for i, a := range st.Assets {
		if a == nil || a.ID == "" {
			return fmt.Errorf("inventory state: asset %d empty", i)
		}
		for _, hi := range a.Hosts {
			if hi < 0 || hi >= nh || fresh.hosts[hi].Asset != int32(i) {
				return fmt.Errorf("inventory state: asset %s: host %d inconsistent", a.ID, hi)
			}
		}
	}
	fresh.assets = st.Assets
	for _, m := range st.MACs {
		mi := m.macInfo
		if mi.Asset < -1 || mi.Asset >= na {
			return fmt.Errorf("inventory state: MAC %s inconsistent", macString(m.MAC))
		}
		fresh.macs[m.MAC] = &mi
	}
	for _, a := range st.ARP {
		if !a.IP.IsValid() || len(a.Accepted) > maxAcceptedMACs {
			return fmt.Errorf("inventory state: ARP binding %s inconsistent", a.IP)
		}
		b := a.arpBinding
		fresh.arp[a.IP] = &b
		fresh.claim(b.MAC, a.IP)
	}
	for _, n := range st.Neighbors {
		nb := n.neighbor
		if len(fresh.neighbors) < maxNeighbors {
			fresh.neighbors[n.MAC] = &nb
		}
	}
	fresh.links = st.Links
	for i, l := range fresh.links {
		k := l.Key
		if k.Client < 0 || k.Client >= na || k.Server < 0 || k.Server >= na || int(k.Proto) >= np {
			return fmt.Errorf("inventory state: link %d inconsistent", i)
		}
		c := fresh.assets[k.Client]
		pos, _, dup := c.findOut(k)
		if dup {
			return fmt.Errorf("inventory state: link %d twice", i)
		}
		c.insertOut(pos, k, int32(i))
	}
	fresh.stats = st.Stats
	fresh.assetLimitHit, fresh.linkLimitHit = st.AssetLimitHit, st.LinkLimitHit
	// what the flows' memos counted was for the table replaced, and their
	// checks vouch for nothing in this one
	inv.dropCounted()
	fresh.countEpoch = inv.countEpoch
	fresh.hostsChanged()
	*inv = *fresh // fresh.identity is inv's own (bound to inv)
	return nil
}

// A link is stored as one JSON array, ops sparse: [client, server, proto,
// first, last, first_frame, op, count, op, count, ...]. With 100,000
// links this halves the snapshot.
func (l link) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 96)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(l.Key.Client), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(l.Key.Server), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(l.Key.Proto), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, l.First, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, l.Last, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, l.FirstFrame, 10)
	for op, n := range l.Ops {
		if n != 0 {
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(op), 10)
			b = append(b, ',')
			b = strconv.AppendUint(b, uint64(n), 10)
		}
	}
	return append(b, ']'), nil
}

func (l *link) UnmarshalJSON(b []byte) error {
	var v []int64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if len(v) < 6 || len(v)%2 != 0 {
		return fmt.Errorf("link: %d fields", len(v))
	}
	if v[0] < 0 || v[0] > maxAssetIndex || v[1] < 0 || v[1] > maxAssetIndex || v[2] < 0 || v[2] >= maxProtos || v[5] < 0 {
		return fmt.Errorf("link: bad key")
	}
	*l = link{Key: linkKey{Client: int32(v[0]), Server: int32(v[1]), Proto: uint8(v[2])}, First: v[3], Last: v[4], FirstFrame: uint64(v[5])}
	for i := 6; i < len(v); i += 2 {
		if v[i] < 0 || v[i] >= int64(numOps) || v[i+1] < 0 || v[i+1] > 1<<32-1 {
			return fmt.Errorf("link: bad op count")
		}
		l.Ops[v[i]] = uint32(v[i+1])
	}
	return nil
}
