package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/alerts/evidence"
	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/alerts/syslog"
	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/learning/advisories"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/live"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/otwatch/otwatch/ui"
)

// Daemon thresholds for the appliance's own health alerts.
const (
	stallAfter     = 5 * time.Minute // an up interface silent this long is stalled
	dropAlertRatio = 0.001           // kernel drops above 0.1% of packets in a tick window
	clockJump      = 2 * time.Minute // wall clock moved this much more (or less) than the monotonic clock
	tickInterval   = time.Second
)

// cmdConfig checks a configuration file: `otwatch config check FILE`.
func cmdConfig(args []string, stdout, stderr io.Writer) int {
	return dispatchGroup("config", args, stdout, stderr, map[string]func([]string) int{
		"check": func(a []string) int { return configCheck(a, stdout, stderr) },
	})
}

func configCheck(args []string, stdout, stderr io.Writer) int {
	pos, code, ok := noFlags("config check", args, 1, stdout, stderr)
	if !ok {
		return code
	}
	cfg, err := config.Load(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if problems := interfaceProblems(cfg); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s: %s\n", pos[0], p)
		}
		return 2
	}
	fmt.Fprintf(stdout, "%s: ok\n", pos[0])
	return 0
}

// addressProblem says once why an addressed monitor interface is refused
// and what to do.
func addressProblem(iface string, addrs []string, prepare bool) string {
	addr := "IP address " + strings.Join(addrs, ", ")
	if len(addrs) > 1 {
		addr = "IP addresses " + strings.Join(addrs, ", ")
	}
	msg := fmt.Sprintf("monitor interface %s carries %s: with an address the host answers ARP and neighbour discovery, "+
		"so it would transmit on the monitored network. ", iface, addr)
	v6only := true
	for _, a := range addrs {
		if ip, _, err := net.ParseCIDR(a); err != nil || ip.To4() != nil {
			v6only = false
		}
	}
	if v6only && !prepare {
		return msg + "Set capture.prepare: true (the default; it turns IPv6 off on the port), or set capture.allow_addressed: true to monitor anyway"
	}
	return msg + fmt.Sprintf("Remove it (ip address flush dev %s), or set capture.allow_addressed: true to monitor anyway", iface)
}

// interfaceProblems is what run would refuse about the monitor interfaces
// on this machine, found without changing them (for config check).
func interfaceProblems(cfg *config.Config) []string {
	var out []string
	for _, name := range cfg.Interfaces {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			out = append(out, fmt.Sprintf("monitor interface %s: no such interface on this machine, so run would refuse to start here", name))
			continue
		}
		if cfg.Capture.AllowAddressed {
			continue
		}
		addrs, _ := ifi.Addrs()
		var bad []string
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() == nil && cfg.Capture.Prepare {
				continue // prepare turns IPv6 off: these addresses go
			}
			bad = append(bad, a.String())
		}
		if len(bad) > 0 {
			out = append(out, addressProblem(name, bad, cfg.Capture.Prepare))
		}
	}
	return out
}

// cmdRun is the appliance daemon: live passive capture → pipeline →
// learning and alerts, checkpointed to the database, health on the
// management address. It never transmits on a monitored interface.
func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run")
	path := fs.String("config", "/etc/otwatch/otwatch.conf", "configuration `FILE` (cmd/otwatch/config/README.md)")
	pos, err := parseFlags(fs, "run", args, stdout, stderr, false)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) > 0 {
		usageError(stderr, "run", fs, fmt.Sprintf("unexpected argument %q", pos[0]), false)
		return 2
	}
	logger := log.New(stderr, "otwatch: ", log.LstdFlags|log.LUTC)
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	d, err := newDaemon(cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch run: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			d.requestReload(*path)
		}
	}()
	if err := d.run(ctx); err != nil {
		logger.Printf("stopped: %v", err)
		return 1
	}
	return 0
}

