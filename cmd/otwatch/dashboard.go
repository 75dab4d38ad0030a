package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/ui"
	"github.com/otwatch/otwatch/ui/series"
)

// dashboardBackend is the daemon seen by the dashboard (ui.Backend). The
// pipeline, inventory, baseline and engine are used under d.state; alerts
// with their operator marks live in the ui.AlertStore.
type dashboardBackend struct {
	ui.Broker // Subscribe, and publishing live events
	d         *daemon
	store     *ui.AlertStore
	series    *series.Store // process values and traffic over time; nil until openSeries
}

var (
	_ ui.Backend      = (*dashboardBackend)(nil)
	_ ui.SeriesSource = (*dashboardBackend)(nil)
)

// openSeries keeps the time series in path ("": in memory) and feeds them
// every transaction the monitor sees.
//
// The trends are the dashboard's history, never the monitor's: a file
// that will not open (damaged by a power cut, a full disk) is moved aside
// and a new one started, and if that fails too the dashboard runs without
// trends; capture goes on either way.
func (b *dashboardBackend) openSeries(path string) {
	st, err := series.Open(series.Config{Path: path, Logf: b.d.log.Printf})
	if err != nil {
		aside, rerr := setAside(path, "damaged")
		b.d.log.Printf("dashboard time series: %s: %v; moved aside to %s, starting a new history", path, err, aside)
		if rerr == nil {
			st, err = series.Open(series.Config{Path: path, Logf: b.d.log.Printf})
		}
		if err != nil {
			b.d.log.Printf("dashboard time series: %v: the dashboard runs without trends", err)
			return
		}
	}
	b.series = st
	b.d.mon.onTx = st.ObserveTx
}

// Series implements ui.SeriesSource.
func (b *dashboardBackend) Series() *series.Store { return b.series }

// closeSeries writes the open chunks and closes the file.
func (b *dashboardBackend) closeSeries() {
	if b.series != nil {
		if err := b.series.Close(); err != nil {
			b.d.log.Printf("dashboard time series: %v", err)
		}
	}
}

func newDashboardBackend(d *daemon) *dashboardBackend {
	b := &dashboardBackend{d: d, store: ui.NewAlertStore(0)}
	for _, a := range d.engine.Recent() { // alerts from before a restart
		cp := *a
		b.store.Add(&cp)
	}
	return b
}

// alert is called by the engine, under d.state: the store keeps a copy,
// since the engine may still count repeats into the alert it emitted.
func (b *dashboardBackend) alert(a *alerts.Alert) {
	cp := *a
	b.store.Add(&cp)
	if data, err := json.Marshal(&cp); err == nil {
		b.Publish(ui.Event{Type: "alert", Data: data})
	}
}

func (b *dashboardBackend) Inventory() (json.RawMessage, error) {
	b.d.state.Lock()
	doc := b.d.mon.inv.Document()
	b.d.state.Unlock()
	return json.Marshal(doc)
}

func (b *dashboardBackend) Alerts(q ui.AlertQuery) ([]ui.AlertRecord, int, error) {
	recs, total := b.store.Query(q)
	return recs, total, nil
}

func (b *dashboardBackend) AlertStats(bucket time.Duration) ui.AlertStats {
	return b.store.Stats(bucket)
}

func (b *dashboardBackend) Incidents() []alerts.Incident {
	b.d.state.Lock()
	defer b.d.state.Unlock()
	return b.d.engine.Incidents()
}

func (b *dashboardBackend) Baseline(asset string) (json.RawMessage, bool) {
	b.d.state.Lock()
	doc := b.d.model.Export(b.d.model.LastSeen())
	b.d.state.Unlock()
	for _, a := range doc.Assets {
		if a.Server == asset {
			raw, err := json.Marshal(a)
			return raw, err == nil
		}
	}
	return nil, false
}

func (b *dashboardBackend) BaselineExport() (json.RawMessage, error) {
	b.d.state.Lock()
	doc := b.d.model.Export(b.d.model.LastSeen())
	b.d.state.Unlock()
	return json.MarshalIndent(doc, "", "  ")
}

// MarkNormal: the alert's transaction joins the baseline (the same
// Engine.MarkNormal as `otwatch alerts normal`).
func (b *dashboardBackend) MarkNormal(id, user string) error {
	if _, ok := b.store.Get(id); !ok {
		return fmt.Errorf("alert %s: %w", id, ui.ErrNotFound)
	}
	return b.d.markNormal(id, user)
}

// markedNormal shows an alert marked normal (on the dashboard or from the
// command line) on the dashboard.
func (b *dashboardBackend) markedNormal(id, user string) {
	if err := b.store.SetNormal(id, user, time.Now()); err == nil {
		b.notify(id)
	}
}

