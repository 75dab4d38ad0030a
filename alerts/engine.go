package alerts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/protocols"
)

// Config tunes the engine. Zero values take the defaults.
type Config struct {
	// FoldWindow: repeats of one key within it fold into the first alert.
	FoldWindow time.Duration
	// IncidentWindow: alerts from one source this close in time form one incident.
	IncidentWindow time.Duration
	// ScanWindow and ScanThreshold: this many first-time findings from one
	// client within the window are a scan.
	ScanWindow    time.Duration
	ScanThreshold int
	// MaxRecent alerts are kept for operator actions.
	MaxRecent int
}

func (c Config) withDefaults() Config {
	if c.FoldWindow <= 0 {
		c.FoldWindow = 10 * time.Minute
	}
	if c.IncidentWindow <= 0 {
		c.IncidentWindow = 30 * time.Minute
	}
	if c.ScanWindow <= 0 {
		c.ScanWindow = time.Minute
	}
	if c.ScanThreshold <= 0 {
		c.ScanThreshold = 8
	}
	if c.MaxRecent <= 0 {
		c.MaxRecent = 10000
	}
	return c
}

// Self-regulation: a key that keeps alerting on a regular cadence, or
// whose alerts operators keep marking normal, loses severity — at most
// maxRegulation levels, never below 1 — and the alert says why.
const (
	maxRegulation    = 3
	regularCV        = 0.25 // coefficient of variation of intervals below which a recurrence is "regular"
	minRegularAlerts = 3    // alerts on the key before regularity counts
)

// regulation is the history of one alert key.
type regulation struct {
	LastAlert  time.Time   `json:"last_alert"`
	AlertTimes []time.Time `json:"alert_times"` // the last few, for cadence
	Folded     uint64      `json:"folded"`      // repeats folded since the last alert
	FoldFrames []uint64    `json:"fold_frames,omitempty"`
	FoldFirst  time.Time   `json:"fold_first,omitempty"`
	FoldLast   time.Time   `json:"fold_last,omitempty"`
	last       *Alert
}

type scanState struct {
	start time.Time
	count int
	what  map[string]bool
	fired bool
}

// Engine raises alerts from findings: its own on each transaction
// (Observe), and every detector's (Raise). One goroutine feeds it.
type Engine struct {
	cfg        Config
	classes    protocols.Classifier
	model      *baseline.Model
	sink       func(*Alert)
	regs       map[string]*regulation
	feedback   map[string]int // Key(kind, asset) -> alerts marked normal
	scans      map[string]*scanState
	incidents  *incidents
	recent     map[string]*Alert
	order      []string
	recentSeq  uint64 // the rseq of the last alert remembered
	txBuf      []byte // where an alert's transaction record is made, then copied at its size
	addrs      protocols.AddrTexts
	keyBuf     []byte    // where keyOf writes a finding's key
	ps         persisted // persist.go
	seq        uint64
	hits       int
	maint      Maintenance
	families   map[string]*family
	famOrder   []string // family keys, oldest first, for the bound
	lastExpire time.Time
	// OnMarkNormal, when set, hears of each alert an operator marks normal,
	// for what the baseline model does not hold (the inventory's ARP
	// bindings).
	OnMarkNormal func(a *Alert)
	// Stats
	Raised map[string]uint64
	Folded uint64
}

// NewEngine returns an engine over a baseline model; sink receives each alert.
func NewEngine(cfg Config, model *baseline.Model, sink func(*Alert)) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, model: model, sink: sink, regs: map[string]*regulation{}, feedback: map[string]int{},
		scans: map[string]*scanState{}, incidents: newIncidents(cfg.IncidentWindow), recent: map[string]*Alert{}, families: map[string]*family{},
		Raised: map[string]uint64{}, ps: persisted{full: true}} // never saved: its first save writes everything
	e.incidents.dropped = e.ps.incidentDropped
	return e
}

