package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/otwatch/otwatch/ui"
)

// demoCapture is a real Modbus capture (see demo/PROVENANCE.md), so a fresh
// install shows what otwatch does without any traffic of its own.
//
//go:embed demo/modbus.pcap
var demoCapture []byte

// cmdDemo replays the embedded capture through the whole appliance —
// pipeline, inventory, learning, alerts — and serves the dashboard on
// localhost until interrupted (--records prints the transactions instead).
func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo")
	listen := fs.String("listen", "127.0.0.1:8443", "serve the dashboard on `ADDR` (host:port)")
	records := fs.Bool("records", false, "print the transactions as JSON lines and exit")
	pos, err := parseFlags(fs, "demo", args, stdout, stderr, false)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		usageError(stderr, "demo", fs, fmt.Sprintf("unexpected argument %q", pos[0]), false)
		return 2
	}
	dir, err := os.MkdirTemp("", "otwatch-demo")
	if err != nil {
		fmt.Fprintf(stderr, "otwatch demo: %v\n", err)
		return 2
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "demo-modbus.pcap")
	if err := os.WriteFile(path, demoCapture, 0o600); err != nil {
		fmt.Fprintf(stderr, "otwatch demo: %v\n", err)
		return 2
	}
	if *records {
		fmt.Fprintf(stderr, "otwatch demo: reading the embedded capture (%d bytes of real Modbus/TCP traffic)\n", len(demoCapture))
		return cmdRead([]string{"--records", "-", path}, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := runDemo(ctx, dir, path, *listen, stderr, nil); err != nil {
		fmt.Fprintf(stderr, "otwatch demo: %v\n", err)
		return 2
	}
	return 0
}

// runDemo replays a capture into a fresh state under dir and serves the
// dashboard on listen until ctx ends; ready receives the address and the
// setup token.
func runDemo(ctx context.Context, dir, capturePath, listen string, stderr io.Writer, ready func(addr net.Addr, token string)) error {
	logger := log.New(stderr, "otwatch demo: ", 0)
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	d := &daemon{cfg: config.Default(), log: logger, started: time.Now(), db: st, lastDrops: map[string][2]uint64{},
		lastLimits: map[string]uint64{}}
	d.cfg.Database.Path = st.Path()
	// Auto mode with the default hour of learning: the capture's early
	// connections are learned, the later ones (years later) are checked.
	d.mon = newMonitor(baseline.Config{Mode: baseline.ModeAuto}, inventory.Limits{}, d.onAlert)
	d.mon.logf = logger.Printf
	d.model, d.engine = d.mon.model, d.mon.engine
	d.dash = newDashboardBackend(d)
	d.dash.openSeries("") // the demo's replay is kept in memory
	defer d.dash.closeSeries()
	d.pipe = pipeline.New(pipeline.DefaultLimits(), d.mon.observe)
	d.pipe.RecycleTransactions = true
	d.mon.attach(d.pipe)
	d.state.Lock()
	err = d.pipe.ReplayFile(capturePath)
	d.pipe.Flush()
	d.engine.Flush()
	d.state.Unlock()
	if err != nil {
		return err
	}
	d.state.Lock()
	d.refreshSnapshot(time.Now(), nil, nil)
	status := d.model.Status(d.model.LastSeen()) // the replay's packet time, not the wall clock
	d.state.Unlock()
	d.mu.Lock()
	d.snap.baseStatus = status
	d.mu.Unlock()
	srv, err := ui.New(ui.Config{StateDir: filepath.Join(dir, "dashboard"), Addr: listen, Version: version, Logf: logger.Printf}, d.dash)
	if err != nil {
		return err
	}
	defer srv.Close()
	assets, links := d.mon.inv.Len()
	logger.Printf("replayed the embedded capture: %s, %s, %s, %s, %s", plural(int(d.pipe.Stats.Packets), "packet", "packets"),
		plural(int(d.pipe.Stats.TransactionsTotal()), "transaction", "transactions"), plural(assets, "asset", "assets"),
		plural(links, "link", "links"), plural(int(d.alertCount), "alert", "alerts"))
	token := srv.SetupToken()
	return srv.ListenAndServe(ctx, func(addr net.Addr) {
		logger.Printf("dashboard on https://%s (self-signed certificate); first start: create the admin with the setup token %s", addr, token)
		logger.Printf("press Ctrl-C to stop")
		if ready != nil {
			ready(addr, token)
		}
	})
}
