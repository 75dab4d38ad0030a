package pipeline

import (
	"encoding/binary"

	"github.com/otwatch/otwatch/protocols"
)

// flowTable finds a flow by its key: open addressing with linear probing,
// at most half full, the key's words hashed with protocols.Mix and a seed
// drawn per table.
// Every packet looks its flow up once; a Go map spent most of that time
// hashing and comparing the 55-byte key field by field.
type flowTable struct {
	slots []*flow
	n     int
	seed  uint64
}

func newFlowTable() flowTable {
	return flowTable{slots: make([]*flow, 64), seed: protocols.NewSeed()}
}

func (t *flowTable) len() int { return t.n }

func (t *flowTable) home(k *flowKey) int {
	lo, hi := k.loIP.As16(), k.hiIP.As16()
	le := binary.LittleEndian
	h := protocols.Mix(le.Uint64(lo[:8])^t.seed, le.Uint64(lo[8:])^0x9e3779b97f4a7c15) ^
		protocols.Mix(le.Uint64(hi[:8])^t.seed, le.Uint64(hi[8:])^0xbf58476d1ce4e5b9)
	rest := uint64(k.loPort)<<40 | uint64(k.hiPort)<<24 | uint64(k.vlan)<<8 | uint64(k.proto)
	return int(protocols.Mix(h^rest, t.seed^0x94d049bb133111eb)) & (len(t.slots) - 1)
}

// equal compares field by field, ports first: == on the struct compiles
// to a call comparing its 55 bytes.
func (k *flowKey) equal(o *flowKey) bool {
	return k.loPort == o.loPort && k.hiPort == o.hiPort && k.loIP == o.loIP && k.hiIP == o.hiIP &&
		k.vlan == o.vlan && k.proto == o.proto
}

// get returns the flow of k, nil when there is none.
func (t *flowTable) get(k flowKey) *flow {
	mask := len(t.slots) - 1
	for s := t.home(&k); ; s = (s + 1) & mask {
		fl := t.slots[s]
		if fl == nil || fl.key.equal(&k) {
			return fl
		}
	}
}

// put adds fl under its key, which the table does not hold.
func (t *flowTable) put(fl *flow) {
	if 2*(t.n+1) > len(t.slots) {
		old := t.slots
		t.slots = make([]*flow, 2*len(old))
		for _, o := range old {
			if o != nil {
				t.place(o)
			}
		}
	}
	t.place(fl)
	t.n++
}

func (t *flowTable) place(fl *flow) {
	mask := len(t.slots) - 1
	s := t.home(&fl.key)
	for t.slots[s] != nil {
		s = (s + 1) & mask
	}
	t.slots[s] = fl
}

// del removes the flow of k, shifting back the flows probed past its slot
// so that no lookup stops early at the hole.
func (t *flowTable) del(k flowKey) {
	mask := len(t.slots) - 1
	s := t.home(&k)
	for {
		fl := t.slots[s]
		if fl == nil {
			return
		}
		if fl.key.equal(&k) {
			break
		}
		s = (s + 1) & mask
	}
	t.n--
	for j := (s + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		// the flow at j may fill the hole at s unless its home lies
		// cyclically in (s, j]
		if h := t.home(&t.slots[j].key); (j-h)&mask >= (j-s)&mask {
			t.slots[s] = t.slots[j]
			s = j
		}
	}
	t.slots[s] = nil
}