// controlKind maps a transaction to a control-command alert kind, "" if none.
func controlKind(tx *protocols.Transaction, classes *protocols.Classifier) string {
	switch tx.Op {
	case protocols.OpStop:
		return "plc_stop"
	case protocols.OpStart:
		return "plc_start"
	case protocols.OpProgramDownload:
		return "program_download"
	case protocols.OpProgramUpload:
		return "program_upload"
	case protocols.OpFirmwareUpdate:
		return "firmware_update"
	case protocols.OpRestart:
		return "restart"
	}
	// The protocol's profile says which codes silence a device or change
	// its configuration (Modbus 8/4 and 8/3, DNP3 22 and 31, S7 set clock).
	switch classes.Of(tx) {
	case protocols.ClassListenOnly:
		return "force_listen_only"
	case protocols.ClassConfigChange:
		return "config_change"
	}
	return ""
}

// ObserveTx is Observe for use as a pipeline sink.
func (e *Engine) ObserveTx(tx *protocols.Transaction) { e.Observe(tx) }

// Observe checks one transaction. It returns how many alerts the
// transaction raised or was folded into (evaluation counts a transaction
// as alerted when this is not 0).
func (e *Engine) Observe(tx *protocols.Transaction) int {
	e.hits = 0
	now := tx.Time()
	learning := e.model.LearningFor(tx, now)
	if kind := controlKind(tx, &e.classes); kind != "" || tx.Broadcast || len(tx.Anomalies) > 0 {
		e.protocolAlerts(now, kind, tx, learning) // most transactions raise none
	}
	fs := e.model.Observe(tx)
	for i := range fs {
		f := &fs[i]
		f.Tx = tx
		key, reg := e.keyOf(f)
		e.raise(f, key, reg, false)
		e.countForScan(f, key)
	}
	hits := e.hits
	// Transactions come in the order of their responses, each timed by its
	// request: time steps back a little between connections all the time,
	// and only a step back of a whole fold window is a clock reset.
	if d := protocols.Elapsed(now, e.lastExpire); d >= 5*time.Second || d <= -e.cfg.FoldWindow {
		e.lastExpire = now
		e.expireFamilies(now, false)
	}
	for _, f := range e.model.Tick(now) { // no transaction: the poller and the polled
		e.Raise(f)
	}
	return hits
}

// protocolAlerts raises what the transaction itself says, whatever was
// learned: a control command (kind), a write to the broadcast unit, a
// malformed PDU.
func (e *Engine) protocolAlerts(now time.Time, kind string, tx *protocols.Transaction, learning bool) {
	server, client := e.addrs.Text(tx.Server.IP), e.addrs.Text(tx.Client.IP)
	found := func(key finding.Key, message string) {
		e.Raise(finding.Finding{Key: key, Time: now, Asset: server, Tx: tx, Message: message, Learning: learning})
	}
	if kind != "" {
		found(finding.NewKey(kind, server, client, tx.Proto, tx.CodeName, tx.SubcodeName), controlMessage(kind, server, client, tx))
	}
	if tx.Broadcast {
		found(finding.NewKey("broadcast_write", server, client, tx.Proto),
			client+" sent "+what(tx)+" to the broadcast unit of "+server+": every device on the line acts on it")
	}
	if len(tx.Anomalies) > 0 {
		list, text := tx.Anomalies[0], tx.Anomalies[0] // most PDUs are malformed in one way
		if len(tx.Anomalies) > 1 {
			names := append([]string(nil), tx.Anomalies...)
			sort.Strings(names)
			list, text = strings.Join(names, ","), strings.Join(names, ", ")
		}
		found(finding.NewKey("malformed_pdu", server, client, list), "malformed "+tx.Proto+" between "+client+" and "+server+": "+text)
	}
}

func what(tx *protocols.Transaction) string {
	var buf [80]byte
	b := append(buf[:0], tx.CodeName...)
	if tx.SubcodeName != "" {
		b = append(append(b, '/'), tx.SubcodeName...)
	}
	b = append(append(append(b, " ("...), tx.Proto...), ' ')
	return string(append(strconv.AppendInt(b, int64(tx.Code), 10), ')'))
}

