// Package fake is an in-memory ui.Backend for tests and the dashboard's
// development server. Replay feeds capture files through the real
// pipeline, baseline model and alerts engine, so the pages show real
// data; Synthetic adds generated assets and alerts for load tests.
package fake

import (
	"encoding/json"
	"errors"
	"fmt"
	inv "github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/zones"
	"io"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/advisories"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all" // every dissector
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/otwatch/otwatch/ui"
	"github.com/otwatch/otwatch/ui/series"
)

// Backend implements ui.Backend in memory.
type Backend struct {
	mu        sync.Mutex
	inv       *inventory
	synthetic *invDoc // replaces the inventory when set
	model     *baseline.Model
	engine    *alerts.Engine
	store     *ui.AlertStore
	now       time.Time // latest packet time
	health    ui.Health
	broker    ui.Broker
	extraInc  []alerts.Incident
	frames    []capture.Frame // replayed frames by number - 1, for evidence
	syslog    []string
	feed      *advisories.Feed // imported advisories (advisories.go)
	series    *series.Store    // process values and traffic over time, in memory
}

var (
	_ ui.Backend        = (*Backend)(nil)
	_ ui.EvidenceSource = (*Backend)(nil)
	_ ui.SettingsStore  = (*Backend)(nil)
	_ ui.SeriesSource   = (*Backend)(nil)
)

// Series implements ui.SeriesSource.
func (b *Backend) Series() *series.Store { return b.series }

// New returns an empty backend whose baseline learns then detects.
func New() *Backend {
	b := &Backend{inv: newInventory(), store: ui.NewAlertStore(0),
		health: ui.Health{Version: "dev", Started: time.Now(), Mode: "auto", Interfaces: []ui.Interface{}}}
	b.model = baseline.New(baseline.Config{Mode: baseline.ModeLearn})
	b.series, _ = series.Open(series.Config{}) // in memory: cannot fail
	b.engine = alerts.NewEngine(alerts.Config{}, b.model, b.sink)
	return b
}

// AddNeighbor adds a device known only from LLDP (a learning/inventory.Neighbor).
func (b *Backend) AddNeighbor(n inv.Neighbor) {
	b.mu.Lock()
	defer b.mu.Unlock()
	raw, _ := json.Marshal(n)
	b.inv.neighbors = append(b.inv.neighbors, raw)
}

// SetZones places the assets in the plant's zones, as the daemon's
// configuration does (the map groups by zone).
func (b *Backend) SetZones(p *zones.Policy) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inv.setZones(p)
}

// sink receives the engine's alerts; callers hold b.mu.
func (b *Backend) sink(a *alerts.Alert) {
	// the engine keeps mutating an alert it emitted (Repeats, Frames) from
	// its own goroutine: the store gets a copy, so the API never races it
	cp := *a
	b.store.Add(&cp)
	if data, err := json.Marshal(a); err == nil {
		b.publish(ui.Event{Type: "alert", Data: data})
	}
}

func (b *Backend) publish(ev ui.Event) { b.broker.Publish(ev) }

// Replay reads capture files as one stream through the pipeline. The
// first learnFraction of the transactions (0..1) trains the baseline in
// learn mode; the rest run in detect mode, so deviations raise alerts.
func (b *Backend) Replay(learnFraction float64, paths ...string) error {
	var txs []*protocols.Transaction
	p := pipeline.New(pipeline.DefaultLimits(), func(t *protocols.Transaction) { txs = append(txs, t) })
	var services []netip.AddrPort // answered conversations: the servers' services
	var serviceProtos []uint8
	p.Events = func(e *pipeline.Event) {
		if e.Kind == pipeline.ConversationAnswered {
			services, serviceProtos = append(services, e.Server), append(serviceProtos, e.IPProto)
		}
	}
	var frames uint64
	var cursor int64 // re-timed end of the previous file
	for _, path := range paths {
		before := p.Frames()
		end, err := replayShifted(p, path, cursor, b.keep)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		cursor = end + int64(time.Minute)
		b.health.Interfaces = append(b.health.Interfaces, ui.Interface{Name: "file:" + filepath.Base(path), Packets: p.Frames() - before})
	}
	p.Flush()
	frames = p.Frames()
	b.mu.Lock()
	defer b.mu.Unlock()
	learn := int(float64(len(txs)) * learnFraction)
	for i, tx := range txs {
		if i == learn {
			b.model.SetMode(baseline.ModeDetect)
		}
		b.observeLocked(tx)
	}
	b.engine.Flush()
	for i, s := range services {
		b.inv.service(s, serviceProtos[i])
	}
	b.health.Packets += frames
	b.health.Transactions += uint64(len(txs))
	b.health.Flows += p.FlowCount()
	b.health.Mode = "detect"
	b.detectionLocked()
	return nil
}

