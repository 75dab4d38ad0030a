//go:build linux

package live

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otwatch/otwatch/protocols/capture"
)

// Source captures from the configured interfaces.
type Source struct {
	cfg     Config
	ifaces  []*ifaceState
	readers []*reader
	running atomic.Bool
}

// ifaceState holds one interface's counters (shared by its fanout sockets).
type ifaceState struct {
	name     string
	link     atomic.Uint32 // capture.Link* of the current sockets
	fanoutID uint16
	packets  atomic.Uint64
	bytes    atomic.Uint64
	restarts atomic.Uint64
	last     atomic.Int64 // UnixNano of the last frame
	mu       sync.Mutex   // guards below
	lastErr  string
	changed  time.Time
	readers  []*reader
}

// Open checks the configuration and opens every socket once, so that a
// missing capability (CAP_NET_RAW) or a mistyped interface fails at start-up.
// Later losses of an interface are recovered by Run.
func Open(cfg Config) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	shards := 1
	if cfg.Fanout {
		shards = min(max(runtime.GOMAXPROCS(0), 1), maxFanout)
	}
	s := &Source{cfg: cfg}
	for i, name := range cfg.Interfaces {
		ifc := &ifaceState{name: name, fanoutID: fanoutID(i), changed: time.Now()}
		s.ifaces = append(s.ifaces, ifc)
		for shard := range shards {
			r := &reader{src: s, ifc: ifc, shard: shard, fanout: shards > 1}
			ifc.readers = append(ifc.readers, r)
			s.readers = append(s.readers, r)
		}
	}
	for _, r := range s.readers {
		if err := r.open(); err != nil && !errors.Is(err, errDown) {
			s.Close()
			return nil, err
		} else if err != nil {
			r.ifc.setState(err) // Run waits for it to come up
		}
	}
	return s, nil
}

// fanoutID derives a fanout group id from the process and the interface's
// position: groups are per network namespace, so two otwatch processes on one
// box get different groups.
func fanoutID(i int) uint16 {
	return uint16(os.Getpid()*16 + i)
}

// Close releases the sockets. Run closes them itself when it returns.
func (s *Source) Close() {
	for _, r := range s.readers {
		r.close()
	}
}

// batch carries frames from a reader to the handler goroutine; Data of each
// frame points into buf.
type batch struct {
	buf    []byte
	frames []capture.Frame
}

const (
	batchBytes  = 256 << 10
	batchFrames = 512
	queueDepth  = 64 // batches in flight: at most 16 MiB queued before readers wait and the kernel ring takes the load
)

// Run reads every interface until ctx is cancelled, then closes the sockets
// and returns nil. Each socket has a reader goroutine; their frames are
// serialised through one channel and handle is called from the calling
// goroutine only, so one pipeline can consume them. Frames of one socket keep
// their arrival order; with fanout, frames of one flow (same hash) do.
// Frames of different interfaces interleave in batches, so packet time may
// step back by up to a batch's age (≤ PollTimeout) between interfaces.
// Frame.Data is valid only during the call to handle.
func (s *Source) Run(ctx context.Context, handle func(capture.Frame)) error {
	return s.RunTicking(ctx, handle, 0, nil)
}

// RunTicking is Run that also calls tick, from the same goroutine as handle,
// every interval (wall clock), even when no frame arrives: the place for
// time-driven work on state the handler owns (expiring idle flows on a quiet
// network, checkpoints, stall detection) without locking it.
func (s *Source) RunTicking(ctx context.Context, handle func(capture.Frame), interval time.Duration, tick func(time.Time)) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("live: Run called twice")
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan *batch, queueDepth)
	pool := &sync.Pool{New: func() any {
		return &batch{buf: make([]byte, 0, max(batchBytes, 2*s.cfg.SnapLen)), frames: make([]capture.Frame, 0, batchFrames)}
	}}
	var wg sync.WaitGroup
	for _, r := range s.readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, queue, pool)
		}()
	}
	go func() {
		wg.Wait()
		close(queue)
	}()
	var ticks <-chan time.Time
	if tick != nil && interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		ticks = t.C
	}
	for {
		select {
		case now := <-ticks:
			tick(now)
		case b, ok := <-queue:
			if !ok {
				return nil
			}
			for _, f := range b.frames {
				handle(f)
			}
			b.buf, b.frames = b.buf[:0], b.frames[:0]
			pool.Put(b)
		}
	}
}

// Stats returns the counters of every interface, in configuration order.
func (s *Source) Stats() []InterfaceStats {
	out := make([]InterfaceStats, 0, len(s.ifaces))
	for _, ifc := range s.ifaces {
		st := InterfaceStats{Name: ifc.name, Up: true,
			Packets: ifc.packets.Load(), Bytes: ifc.bytes.Load(), Restarts: ifc.restarts.Load()}
		for _, r := range ifc.readers {
			k := r.kernel()
			st.KernelPackets += k.packets
			st.KernelDrops += k.drops
			st.KernelFreezes += k.freezes
			st.Up = st.Up && r.up.Load()
		}
		if ns := ifc.last.Load(); ns != 0 {
			st.LastFrame = time.Unix(0, ns)
		}
		ifc.mu.Lock()
		st.LastError, st.Changed = ifc.lastErr, ifc.changed
		ifc.mu.Unlock()
		out = append(out, st)
	}
	return out
}

// setState records an interface's loss or recovery.
func (ifc *ifaceState) setState(err error) {
	ifc.mu.Lock()
	defer ifc.mu.Unlock()
	if err != nil {
		ifc.lastErr = err.Error()
	}
	ifc.changed = time.Now()
}

// linkTypeOf maps the interface's ARPHRD type (/sys/class/net/X/type) to a
// capture link type: what a SOCK_RAW packet socket delivers on it.
func linkTypeOf(name string) (uint32, error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return 0, err
	}
	t, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, err
	}
	switch t {
	case 1, 772: // ARPHRD_ETHER, ARPHRD_LOOPBACK (Ethernet headers with zero addresses)
		return capture.LinkEthernet, nil
	case 65534: // ARPHRD_NONE (tun): bare IP packets
		return capture.LinkRaw, nil
	}
	return 0, fmt.Errorf("live: %s: hardware type %d is not supported (Ethernet, loopback or tun only)", name, t)
}

// ifaceUp reports the interface's index and whether it is administratively up.
func ifaceUp(name string) (int, bool, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, false, err
	}
	return ifi.Index, ifi.Flags&net.FlagUp != 0, nil
}
