//go:build linux

package live

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"

	"github.com/otwatch/otwatch/protocols/capture"
)

// errDown: the interface exists but is administratively down; the reader
// waits for it.
var errDown = errors.New("interface is down")

// kernelCounts are PACKET_STATISTICS totals.
type kernelCounts struct{ packets, drops, freezes uint64 }

// reader owns one packet socket of one interface and reopens it when the
// interface goes down, vanishes or fails.
type reader struct {
	src    *Source
	ifc    *ifaceState
	shard  int
	fanout bool
	up     atomic.Bool

	mu      sync.Mutex // guards below
	rg      *ring
	ifindex int
	base    kernelCounts // totals of sockets already closed
	cur     kernelCounts // totals of the open socket
}

// open opens, configures and stores a socket. On error nothing stays open.
func (r *reader) open() error {
	cfg := r.src.cfg
	name := r.ifc.name
	index, up, err := ifaceUp(name)
	if err != nil {
		return fmt.Errorf("live: %s: %w", name, err)
	}
	if !up {
		return fmt.Errorf("live: %s: %w", name, errDown)
	}
	link, err := linkTypeOf(name)
	if err != nil {
		return err
	}
	rg, err := openRing(index, cfg.BlockSize, cfg.NumBlocks, blockTimeout, cfg.PollTimeout)
	if err != nil {
		return fmt.Errorf("live: %s: opening packet socket: %w", name, err)
	}
	fail := func(what string, err error) error {
		rg.close()
		return fmt.Errorf("live: %s: %s: %w", name, what, err)
	}
	prog, err := filterProgram(cfg.SnapLen, cfg.KeepOutgoing)
	if err != nil {
		return fail("socket filter", err)
	}
	if err := rg.setBPF(prog); err != nil {
		return fail("socket filter", err)
	}
	// PACKET_MR_PROMISC membership: the kernel drops it when the socket
	// closes, so a crashed daemon leaves the interface as it found it.
	if err := rg.setPromiscuous(index); err != nil {
		return fail("promiscuous membership", err)
	}
	if r.fanout {
		if err := rg.setFanout(r.ifc.fanoutID); err != nil {
			return fail("fanout group", err)
		}
	}
	r.ifc.link.Store(link)
	r.mu.Lock()
	r.rg, r.ifindex, r.cur = rg, index, kernelCounts{}
	r.mu.Unlock()
	r.up.Store(true)
	return nil
}

// close harvests the kernel counters and closes the socket.
func (r *reader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rg == nil {
		return
	}
	r.harvestLocked()
	r.base.packets += r.cur.packets
	r.base.drops += r.cur.drops
	r.base.freezes += r.cur.freezes
	r.cur = kernelCounts{}
	r.rg.close()
	r.rg = nil
	r.up.Store(false)
}

// harvestLocked adds PACKET_STATISTICS, which the kernel clears on read, to
// the open socket's totals.
func (r *reader) harvestLocked() {
	p, d, f, err := r.rg.stats()
	if err != nil {
		return
	}
	r.cur.packets += p
	r.cur.drops += d
	r.cur.freezes += f
}

func (r *reader) kernel() kernelCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rg != nil {
		r.harvestLocked()
	}
	return kernelCounts{r.base.packets + r.cur.packets, r.base.drops + r.cur.drops, r.base.freezes + r.cur.freezes}
}

const (
	minBackoff    = 100 * time.Millisecond
	maxBackoff    = 5 * time.Second
	checkInterval = time.Second // how often an idle reader checks that its interface is the same
)

// loop reads until ctx ends, reopening the socket with backoff whenever it
// is lost.
func (r *reader) loop(ctx context.Context, queue chan<- *batch, pool *sync.Pool) {
	defer r.close()
	backoff := minBackoff
	for ctx.Err() == nil {
		if !r.up.Load() {
			if err := r.open(); err != nil {
				if !sleep(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, maxBackoff)
				continue
			}
			r.ifc.restarts.Add(1)
			r.ifc.setState(nil)
			backoff = minBackoff
		}
		err := r.read(ctx, queue, pool)
		if ctx.Err() != nil {
			return
		}
		r.close()
		r.ifc.setState(err)
	}
}

// read drains the socket into batches until ctx ends or the socket fails.
func (r *reader) read(ctx context.Context, queue chan<- *batch, pool *sync.Pool) error {
	r.mu.Lock()
	rg, index := r.rg, r.ifindex
	r.mu.Unlock()
	link := r.ifc.link.Load()
	b := pool.Get().(*batch)
	defer func() {
		if len(b.frames) == 0 {
			pool.Put(b)
		}
	}()
	send := func() bool {
		if len(b.frames) == 0 {
			return true
		}
		select {
		case queue <- b:
			b = pool.Get().(*batch)
			return true
		case <-ctx.Done():
			return false
		}
	}
	lastCheck := time.Now()
	maxAge := int64(r.src.cfg.PollTimeout)
	for {
		data, ts, wireLen, err := rg.read()
		if err != nil {
			if !errors.Is(err, errRingTimeout) {
				send()
				return fmt.Errorf("reading: %w", err)
			}
			if !send() {
				return ctx.Err()
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Since(lastCheck) >= checkInterval {
				lastCheck = time.Now()
				// A deleted and recreated interface has a new index; one that
				// was set down without an error on this socket is down now.
				idx, up, err := ifaceUp(r.ifc.name)
				switch {
				case err != nil:
					return err
				case idx != index:
					return fmt.Errorf("interface index changed from %d to %d", index, idx)
				case !up:
					return errDown
				}
			}
			continue
		}
		// Hand the batch on when it is full, or when it has waited a poll
		// timeout: a link with a steady trickle never lets the poll time out.
		if len(b.buf)+len(data) > cap(b.buf) || len(b.frames) == cap(b.frames) ||
			(len(b.frames) > 0 && ts-b.frames[0].TimeNano > maxAge) {
			if !send() {
				return ctx.Err()
			}
		}
		start := len(b.buf)
		b.buf = append(b.buf, data...)
		b.frames = append(b.frames, capture.Frame{
			Data:     b.buf[start:len(b.buf):len(b.buf)],
			TimeNano: ts,
			LinkType: link,
			OrigLen:  uint32(wireLen),
		})
		r.ifc.packets.Add(1)
		r.ifc.bytes.Add(uint64(len(data)))
		r.ifc.last.Store(ts)
	}
}

// filterProgram is the socket filter: it drops frames this host transmits
// (skb->pkt_type == PACKET_OUTGOING) unless told to keep them, and cuts
// each frame to snapLen.
func filterProgram(snapLen int, keepOutgoing bool) ([]bpf.RawInstruction, error) {
	const packetOutgoing = 4
	prog := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipTrue: 1},
		bpf.RetConstant{Val: uint32(snapLen)},
		bpf.RetConstant{Val: 0},
	}
	if keepOutgoing {
		prog = prog[2:3]
	}
	return bpf.Assemble(prog)
}

// sleep waits d or until ctx ends; false means ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