// daemon holds the running appliance. The pipeline, the model and the
// engine belong to the capture goroutine; the web handlers read a snapshot.
type daemon struct {
	cfg    *config.Config
	log    *log.Logger
	source *live.Source
	pipe   *pipeline.Pipeline
	mon    *monitor
	model  *baseline.Model
	engine *alerts.Engine
	db     *store.Store
	// stateLost: why the state file was set aside at start
	// (openStateFile), alerted once the outputs are up; "" when it loaded
	stateLost string
	// frames counts the frames handled as they are handled: /metrics and
	// /healthz show it live, where the snapshot's other counters move once
	// a tick, so that a burst shorter than a tick still shows as moving
	frames   atomic.Uint64
	http     *http.Server
	listener net.Listener
	local    *http.Server // the commands' socket beside the database (localstate.go)
	started  time.Time

	reload chan *config.Config
	// folds wakes the goroutine that folds the state file's journals in
	// after a checkpoint (foldJournals); nil: none runs
	folds chan struct{}

	// state guards the pipeline, inventory, baseline and engine: the capture
	// goroutine holds it per frame and per tick, the dashboard per request.
	state     sync.Mutex
	dash      *dashboardBackend
	dashboard *ui.Server
	senders   []*syslog.Sender
	evidence  *evidence.Recorder
	out       *alertPath

	// kept by the capture goroutine
	lastCheckpoint time.Time
	lastTickWall   time.Time
	lastTickMono   time.Time
	lastDrops      map[string][2]uint64 // interface -> (kernel packets, drops) at the last tick
	lastLimits     map[string]uint64
	storageFailing bool
	alertCount     uint64
	evidenceOver   uint64      // evidence.Stats.OverBudget at the last limit_reached alert
	updates        updateRelay // the appliance installer's steps (appliance_update.go)

	mu   sync.Mutex
	snap snapshot
}

// snapshot is what /metrics and /healthz show, refreshed every tick.
type snapshot struct {
	stats       pipeline.Stats
	ifaces      []live.InterfaceStats
	alerts      map[string]uint64
	folded      uint64
	baseKeys    int
	baseAssets  int
	baseStatus  baseline.Status
	baseRefused [2]uint64 // assets, keys the baseline's caps kept out
	outHandled  uint64    // alerts the alert path passed to the outputs
	outOverflow uint64    // alerts the alert path's queue could not take
	evidence    evidence.Stats
	storageOK   bool
	lastSaved   time.Time
	goroutines  int
	heap        uint64
	updated     time.Time
	capturing   bool
	stalledWhat []string
}

