// Package baseline learns each server asset's (PLC, RTU, OPC UA server)
// normal behaviour from transactions — which clients use which functions on
// which targets, at what cadence, with which written values — and reports
// what deviates. It reads only protocols.Transaction, so every protocol is
// covered by the same rules.
//
// A Model is used by one goroutine (the pipeline's); operator actions come
// through the same goroutine or under the caller's lock.
package baseline

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// Mode selects learning, detection, or learning then detection per asset.
type Mode string

const (
	ModeAuto   Mode = "auto"
	ModeLearn  Mode = "learn"
	ModeDetect Mode = "detect"
)

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case ModeAuto, ModeLearn, ModeDetect:
		return Mode(s), nil
	}
	return "", fmt.Errorf("mode %q: want learn, detect or auto", s)
}

// Config tunes learning. Zero values take the defaults.
type Config struct {
	Mode Mode
	// LearningPeriod (packet time) an asset learns at least, in auto mode.
	LearningPeriod time.Duration
	// StableFor: auto mode also waits until no new key was learned for this long.
	StableFor time.Duration
	// ValueMargin widens learned numeric ranges by this fraction of their span.
	ValueMargin float64
	// MaxKeysPerAsset caps functions + written points per asset.
	MaxKeysPerAsset int
	// Window for write and exception bursts.
	BurstWindow time.Duration
}

func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeAuto
	}
	if c.LearningPeriod <= 0 {
		c.LearningPeriod = time.Hour
	}
	if c.StableFor <= 0 {
		c.StableFor = c.LearningPeriod / 4
	}
	if c.ValueMargin <= 0 {
		c.ValueMargin = 0.1
	}
	if c.MaxKeysPerAsset <= 0 {
		c.MaxKeysPerAsset = 20000
	}
	if c.BurstWindow <= 0 {
		c.BurstWindow = 10 * time.Second
	}
	return c
}

// Finding is one deviation (or fact worth an alert) found by the model.
type Finding struct {
	Kind    string // alert kind: new_asset, new_link, write_to_unseen_target, ...
	Key     string // what deviated, stable across runs: self-regulation and folding key
	Asset   string // the server asset concerned (or the new host)
	Client  string
	Message string
}

// Model is the set of baselines, one per server asset.
type Model struct {
	cfg      Config
	assets   map[netip.Addr]*Asset
	hosts    map[netip.Addr]time.Time // every host seen, first time
	netStart time.Time                // first transaction seen (network-level learning)
	netNew   time.Time                // last time a host was learned
	lastTick time.Time
	keys     int // total learned keys, for the memory benchmark
	puIDs    map[protoUnit]uint32
	puNames  []protoUnit
}

