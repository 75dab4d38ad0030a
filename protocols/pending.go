package protocols

import "time"

// Pending is the table of requests waiting for their responses that a
// request/response session keeps: keyed by what pairs a reply with its
// request (a transaction id, a sequence number, a sender context), bounded
// in size, expired by packet time so a replay is deterministic. Entries
// leave in arrival order; a key may repeat (the oldest matches first).
type Pending[K comparable, V any] struct {
	// Max bounds the entries: Push evicts the oldest beyond it (0: 256).
	Max int
	// Timeout: Expire gives back entries older than this (0: 30 s).
	Timeout time.Duration
	items   []pendingItem[K, V]
}

type pendingItem[K comparable, V any] struct {
	key   K
	since time.Time
	v     V
}

// Len is the number of waiting requests.
func (p *Pending[K, V]) Len() int { return len(p.items) }

// Push adds a request sent at since. When the table is full the oldest
// entry is evicted and returned with ok true: the caller closes it as
// unanswered (and names that).
func (p *Pending[K, V]) Push(key K, since time.Time, v V) (evicted V, ok bool) {
	max := p.Max
	if max <= 0 {
		max = 256
	}
	if len(p.items) >= max {
		evicted, ok = p.pop(0), true
	}
	p.items = append(p.items, pendingItem[K, V]{key, since, v})
	return evicted, ok
}

// Take removes and returns the oldest request waiting under key.
func (p *Pending[K, V]) Take(key K) (v V, ok bool) {
	for i := range p.items {
		if p.items[i].key == key {
			return p.pop(i), true
		}
	}
	return v, false
}

// Expire removes and returns one request sent more than Timeout before
// now; call it until ok is false.
func (p *Pending[K, V]) Expire(now time.Time) (v V, ok bool) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if len(p.items) > 0 && now.Sub(p.items[0].since) > timeout {
		return p.pop(0), true
	}
	return v, false
}

// Oldest removes and returns the oldest request (at the end of a flow).
func (p *Pending[K, V]) Oldest() (v V, ok bool) {
	if len(p.items) == 0 {
		return v, false
	}
	return p.pop(0), true
}

func (p *Pending[K, V]) pop(i int) V {
	v := p.items[i].v
	copy(p.items[i:], p.items[i+1:])
	var zero pendingItem[K, V]
	p.items[len(p.items)-1] = zero
	p.items = p.items[:len(p.items)-1]
	return v
}