func newDaemon(cfg *config.Config, logger *log.Logger) (*daemon, error) {
	d := &daemon{cfg: cfg, log: logger, started: time.Now(), reload: make(chan *config.Config, 1), lastDrops: map[string][2]uint64{},
		lastLimits: map[string]uint64{}}
	for _, ifc := range cfg.Interfaces {
		if cfg.Capture.Prepare {
			if err := live.Prepare(ifc); err != nil {
				return nil, fmt.Errorf("preparing %s: %w (capture.prepare needs CAP_NET_ADMIN; set it false if the system prepares the port)", ifc, err)
			}
		}
		if !cfg.Capture.AllowAddressed {
			if err := live.CheckPassive(ifc); err != nil {
				var ae *live.AddressError
				if errors.As(err, &ae) {
					return nil, errors.New(addressProblem(ae.Interface, ae.Addrs, cfg.Capture.Prepare))
				}
				return nil, err
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Database.Path), 0o750); err != nil {
		return nil, err
	}
	policy, err := cfg.Segmentation.Policy()
	if err != nil {
		return nil, err
	}
	db, lost, err := openStateFile(cfg.Database.Path, func(db *store.Store) error {
		d.mon = newMonitor(cfg.Learning.Baseline(), inventory.Limits{}, d.onAlert)
		d.mon.logf = logger.Printf
		d.mon.setZones(policy)
		d.model, d.engine = d.mon.model, d.mon.engine
		return db.Load(d.components())
	}, logger.Printf)
	if err != nil {
		return nil, err
	}
	d.db, d.stateLost = db, lost // alerted once the outputs are up (run)
	d.model.SetMode(cfg.Learning.Mode)
	if err := d.mon.loadFeed(db); err != nil {
		db.Close()
		return nil, err
	}
	d.mon.vulns.watch.AlertCVSS = cfg.Advisories.AlertCVSS
	if cfg.Advisories.Keyring != "" {
		if d.mon.vulns.keyring, err = advisories.ReadKeyring(cfg.Advisories.Keyring); err != nil {
			db.Close()
			return nil, fmt.Errorf("advisories.keyring: %w", err)
		}
	}
	if err := d.serveLocal(); err != nil {
		db.Close()
		return nil, err
	}
	d.pipe = pipeline.New(cfg.Limits, d.mon.observe)
	d.pipe.RecycleTransactions = true // nothing keeps a transaction past observe (alerts clone theirs)
	d.pipe.MergeVLANs = cfg.Capture.MergeVLANs
	d.mon.attach(d.pipe)
	if err := d.openOutputs(); err != nil {
		d.closeOutputs(context.Background())
		d.closeLocal()
		db.Close()
		return nil, err
	}
	src, err := live.Open(live.Config{Interfaces: cfg.Interfaces, Fanout: cfg.Capture.Fanout, SnapLen: cfg.Capture.SnapLen,
		BlockSize: cfg.Capture.RingBlockSize, NumBlocks: cfg.Capture.RingBlocks})
	if err != nil {
		d.closeLocal()
		db.Close()
		return nil, err
	}
	d.source = src
	ln, err := net.Listen("tcp", cfg.Management.Listen)
	if err != nil {
		src.Close()
		d.closeLocal()
		db.Close()
		return nil, fmt.Errorf("management.listen %s: %w", cfg.Management.Listen, err)
	}
	d.listener = ln
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", d.healthz)
	mux.HandleFunc("/metrics", d.metrics)
	d.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if cfg.Management.Dashboard != "" {
		d.dash = newDashboardBackend(d)
		dashDir := filepath.Join(filepath.Dir(cfg.Database.Path), "dashboard")
		srv, err := ui.New(ui.Config{StateDir: dashDir, Addr: cfg.Management.Dashboard, Version: version, Logf: logger.Printf}, d.dash)
		if err == nil {
			d.dash.openSeries(filepath.Join(dashDir, "series.db"))
		}
		if err != nil {
			ln.Close()
			src.Close()
			d.closeLocal()
			db.Close()
			return nil, fmt.Errorf("dashboard: %w", err)
		}
		d.dashboard = srv
	}
	return d, nil
}

func (d *daemon) components() map[string]store.Component { return d.mon.components() }

// openOutputs starts the syslog senders (each with its disk queue beside the
// database) and the evidence recorder fed with every frame.
func (d *daemon) openOutputs() error {
	queues := filepath.Join(filepath.Dir(d.cfg.Database.Path), "syslog-queue")
	for _, dst := range d.cfg.Syslog {
		s, err := syslog.NewSender(syslog.Destination{Name: dst.Name, Network: dst.Network, Address: dst.Address,
			Format: dst.Format, Framing: dst.Header, Facility: config.Facility(dst.Facility), MinSeverity: dst.MinSeverity,
			CAFile: dst.TLS.CAFile, CertFile: dst.TLS.CertFile, KeyFile: dst.TLS.KeyFile, ServerName: dst.TLS.ServerName,
			LFFraming: dst.Framing == "lf", QueueDir: queues})
		if err != nil {
			return fmt.Errorf("syslog destination %s: %w", dst.Name, err)
		}
		d.senders = append(d.senders, s)
	}
	if d.cfg.Evidence.Dir != "" {
		rec, err := evidence.NewRecorder(evidence.Config{Dir: d.cfg.Evidence.Dir, Before: d.cfg.Evidence.Before,
			After: d.cfg.Evidence.After, MaxBytes: d.cfg.Evidence.MaxBytes, MaxPerMinute: d.cfg.Evidence.MaxPerMinute, Logf: d.log.Printf})
		if err != nil {
			return fmt.Errorf("evidence: %w", err)
		}
		d.evidence = rec
		network := d.pipe.Events // the monitor's (attach)
		d.pipe.FrameEvents = true
		d.pipe.Events = func(e *pipeline.Event) {
			if e.Kind == pipeline.FrameSeen { // every frame, into the rings of recent frames per flow
				rec.Frame(e.Raw, e.Frame, e.Decoded, e.HeadersOK)
			}
			if network != nil {
				network(e)
			}
		}
	}
	d.out = newAlertPath(d)
	return nil
}

// closeOutputs writes pending evidence and lets the senders deliver what
// they can before ctx ends; the rest stays queued for the next start.
func (d *daemon) closeOutputs(ctx context.Context) {
	if d.out != nil {
		d.state.Lock()
		d.out.stop()
		d.state.Unlock()
		if err := d.out.close(ctx); err != nil {
			d.log.Printf("%v", err)
		}
	}
	if d.evidence != nil {
		if err := d.evidence.FlushContext(ctx); err != nil {
			d.log.Printf("evidence: %v", err)
		}
	}
	for _, s := range d.senders {
		if err := s.Close(ctx); err != nil {
			d.log.Printf("syslog: %v", err)
		}
	}
}

// onAlert is the engine's sink, on the capture goroutine: the alert goes
// to the outputs through the alert path's queue (alertpath.go).
func (d *daemon) onAlert(a *alerts.Alert) {
	d.alertCount++
	if d.out == nil { // otwatch demo: no outputs but the dashboard
		d.log.Printf("alert %s severity %d %s: %s", a.ID, a.Severity, a.Kind, a.Message)
		if d.dash != nil {
			d.dash.alert(a)
		}
		return
	}
	d.out.enqueue(a)
}

// run captures until ctx ends, then shuts down in order: capture,
// reassembly, web server (with a timeout), database.
func (d *daemon) run(ctx context.Context) error {
	if d.stateLost != "" {
		d.engine.Raise(finding.Finding{Key: finding.NewKey("storage_failure", d.cfg.Database.Path), Time: time.Now(), Message: d.stateLost})
	}
	go func() {
		if err := d.http.Serve(d.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Printf("management server: %v", err)
		}
	}()
	d.log.Printf("monitoring %s (passive); metrics on http://%s", strings.Join(d.cfg.Interfaces, ", "), d.listener.Addr())
	dashDone := make(chan struct{})
	dashCtx, stopDash := context.WithCancel(context.Background())
	if d.dashboard != nil {
		if tok := d.dashboard.SetupToken(); tok != "" {
			d.log.Printf("dashboard first start: create the admin with the one-time setup token %s", tok)
		}
		go func() {
			defer close(dashDone)
			err := d.dashboard.ListenAndServe(dashCtx, func(addr net.Addr) { d.log.Printf("dashboard on https://%s", addr) })
			if err != nil {
				d.log.Printf("dashboard: %v", err)
			}
		}()
	} else {
		close(dashDone)
	}
	d.lastCheckpoint, d.lastTickWall, d.lastTickMono = time.Now(), time.Now(), time.Now()
	d.folds = make(chan struct{}, 1)
	foldCtx, stopFolds := context.WithCancel(context.Background())
	foldDone := make(chan struct{})
	go func() {
		defer close(foldDone)
		d.foldJournals(foldCtx)
	}()
	d.tick(time.Now())
	err := d.source.RunTicking(ctx, d.handleFrame, tickInterval, d.tick)
	if err != nil && !errors.Is(err, context.Canceled) {
		d.log.Printf("capture: %v", err)
	}
	stopFolds() // after the step under way: the file stays consistent between steps
	<-foldDone
	// capture stopped: flush reassembly, then the web servers, then the database
	d.state.Lock()
	d.pipe.Flush()
	d.engine.Flush()
	d.state.Unlock()
	// within 5 s of SIGTERM the process is gone: 3 s for the outputs (every
	// raised alert reaches syslog's disk queues first), the rest for the
	// checkpoint
	shutdown, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	d.http.Shutdown(shutdown)
	d.closeOutputs(shutdown)
	cancel()
	stopDash()
	<-dashDone
	if d.dashboard != nil {
		d.dashboard.Close()
		d.dash.closeSeries()
	}
	d.closeLocal()
	d.state.Lock()
	d.checkpoint()
	d.state.Unlock()
	var handled, overflowed uint64
	if d.out != nil {
		handled, overflowed = d.out.handled.Load(), d.out.overflowed
	}
	d.log.Printf("stopped; state saved to %s; %d alerts raised, %d passed to the outputs, %d over the alert queue", d.db.Path(),
		d.alertCount, handled, overflowed)
	return d.db.Close()
}

// closeLocal stops answering the commands and removes the socket.
func (d *daemon) closeLocal() {
	if d.local != nil {
		d.local.Close()
		os.Remove(socketPath(d.db.Path()))
		d.local = nil
	}
}

// markNormal: an operator says an alert is normal, on the dashboard or
// with `otwatch alerts normal`: its transaction joins the baseline.
func (d *daemon) markNormal(id, user string) error {
	d.state.Lock()
	err := d.engine.MarkNormal(id)
	d.state.Unlock()
	if err != nil {
		return err
	}
	d.log.Printf("operator %s marked alert %s normal", user, id)
	if d.dash != nil {
		d.dash.markedNormal(id, user)
	}
	return nil
}

// handleFrame runs one captured frame through the pipeline. A panic there
// is survived (pipeline.Pipeline.FramePanicked, monitor.framePanic):
// capture goes on.
func (d *daemon) handleFrame(f capture.Frame) {
	d.state.Lock()
	defer d.state.Unlock()
	defer func() {
		if r := recover(); r != nil {
			d.pipe.FramePanicked(r, f)
		}
	}()
	d.pipe.HandleFrame(f)
	d.frames.Store(d.pipe.Stats.Packets)
}

// tick runs on the capture goroutine every second: clock, health checks,
// checkpoints, reloads, and the snapshot for the web handlers.
func (d *daemon) tick(now time.Time) {
	d.state.Lock()
	defer d.state.Unlock()
	select {
	case next := <-d.reload:
		d.applyReload(next)
	default:
	}
	d.pipe.Advance(now.UnixNano())
	d.mon.advance(now.UnixNano())
	d.mon.tickVulns(now)
	// Wall time against the monotonic clock: a jump means NTP or an operator moved it.
	wall := now.Round(0)
	if skew := wall.Sub(d.lastTickWall) - now.Sub(d.lastTickMono); skew > clockJump || skew < -clockJump {
		d.engine.Raise(finding.Finding{Key: finding.NewKey("clock_jump", "system"), Time: now,
			Message: fmt.Sprintf("the system clock jumped by %s", skew.Round(time.Second))})
	}
	d.lastTickWall, d.lastTickMono = wall, now
	ifaces := d.source.Stats()
	var stalled []string
	for _, s := range ifaces {
		switch {
		case !s.Up:
			stalled = append(stalled, s.Name+" down")
		case !s.LastFrame.IsZero() && now.Sub(s.LastFrame) > stallAfter:
			stalled = append(stalled, s.Name+" silent")
		}
		prev := d.lastDrops[s.Name]
		if dp, dd := s.KernelPackets-prev[0], s.KernelDrops-prev[1]; dd > 0 && float64(dd) > dropAlertRatio*float64(dp) {
			d.engine.Raise(finding.Finding{Key: finding.NewKey("packet_drops", s.Name), Time: now,
				Message: fmt.Sprintf("the kernel dropped %d of %d packets on %s: the appliance is partly blind", dd, dp, s.Name)})
		}
		d.lastDrops[s.Name] = [2]uint64{s.KernelPackets, s.KernelDrops}
	}
	for _, what := range stalled {
		d.engine.Raise(finding.Finding{Key: finding.NewKey("capture_stalled", what), Time: now, Message: "monitor interface " + what + ": otwatch sees no traffic there"})
	}
	if d.out != nil {
		d.out.checkOverflow(now)
	}
	if d.evidence != nil {
		if over := d.evidence.Stats().OverBudget; over > d.evidenceOver {
			d.engine.Raise(finding.Finding{Key: finding.NewKey("limit_reached", "evidence", "budget"), Time: now, Message: fmt.Sprintf(
				"%d alerts got no evidence file: more than the evidence budget (%d files a minute) came at once; the custody log sums them up",
				over-d.evidenceOver, d.cfg.Evidence.MaxPerMinute)})
			d.evidenceOver = over
		}
	}
	for name, n := range d.pipe.Stats.LimitsHit {
		if n > d.lastLimits[name] {
			d.engine.Raise(finding.Finding{Key: finding.NewKey("limit_reached", "pipeline", name), Time: now,
				Message: fmt.Sprintf("the pipeline limit %s was hit %d times: some traffic is not fully analysed", name, n-d.lastLimits[name])})
			d.lastLimits[name] = n
		}
	}
	if now.Sub(d.lastCheckpoint) >= d.cfg.Database.CheckpointInterval {
		d.checkpoint()
	}
	d.updates.relay(d, now)
	d.refreshSnapshot(now, ifaces, stalled)
	if d.dash != nil {
		var drops uint64
		for _, i := range ifaces {
			drops += i.KernelDrops
		}
		d.dash.counters(d.pipe.Stats.Packets, drops)
	}
}

// refreshSnapshot publishes the counters /metrics and /healthz show
// (under d.state): the alert counts are the engine's, which count every
// alert the sink got, so they agree with the dashboard and alerts list.
func (d *daemon) refreshSnapshot(now time.Time, ifaces []live.InterfaceStats, stalled []string) {
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	d.mu.Lock()
	d.snap = snapshot{stats: d.pipe.Stats, ifaces: ifaces, alerts: copyCounts(d.engine.Raised), folded: d.engine.Folded,
		baseKeys: d.model.Keys(), baseAssets: d.model.AssetCount(), baseStatus: d.model.Status(now), storageOK: !d.storageFailing, lastSaved: d.lastCheckpoint,
		goroutines: runtime.NumGoroutine(), heap: mem.HeapAlloc, updated: now, capturing: true, stalledWhat: stalled}
	d.snap.baseRefused[0], d.snap.baseRefused[1] = d.model.Refused()
	if d.out != nil {
		d.snap.outHandled, d.snap.outOverflow = d.out.handled.Load(), d.out.overflowed
	}
	if d.evidence != nil {
		d.snap.evidence = d.evidence.Stats()
	}
	d.snap.stats.Transactions = copyTx(d.pipe.Stats.Transactions)
	d.snap.stats.Anomalies = copyCounts(d.pipe.Stats.Anomalies)
	d.snap.stats.LimitsHit = copyCounts(d.pipe.Stats.LimitsHit)
	d.snap.stats.IdentifiedFlows = copyCounts(d.pipe.Stats.IdentifiedFlows)
	d.snap.stats.CyclicIO = maps.Clone(d.pipe.Stats.CyclicIO)
	d.snap.stats.CyclicConns = nil // the capture goroutine's: /metrics shows the totals
	d.mu.Unlock()
}

// openStateFile opens the state file and loads it with load (which builds the
// components afresh each time it is called). A file that is not a
// readable state (torn by a bad card, overwritten) must not keep the
// appliance from watching: it is kept aside under a new name, a new state
// file is started (learning from the beginning), and lost says so for a
// storage_failure alert. A file another process holds is no such case.
func openStateFile(path string, load func(*store.Store) error, logf func(string, ...any)) (db *store.Store, lost string, err error) {
	db, err = store.Open(path)
	if err == nil {
		if err = load(db); err == nil {
			return db, "", nil
		}
		db.Close()
	} else if !errors.Is(err, store.ErrCorrupt) {
		return nil, "", err
	}
	aside, rerr := setAside(path, "unreadable")
	if rerr != nil {
		return nil, "", fmt.Errorf("%w (and it could not be moved aside: %v)", err, rerr)
	}
	lost = fmt.Sprintf("the state file %s could not be read (%v): it is kept as %s and learning starts again from an empty state", path, err, aside)
	logf("otwatch: %s", lost)
	if db, err = store.Open(path); err != nil {
		return nil, "", err
	}
	if err = load(db); err != nil {
		db.Close()
		return nil, "", err
	}
	return db, lost, nil
}

// setAside renames a file that cannot be used to PATH.WHY-<unix time>,
// kept for a look, and returns the new name.
func setAside(path, why string) (string, error) {
	aside := fmt.Sprintf("%s.%s-%d", path, why, time.Now().Unix())
	return aside, os.Rename(path, aside)
}

// checkpoint saves the state; a failure (disk full) is alerted once and
// monitoring goes on in memory.
func (d *daemon) checkpoint() {
	d.lastCheckpoint = time.Now()
	if err := d.db.Checkpoint(d.components()); err != nil {
		if !d.storageFailing {
			d.engine.Raise(finding.Finding{Key: finding.NewKey("storage_failure", d.db.Path()), Time: time.Now(),
				Message: fmt.Sprintf("saving state to %s failed: %v", d.db.Path(), err)})
		}
		d.storageFailing = true
		return
	}
	d.storageFailing = false
	select {
	case d.folds <- struct{}{}:
	default: // already woken, or none runs
	}
}

// foldJournals runs beside the capture: after each checkpoint it folds
// the journals that grew past their share in, a bounded transaction at a
// time (store.FoldStep), so neither the capture nor a checkpoint ever
// waits behind a rewrite of the state. A failure (disk full) is logged and
// tried again after the next checkpoint; the journal only grows meanwhile.
func (d *daemon) foldJournals(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.folds:
		}
		for ctx.Err() == nil {
			did, err := d.db.FoldStep()
			if err != nil {
				d.log.Printf("%v", err)
			}
			if err != nil || !did {
				break
			}
		}
	}
}

