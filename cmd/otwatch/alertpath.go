package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/alerts/finding"
)

// The alert path: the capture goroutine never waits on disk or on the
// network for an alert. It hands each alert to a bounded queue; a worker
// of its own logs it, queues it durably for every syslog destination (one
// disk sync per batch) and asks the evidence recorder for its packets
// (which writes files on a goroutine of its own, within a budget). An
// alert that finds the queue full is still on the dashboard; it is counted
// and the next tick raises one limit_reached alert saying how many and of
// which kinds were not sent one by one.
const (
	alertQueueLen = 8192
	alertBatch    = 512
)

type alertPath struct {
	d     *daemon
	queue chan *alerts.Alert
	done  chan struct{}

	// kept by the capture goroutine
	overflowed      uint64
	overflowKinds   map[string]uint64
	overflowAlerted uint64

	handled atomic.Uint64 // alerts the worker passed to every output
	closed  bool          // set under the daemon's state lock before the queue closes
	closeMu sync.Once
}

func newAlertPath(d *daemon) *alertPath {
	p := &alertPath{d: d, queue: make(chan *alerts.Alert, alertQueueLen), done: make(chan struct{}), overflowKinds: map[string]uint64{}}
	go p.work()
	return p
}

// enqueue is the engine's sink, on the capture goroutine (under the
// daemon's state lock): never blocks.
func (p *alertPath) enqueue(a *alerts.Alert) {
	if p.closed {
		p.overflowed++ // raised during shutdown after the outputs closed: counted
		return
	}
	select {
	case p.queue <- a:
	default:
		p.overflowed++
		if len(p.overflowKinds) < 64 {
			p.overflowKinds[a.Kind]++
		} else {
			p.overflowKinds["other"]++
		}
		if p.d.dash != nil {
			p.d.dash.store.Add(a) // the dashboard keeps it even so
		}
	}
}

// checkOverflow (on the capture goroutine, each tick) raises one alert for
// what the queue could not take since the last one.
func (p *alertPath) checkOverflow(now time.Time) {
	if p.overflowed == p.overflowAlerted {
		return
	}
	n := p.overflowed - p.overflowAlerted
	kinds := make([]string, 0, len(p.overflowKinds))
	for k, c := range p.overflowKinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, c))
	}
	sort.Strings(kinds)
	clear(p.overflowKinds)
	p.overflowAlerted = p.overflowed
	p.d.engine.Raise(finding.Finding{Key: finding.NewKey("limit_reached", "alert_queue"), Time: now, Message: fmt.Sprintf(
		"%d alerts came faster than the outputs could take them (queue of %d full): they are on the dashboard and counted here, not sent to syslog one by one or given evidence: %s",
		n, alertQueueLen, strings.Join(kinds, " "))})
}

// work delivers batches of alerts to the outputs until the queue closes.
func (p *alertPath) work() {
	defer close(p.done)
	batch := make([]*alerts.Alert, 0, alertBatch)
	for a := range p.queue {
		batch = append(batch[:0], a)
	fill:
		for len(batch) < alertBatch {
			select {
			case a, ok := <-p.queue:
				if !ok {
					break fill
				}
				batch = append(batch, a)
			default:
				break fill
			}
		}
		p.deliver(batch)
	}
}

func (p *alertPath) deliver(batch []*alerts.Alert) {
	d := p.d
	for _, a := range batch {
		d.log.Printf("alert %s severity %d %s: %s", a.ID, a.Severity, a.Kind, a.Message)
		if d.dash != nil {
			d.dash.alert(a)
		}
	}
	for _, s := range d.senders {
		if err := s.SendAll(batch); err != nil {
			d.log.Printf("syslog: %v", err)
		}
	}
	if d.evidence != nil {
		for _, a := range batch {
			d.evidence.Alert(a)
		}
	}
	p.handled.Add(uint64(len(batch)))
}

// close stops taking alerts (the caller holds the daemon's state lock
// while calling stop) and waits until every queued one reached the outputs
// (syslog's disk queues take a batch in one sync) or ctx ends.
func (p *alertPath) stop() { p.closed = true }

func (p *alertPath) close(ctx context.Context) error {
	p.closeMu.Do(func() { close(p.queue) })
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("alert outputs: %d alerts still queued at the shutdown deadline", len(p.queue))
	}
}
