package enip

import (
	"encoding/binary"
	"sort"
)

// IOPort is the UDP port of implicit (class 1) I/O: the cyclic data of the
// connections a Forward Open sets up (CIP Vol. 2, §3-3).
const IOPort = 2222

// maxIOConnections bounds the I/O connections one flow keeps counts of; the
// datagrams of any beyond are counted together (IOConnection ID 0 is not a
// valid connection id).
const maxIOConnections = 256

// IOConnection is what a flow's implicit I/O says of one connection: its
// connection id (the sequenced address item's), the datagrams seen and the
// datagrams its sequence count shows were lost on the way or by the capture.
type IOConnection struct {
	ID      uint32
	Packets uint64
	Lost    uint64
	lastSeq uint32
}

// parseIO reads a class 1 datagram: a common packet format without an
// encapsulation header whose first item is the sequenced address item
// (connection id, sequence count) and whose second the connected data
// item; every item's length must add up to the datagram's.
func parseIO(b []byte) (id, seq uint32, ok bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	count := int(binary.LittleEndian.Uint16(b))
	if count < 2 || count > 4 {
		return 0, 0, false
	}
	off := 2
	for i := 0; i < count; i++ {
		if len(b) < off+4 {
			return 0, 0, false
		}
		typ, n := binary.LittleEndian.Uint16(b[off:]), int(binary.LittleEndian.Uint16(b[off+2:]))
		item := b[off+4:]
		if len(item) < n {
			return 0, 0, false
		}
		switch {
		case i == 0 && (typ != itemSequencedAddress || n != 8):
			return 0, 0, false
		case i == 0:
			id, seq = binary.LittleEndian.Uint32(item), binary.LittleEndian.Uint32(item[4:])
		case i == 1 && typ != itemConnectedData:
			return 0, 0, false
		}
		off += 4 + n
	}
	return id, seq, off == len(b) && id != 0
}

// ioCounts counts the class 1 datagrams of one flow per connection.
type ioCounts struct {
	conns    []IOConnection
	overflow IOConnection
}

// add counts a datagram and returns how many of its connection's datagrams
// its sequence count shows were lost since the previous one.
func (c *ioCounts) add(id, seq uint32) (lost uint64) {
	i := sort.Search(len(c.conns), func(i int) bool { return c.conns[i].ID >= id })
	if i == len(c.conns) || c.conns[i].ID != id {
		if len(c.conns) >= maxIOConnections {
			c.overflow.Packets++
			return 0
		}
		c.conns = append(c.conns, IOConnection{})
		copy(c.conns[i+1:], c.conns[i:])
		c.conns[i] = IOConnection{ID: id, Packets: 1, lastSeq: seq}
		return 0
	}
	k := &c.conns[i]
	k.Packets++
	// The sequence count grows by one a datagram; a step beyond is what
	// was lost, one back (a duplicate, a reordered datagram) is not.
	if d := seq - k.lastSeq; d >= 1 && d < 1<<31 {
		lost = uint64(d - 1)
		k.Lost += lost
		k.lastSeq = seq
	}
	return lost
}

// list returns the connections by id, those beyond the bound last as id 0.
func (c *ioCounts) list() []IOConnection {
	out := append([]IOConnection(nil), c.conns...)
	if c.overflow.Packets > 0 {
		out = append(out, c.overflow)
	}
	return out
}