// controlVerbs says what a control kind did to its server (the %s).
var controlVerbs = map[string]string{"plc_stop": "told %s to stop", "plc_start": "told %s to start", "program_download": "downloaded a program to %s",
	"program_upload": "uploaded a program from %s", "firmware_update": "sent a firmware update to %s", "restart": "told %s to restart",
	"force_listen_only": "forced %s into listen-only mode", "config_change": "changed the configuration of %s"}

// controlMessage says what a control command did, from whom: "10.0.0.5
// told 10.0.0.9 to stop with ...".
func controlMessage(kind, server, client string, tx *protocols.Transaction) string {
	msg := client + " " + strings.Replace(controlVerbs[kind], "%s", server, 1) + " with " + what(tx)
	switch tx.Outcome {
	case protocols.OutcomeException:
		msg += fmt.Sprintf("; the device refused it (exception %d)", tx.ExceptionCode)
	case protocols.OutcomeNoResponse:
		msg += "; no response was seen"
	}
	return msg
}

// countForScan raises a scan when one client produces many first-time findings quickly.
func (e *Engine) countForScan(f *finding.Finding, key string) {
	tx, now := f.Tx, f.Time
	switch f.Kind() {
	case "new_link", "new_function", "write_to_unseen_target", "write_from_new_client", "new_protocol":
	default:
		return
	}
	client := e.addrs.Text(tx.Client.IP)
	s := e.scans[client]
	if s == nil || now.Sub(s.start) > e.cfg.ScanWindow {
		s = &scanState{start: now, what: map[string]bool{}}
		e.scans[client] = s
	}
	s.what[key] = true
	if len(s.what) >= e.cfg.ScanThreshold && !s.fired {
		s.fired = true
		e.Raise(finding.Finding{Key: finding.NewKey("scan", client), Time: now, Asset: client, Tx: tx,
			Message: fmt.Sprintf("%s touched %d new hosts, functions or targets within %s: a scan", client, len(s.what), e.cfg.ScanWindow)})
	}
}

// Raise makes an alert of a finding, or folds it into the recent alert of
// its key: every detector's one way in (baseline, scans, ARP, DHCP,
// conversations, zones, advisories, the appliance's own health).
func (e *Engine) Raise(f finding.Finding) {
	key, reg := e.keyOf(&f)
	e.raise(&f, key, reg, false)
}

// keyOf is f.Key's string, the one its last alert holds when it has one
// (a flood's findings are mostly repeats folded into an alert, and each
// made its key anew), and the key's regulation (nil: none yet), found in
// the one lookup.
func (e *Engine) keyOf(f *finding.Finding) (string, *regulation) {
	e.keyBuf = f.Key.AppendTo(e.keyBuf[:0])
	r := e.regs[string(e.keyBuf)]
	if r != nil && r.last != nil {
		return r.last.Key, r
	}
	return string(e.keyBuf), r
}

