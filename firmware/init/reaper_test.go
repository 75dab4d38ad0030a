//go:build linux

package main

import (
	"testing"
	"time"
)

// The reaper hands each child's status to its starter and knows which
// children are still alive (the shutdown waits on that).
func TestReaper(t *testing.T) {
	r := newReaper()
	pid, done, err := r.start([]string{"/bin/sleep", "1"}, nil)
	if err != nil {
		t.Skip(err)
	}
	if r.waitGone(pid, 200*time.Millisecond) {
		t.Fatal("waitGone returned true for a running child")
	}
	ws := <-done
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("status %v", ws)
	}
	if !r.waitGone(pid, time.Second) {
		t.Fatal("child reaped but still waited for")
	}
	if code := r.run([]string{"/bin/sh", "-c", "exit 3"}, nil); code != 3 {
		t.Fatalf("exit code %d", code)
	}
}
