package frame

import (
	"net/netip"
)

// Defragmenter reassembles IPv4 and IPv6 fragments. Memory is bounded: at
// most MaxDatagrams in progress and 64 KiB each; a datagram older than
// Timeout (packet time) is dropped. Fragments are rare on control networks,
// so this path may allocate.
type Defragmenter struct {
	MaxDatagrams int
	TimeoutNano  int64
	pending      map[fragKey]*fragDatagram
	// Dropped counts datagrams abandoned (timeout, limit, overlap or size).
	Dropped uint64
	// LimitHit counts datagrams refused because MaxDatagrams were in progress.
	LimitHit uint64
}

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

type fragDatagram struct {
	data     []byte
	have     []fragRange
	total    int // -1 until the last fragment is seen
	started  int64
	lastSeen int64
}

type fragRange struct{ from, to int }

// NewDefragmenter returns a defragmenter with the given bounds.
func NewDefragmenter(maxDatagrams int, timeoutNano int64) *Defragmenter {
	return &Defragmenter{MaxDatagrams: maxDatagrams, TimeoutNano: timeoutNano, pending: map[fragKey]*fragDatagram{}}
}

// Add takes a fragment (d.Fragment set). When it completes a datagram, it
// decodes the transport header of the whole datagram into d and returns true.
func (f *Defragmenter) Add(d *Decoded, now int64) (complete bool, err error) {
	f.expire(now)
	key := fragKey{d.Src, d.Dst, d.FragID, d.IPProto}
	dg := f.pending[key]
	if dg == nil {
		if len(f.pending) >= f.MaxDatagrams {
			f.LimitHit++
			return false, nil
		}
		dg = &fragDatagram{total: -1, started: now}
		f.pending[key] = dg
	}
	dg.lastSeen = now
	end := d.FragOffset + len(d.Payload)
	if end > 65535 {
		delete(f.pending, key)
		f.Dropped++
		return false, ErrBadHeader
	}
	if end > len(dg.data) {
		grown := make([]byte, end)
		copy(grown, dg.data)
		dg.data = grown
	}
	copy(dg.data[d.FragOffset:], d.Payload)
	dg.have = addRange(dg.have, fragRange{d.FragOffset, end})
	if !d.MoreFrags {
		dg.total = end
	}
	if dg.total < 0 || len(dg.have) != 1 || dg.have[0].from != 0 || dg.have[0].to < dg.total {
		return false, nil
	}
	delete(f.pending, key)
	d.Fragment = false
	return true, d.Transport(dg.data[:dg.total])
}

func addRange(rs []fragRange, r fragRange) []fragRange {
	rs = append(rs, r)
	// insertion sort then merge: a datagram has few fragments
	for i := len(rs) - 1; i > 0 && rs[i].from < rs[i-1].from; i-- {
		rs[i], rs[i-1] = rs[i-1], rs[i]
	}
	out := rs[:1]
	for _, x := range rs[1:] {
		last := &out[len(out)-1]
		if x.from <= last.to {
			if x.to > last.to {
				last.to = x.to
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

func (f *Defragmenter) expire(now int64) {
	if len(f.pending) == 0 {
		return
	}
	for k, dg := range f.pending {
		if now-dg.started > f.TimeoutNano {
			delete(f.pending, k)
			f.Dropped++
		}
	}
}

// InProgress is the number of datagrams waiting for fragments.
func (f *Defragmenter) InProgress() int { return len(f.pending) }
