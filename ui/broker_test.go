package ui

import (
	"testing"
	"time"
)

func TestBrokerFansOutAndNeverBlocks(t *testing.T) {
	var b Broker
	fast, cancelFast := b.Subscribe()
	_, cancelSlow := b.Subscribe() // never read: must not block Publish
	defer cancelSlow()
	done := make(chan struct{})
	go func() {
		for i := 0; i < 200; i++ {
			b.Publish(Event{Type: "counters"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a slow subscriber")
	}
	if ev := <-fast; ev.Type != "counters" {
		t.Fatalf("got %q", ev.Type)
	}
	cancelFast()
	cancelFast() // twice is fine
	b.Publish(Event{Type: "alert"})
}
