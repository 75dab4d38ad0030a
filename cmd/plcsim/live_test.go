//go:build linux

package main

import (
	"context"
	"io"
	"log"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/live"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// The whole chain on live packets: plcsim's traffic on loopback, captured by
// protocols/live, decoded by the pipeline, learned while the plant runs
// normally, and alerted on when the attacks come (needs root for AF_PACKET).
func TestLiveCaptureLearnsAndAlerts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (AF_PACKET on lo)")
	}
	listen := freePort(t)
	serverPort := netip.MustParseAddrPort(listen).Port()
	src, err := live.Open(live.Config{Interfaces: []string{"lo"}, PollTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	model := baseline.New(baseline.Config{Mode: baseline.ModeLearn})
	var mu sync.Mutex
	kinds := map[string]int{}
	engine := alerts.NewEngine(alerts.Config{}, model, func(a *alerts.Alert) {
		mu.Lock()
		kinds[a.Kind]++
		mu.Unlock()
	})
	const learnFor = 1200 * time.Millisecond
	var ops = map[protocols.Op]int{}
	var first time.Time
	detecting := false
	p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) {
		if tx.Proto != "modbus" || tx.Server.Port != serverPort {
			return
		}
		ops[tx.Op]++
		if first.IsZero() {
			first = tx.Time()
		}
		if !detecting && tx.Time().Sub(first) > learnFor {
			detecting = true
			model.SetMode(baseline.ModeDetect)
		}
		engine.Observe(tx)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(f capture.Frame) { p.HandleFrame(f) }) }()
	time.Sleep(100 * time.Millisecond)

	o, err := parseFlags([]string{"-listen", listen, "-period", "50ms", "-duration", "2500ms",
		"-attack", "all", "-attack-after", "1800ms", "-rogue-source", "127.0.0.2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(context.Background(), o, log.New(io.Discard, "", 0)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.Flush()
	engine.Flush()
	t.Logf("ops %v, alerts %v, capture %+v", ops, kinds, src.Stats())
	if ops[protocols.OpRead] < 40 || ops[protocols.OpWrite] < 20 {
		t.Errorf("transactions by op %v: want the cyclic reads and writes", ops)
	}
	for _, kind := range []string{"write_from_new_client", "value_out_of_range", "write_to_unseen_target"} {
		if kinds[kind] == 0 {
			t.Errorf("no %s alert (alerts %v)", kind, kinds)
		}
	}
}