// raise makes an alert of f, or folds it into the recent alert of its key
// (f.Key's string), whose regulation is reg (e.regs[key]); own is a
// family's own alert, never counted into a family.
func (e *Engine) raise(f *finding.Finding, key string, reg *regulation, own bool) {
	now, kind, asset, tx, frames, message := f.Time, f.Key.Kind, f.Asset, f.Tx, f.Frames, f.Message
	info, ok := Kind(kind)
	if !ok {
		info = KindInfo{Kind: kind, Severity: 5}
	}
	e.hits++
	if !own && (reg == nil || reg.LastAlert.IsZero() || now.Sub(reg.LastAlert) >= e.cfg.FoldWindow) {
		// a new alert of this key: its family may already alert too often one by one
		if e.countInFamily(f) {
			return
		}
		reg = e.regs[key] // the family's own alert may have made room by forgetting keys
	}
	if reg == nil {
		if len(e.regs) >= maxRegulated {
			e.forgetOldest()
		}
		reg = &regulation{}
		e.regs[key] = reg
	}
	e.ps.regChanged(key) // a repeat folded in or a new alert: it changes either way
	if !reg.LastAlert.IsZero() && now.Sub(reg.LastAlert) < e.cfg.FoldWindow {
		reg.Folded++
		e.Folded++
		if reg.FoldFirst.IsZero() {
			reg.FoldFirst = now
		}
		reg.FoldLast = now
		if tx != nil {
			reg.FoldFrames = addFrames(reg.FoldFrames, 64, tx.RequestFrame, tx.ResponseFrame)
		}
		reg.FoldFrames = addFrames(reg.FoldFrames, 64, frames...)
		if reg.last != nil {
			reg.last.Repeats++
			e.ps.recentChanged(reg.last.rseq)
		}
		return
	}
	parts := &alertParts{alert: Alert{TS: now, Kind: kind, Severity: info.Severity, BaseSeverity: info.Severity, Mitre: info.Mitre,
		Key: key, Asset: asset, Learning: f.Learning, Frames: []uint64{}}}
	parts.fillFromTransaction(tx, &e.addrs)
	a := &parts.alert
	if tx != nil { // the pipeline may fill tx again once the sink returns
		e.txBuf = tx.AppendRecord(e.txBuf[:0])
		a.tx = bytes.Clone(e.txBuf)
	}
	if f.Source != nil {
		parts.client = hostEndpoint(f.Source)
		a.Client = &parts.client
	}
	if f.Dest != nil {
		parts.server = hostEndpoint(f.Dest)
		a.Server = &parts.server
	}
	a.Frames = addFrames(a.Frames, math.MaxInt, frames...)
	if reg.Folded > 0 {
		message += " (also " + repeated(reg.Folded, reg.FoldFirst, reg.FoldLast) + ")"
		a.Frames = addFrames(a.Frames, math.MaxInt, reg.FoldFrames...)
		a.Repeats = reg.Folded
	}
	reg.Folded, reg.FoldFrames, reg.FoldFirst, reg.FoldLast = 0, nil, time.Time{}, time.Time{}
	reg.LastAlert = now
	reg.AlertTimes = append(reg.AlertTimes, now)
	if len(reg.AlertTimes) > 8 {
		reg.AlertTimes = reg.AlertTimes[len(reg.AlertTimes)-8:]
	}
	reg.last = a
	base := info
	if f.Lower > 0 {
		base.Severity = max(info.Severity-f.Lower, 1)
	}
	a.Severity, a.Regulation = e.regulate(base, asset, reg, now)
	if base.Severity != info.Severity {
		why := fmt.Sprintf("severity %d rather than %d: %s", base.Severity, info.Severity, f.LowerWhy)
		if a.Regulation != "" {
			why += "; then " + a.Regulation
		}
		a.Regulation = why
	}
	if a.Regulation != "" {
		message += " (" + a.Regulation + ")"
	}
	a.Message = message
	e.seq++
	a.ID = alertID(kind, key, now, e.seq)
	a.Incident = e.incidents.add(a)
	e.remember(a)
	e.Raised[kind]++
	if e.sink != nil {
		e.sink(a)
	}
}

// maxRegulated bounds the alert keys remembered for folding and
// regulation: an attacker sweeping addresses must not grow memory forever.
var maxRegulated = 100000

// forgetOldest drops the tenth of the keys whose last alert is oldest
// (their pending repeats are reported first, so nothing is lost silently).
func (e *Engine) forgetOldest() {
	keys := make([]string, 0, len(e.regs))
	for k := range e.regs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return e.regs[keys[i]].LastAlert.Before(e.regs[keys[j]].LastAlert) })
	for _, k := range keys[:len(keys)/10+1] {
		if r := e.regs[k]; r.Folded > 0 {
			e.flushKey(k, r)
		}
		delete(e.regs, k)
		e.ps.regChanged(k)
	}
	for client, s := range e.scans {
		if s.fired || len(e.scans) > maxRegulated/10 {
			delete(e.scans, client)
		}
	}
}