// New returns an empty model.
func New(cfg Config) *Model {
	return &Model{cfg: cfg.withDefaults(), assets: map[netip.Addr]*Asset{}, hosts: map[netip.Addr]time.Time{},
		puIDs: map[protoUnit]uint32{}}
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// SetMode changes the mode (e.g. a CLI flag on top of a loaded database).
func (m *Model) SetMode(mode Mode) { m.cfg.Mode = mode }

// funcKey is compact (40 bytes): protocol and unit are interned as one id,
// for a million keys are normal in a large plant.
type funcKey struct {
	client  netip.Addr
	pu      uint32 // protoUnit id, from Model.puID
	op      protocols.Op
	code    int32
	subcode int32 // -1: none
}

type protoUnit struct{ proto, unit string }

// puID interns (protocol, unit); 0 means "not known" when create is false.
func (m *Model) puID(proto, unit string, create bool) uint32 {
	k := protoUnit{proto, unit}
	if id, ok := m.puIDs[k]; ok {
		return id
	}
	if !create {
		return 0
	}
	m.puNames = append(m.puNames, k)
	id := uint32(len(m.puNames))
	m.puIDs[k] = id
	return id
}

func (m *Model) pu(id uint32) protoUnit { return m.puNames[id-1] }

type linkKey struct {
	client netip.Addr
	proto  string
}

type spaceKey struct {
	proto, unit, space string
}

type pointKey struct {
	proto, unit, space string
	address            uint64
	id                 string
}

// Asset is one server asset's baseline.
type Asset struct {
	Server     netip.Addr
	FirstSeen  time.Time
	LastNewKey time.Time
	LearnUntil time.Time // set by ExtendLearning; zero: FirstSeen + LearningPeriod
	Detecting  bool      // auto mode switched this asset to detection
	Protocols  map[string]uint64
	links      map[linkKey]*Link
	functions  map[funcKey]*Function
	writes     map[spaceKey]*RangeSet
	points     map[pointKey]*ValueModel
	keys       int
	capped     bool
	// unlearned: links first seen in detection, tracked for bursts only
	unlearned map[linkKey]*Link
}

// maxHosts bounds the hosts the network baseline remembers.
const maxHosts = 100000

// maxUnlearnedLinks bounds the links tracked in detection per asset.
const maxUnlearnedLinks = 1024

// Link is a client talking to this asset in one protocol.
type Link struct {
	Count       uint64
	First, Last time.Time
	// burst windows: counts in the current window and the largest learned
	WindowStart   time.Time
	Writes        uint32
	Exceptions    uint32
	MaxWrites     uint32
	MaxExceptions uint32
	burstReported time.Time
}

// Function is one (client, protocol, unit, op, code) the asset serves.
// Kept small: a large plant has a million of these (times as Unix
// nanoseconds, the first target space inline).
type Function struct {
	Count       uint64
	First, Last int64   // Unix nanoseconds
	Period      float64 // EWMA of the interval, seconds
	Jitter      float64 // EWMA of |interval - period|
	Quiet       bool    // reported as stopped, not seen since
	Space       string  // the first target space and its merged ranges
	Ranges      RangeSet
	More        []SpaceRanges // further spaces (rare: S7 multi-area reads)
}

// SpaceRanges is the merged ranges of one target space.
type SpaceRanges struct {
	Space  string
	Ranges RangeSet
}

// ranges returns the ranges learned in a space, nil if none.
func (f *Function) ranges(space string) *RangeSet {
	if f.Space == space && f.Ranges != nil {
		return &f.Ranges
	}
	for i := range f.More {
		if f.More[i].Space == space {
			return &f.More[i].Ranges
		}
	}
	return nil
}

// addRange merges a target range into its space; reports growth.
func (f *Function) addRange(space string, lo, hi uint64) bool {
	if rs := f.ranges(space); rs != nil {
		return rs.Add(lo, hi)
	}
	if f.Ranges == nil {
		f.Space, f.Ranges = space, RangeSet{{lo, hi}}
		return true
	}
	f.More = append(f.More, SpaceRanges{space, RangeSet{{lo, hi}}})
	return true
}

// targets lists every space's ranges, for export.
func (f *Function) targets() map[string]RangeSet {
	if f.Ranges == nil {
		return nil
	}
	out := map[string]RangeSet{f.Space: f.Ranges}
	for _, m := range f.More {
		out[m.Space] = m.Ranges
	}
	return out
}

func (m *Model) asset(server netip.Addr, now time.Time) (*Asset, bool) {
	a := m.assets[server]
	if a != nil {
		return a, false
	}
	a = &Asset{Server: server, FirstSeen: now, LastNewKey: now, Protocols: map[string]uint64{},
		links: map[linkKey]*Link{}, functions: map[funcKey]*Function{}, writes: map[spaceKey]*RangeSet{}, points: map[pointKey]*ValueModel{}}
	m.assets[server] = a
	return a, true
}

// learning says whether an asset still learns at time now.
func (m *Model) learning(a *Asset, now time.Time) bool {
	switch m.cfg.Mode {
	case ModeLearn:
		return true
	case ModeDetect:
		return false
	}
	if a.Detecting {
		return false
	}
	until := a.LearnUntil
	if until.IsZero() {
		until = a.FirstSeen.Add(m.cfg.LearningPeriod)
	}
	if !now.Before(until) && now.Sub(a.LastNewKey) >= m.cfg.StableFor {
		a.Detecting = true
		return false
	}
	return true
}

// networkLearning says whether new hosts are still expected.
func (m *Model) networkLearning(now time.Time) bool {
	switch m.cfg.Mode {
	case ModeLearn:
		return true
	case ModeDetect:
		return false
	}
	return now.Before(m.netStart.Add(m.cfg.LearningPeriod)) || now.Sub(m.netNew) < m.cfg.StableFor
}

// NetworkLearning reports whether the network as a whole still learns at
// now: in auto mode, for the learning period from the first traffic and
// until no new host appeared for StableFor. The first call starts the
// clock, as the first transaction does.
func (m *Model) NetworkLearning(now time.Time) bool {
	if m.netStart.IsZero() {
		m.netStart, m.netNew = now, now
	}
	return m.networkLearning(now)
}

// Learning reports whether the asset with this server address still learns.
func (m *Model) Learning(server netip.Addr, now time.Time) bool {
	a := m.assets[server]
	return a == nil || m.learning(a, now)
}

// writeLike ops change the process or the device.
func writeLike(op protocols.Op) bool {
	switch op {
	case protocols.OpWrite, protocols.OpControl, protocols.OpProgramDownload, protocols.OpFirmwareUpdate,
		protocols.OpStop, protocols.OpStart, protocols.OpRestart:
		return true
	}
	return false
}

func (m *Model) keyOf(tx *protocols.Transaction, create bool) funcKey {
	sub := int32(-1)
	if tx.HasSubcode {
		sub = int32(tx.Subcode)
	}
	return funcKey{tx.Client.IP, m.puID(tx.Proto, tx.Unit, create), tx.Op, int32(tx.Code), sub}
}

// Observe learns from or checks one transaction, depending on the asset's
// state, and returns the deviations found.
func (m *Model) Observe(tx *protocols.Transaction) []Finding {
	now := tx.Time()
	if m.netStart.IsZero() {
		m.netStart, m.netNew = now, now
	}
	var out []Finding
	netLearning := m.networkLearning(now)
	for _, host := range [2]netip.Addr{tx.Server.IP, tx.Client.IP} {
		if _, ok := m.hosts[host]; ok || !host.IsValid() {
			continue
		}
		if len(m.hosts) < maxHosts { // beyond it a flood of spoofed hosts alerts (folded) but is not kept
			m.hosts[host] = now
		}
		if netLearning {
			m.netNew = now
		} else {
			out = append(out, Finding{Kind: "new_asset", Key: "new_asset|" + host.String(), Asset: host.String(),
				Message: fmt.Sprintf("new host %s appeared after the network baseline was learned", host)})
		}
	}
	a, created := m.asset(tx.Server.IP, now)
	if created && !netLearning && m.cfg.Mode == ModeAuto {
		// A new PLC learns on its own while the others detect.
		a.LearnUntil = now.Add(m.cfg.LearningPeriod)
	}
	if m.learning(a, now) {
		m.learn(a, tx, now)
		return out
	}
	return m.detect(a, tx, now, out)
}

// Accept learns a transaction whatever the mode: an operator marked its alert normal.
func (m *Model) Accept(tx *protocols.Transaction) {
	now := tx.Time()
	if _, ok := m.hosts[tx.Client.IP]; !ok {
		m.hosts[tx.Client.IP] = now
	}
	if _, ok := m.hosts[tx.Server.IP]; !ok {
		m.hosts[tx.Server.IP] = now
	}
	a, _ := m.asset(tx.Server.IP, now)
	m.learn(a, tx, now)
}

// Relearn forgets an asset's baseline; it learns again from now.
func (m *Model) Relearn(server netip.Addr, now time.Time) bool {
	if _, ok := m.assets[server]; !ok {
		return false
	}
	m.keys -= m.assets[server].keys
	delete(m.assets, server)
	a, _ := m.asset(server, now)
	a.LearnUntil = now.Add(m.cfg.LearningPeriod)
	return true
}

// ExtendLearning keeps an asset learning until the given time.
func (m *Model) ExtendLearning(server netip.Addr, until time.Time) bool {
	a := m.assets[server]
	if a == nil {
		return false
	}
	a.LearnUntil, a.Detecting = until, false
	return true
}

func (m *Model) newKey(a *Asset, now time.Time) bool {
	if a.keys >= m.cfg.MaxKeysPerAsset {
		a.capped = true
		return false
	}
	a.keys++
	m.keys++
	a.LastNewKey = now
	return true
}

func (m *Model) learn(a *Asset, tx *protocols.Transaction, now time.Time) {
	if a.Protocols[tx.Proto] == 0 {
		a.LastNewKey = now
	}
	a.Protocols[tx.Proto]++
	lk := linkKey{tx.Client.IP, tx.Proto}
	l := a.links[lk]
	if l == nil {
		l = &Link{First: now}
		a.links[lk] = l
		a.LastNewKey = now
	}
	m.touchLink(l, tx, now, true)
	fk := m.keyOf(tx, true)
	f := a.functions[fk]
	if f == nil {
		if !m.newKey(a, now) {
			return
		}
		f = &Function{First: now.UnixNano()}
		a.functions[fk] = f
	}
	m.touchFunction(f, now)
	for _, tg := range tx.Targets {
		if tg.Space == "node" || tg.ID != "" {
			continue
		}
		if f.addRange(tg.Space, tg.Address, lastAddress(tg)) {
			a.LastNewKey = now
		}
	}
	if tx.Op != protocols.OpWrite {
		return
	}
	for _, tg := range tx.Targets {
		sk := spaceKey{tx.Proto, tx.Unit, tg.Space}
		rs := a.writes[sk]
		if rs == nil {
			rs = &RangeSet{}
			a.writes[sk] = rs
		}
		if tg.ID != "" {
			continue // node targets are checked through their points
		}
		if rs.Add(tg.Address, lastAddress(tg)) {
			a.LastNewKey = now
		}
	}
	eachPoint(tx, func(pk pointKey, v float64) {
		vm := a.points[pk]
		if vm == nil {
			if !m.newKey(a, now) {
				return
			}
			vm = &ValueModel{}
			a.points[pk] = vm
		}
		vm.Learn(v)
	})
}

func lastAddress(tg protocols.Target) uint64 {
	if tg.Count <= 1 {
		return tg.Address
	}
	return tg.Address + tg.Count - 1
}

// eachPoint pairs written values with the points they go to: value i to
// target i when there are as many targets as values (OPC UA nodes, DNP3
// points), else to consecutive addresses of the first target.
func eachPoint(tx *protocols.Transaction, fn func(pointKey, float64)) {
	if len(tx.Values) == 0 || len(tx.Targets) == 0 || tx.CodeName == "mask_write_register" {
		return
	}
	for i, v := range tx.Values {
		num, ok := numeric(v)
		if !ok {
			continue
		}
		var tg protocols.Target
		var addr uint64
		switch {
		case len(tx.Targets) == len(tx.Values):
			tg = tx.Targets[i]
			addr = tg.Address
		case uint64(len(tx.Values)) == tx.Targets[0].Count || len(tx.Targets) == 1:
			tg = tx.Targets[0]
			addr = tg.Address + uint64(i)
		default:
			return
		}
		fn(pointKey{tx.Proto, tx.Unit, tg.Space, addr, tg.ID}, num)
	}
}

func numeric(v protocols.Value) (float64, bool) {
	switch v.Kind {
	case protocols.ValueInt, protocols.ValueBool:
		return float64(v.Int), true
	case protocols.ValueFloat:
		return v.F, !math.IsNaN(v.F)
	}
	return 0, false
}

func (m *Model) touchFunction(f *Function, now time.Time) {
	if f.Count > 0 {
		iv := float64(now.UnixNano()-f.Last) / 1e9
		if iv > 0 {
			if f.Period == 0 {
				f.Period = iv
			} else {
				f.Jitter += 0.2 * (math.Abs(iv-f.Period) - f.Jitter)
				f.Period += 0.2 * (iv - f.Period)
			}
		}
	}
	f.Count++
	f.Last = now.UnixNano()
	f.Quiet = false
}

// touchLink counts the link and its burst windows; learning raises the maxima.
func (m *Model) touchLink(l *Link, tx *protocols.Transaction, now time.Time, learning bool) {
	l.Count++
	l.Last = now
	if d := now.Sub(l.WindowStart); d >= m.cfg.BurstWindow || d < 0 { // d < 0: a capture replayed again
		l.WindowStart, l.Writes, l.Exceptions = now, 0, 0
	}
	if writeLike(tx.Op) {
		l.Writes++
	}
	if tx.Outcome == protocols.OutcomeException {
		l.Exceptions++
	}
	if learning {
		if l.Writes > l.MaxWrites {
			l.MaxWrites = l.Writes
		}
		if l.Exceptions > l.MaxExceptions {
			l.MaxExceptions = l.Exceptions
		}
	}
}

func (m *Model) detect(a *Asset, tx *protocols.Transaction, now time.Time, out []Finding) []Finding {
	// Names are built only when something is found: the common path allocates nothing.
	server := func() string { return tx.Server.IP.String() }
	client := func() string { return tx.Client.IP.String() }
	find := func(kind, key, msg string) {
		out = append(out, Finding{Kind: kind, Key: kind + "|" + server() + "|" + key, Asset: server(), Client: client(), Message: msg})
	}
	what := func() string { return describe(tx) }
	if a.Protocols[tx.Proto] == 0 {
		find("new_protocol", tx.Proto, fmt.Sprintf("%s spoke %s for the first time (%s from %s)", server(), tx.Proto, what(), client()))
	} else {
		a.Protocols[tx.Proto]++
	}
	lk := linkKey{tx.Client.IP, tx.Proto}
	l := a.links[lk]
	switch {
	case l == nil && writeLike(tx.Op):
		find("write_from_new_client", client()+"|"+tx.Proto,
			fmt.Sprintf("%s sent %s to %s, which it never did while the baseline was learned", client(), what(), server()))
	case l == nil:
		find("new_link", client()+"|"+tx.Proto, fmt.Sprintf("%s talked %s to %s for the first time (%s)", client(), tx.Proto, server(), what()))
	}
	if l == nil {
		// Tracked for bursts only: detection never adds to the baseline.
		if l = a.unlearned[lk]; l == nil {
			if a.unlearned == nil {
				a.unlearned = map[linkKey]*Link{}
			}
			if len(a.unlearned) < maxUnlearnedLinks {
				l = &Link{First: now}
				a.unlearned[lk] = l
			} else {
				l = &Link{First: now}
			}
		}
	} else if f := a.functions[m.keyOf(tx, false)]; f == nil && !(tx.Op == protocols.OpWrite && m.writeBack(a, tx)) {
		find("new_function", fmt.Sprintf("%s|%s|%s|%d|%d", client(), tx.Proto, tx.Unit, tx.Code, m.keyOf(tx, false).subcode),
			fmt.Sprintf("%s used %s on %s (unit %q) for the first time", client(), what(), server(), tx.Unit))
	} else if f != nil {
		m.touchFunction(f, now)
	}
	m.touchLink(l, tx, now, false)
	if tx.Op == protocols.OpWrite {
		for _, tg := range tx.Targets {
			if tg.ID != "" {
				continue
			}
			rs := a.writes[spaceKey{tx.Proto, tx.Unit, tg.Space}]
			if (rs == nil || !rs.Covers(tg.Address, lastAddress(tg))) && !m.operatorWrite(a, tx, tg) {
				find("write_to_unseen_target", fmt.Sprintf("%s|%s|%s|%d", tx.Proto, tx.Unit, tg.Space, tg.Address),
					fmt.Sprintf("%s wrote %s %d..%d on %s (unit %q), never written while learning", client(), tg.Space,
						tg.Address, lastAddress(tg), server(), tx.Unit))
			}
		}
		eachPoint(tx, func(pk pointKey, v float64) {
			vm := a.points[pk]
			if vm == nil || vm.Allows(v, m.cfg.ValueMargin) {
				return
			}
			where := pk.space + " " + fmt.Sprint(pk.address)
			if pk.id != "" {
				where = pk.id
			}
			find("value_out_of_range", fmt.Sprintf("%s|%s|%s|%d|%s", pk.proto, pk.unit, pk.space, pk.address, pk.id),
				fmt.Sprintf("%s wrote %s to %s on %s (unit %q): outside the %s %s", client(), formatNum(v), where, server(),
					tx.Unit, vm.Class(), vm.Describe()))
		})
	}
	if l.Writes > max(2*l.MaxWrites, l.MaxWrites+10) && l.burstReported.Before(l.WindowStart) {
		l.burstReported = now
		find("write_burst", client(), fmt.Sprintf("%s sent %d writes to %s within %s; at most %d were learned per window",
			client(), l.Writes, server(), m.cfg.BurstWindow, l.MaxWrites))
	}
	if l.Exceptions > max(3*l.MaxExceptions, l.MaxExceptions+5) && l.burstReported.Before(l.WindowStart) {
		l.burstReported = now
		find("exception_burst", client(), fmt.Sprintf("%s drew %d exception responses from %s within %s (learned at most %d): probing?",
			client(), l.Exceptions, server(), m.cfg.BurstWindow, l.MaxExceptions))
	}
	return out
}

// operatorWrite: the client polls the written point cyclically — an HMI
// writing back a value it displays, the thing HMIs are for. Such a write is
// not reported as a write to an unseen target, nor (for a plain write) as a
// new function; a new writer, a control command, or a value outside a
// learned model still are. The trade-off: a compromised HMI writing a point
// it displays is caught only by the value model, once one exists.
func (m *Model) operatorWrite(a *Asset, tx *protocols.Transaction, tg protocols.Target) bool {
	pu := m.puID(tx.Proto, tx.Unit, false)
	if tg.ID != "" || pu == 0 {
		return false
	}
	for k, f := range a.functions {
		if k.client != tx.Client.IP || k.pu != pu || k.op != protocols.OpRead || f.Count < minPolls {
			continue
		}
		if rs := f.ranges(tg.Space); rs != nil && rs.Covers(tg.Address, lastAddress(tg)) {
			return true
		}
	}
	return false
}

// writeBack: every target of the write is a point the client polls.
func (m *Model) writeBack(a *Asset, tx *protocols.Transaction) bool {
	if len(tx.Targets) == 0 {
		return false
	}
	for _, tg := range tx.Targets {
		if !m.operatorWrite(a, tx, tg) {
			return false
		}
	}
	return true
}

// minPolls reads of a range make it "polled".
const minPolls = 10

// Tick checks cyclic traffic that stopped; call it as packet time advances
// (it does the work at most every few seconds of packet time).
func (m *Model) Tick(now time.Time) []Finding {
	if now.Sub(m.lastTick) < 5*time.Second {
		return nil
	}
	m.lastTick = now
	var out []Finding
	for _, a := range m.assets {
		if m.learning(a, now) {
			continue
		}
		for fk, f := range a.functions { // map order: sorted below so alert ids are stable
			if f.Quiet || f.Count < 10 || f.Period <= 0 || f.Jitter > f.Period {
				continue
			}
			limit := math.Max(math.Max(5*f.Period, f.Period+10*f.Jitter), 10)
			if float64(now.UnixNano()-f.Last)/1e9 > limit {
				f.Quiet = true
				server := a.Server.String()
				pu := m.pu(fk.pu)
				out = append(out, Finding{Kind: "cyclic_stopped", Asset: server, Client: fk.client.String(),
					Key: fmt.Sprintf("cyclic_stopped|%s|%s|%s|%s|%d", server, fk.client, pu.proto, pu.unit, fk.code),
					Message: fmt.Sprintf("%s stopped polling %s (%s code %d, every %.1fs until %s)", fk.client, server, pu.proto,
						fk.code, f.Period, time.Unix(0, f.Last).UTC().Format(time.RFC3339))})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// describe names a transaction for messages: "write_multiple_registers (modbus 16) on holding_register 10..12".
func describe(tx *protocols.Transaction) string {
	var b strings.Builder
	name := tx.CodeName
	if name == "" {
		name = tx.Op.String()
	}
	fmt.Fprintf(&b, "%s (%s %d)", name, tx.Proto, tx.Code)
	if len(tx.Targets) > 0 {
		tg := tx.Targets[0]
		if tg.ID != "" {
			fmt.Fprintf(&b, " on %s", tg.ID)
		} else {
			fmt.Fprintf(&b, " on %s %d..%d", tg.Space, tg.Address, lastAddress(tg))
		}
	}
	return b.String()
}

// Keys is the number of learned keys over all assets.
func (m *Model) Keys() int { return m.keys }

// Assets is the number of server assets with a baseline.
func (m *Model) AssetCount() int { return len(m.assets) }
