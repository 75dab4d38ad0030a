//go:build linux

package main

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// reaper is the only caller of wait4 in PID 1: it collects every exited
// child (including orphans re-parented to PID 1, such as daemons that
// fork) and hands the status to whoever started that pid.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
	early   map[int]unix.WaitStatus // reaped before start registered them
}

func newReaper() *reaper {
	r := &reaper{waiters: map[int]chan unix.WaitStatus{}, early: map[int]unix.WaitStatus{}}
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, unix.SIGCHLD)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-sig:
			case <-tick.C:
			}
			r.reapAll()
		}
	}()
	return r
}

func (r *reaper) reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		r.mu.Lock()
		if ch, ok := r.waiters[pid]; ok {
			ch <- ws
			delete(r.waiters, pid)
		} else {
			r.early[pid] = ws
			if len(r.early) > 1024 { // orphans nobody waits for
				r.early = map[int]unix.WaitStatus{}
			}
		}
		r.mu.Unlock()
	}
}

// start runs argv with the console as stdio; done receives the exit status.
func (r *reaper) start(argv []string, attr *syscall.SysProcAttr) (int, <-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := os.StartProcess(argv[0], argv, &os.ProcAttr{
		Dir:   "/",
		Env:   []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/data/otwatch", "TZ=UTC"},
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   attr,
	})
	if err != nil {
		return 0, nil, err
	}
	pid := p.Pid
	p.Release() // (sets p.Pid to -1) the reaper, not os.Process, waits for it
	ch := make(chan unix.WaitStatus, 1)
	if ws, ok := r.early[pid]; ok {
		delete(r.early, pid)
		ch <- ws
	} else {
		r.waiters[pid] = ch
	}
	return pid, ch, nil
}

// run starts argv and waits for it; the exit code (-1 when it could not
// start or died of a signal).
func (r *reaper) run(argv []string, attr *syscall.SysProcAttr) int {
	_, done, err := r.start(argv, attr)
	if err != nil {
		logf("%s: %v", argv[0], err)
		return -1
	}
	ws := <-done
	if !ws.Exited() {
		return -1
	}
	if ws.ExitStatus() != 0 {
		logf("%v: %s", argv, describe(ws))
	}
	return ws.ExitStatus()
}

// waitGone waits until pid no longer exists (reaped) or the timeout passes.
func (r *reaper) waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		_, waiting := r.waiters[pid]
		r.mu.Unlock()
		if !waiting {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