// requestReload reads the file again (SIGHUP) and hands it to the capture goroutine.
func (d *daemon) requestReload(path string) {
	next, err := config.Load(path)
	if err != nil {
		d.log.Printf("reload refused, keeping the running configuration: %v", err)
		return
	}
	select {
	case d.reload <- next:
	default:
	}
}

func (d *daemon) applyReload(next *config.Config) {
	if need := d.cfg.RestartNeeded(next); len(need) > 0 {
		d.log.Printf("reload: %s change only after a restart", strings.Join(need, ", "))
	}
	d.model.SetMode(next.Learning.Mode)
	if policy, err := next.Segmentation.Policy(); err == nil {
		d.mon.setZones(policy)
		d.cfg.Segmentation = next.Segmentation
	}
	d.cfg.Learning, d.cfg.Syslog, d.cfg.Evidence = next.Learning, next.Syslog, next.Evidence
	d.cfg.Advisories, d.mon.vulns.watch.AlertCVSS = next.Advisories, next.Advisories.AlertCVSS
	d.log.Printf("reloaded %s: learning mode %s, %d zones, %d conduits", next.Path, next.Learning.Mode,
		len(next.Segmentation.Zones), len(next.Segmentation.Conduits))
}

func (d *daemon) healthz(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	s := d.snap
	d.mu.Unlock()
	status, code := "ok", http.StatusOK
	var problems []string
	if time.Since(s.updated) > 10*tickInterval {
		problems = append(problems, "capture loop not ticking")
	}
	problems = append(problems, s.stalledWhat...)
	if !s.storageOK {
		problems = append(problems, "state not saved (storage failing)")
	}
	if len(problems) > 0 {
		status, code = "degraded: "+strings.Join(problems, "; "), http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"status\":%q,\"packets\":%d,\"uptime_s\":%d,\"last_saved\":%q}\n", status, max(s.stats.Packets, d.frames.Load()),
		int(time.Since(d.started).Seconds()), s.lastSaved.UTC().Format(time.RFC3339))
}

