// Command devserver runs the dashboard over the in-memory fake backend,
// filled by replaying capture files through the real pipeline and alerts
// engine (and optionally synthetic load), for developing the UI:
//
//	go run ./ui/devserver -state /tmp/otwatch-ui
//
// It serves HTTPS with a self-signed certificate kept in the state
// directory and prints the one-time setup token on first start.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/otwatch/otwatch/ui"
	"github.com/otwatch/otwatch/ui/fake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "listen address")
	state := flag.String("state", filepath.Join(os.TempDir(), "otwatch-ui-dev"), "state directory (users, audit log, certificate)")
	captures := flag.String("captures", "", "comma-separated capture files (default: ui/testdata/*.pcap)")
	learn := flag.Float64("learn", 0.5, "fraction of the transactions that trains the baseline before detection")
	assets := flag.Int("synthetic-assets", 0, "add this many generated assets")
	alertsN := flag.Int("synthetic-alerts", 0, "add this many generated alerts")
	flag.Parse()

	files := splitList(*captures)
	if len(files) == 0 {
		files, _ = filepath.Glob(filepath.Join("ui", "testdata", "*.pcap"))
		if len(files) == 0 {
			files, _ = filepath.Glob(filepath.Join("testdata", "*.pcap"))
		}
		sort.Strings(files)
	}
	b := fake.New()
	if err := b.Replay(*learn, files...); err != nil {
		log.Fatal(err)
	}
	if *assets > 0 || *alertsN > 0 {
		b.Synthetic(max(*assets, 1), *alertsN, 1)
	}
	srv, err := ui.New(ui.Config{StateDir: *state, Addr: *addr, Version: "dev"}, b)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if tok := srv.SetupToken(); tok != "" {
		fmt.Printf("first start: create the admin at the login page with the setup token\n\n    %s\n\n", tok)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				b.Tick()
			}
		}
	}()
	err = srv.ListenAndServe(ctx, func(a net.Addr) { fmt.Printf("otwatch dashboard: https://%s/ (state in %s)\n", a, *state) })
	if err != nil {
		log.Fatal(err)
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