func (b *dashboardBackend) Acknowledge(id, user string) error {
	if err := b.store.Acknowledge(id, user, time.Now()); err != nil {
		return err
	}
	b.notify(id)
	return nil
}

func (b *dashboardBackend) notify(id string) {
	if r, ok := b.store.Get(id); ok {
		if data, err := json.Marshal(r); err == nil {
			b.Publish(ui.Event{Type: "alert_update", Data: data})
		}
	}
}

func (b *dashboardBackend) Health() ui.Health {
	d := b.d
	d.mu.Lock()
	s := d.snap
	d.mu.Unlock()
	h := ui.Health{Version: version, Started: d.started, UptimeSecond: int64(time.Since(d.started).Seconds()),
		Mode: string(d.cfg.Learning.Mode), Packets: s.stats.Packets, Transactions: s.stats.TransactionsTotal(),
		Interfaces: []ui.Interface{}, Limits: s.stats.LimitsHit,
		Detection: &ui.Detection{Detecting: s.baseStatus.Detecting, Learning: s.baseStatus.Learning, LearningUntil: s.baseStatus.LearningUntil},
		Slot:      runningSlot()}
	for _, i := range s.ifaces {
		h.Interfaces = append(h.Interfaces, ui.Interface{Name: i.Name, Up: i.Up, Packets: i.Packets, Drops: i.KernelDrops, Bytes: i.Bytes})
		h.Drops += i.KernelDrops
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(d.db.Path(), &fs); err == nil {
		h.Disk = &ui.Disk{Path: d.db.Path(), TotalBytes: fs.Blocks * uint64(fs.Bsize), FreeBytes: fs.Bavail * uint64(fs.Bsize)}
	}
	return h
}

// counters publishes the live counters (every tick).
func (b *dashboardBackend) counters(packets, drops uint64) {
	data, _ := json.Marshal(map[string]any{"packets": packets, "drops": drops, "alerts": b.store.Len()})
	b.Publish(ui.Event{Type: "counters", Data: data})
}

var _ ui.SettingsStore = (*dashboardBackend)(nil)

// Settings shows the learning mode and the syslog destinations.
func (b *dashboardBackend) Settings() ui.Settings {
	b.d.state.Lock()
	defer b.d.state.Unlock()
	s := ui.Settings{Mode: string(b.d.cfg.Learning.Mode), Syslog: []string{}}
	for _, dst := range b.d.cfg.Syslog {
		s.Syslog = append(s.Syslog, dst.Network+"://"+dst.Address)
	}
	m := b.d.engine.Maintenance()
	s.MaintenanceUntil, s.MaintenanceReason, s.MaintenanceBy = m.Until, m.Reason, m.By
	return s
}

// SetSettings changes the learning mode at once; syslog destinations are
// configuration-file settings (reloaded with SIGHUP), so a change is refused.
func (b *dashboardBackend) SetSettings(s ui.Settings, user string) error {
	mode, err := baseline.ParseMode(s.Mode)
	if err != nil {
		return err
	}
	current := b.Settings()
	if strings.Join(current.Syslog, ",") != strings.Join(s.Syslog, ",") {
		return fmt.Errorf("syslog destinations are set in %s (then systemctl reload otwatch)", b.d.cfg.Path)
	}
	b.d.state.Lock()
	b.d.model.SetMode(mode)
	b.d.cfg.Learning.Mode = mode
	before := b.d.engine.Maintenance()
	m := ui.MaintenanceOf(s, user, before)
	b.d.engine.SetMaintenance(m)
	b.d.state.Unlock()
	b.d.log.Printf("operator %s set the learning mode to %s", user, mode)
	switch {
	case m != before && !m.Until.IsZero():
		b.d.log.Printf("operator %s declared a maintenance window until %s: %s", user, m.Until.Format(time.RFC3339), m.Reason)
	case m != before:
		b.d.log.Printf("operator %s ended the maintenance window", user)
	}
	return nil
}

var _ ui.EvidenceSource = (*dashboardBackend)(nil)

// Evidence returns the pcapng cut around an alert (its file name carries
// the alert id), once the recorder has written it.
func (b *dashboardBackend) Evidence(alertID string) ([]byte, error) {
	rec := b.d.evidence
	if rec == nil {
		return nil, fmt.Errorf("evidence is not recorded (no evidence.dir): %w", ui.ErrNotFound)
	}
	if strings.ContainsAny(alertID, "/\\*?[") {
		return nil, fmt.Errorf("alert %q: %w", alertID, ui.ErrNotFound)
	}
	matches, _ := filepath.Glob(filepath.Join(b.d.cfg.Evidence.Dir, "*_"+alertID+"_*.pcapng"))
	if len(matches) == 0 {
		return nil, fmt.Errorf("no evidence file yet for alert %s (it is written once the packets after it arrived): %w", alertID, ui.ErrNotFound)
	}
	return os.ReadFile(matches[0])
}