// metrics writes the Prometheus text format (metric prefix otwatch_).
func (d *daemon) metrics(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	s := d.snap
	d.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	metric := func(name, help, typ string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	metric("otwatch_packets_total", "Frames read from the monitor interfaces.", "counter")
	fmt.Fprintf(w, "otwatch_packets_total %d\n", max(s.stats.Packets, d.frames.Load()))
	metric("otwatch_bytes_total", "Bytes read from the monitor interfaces.", "counter")
	fmt.Fprintf(w, "otwatch_bytes_total %d\n", s.stats.Bytes)
	metric("otwatch_malformed_frames_total", "Frames with truncated or inconsistent headers.", "counter")
	fmt.Fprintf(w, "otwatch_malformed_frames_total %d\n", s.stats.Malformed)
	metric("otwatch_snaplen_cut_frames_total", "Frames captured shorter than they were on the wire (snap length).", "counter")
	fmt.Fprintf(w, "otwatch_snaplen_cut_frames_total %d\n", s.stats.SnapCut)
	metric("otwatch_udp_duplicates_total", "UDP datagrams dropped as SPAN copies of one just seen.", "counter")
	fmt.Fprintf(w, "otwatch_udp_duplicates_total %d\n", s.stats.Duplicates)
	metric("otwatch_tcp_gaps_total", "Holes in TCP streams never filled (bytes the SPAN port lost).", "counter")
	fmt.Fprintf(w, "otwatch_tcp_gaps_total %d\n", s.stats.Gaps)
	metric("otwatch_interface_packets_total", "Frames per interface.", "counter")
	for _, i := range s.ifaces {
		fmt.Fprintf(w, "otwatch_interface_packets_total{interface=%q} %d\n", i.Name, i.Packets)
	}
	metric("otwatch_kernel_drops_total", "Frames the kernel dropped because the ring was full.", "counter")
	for _, i := range s.ifaces {
		fmt.Fprintf(w, "otwatch_kernel_drops_total{interface=%q} %d\n", i.Name, i.KernelDrops)
	}
	metric("otwatch_interface_up", "1 when the interface is captured.", "gauge")
	for _, i := range s.ifaces {
		fmt.Fprintf(w, "otwatch_interface_up{interface=%q} %d\n", i.Name, boolInt(i.Up))
	}
	metric("otwatch_transactions_total", "Transactions per protocol and operation.", "counter")
	protos := make([]string, 0, len(s.stats.Transactions))
	for p := range s.stats.Transactions {
		protos = append(protos, p)
	}
	sort.Strings(protos)
	for _, p := range protos {
		byName := s.stats.Transactions[p].ByName()
		for _, op := range sortedKeys(byName) {
			fmt.Fprintf(w, "otwatch_transactions_total{proto=%q,op=%q} %d\n", p, op, byName[op])
		}
	}
	counts := func(name, help, label string, m map[string]uint64) {
		metric(name, help, "counter")
		for _, k := range sortedKeys(m) {
			fmt.Fprintf(w, "%s{%s=%q} %d\n", name, label, k, m[k])
		}
	}
	counts("otwatch_anomalies_total", "Named protocol anomalies.", "anomaly", s.stats.Anomalies)
	counts("otwatch_limits_hit_total", "Times a memory bound was hit.", "limit", s.stats.LimitsHit)
	cyclic := func(name, help, typ string, v func(pipeline.CyclicTotals) uint64) {
		metric(name, help, typ)
		for _, p := range slices.Sorted(maps.Keys(s.stats.CyclicIO)) {
			fmt.Fprintf(w, "%s{proto=%q} %d\n", name, p, v(s.stats.CyclicIO[p]))
		}
	}
	cyclic("otwatch_cyclic_io_connections", "Cyclic I/O connections seen (EtherNet/IP class 1).", "gauge",
		func(t pipeline.CyclicTotals) uint64 { return t.Connections })
	cyclic("otwatch_cyclic_io_datagrams_total", "Cyclic I/O datagrams seen.", "counter",
		func(t pipeline.CyclicTotals) uint64 { return t.Datagrams })
	cyclic("otwatch_cyclic_io_lost_total", "Cyclic I/O datagrams their connection's sequence count shows were lost (on the network or by the mirror).", "counter",
		func(t pipeline.CyclicTotals) uint64 { return t.Lost })
	counts("otwatch_alerts_total", "Alerts raised per kind.", "kind", s.alerts)
	metric("otwatch_alert_repeats_folded_total", "Alert repeats folded into earlier alerts.", "counter")
	fmt.Fprintf(w, "otwatch_alert_repeats_folded_total %d\n", s.folded)
	metric("otwatch_baseline_keys", "Learned baseline keys.", "gauge")
	fmt.Fprintf(w, "otwatch_baseline_keys %d\n", s.baseKeys)
	metric("otwatch_baseline_assets", "Server assets with a baseline.", "gauge")
	fmt.Fprintf(w, "otwatch_baseline_assets %d\n", s.baseAssets)
	metric("otwatch_baseline_refused_total", "New assets and keys the baseline's caps kept out.", "counter")
	fmt.Fprintf(w, "otwatch_baseline_refused_total{what=\"assets\"} %d\n", s.baseRefused[0])
	fmt.Fprintf(w, "otwatch_baseline_refused_total{what=\"keys\"} %d\n", s.baseRefused[1])
	metric("otwatch_alerts_delivered_to_outputs_total", "Alerts the alert path passed to syslog's disk queues and the evidence recorder.", "counter")
	fmt.Fprintf(w, "otwatch_alerts_delivered_to_outputs_total %d\n", s.outHandled)
	metric("otwatch_alerts_overflowed_total", "Alerts raised while the alert path's queue was full: on the dashboard, summed up in a limit_reached alert.", "counter")
	fmt.Fprintf(w, "otwatch_alerts_overflowed_total %d\n", s.outOverflow)
	metric("otwatch_evidence_files_total", "Evidence files written.", "counter")
	fmt.Fprintf(w, "otwatch_evidence_files_total %d\n", s.evidence.Written)
	metric("otwatch_evidence_over_budget_total", "Alerts that got no evidence file: the writing budget was exceeded.", "counter")
	fmt.Fprintf(w, "otwatch_evidence_over_budget_total %d\n", s.evidence.OverBudget)
	metric("otwatch_storage_ok", "1 when the last checkpoint succeeded.", "gauge")
	fmt.Fprintf(w, "otwatch_storage_ok %d\n", boolInt(s.storageOK))
	metric("otwatch_heap_bytes", "Go heap in use.", "gauge")
	fmt.Fprintf(w, "otwatch_heap_bytes %d\n", s.heap)
	metric("otwatch_goroutines", "Goroutines.", "gauge")
	fmt.Fprintf(w, "otwatch_goroutines %d\n", s.goroutines)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sortedKeys(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func copyCounts(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func copyTx(m map[string]*protocols.OpCounts) map[string]*protocols.OpCounts {
	out := make(map[string]*protocols.OpCounts, len(m))
	for p, ops := range m {
		cp := *ops
		out[p] = &cp
	}
	return out
}
