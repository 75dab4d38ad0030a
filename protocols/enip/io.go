package enip

import (
	"slices"
	"sort"

	"github.com/otwatch/otwatch/protocols"
)

// IOPort is the UDP port of implicit (class 1) I/O: the cyclic data of the
// connections a Forward Open sets up (CIP Vol. 2, §3-3).
const IOPort = 2222

// maxIOConnections bounds the I/O connections one flow follows the sequence
// count of; a datagram of any beyond is reported without a loss count.
const maxIOConnections = 256

// parseIO reads a class 1 datagram: a common packet format without an
// encapsulation header whose first item is the sequenced address item
// (connection id, sequence count) and whose second the connected data
// item; every item's length must add up to the datagram's.
func parseIO(b []byte) (id, seq uint32, ok bool) {
	c := protocols.NewCursor(b)
	count := int(c.U16LE())
	if count < 2 || count > 4 {
		return 0, 0, false
	}
	for i := 0; i < count; i++ {
		typ, item := cpfItem(&c)
		switch {
		case c.Failed():
			return 0, 0, false
		case i == 0 && (typ != itemSequencedAddress || len(item) != 8):
			return 0, 0, false
		case i == 0:
			a := protocols.NewCursor(item)
			id, seq = a.U32LE(), a.U32LE()
		case i == 1 && typ != itemConnectedData:
			return 0, 0, false
		}
	}
	return id, seq, c.Len() == 0 && id != 0
}

// ioSequences follows the sequence count of each I/O connection of one flow,
// to tell the datagrams lost between two; the pipeline counts the
// datagrams themselves (Env.Cyclic).
type ioSequences struct {
	conns []ioSequence // by id
}

type ioSequence struct{ id, last uint32 }

// next takes a datagram's connection id and sequence count and returns how
// many datagrams of that connection its sequence count shows were lost since
// the previous one.
func (c *ioSequences) next(id, seq uint32) (lost uint64) {
	i := sort.Search(len(c.conns), func(i int) bool { return c.conns[i].id >= id })
	if i == len(c.conns) || c.conns[i].id != id {
		if len(c.conns) < maxIOConnections {
			c.conns = slices.Insert(c.conns, i, ioSequence{id, seq})
		}
		return 0
	}
	k := &c.conns[i]
	// The sequence count grows by one a datagram; a step beyond is what
	// was lost, one back (a duplicate, a reordered datagram) is not.
	if d := seq - k.last; d >= 1 && d < 1<<31 {
		lost = uint64(d - 1)
		k.last = seq
	}
	return lost
}