// Synthetic adds n generated assets (PLCs behind /24 subnets, polled by
// a few masters) and m alerts spread over a day, for load tests.
func (b *Backend) Synthetic(n, m int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	doc := invDoc{Assets: make([]invAsset, 0, n), Links: []invLink{}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := protocols.FormatTime(t0)
	ip := func(i int) string { return fmt.Sprintf("10.%d.%d.%d", 1+i/60000, (i/250)%240, 1+i%250) }
	masters := max(n/100, 1)
	var protosList []string // every registered protocol whose servers have a role
	for _, name := range protocols.RecordProtocols() {
		if serverRole(name) != "" {
			protosList = append(protosList, name)
		}
	}
	for i := 0; i < n; i++ {
		a := invAsset{ID: "ip:" + ip(i), IPs: []string{ip(i)}, MAC: fmt.Sprintf("00:1b:1b:%02x:%02x:%02x", i>>16&255, i>>8&255, i&255),
			Vendor: "Siemens", Identity: map[string]invIdentity{}, FirstSeen: ts, LastSeen: ts, Packets: uint64(rng.IntN(100000))}
		if i < masters {
			a.Roles, a.RoleEvidence = []string{"scada_master"}, map[string]string{"scada_master": "synthetic master"}
			a.Protocols = []invProto{{Proto: protosList[0], Side: "client", Transactions: 1000}}
		} else {
			proto := protosList[i%len(protosList)]
			role := serverRole(proto)
			a.Roles, a.RoleEvidence = []string{role}, map[string]string{role: "synthetic " + proto + " server"}
			a.Protocols = []invProto{{Proto: proto, Side: "server", Port: serverPort(proto), Transactions: 1000}}
			a.Identity["order_number"] = invIdentity{Value: fmt.Sprintf("6ES7 %03d-1AB0-0AB0", i%1000),
				Source: invSource{Proto: proto, Message: "synthetic", Frame: uint64(i + 1), TS: ts}}
			ops := map[string]uint64{"read": uint64(rng.IntN(10000) + 1)}
			if rng.IntN(5) == 0 {
				ops["write"] = uint64(rng.IntN(100) + 1)
			}
			doc.Links = append(doc.Links, invLink{Client: "ip:" + ip(i%masters), Server: a.ID, Proto: proto, Ops: ops, FirstSeen: ts, LastSeen: ts})
		}
		doc.Assets = append(doc.Assets, a)
	}
	kinds := alerts.Kinds()
	b.mu.Lock()
	defer b.mu.Unlock()
	for j := 0; j < m; j++ {
		k := kinds[rng.IntN(len(kinds))]
		at := t0.Add(time.Duration(j) * 24 * time.Hour / time.Duration(max(m, 1)))
		asset := ip(rng.IntN(n))
		a := &alerts.Alert{ID: fmt.Sprintf("syn-%06d", j), TS: at, Kind: k.Kind, Severity: k.Severity, BaseSeverity: k.Severity,
			Proto: protosList[0], Client: &alerts.Endpoint{IP: ip(rng.IntN(masters))}, Server: &alerts.Endpoint{IP: asset, Port: serverPort(protosList[0])},
			Frames: []uint64{uint64(j + 1)}, Message: fmt.Sprintf("synthetic %s on %s", k.Kind, asset), Mitre: k.Mitre,
			Key: finding.NewKey(k.Kind, asset).String(), Asset: asset, Incident: fmt.Sprintf("inc-syn-%04d", j/50)}
		b.store.Add(a)
	}
	b.synthetic = &doc
	b.health.Packets += uint64(m) * 100
	// a plant being commissioned: the newest tenth of the PLCs still learns
	learning := (n - masters) / 10
	b.health.Detection = &ui.Detection{Detecting: n - masters - learning, Learning: learning, LearningUntil: t0.Add(25 * time.Hour)}
}

// Inventory implements ui.Backend.
func (b *Backend) Inventory() (json.RawMessage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.synthetic != nil {
		doc := *b.synthetic
		real := b.inv.document()
		doc.Assets = append(append([]invAsset(nil), real.Assets...), doc.Assets...)
		doc.Links = append(append([]invLink(nil), real.Links...), doc.Links...)
		return json.Marshal(doc)
	}
	return json.Marshal(b.inv.document())
}

// Alerts implements ui.Backend.
func (b *Backend) Alerts(q ui.AlertQuery) ([]ui.AlertRecord, int, error) {
	recs, total := b.store.Query(q)
	return recs, total, nil
}

// AlertStats implements ui.Backend.
func (b *Backend) AlertStats(bucket time.Duration) ui.AlertStats { return b.store.Stats(bucket) }

// Incidents implements ui.Backend.
func (b *Backend) Incidents() []alerts.Incident {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append(b.engine.Incidents(), b.extraInc...)
}

// Baseline implements ui.Backend.
func (b *Backend) Baseline(asset string) (json.RawMessage, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	doc := b.model.Export(b.now)
	for _, a := range doc.Assets {
		if a.Server == asset {
			raw, err := json.Marshal(a)
			return raw, err == nil
		}
	}
	return nil, false
}

// BaselineExport implements ui.Backend.
func (b *Backend) BaselineExport() (json.RawMessage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return json.MarshalIndent(b.model.Export(b.now), "", "  ")
}

// MarkNormal implements ui.Backend: the engine accepts the alert's
// transaction into the baseline.
func (b *Backend) MarkNormal(id, user string) error {
	if _, ok := b.store.Get(id); !ok {
		return fmt.Errorf("alert %s: %w", id, ui.ErrNotFound)
	}
	b.mu.Lock()
	if _, ok := b.engine.Alert(id); ok {
		if err := b.engine.MarkNormal(id); err != nil {
			b.mu.Unlock()
			return err
		}
	} else if !strings.HasPrefix(id, "syn-") {
		// e.g. the summary Engine.Flush writes for folded repeats: it has
		// an id of its own that the engine does not keep
		b.mu.Unlock()
		return fmt.Errorf("alert %s carries no transaction the baseline could learn (a summary of folded repeats?): mark the original alert normal", id)
	}
	b.mu.Unlock()
	if err := b.store.SetNormal(id, user, time.Now()); err != nil {
		return err
	}
	b.notifyMark(id)
	return nil
}

// Acknowledge implements ui.Backend.
func (b *Backend) Acknowledge(id, user string) error {
	if err := b.store.Acknowledge(id, user, time.Now()); err != nil {
		return err
	}
	b.notifyMark(id)
	return nil
}

func (b *Backend) notifyMark(id string) {
	r, ok := b.store.Get(id)
	if !ok {
		return
	}
	data, err := json.Marshal(r)
	if err != nil {
		return
	}
	b.mu.Lock()
	b.publish(ui.Event{Type: "alert_update", Data: data})
	b.mu.Unlock()
}

// Health implements ui.Backend.
func (b *Backend) Health() ui.Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.health
	h.Interfaces = append([]ui.Interface(nil), h.Interfaces...)
	return h
}

