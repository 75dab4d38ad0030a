package protocols

import "time"

// Pending is the table of requests waiting for their responses that a
// request/response session keeps: keyed by what pairs a reply with its
// request (a transaction id, a sequence number, a sender context), bounded
// in size, expired by packet time so a replay is deterministic. Entries
// leave in arrival order; a key may repeat (the oldest matches first).
//
// The first two entries live in the table itself, so a client that waits
// for each answer costs no allocation: a Pending must not be copied once
// used.
type Pending[K comparable, V any] struct {
	// Max bounds the entries: Push evicts the oldest beyond it (0: 256).
	Max int
	// Timeout: Expire gives back entries older than this (0: 30 s).
	Timeout time.Duration
	items   []pendingItem[K, V]
	first   [2]pendingItem[K, V]
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
	if p.items == nil {
		p.items = p.first[:0]
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

// TakeLatest removes and returns the newest request waiting under key.
func (p *Pending[K, V]) TakeLatest(key K) (v V, ok bool) {
	for i := len(p.items) - 1; i >= 0; i-- {
		if p.items[i].key == key {
			return p.pop(i), true
		}
	}
	return v, false
}

// TakeFunc removes and returns the oldest request match accepts: for
// replies that pair by part of the key, or by a rule.
func (p *Pending[K, V]) TakeFunc(match func(K, V) bool) (v V, ok bool) {
	for i := range p.items {
		if match(p.items[i].key, p.items[i].v) {
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
	if len(p.items) > 0 && Elapsed(now, p.items[0].since) > timeout {
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

// Latest removes and returns the newest request.
func (p *Pending[K, V]) Latest() (v V, ok bool) {
	if len(p.items) == 0 {
		return v, false
	}
	return p.pop(len(p.items) - 1), true
}

func (p *Pending[K, V]) pop(i int) V {
	v := p.items[i].v
	copy(p.items[i:], p.items[i+1:])
	var zero pendingItem[K, V]
	p.items[len(p.items)-1] = zero
	p.items = p.items[:len(p.items)-1]
	return v
}

// Requests is a Pending table of request records: what the sessions of
// request/response protocols do with the requests that get no answer.
// An evicted request carries the TooMany anomaly; evicted, expired and
// (at Close) remaining requests are emitted with outcome no_response.
type Requests[K comparable] struct {
	Pending[K, *Transaction]
	// TooMany names the anomaly of a request evicted from a full table
	// ("": none).
	TooMany string
}

// NewRequests returns a table of at most max requests (0: 256), expired
// after timeout (0: 30 s), whose evicted requests carry the tooMany anomaly.
func NewRequests[K comparable](max int, timeout time.Duration, tooMany string) Requests[K] {
	return Requests[K]{Pending: Pending[K, *Transaction]{Max: max, Timeout: timeout}, TooMany: tooMany}
}

// Add registers request t under key, sent at t.RequestTime.
func (r *Requests[K]) Add(env *Env, key K, t *Transaction) {
	if old, evicted := r.Push(key, t.RequestTime, t); evicted {
		if r.TooMany != "" {
			old.AddAnomaly(r.TooMany)
		}
		Unanswered(env, old)
	}
}

// ExpireAll emits every request older than Timeout at now as unanswered.
func (r *Requests[K]) ExpireAll(env *Env, now time.Time) {
	for t, ok := r.Expire(now); ok; t, ok = r.Expire(now) {
		Unanswered(env, t)
	}
}

// CloseAll emits every waiting request as unanswered, oldest first.
func (r *Requests[K]) CloseAll(env *Env) {
	for t, ok := r.Oldest(); ok; t, ok = r.Oldest() {
		Unanswered(env, t)
	}
}

// Unanswered emits request t with outcome no_response.
func Unanswered(env *Env, t *Transaction) {
	t.Outcome = OutcomeNoResponse
	env.Emit(t)
}