// regulate applies the documented, bounded severity reduction.
func (e *Engine) regulate(info KindInfo, asset string, reg *regulation, now time.Time) (int, string) {
	var reasons []string
	cut := 0
	if m := e.maint; now.Before(m.Until) && maintenanceKinds[info.Kind] {
		cut += maxRegulation
		reasons = append(reasons, fmt.Sprintf("during the maintenance window %s declared until %s (%s)",
			m.By, m.Until.UTC().Format(time.RFC3339), m.Reason))
	}
	if n := len(reg.AlertTimes); n > minRegularAlerts {
		if period, cv := cadence(reg.AlertTimes); cv < regularCV {
			cut += min(n-minRegularAlerts, maxRegulation)
			reasons = append(reasons, fmt.Sprintf("recurs every ~%s", period.Round(time.Second)))
		}
	}
	e.keyBuf = finding.NewKey(info.Kind, asset).AppendTo(e.keyBuf[:0])
	if marks := e.feedback[string(e.keyBuf)]; marks > 0 {
		cut += min(marks, 2)
		reasons = append(reasons, fmt.Sprintf("operators marked %d such alerts normal", marks))
	}
	cut = min(cut, maxRegulation)
	sev := max(info.Severity-cut, 1)
	if sev == info.Severity {
		return sev, ""
	}
	return sev, fmt.Sprintf("severity lowered from %d to %d: %s", info.Severity, sev, strings.Join(reasons, "; "))
}

// cadence returns the mean interval and its coefficient of variation.
func cadence(ts []time.Time) (time.Duration, float64) {
	var sum, sq float64
	n := float64(len(ts) - 1)
	for i := 1; i < len(ts); i++ {
		d := ts[i].Sub(ts[i-1]).Seconds()
		sum += d
		sq += d * d
	}
	mean := sum / n
	if mean <= 0 {
		return 0, math.Inf(1)
	}
	variance := math.Max(sq/n-mean*mean, 0)
	return time.Duration(mean * float64(time.Second)), math.Sqrt(variance) / mean
}

func (e *Engine) remember(a *Alert) {
	e.recentSeq++
	a.rseq = e.recentSeq
	e.ps.recentChanged(a.rseq)
	e.recent[a.ID] = a
	e.order = append(e.order, a.ID)
	if len(e.order) > e.cfg.MaxRecent {
		if old := e.recent[e.order[0]]; old != nil {
			e.ps.recentChanged(old.rseq)
			old.rseq = 0 // no longer remembered: a repeat counted into it is not saved
		}
		delete(e.recent, e.order[0])
		e.order = e.order[1:]
	}
}

// Flush reports folded repeats that no later alert carried, so none is lost.
func (e *Engine) Flush() {
	keys := make([]string, 0, len(e.regs))
	for k, r := range e.regs {
		if r.Folded > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		e.flushKey(k, e.regs[k])
	}
	e.expireFamilies(time.Time{}, true)
}

// flushKey reports a key's folded repeats as one summary alert.
func (e *Engine) flushKey(k string, r *regulation) {
	if r.last == nil {
		return // restored from a checkpoint: the next alert of the key carries the count
	}
	{
		summary := *r.last
		summary.ID = alertID(summary.Kind, k, r.FoldLast, r.Folded)
		summary.TS = r.FoldLast
		summary.Frames = append([]uint64(nil), r.FoldFrames...)
		summary.Repeats = r.Folded
		summary.Message = repeated(r.Folded, r.FoldFirst, r.FoldLast) + ": " + r.last.Message
		e.remember(&summary)     // an operator can mark the summary normal like its first alert
		e.Raised[summary.Kind]++ // an alert record like any: the counts agree with what was written
		if e.sink != nil {
			e.sink(&summary)
		}
	}
	r.Folded, r.FoldFrames = 0, nil
	e.ps.regChanged(k)
}

// Alert returns a recent alert by id.
func (e *Engine) Alert(id string) (*Alert, bool) {
	a, ok := e.recent[id]
	return a, ok
}

