package ui

import "sync"

// Broker fans live events out to the dashboard's server-sent-event
// subscribers. A slow subscriber misses events; publishing never blocks
// (capture must not wait for a browser). Backends embed one to implement
// Subscribe.
type Broker struct {
	mu   sync.Mutex
	subs map[int]chan Event
	next int
}

// Publish sends ev to every subscriber that has room for it.
func (b *Broker) Publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		select {
		case ch <- ev:
		default: // a slow subscriber misses a live update
		}
	}
}

// Subscribe delivers events until cancel is called.
func (b *Broker) Subscribe() (<-chan Event, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[int]chan Event{}
	}
	id := b.next
	b.next++
	ch := make(chan Event, 64)
	b.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, id)
			b.mu.Unlock()
		})
	}
}