// Subscribe implements ui.Backend.
func (b *Backend) Subscribe() (<-chan ui.Event, func()) { return b.broker.Subscribe() }

// Publish sends a live event to every subscriber (the dev server's ticker uses it).
func (b *Backend) Publish(ev ui.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.publish(ev)
}

// Tick publishes the counters event.
func (b *Backend) Tick() {
	h := b.Health()
	data, _ := json.Marshal(map[string]any{"packets": h.Packets, "drops": h.Drops, "alerts": b.store.Len()})
	b.Publish(ui.Event{Type: "counters", Data: data})
}

// ServerIPs lists the baseline's server assets (tests pick one).
func (b *Backend) ServerIPs() []netip.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []netip.Addr
	for _, a := range b.model.Export(b.now).Assets {
		if ip, err := netip.ParseAddr(a.Server); err == nil {
			out = append(out, ip)
		}
	}
	return out
}

// errNoAlert is returned when a test helper finds nothing.
var errNoAlert = errors.New("no alert")

// FirstAlert returns the newest alert of a kind that carries a
// transaction (so marking it normal changes the baseline), for tests.
func (b *Backend) FirstAlert(kinds ...string) (*alerts.Alert, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range kinds {
		recs, _ := b.store.Query(ui.AlertQuery{Kind: k, Limit: ui.MaxAlertLimit})
		for _, r := range recs {
			if _, ok := b.engine.Alert(r.Alert.ID); ok && r.Alert.Server != nil {
				return r.Alert, nil
			}
		}
	}
	return nil, errNoAlert
}

