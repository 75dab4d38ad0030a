package main

import (
	"slices"
	"sync"
)

// ledger is a server's log of the requests it served, capped at maxLog
// entries (later ones are only counted).
type ledger[T any] struct {
	mu      sync.Mutex
	log     []T
	dropped int
}

func (l *ledger[T]) add(r T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.log) >= maxLog {
		l.dropped++
		return
	}
	l.log = append(l.log, r)
}

func (l *ledger[T]) all() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.log)
}
