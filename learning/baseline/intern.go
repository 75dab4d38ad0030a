package baseline

import "net/netip"

// A plant's baseline has a million keys: they are small fixed-size
// structs of interned ids, never strings or addresses, so a map entry
// costs tens of bytes, hashes fast and holds no pointer for the garbage
// collector to scan. Ids are dense, from 1, stable for the model's life
// (and across a save and load).

// names interns strings (target spaces, node ids, protocol names).
type names struct {
	ids  map[string]uint32
	list []string // list[id-1]
	// recent remembers the last names looked up, two of each length (mod
	// 8), the newer first: the same few (a protocol, a register space, a
	// client, a command's fields) come transaction after transaction,
	// usually as the very same string, which compares at once where hashing
	// it for the map would not. Two, as names of one length come in pairs:
	// a DNP3 control's count and on_ms.
	recent [8][2]recentName
}

type recentName struct {
	s  string
	id uint32
}

func newNames() names { return names{ids: map[string]uint32{}} }

// id returns s's id, made when create is set; 0 when s is not known.
func (n *names) id(s string, create bool) uint32 {
	r := &n.recent[len(s)&7]
	if r[0].id != 0 && r[0].s == s {
		return r[0].id
	}
	if r[1].id != 0 && r[1].s == s {
		r[0], r[1] = r[1], r[0]
		return r[0].id
	}
	if id, ok := n.ids[s]; ok {
		r[1], r[0] = r[0], recentName{s, id}
		return id
	}
	if !create {
		return 0
	}
	n.list = append(n.list, s)
	id := uint32(len(n.list))
	n.ids[s] = id
	return id
}

// name is the string of an id ("" for 0 or unknown).
func (n *names) name(id uint32) string {
	if id == 0 || int(id) > len(n.list) {
		return ""
	}
	return n.list[id-1]
}

// hosts interns addresses (clients).
type hosts struct {
	ids  map[netip.Addr]uint32
	list []netip.Addr
	// recent remembers the last addresses looked up, by recentSlot (as
	// names.recent does for names).
	recent [16]struct {
		ip netip.Addr
		id uint32
	}
}

func newHosts() hosts { return hosts{ids: map[netip.Addr]uint32{}} }

func (h *hosts) id(ip netip.Addr, create bool) uint32 {
	r := &h.recent[recentSlot(ip)]
	if r.id != 0 && r.ip == ip {
		return r.id
	}
	if id, ok := h.ids[ip]; ok {
		r.ip, r.id = ip, id
		return id
	}
	if !create {
		return 0
	}
	h.list = append(h.list, ip)
	id := uint32(len(h.list))
	h.ids[ip] = id
	return id
}

func (h *hosts) addr(id uint32) netip.Addr {
	if id == 0 || int(id) > len(h.list) {
		return netip.Addr{}
	}
	return h.list[id-1]
}

// recentSlot folds an address into 0..15: every byte of an IPv4 address
// counts, as plants number hosts in the last octet and sites or cells in
// the others.
func recentSlot(ip netip.Addr) int {
	b := ip.As16()
	x := uint32(b[12])<<24 | uint32(b[13])<<16 | uint32(b[14])<<8 | uint32(b[15])
	x ^= x >> 16
	x ^= x >> 8
	x ^= x >> 4
	return int(x & 15)
}