// replayShifted feeds one capture, re-timed to start at start (0: as
// recorded), so that several captures form one contiguous stream. It
// returns the re-timed time of the last frame.
func replayShifted(p *pipeline.Pipeline, path string, start int64, keep func(capture.Frame)) (int64, error) {
	r, err := capture.Open(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var shift, last int64
	first := true
	for {
		f, err := r.Next()
		if err == io.EOF {
			return last, nil
		}
		if err != nil {
			return last, err
		}
		if first {
			if start != 0 {
				shift = start - f.TimeNano
			}
			first = false
		}
		f.TimeNano += shift
		last = max(last, f.TimeNano)
		keep(f)
		p.HandleFrame(f)
	}
}

// Settings implements ui.SettingsStore.
func (b *Backend) Settings() ui.Settings {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.engine.Maintenance()
	return ui.Settings{Mode: b.health.Mode, Syslog: append([]string(nil), b.syslog...),
		MaintenanceUntil: m.Until, MaintenanceReason: m.Reason, MaintenanceBy: m.By}
}

// SetSettings implements ui.SettingsStore: the mode switches the baseline model.
func (b *Backend) SetSettings(s ui.Settings, user string) error {
	mode, err := baseline.ParseMode(s.Mode)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.model.SetMode(mode)
	b.health.Mode = s.Mode
	b.syslog = append([]string(nil), s.Syslog...)
	b.engine.SetMaintenance(ui.MaintenanceOf(s, user, b.engine.Maintenance()))
	return nil
}

// observeLocked runs one transaction through the inventory, the alerts
// engine (and its baseline) and the time series; callers hold b.mu.
func (b *Backend) observeLocked(tx *protocols.Transaction) {
	b.inv.observe(tx)
	b.engine.Observe(tx)
	b.series.ObserveTx(tx)
	if t := tx.Time(); t.After(b.now) {
		b.now = t
	}
}

// detectionLocked refreshes the health's count of assets learning and
// detecting; callers hold b.mu.
func (b *Backend) detectionLocked() {
	st := b.model.Status(b.now)
	b.health.Detection = &ui.Detection{Detecting: st.Detecting, Learning: st.Learning, LearningUntil: st.LearningUntil}
}

// Feed runs transactions through the inventory, the baseline and alerts
// engine and the time series, as Replay does with a capture's: learning
// (the baseline learns them) or detecting. Tests and the development
// server use it for a process a capture does not show, such as a
// setpoint written for hours.
func (b *Backend) Feed(learn bool, txs ...*protocols.Transaction) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if learn {
		b.model.SetMode(baseline.ModeLearn)
	} else {
		b.model.SetMode(baseline.ModeDetect)
	}
	for _, tx := range txs {
		b.observeLocked(tx)
	}
	b.engine.Flush()
	b.health.Transactions += uint64(len(txs))
	b.detectionLocked()
}

// SetpointWrites makes n Modbus writes (function 6) of client to holding
// register reg of server, one every step from start, of the values value(i).
func SetpointWrites(client, server netip.Addr, reg uint64, start time.Time, step time.Duration, n int, value func(i int) float64) []*protocols.Transaction {
	out := make([]*protocols.Transaction, 0, n)
	for i := range n {
		at := start.Add(time.Duration(i) * step)
		v := value(i)
		tx := &protocols.Transaction{Proto: "modbus", Client: protocols.Endpoint{IP: client, Port: 49152, LinkAddress: -1},
			Server: protocols.Endpoint{IP: server, Port: 502, LinkAddress: -1}, Unit: "1", Op: protocols.OpWrite, Code: 6,
			CodeName: "write_single_register", Targets: []protocols.Target{{Space: "holding_register", Address: reg, Count: 1}},
			RequestTime: at, ResponseTime: at.Add(3 * time.Millisecond), ID: uint64(i + 1), HasID: true}
		tx.AddValue(protocols.IntValue(int64(v)))
		tx.AddPoint(0, 0, protocols.FieldValue, protocols.TypeReg, v)
		out = append(out, tx)
	}
	return out
}