// MarkNormal is the operator saying "this is normal": the alert's
// transaction joins the baseline and later alerts of its kind on this asset
// are regulated down.
func (e *Engine) MarkNormal(id string) error {
	a, ok := e.recent[id]
	if !ok {
		return fmt.Errorf("alert %s: not among the %d most recent", id, e.cfg.MaxRecent)
	}
	tx, err := a.transaction()
	if err != nil {
		return err
	}
	if tx != nil {
		e.model.Accept(tx)
	}
	if e.OnMarkNormal != nil {
		e.OnMarkNormal(a)
	}
	e.feedback[finding.NewKey(a.Kind, a.Asset).String()]++
	return nil
}

// Maintenance is a window of planned engineering work an operator
// declared: the engineering kinds of alert (downloads, stops, restarts, new
// functions and targets, values out of range) are still raised but their
// severity is lowered, with the window named in the alert. Network attacks
// (ARP spoofing, scans) and new clients are not lowered.
type Maintenance struct {
	Until  time.Time `json:"until,omitzero"`
	Reason string    `json:"reason,omitempty"`
	By     string    `json:"by,omitempty"`
}

var maintenanceKinds = map[string]bool{
	"plc_stop": true, "plc_start": true, "program_download": true, "program_upload": true, "firmware_update": true,
	"restart": true, "config_change": true, "new_function": true, "write_to_unseen_target": true, "value_out_of_range": true,
	"write_burst": true,
}

// SetMaintenance declares (or, with a zero Until, ends) a maintenance window.
func (e *Engine) SetMaintenance(m Maintenance) { e.maint = m }

// Maintenance is the declared window (zero when none).
func (e *Engine) Maintenance() Maintenance { return e.maint }

// Incidents lists the incidents, newest first.
func (e *Engine) Incidents() []Incident { return e.incidents.list() }

type engineState struct {
	Maint     Maintenance            `json:"maintenance,omitzero"`
	Regs      map[string]*regulation `json:"regulation"`
	Feedback  map[string]int         `json:"feedback"`
	Incidents []Incident             `json:"incidents"`
	Seq       uint64                 `json:"seq"`
	Recent    []savedAlert           `json:"recent"`
}

// savedAlert keeps a recent alert with its transaction, so an operator can
// still mark it normal after a restart.
type savedAlert struct {
	Alert *Alert                 `json:"alert"`
	TS    time.Time              `json:"ts"`
	Tx    *protocols.Transaction `json:"tx,omitempty"`
}

// MarshalState snapshots what must survive a restart: fold windows,
// regulation history, operator feedback, incidents and the recent alerts.
func (e *Engine) MarshalState() ([]byte, error) {
	st := engineState{e.maint, e.regs, e.feedback, e.incidents.list(), e.seq, make([]savedAlert, 0, len(e.order))}
	for _, id := range e.order {
		a := e.recent[id]
		tx, err := a.transaction()
		if err != nil {
			return nil, err
		}
		st.Recent = append(st.Recent, savedAlert{a, a.TS, tx})
	}
	return json.Marshal(st)
}

// UnmarshalState restores MarshalState's output.
func (e *Engine) UnmarshalState(b []byte) error {
	var st engineState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	if st.Regs != nil {
		e.regs = st.Regs
	}
	if st.Feedback != nil {
		e.feedback = st.Feedback
	}
	e.maint = st.Maint
	e.seq = st.Seq
	e.incidents.restore(st.Incidents)
	saved := make([]*Alert, 0, len(st.Recent))
	for _, sa := range st.Recent {
		if sa.Alert != nil {
			saved = append(saved, sa.alert())
		}
	}
	e.restoreRecent(saved, 0)
	e.ps = persisted{full: true} // the state file's records are another engine's
	return nil
}

// Recent lists the recent alerts, oldest first.
func (e *Engine) Recent() []*Alert {
	out := make([]*Alert, 0, len(e.order))
	for _, id := range e.order {
		out = append(out, e.recent[id])
	}
	return out
}
