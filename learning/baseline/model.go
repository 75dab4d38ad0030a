// Package baseline learns each server asset's (PLC, RTU, OPC UA server)
// normal behaviour from transactions — which clients use which functions on
// which targets, at what cadence and rate, with which written values and
// command parameters — and reports what deviates. It reads only
// protocols.Transaction, so every protocol is covered by the same rules.
//
// What is learned is frozen while an asset detects: nothing a client sends
// then changes the model that judges it, until an operator accepts it
// (Accept) or asks the asset to learn again. Detection keeps only what it
// needs to judge the present (when each function was last seen, the
// current rate windows), apart from the learned state.
//
// A Model is used by one goroutine (the pipeline's); operator actions come
// through the same goroutine or under the caller's lock.
package baseline

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
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
	// ValueMargin widens learned numeric ranges by this fraction of their
	// span or magnitude before a value counts as outside.
	ValueMargin float64
	// MaxKeysPerAsset caps functions + written points per asset.
	MaxKeysPerAsset int
	// MaxAssets caps the server assets with a baseline, MaxKeys the keys of
	// all of them: beyond, a new asset or key is refused, counted and
	// reported (limit_reached), never grown without bound.
	MaxAssets int
	MaxKeys   int
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
	if c.MaxAssets <= 0 {
		c.MaxAssets = 20000
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 2000000
	}
	return c
}

// Model is the set of baselines, one per server asset.
type Model struct {
	cfg    Config
	assets map[netip.Addr]*Asset
	// assetEpoch names this set of assets in the flows' notes
	// (protocols.FlowMemo.Asset): a new one whenever an asset is removed
	// or the set replaced (a new model, Relearn, an import, a load).
	assetEpoch uint32
	hosts      map[netip.Addr]time.Time // every host seen while the network learned, first time
	// knownRecent: hosts found in hosts lately (Model.known)
	knownRecent [16]netip.Addr
	// names: the text of the addresses findings were named by lately
	names protocols.AddrTexts
	// knownEpoch names this set of known hosts in the flows' notes
	// (protocols.FlowMemo.Known): a new one for each set that is not the
	// last one grown (a new model, an import, a load).
	knownEpoch uint32
	// netEpoch names what network learning depends on (the known hosts,
	// netStart, netNew, the mode) in the flows' notes (FlowMemo.Over): a new
	// one at each change (Model.netChanged).
	netEpoch uint32
	// newHosts: hosts first seen while detecting, reported once; never
	// part of what was learned
	newHosts map[netip.Addr]struct{}
	netStart time.Time // first transaction seen (network-level learning)
	netNew   time.Time // last time a host was learned
	lastTick time.Time
	keys     int // total learned keys, for the memory benchmark
	puIDs    map[protoUnit]uint32
	puNames  []protoUnit
	clients  hosts // client addresses, interned
	strs     names // target spaces, node ids, protocol names, interned
	fields   names // point fields (command parameters), interned; at most 255
	// refused counts what the caps kept out; capReported is when the
	// last limit_reached finding was given (at most one a minute)
	refusedAssets, refusedKeys uint64
	capReported                time.Time
	ps                         persistence // what the next checkpoint writes (persist.go)
	// heard is the time of the last packet the monitor heard (Heard);
	// silences, the latest spans in which it heard none that were
	// abnormal for the network, oldest first, and for a model loaded from
	// records the span since its save (last-seen times are not persisted
	// either); quiet, the network's longest silence while it learned
	// (saved with meta). heardAny: a packet was heard (a capture's
	// packets may all carry time zero).
	heard    int64
	heardAny bool
	silences []silence
	quiet    time.Duration
}

// silence is a span of packet time in which the monitor heard nothing.
type silence struct{ from, to int64 }

const (
	// minSilence is the shortest stop limit of a poll (Tick): a shorter
	// silence cannot hide a stop.
	minSilence  = 10 * time.Second
	maxSilences = 8
)

// abnormalSilence is how long the network must be silent, every packet,
// before the silence is the monitor's (a SPAN or feed outage, a gap
// between capture files) rather than the plant's: twice the longest
// silence it had while it learned. A sparse network whose only traffic
// comes every minute is no blind monitor between its packets.
func (m *Model) abnormalSilence() time.Duration { return max(minSilence, 2*m.quiet) }

// New returns an empty model.
// A new model has never been saved: its first save writes everything
// (persistence.full), so it lists no changes until then. A read without
// --db, which never saves, then spends nothing on the lists.
func New(cfg Config) *Model {
	return &Model{cfg: cfg.withDefaults(), assets: map[netip.Addr]*Asset{}, hosts: map[netip.Addr]time.Time{},
		puIDs: map[protoUnit]uint32{}, clients: newHosts(), strs: newNames(), fields: newNames(),
		knownEpoch: knownEpochs.Add(1), assetEpoch: assetEpochs.Add(1), netEpoch: netEpochs.Add(1), ps: persistence{full: true}}
}

// knownEpochs numbers the known-host sets of every model of the process,
// so that no flow's note can be taken for another set's; assetEpochs the
// sets of assets; netEpochs the states of network learning.
var knownEpochs, assetEpochs, netEpochs atomic.Uint32

// netChanged starts a new network epoch: a flow's note that learning was
// over no longer holds.
func (m *Model) netChanged() { m.netEpoch = netEpochs.Add(1) }

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// SetMode changes the mode (e.g. a CLI flag on top of a loaded database).
func (m *Model) SetMode(mode Mode) { m.cfg.Mode, m.netEpoch = mode, netEpochs.Add(1) }

// funcKey is 20 bytes: client, protocol and unit are interned (intern.go),
// for a million keys are normal in a large plant.
type funcKey struct {
	client  uint32 // Model.clients id
	pu      uint32 // protoUnit id, from Model.puID
	code    int32
	subcode int32 // -1: none
	op      protocols.Op
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

// knownPU: id names a (protocol, unit) of the table (records from a
// state file are checked with it before their ids are used).
func (m *Model) knownPU(id uint32) bool { return id >= 1 && int(id) <= len(m.puNames) }

type linkKey struct {
	client uint32 // Model.clients id
	proto  uint32 // Model.strs id
}

// spaceKey names a target space of one (protocol, unit).
type spaceKey struct {
	pu    uint32
	space uint32 // Model.strs id
}

// nodeKey names a target addressed by id (an OPC UA node).
type nodeKey struct {
	pu uint32
	id uint32 // Model.strs id
}

// pointKey names one written point, or one parameter of the commands sent
// to it: 24 bytes, no pointer.
type pointKey struct {
	address uint64
	pu      uint32
	id      uint32 // Model.strs id of a node id, 0 for none
	space   uint32 // Model.strs id
	sub     uint8  // bit + 1, 0: the whole unit
	bits    uint8  // the width written: a 1-byte and a 4-byte item at one address are two tags
	field   uint8  // Model.fields id, 0 for the point's value
}

// Asset is one server asset's baseline.
type Asset struct {
	Server     netip.Addr
	FirstSeen  time.Time
	LastNewKey time.Time
	LearnUntil time.Time    // set by ExtendLearning; zero: FirstSeen + LearningPeriod
	Detecting  bool         // auto mode switched this asset to detection
	protos     []protoCount // transactions served per protocol (a handful, scanned)
	links      map[linkKey]*Link
	functions  map[funcKey]*Function
	changed    map[spaceKey]*RangeSet // targets of state-changing operations (writes, controls)
	changedIDs map[nodeKey]struct{}   // the same for targets named by id
	points     pointTable
	pus        []uint32 // the (protocol, unit) ids learned, for "unit not known" matches
	keys       int
	capped     bool
	// unlearned: links first seen in detection, tracked for bursts only
	unlearned map[unlearnedKey]*Link
	dirt      assetDirt // unsaved records (persist.go)
	memo      learnMemo // the last function learned, resolved
}

// protoCount is how many transactions an asset served in one protocol.
type protoCount struct {
	proto string
	n     uint64
}

// served returns how many transactions of proto the asset served.
func (a *Asset) served(proto string) uint64 {
	for i := range a.protos {
		if a.protos[i].proto == proto {
			return a.protos[i].n
		}
	}
	return 0
}

// serve counts one transaction of proto; it reports whether proto is new.
func (a *Asset) serve(proto string) bool {
	for i := range a.protos {
		if a.protos[i].proto == proto {
			a.protos[i].n++
			return false
		}
	}
	a.protos = append(a.protos, protoCount{proto, 1})
	return true
}

// setServed sets the count of proto (a load, an import).
func (a *Asset) setServed(proto string, n uint64) {
	for i := range a.protos {
		if a.protos[i].proto == proto {
			a.protos[i].n = n
			return
		}
	}
	a.protos = append(a.protos, protoCount{proto, n})
}

// Protocols returns the transactions the asset served per protocol.
func (a *Asset) Protocols() map[string]uint64 {
	out := make(map[string]uint64, len(a.protos))
	for _, p := range a.protos {
		out[p.proto] = p.n
	}
	return out
}

// learnMemo is an asset's last learned link (client, protocol and unit)
// and the functions it used last, resolved: a poll or a control sequence
// repeats a few functions of one client transaction after transaction (a
// DNP3 master's class polls, SELECT, OPERATE, confirmations), and five map
// lookups (one hashing two strings) become compares. A link or function is
// never replaced or removed while its asset lives (Relearn and a load make
// new assets).
type learnMemo struct {
	client      netip.Addr
	proto, unit string
	lk          linkKey
	l           *Link // nil: no memo
	pu          uint32
	funcs       [4]memoFunc // the link's functions learned last
	next        uint8       // the slot of funcs a function not there takes
}

// memoFunc is one function of a learnMemo's link.
type memoFunc struct {
	code, subcode int32
	op            protocols.Op
	f             *Function // nil: an empty slot
}

// linkHit reports whether tx is of the memo's link.
func (r *learnMemo) linkHit(tx *protocols.Transaction) bool {
	return r.l != nil && r.client == tx.Client.IP && r.proto == tx.Proto && r.unit == tx.Unit
}

// setLink makes the memo that of tx's link, with no function.
func (r *learnMemo) setLink(tx *protocols.Transaction, lk linkKey, l *Link, pu uint32) {
	*r = learnMemo{client: tx.Client.IP, proto: tx.Proto, unit: tx.Unit, lk: lk, l: l, pu: pu}
}

// function is the memo's function of that code, subcode and operation, nil
// when it holds none.
func (r *learnMemo) function(code, subcode int32, op protocols.Op) *Function {
	for i := range r.funcs {
		if e := &r.funcs[i]; e.f != nil && e.code == code && e.subcode == subcode && e.op == op {
			return e.f
		}
	}
	return nil
}

// remember adds a function of the memo's link, in place of the one that
// came in longest ago.
func (r *learnMemo) remember(code, subcode int32, op protocols.Op, f *Function) {
	r.funcs[r.next] = memoFunc{code, subcode, op, f}
	r.next = (r.next + 1) % uint8(len(r.funcs))
}

// unlearnedKey names a link seen only while detecting: its client is not
// interned (detection adds nothing to the baseline's tables).
type unlearnedKey struct {
	client netip.Addr
	proto  string
}

// maxHosts bounds the hosts the network baseline remembers.
const maxHosts = 100000

// maxUnlearnedLinks bounds the links tracked in detection per asset.
const maxUnlearnedLinks = 1024

// maxUnits bounds the units remembered per protocol of an asset.
const maxUnits = 64

// Link is a client talking to this asset in one protocol.
type Link struct {
	Count       uint64
	First, Last time.Time
	// rates of writes, controls and exceptions, made when first needed
	rates [numRateClasses]*rate
	// seen: the client's last transaction with the asset while it
	// detects (Unix ns; not persisted, as Function.Seen)
	seen  int64
	dirty bool // unsaved (persist.go)
}

// Function is one (client, protocol, unit, op, code) the asset serves.
// Kept small: a large plant has a million of these (times as Unix
// nanoseconds, the first target space inline).
type Function struct {
	Count       uint64
	First, Last int64   // Unix nanoseconds, learned
	Period      float64 // EWMA of the interval, seconds
	Jitter      float64 // EWMA of |interval - period|
	Seen        int64   // last seen in any mode (Unix ns): what cyclic_stopped compares with
	Quiet       bool    // reported as stopped, not seen since
	// Late: its last transaction went unanswered, so it reached the model
	// only when the dissector gave up on the response (lateBy): a poll
	// whose answers the mirror port does not carry still runs.
	Late   bool
	dirty  bool   // unsaved (persist.go)
	Space  uint32 // the first target space (Model.strs id) and its merged ranges
	Ranges RangeSet
	More   []SpaceRanges // further spaces (rare: S7 multi-area reads)
}

// SpaceRanges is the merged ranges of one target space.
type SpaceRanges struct {
	Space  uint32
	Ranges RangeSet
}

// ranges returns the ranges learned in a space, nil if none.
func (f *Function) ranges(space uint32) *RangeSet {
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
func (f *Function) addRange(space uint32, lo, hi uint64) bool {
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
func (f *Function) targets(m *Model) map[string]RangeSet {
	if f.Ranges == nil {
		return nil
	}
	// Copies: the model's sets change in place as it learns, and the
	// document is read after the model's lock is released.
	out := map[string]RangeSet{m.strs.name(f.Space): slices.Clone(f.Ranges)}
	for _, sr := range f.More {
		out[m.strs.name(sr.Space)] = slices.Clone(sr.Ranges)
	}
	return out
}

func newAsset(server netip.Addr, now time.Time) *Asset {
	return &Asset{Server: server, FirstSeen: now, LastNewKey: now,
		links: map[linkKey]*Link{}, functions: map[funcKey]*Function{}, changed: map[spaceKey]*RangeSet{},
	}
}

// lookup returns the asset of a server address, nil when there is none.
func (m *Model) lookup(server netip.Addr) *Asset { return m.assets[server] }

// assetOf finds the asset of a transaction's server. Each transaction is
// asked for twice (whether its server learns, then to observe it), and a
// flow's transactions mostly have one server, so its flow's note answers
// when it names this server in this set of assets.
func (m *Model) assetOf(tx *protocols.Transaction) *Asset {
	memo := tx.Memo
	if memo == nil {
		return m.lookup(tx.Server.IP)
	}
	if a, ok := memo.Asset.(*Asset); ok && memo.AssetEpoch == m.assetEpoch && a.Server == tx.Server.IP {
		return a
	}
	a := m.lookup(tx.Server.IP)
	m.noteAsset(memo, a)
	return a
}

// noteAsset notes a in a flow's memo (a nil one or a nil a: nothing).
func (m *Model) noteAsset(memo *protocols.FlowMemo, a *Asset) {
	if memo != nil && a != nil {
		memo.Asset, memo.AssetEpoch = a, m.assetEpoch
	}
}

func (m *Model) asset(server netip.Addr, now time.Time) (*Asset, bool) {
	a := m.lookup(server)
	if a != nil {
		return a, false
	}
	a = newAsset(server, now)
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
	if m.periodOver(a, now) && protocols.Elapsed(now, a.LastNewKey) >= m.cfg.StableFor {
		a.Detecting = true
		a.points.freeze()
		m.dirtyMeta(a)
		return false
	}
	return true
}

// periodOver reports whether an asset's learning period ended at now
// (learnUntil, without building the time on every transaction).
func (m *Model) periodOver(a *Asset, now time.Time) bool {
	if !a.LearnUntil.IsZero() {
		return !now.Before(a.LearnUntil)
	}
	return protocols.Elapsed(now, a.FirstSeen) >= m.cfg.LearningPeriod
}

// learnUntil is the end of an asset's learning period (at the earliest:
// auto mode also waits for StableFor without a new key).
func (m *Model) learnUntil(a *Asset) time.Time {
	if !a.LearnUntil.IsZero() {
		return a.LearnUntil
	}
	return a.FirstSeen.Add(m.cfg.LearningPeriod)
}

// networkLearning says whether new hosts are still expected.
func (m *Model) networkLearning(now time.Time) bool {
	switch m.cfg.Mode {
	case ModeLearn:
		return true
	case ModeDetect:
		return false
	}
	return protocols.Elapsed(now, m.netStart) < m.cfg.LearningPeriod || protocols.Elapsed(now, m.netNew) < m.cfg.StableFor
}

// NetworkLearning reports whether the network as a whole still learns at
// now: in auto mode, for the learning period from the first traffic and
// until no new host appeared for StableFor. The first call starts the
// clock, as the first transaction does.
func (m *Model) NetworkLearning(now time.Time) bool {
	if m.netStart.IsZero() {
		m.netStart, m.netNew = now, now
		m.netChanged()
	}
	return m.networkLearning(now)
}

// Learning reports whether the asset with this server address still learns.
func (m *Model) Learning(server netip.Addr, now time.Time) bool {
	a := m.lookup(server)
	return a == nil || m.learning(a, now)
}

// LearningFor reports whether the server asset of tx still learns at now.
func (m *Model) LearningFor(tx *protocols.Transaction, now time.Time) bool {
	a := m.assetOf(tx)
	return a == nil || m.learning(a, now)
}

// Status is how many assets learn and detect at a moment.
type Status struct {
	Learning, Detecting int
	// LearningUntil is the latest end of a learning period among the
	// assets still learning (auto mode; zero in learn mode, where learning
	// never ends by itself).
	LearningUntil time.Time
}

// Status counts the assets learning and detecting at now.
func (m *Model) Status(now time.Time) Status {
	var s Status
	for _, a := range m.assets {
		if !m.learning(a, now) {
			s.Detecting++
			continue
		}
		s.Learning++
		if m.cfg.Mode == ModeAuto {
			until := m.learnUntil(a)
			if stable := a.LastNewKey.Add(m.cfg.StableFor); stable.After(until) {
				until = stable
			}
			if until.After(s.LearningUntil) {
				s.LearningUntil = until
			}
		}
	}
	return s
}

// rateOf is the rate class an operation counts in, false for none.
func rateOf(op protocols.Op) (rateClass, bool) {
	switch op {
	case protocols.OpWrite:
		return rateWrites, true
	case protocols.OpControl:
		return rateControls, true
	}
	return 0, false
}

func subcodeOf(tx *protocols.Transaction) int32 {
	if tx.HasSubcode {
		return int32(tx.Subcode)
	}
	return -1
}

// Observe learns from or checks one transaction, depending on the asset's
// state, and returns the deviations found.
func (m *Model) Observe(tx *protocols.Transaction) []finding.Finding {
	now := tx.Time()
	m.Heard(now.UnixNano())
	if m.netStart.IsZero() {
		m.netStart, m.netNew = now, now
		m.ps.metaDirty = true
		m.netChanged()
	}
	out := m.observeHosts(tx, now)
	a, created := m.assetOf(tx), false
	if a == nil {
		if len(m.assets) >= m.cfg.MaxAssets {
			m.refusedAssets++
			return m.capFinding(now, out, tx.Server.IP.String())
		}
		a, created = m.asset(tx.Server.IP, now)
		m.noteAsset(tx.Memo, a)
	}
	if created && m.cfg.Mode == ModeAuto && !m.networkLearning(now) {
		// A new PLC learns on its own while the others detect.
		a.LearnUntil = now.Add(m.cfg.LearningPeriod)
	}
	if created {
		m.dirtyMeta(a)
	}
	if m.learning(a, now) {
		refused := m.refusedKeys
		m.learn(a, tx, now)
		if m.refusedKeys != refused {
			out = m.capFinding(now, out, tx.Server.IP.String())
		}
		return out
	}
	return m.detect(a, tx, now, out)
}

// capFinding reports the caps at most once a minute of packet time.
func (m *Model) capFinding(now time.Time, out []finding.Finding, asset string) []finding.Finding {
	if !m.capReported.IsZero() && now.Sub(m.capReported) < time.Minute && !now.Before(m.capReported) {
		return out
	}
	m.capReported = now
	return append(out, finding.Finding{Key: finding.NewKey("limit_reached", "baseline"), Time: now, Asset: asset,
		Message: fmt.Sprintf("the baseline is full (at most %d server assets and %d keys, %d per asset): %d new assets and %d new keys were not learned so far, the latest on %s",
			m.cfg.MaxAssets, m.cfg.MaxKeys, m.cfg.MaxKeysPerAsset, m.refusedAssets, m.refusedKeys, asset)})
}

// Refused is how many new assets and keys the caps kept out.
func (m *Model) Refused() (assets, keys uint64) { return m.refusedAssets, m.refusedKeys }

// Accept learns a transaction whatever the mode: an operator marked its alert normal.
func (m *Model) Accept(tx *protocols.Transaction) {
	now := tx.Time()
	m.learnHost(tx.Client.IP, now)
	m.learnHost(tx.Server.IP, now)
	a, created := m.asset(tx.Server.IP, now)
	if created {
		m.dirtyMeta(a)
	}
	m.learn(a, tx, now)
	if l := a.links[linkKey{m.clients.id(tx.Client.IP, false), m.strs.id(tx.Proto, false)}]; l != nil {
		// an accepted burst raises the learned rate to what was seen
		for _, r := range l.rates {
			if r != nil {
				r.learn()
			}
		}
		m.dirtyLink(a, linkKey{m.clients.id(tx.Client.IP, false), m.strs.id(tx.Proto, false)}, l)
	}
}

// Relearn forgets an asset's baseline; it learns again from now.
func (m *Model) Relearn(server netip.Addr, now time.Time) bool {
	if _, ok := m.assets[server]; !ok {
		return false
	}
	m.keys -= m.assets[server].keys
	delete(m.assets, server)
	m.assetEpoch = assetEpochs.Add(1)
	if !m.ps.full {
		m.ps.deleted = append(m.ps.deleted, server)
	}
	a, _ := m.asset(server, now)
	a.LearnUntil = now.Add(m.cfg.LearningPeriod)
	m.dirtyMeta(a)
	return true
}

// ExtendLearning keeps an asset learning until the given time.
func (m *Model) ExtendLearning(server netip.Addr, until time.Time) bool {
	a := m.assets[server]
	if a == nil {
		return false
	}
	a.LearnUntil, a.Detecting = until, false
	a.points.thaw()
	m.dirtyMeta(a)
	return true
}

func (m *Model) newKey(a *Asset, now time.Time) bool {
	if a.keys >= m.cfg.MaxKeysPerAsset || m.keys >= m.cfg.MaxKeys {
		a.capped = true
		m.refusedKeys++
		return false
	}
	a.keys++
	m.keys++
	a.LastNewKey = now
	return true
}

// addUnit remembers a (protocol, unit) spoken on the asset.
func (a *Asset) addUnit(pu uint32) {
	for _, u := range a.pus {
		if u == pu {
			return
		}
	}
	if len(a.pus) < maxUnits {
		a.pus = append(a.pus, pu)
	}
}

func (m *Model) learn(a *Asset, tx *protocols.Transaction, now time.Time) {
	if a.serve(tx.Proto) {
		a.LastNewKey = now
	}
	m.dirtyMeta(a)
	if tx.Outcome == protocols.OutcomeUnsolicited || tx.FunctionUnknown {
		return // the device reporting by itself, or a response to a request not seen: no client's function
	}
	memo := &a.memo
	var lk linkKey
	var l *Link
	var pu uint32
	if memo.linkHit(tx) {
		lk, l, pu = memo.lk, memo.l, memo.pu
	} else {
		lk = linkKey{m.clients.id(tx.Client.IP, true), m.strs.id(tx.Proto, true)}
		l = a.links[lk]
		if l == nil {
			l = &Link{First: now}
			a.links[lk] = l
			a.LastNewKey = now
		}
		pu = m.puID(tx.Proto, tx.Unit, true)
		a.addUnit(pu)
		memo.setLink(tx, lk, l, pu)
	}
	l.Count++
	l.Last = now
	m.countRates(l, tx, now, true)
	m.dirtyLink(a, lk, l)
	code, subcode := int32(tx.Code), subcodeOf(tx)
	fk := funcKey{lk.client, pu, code, subcode, tx.Op}
	f := memo.function(code, subcode, tx.Op)
	if f == nil {
		f = a.functions[fk]
		if f == nil {
			if !m.newKey(a, now) {
				return
			}
			f = &Function{First: now.UnixNano()}
			a.functions[fk] = f
		}
		memo.remember(code, subcode, tx.Op, f)
	}
	f.learnAt(now)
	f.Late = tx.Outcome == protocols.OutcomeNoResponse
	m.dirtyFunc(a, fk, f)
	for _, tg := range tx.Targets {
		if tg.Space == "node" || tg.ID != "" {
			continue
		}
		if f.addRange(m.strs.id(tg.Space, true), tg.Address, lastAddress(tg)) {
			a.LastNewKey = now
		}
	}
	if !tx.Op.ChangesState() {
		return
	}
	for _, tg := range tx.Targets {
		if tg.ID != "" {
			k := nodeKey{pu, m.strs.id(tg.ID, true)}
			if _, ok := a.changedIDs[k]; !ok && m.newKey(a, now) {
				if a.changedIDs == nil {
					a.changedIDs = map[nodeKey]struct{}{}
				}
				a.changedIDs[k] = struct{}{}
				m.dirtyID(a, k)
			}
			continue
		}
		sk := spaceKey{pu, m.strs.id(tg.Space, true)}
		rs := a.changed[sk]
		if rs == nil {
			rs = &RangeSet{}
			a.changed[sk] = rs
		}
		if rs.Add(tg.Address, lastAddress(tg)) {
			a.LastNewKey = now
			m.dirtyChanged(a, sk)
		}
	}
	if len(tx.Points) == 0 {
		eachPoint(tx, func(p pointRef) {
			if k, ok := m.pointKey(pu, p, true); ok {
				m.learnPoint(a, &k, a.points.nextRef(&k), p.typ, p.v, now)
			}
		})
		return
	}
	// The typed points, as eachPoint pairs them with their targets, in runs
	// of one target and field (an HMI's block write is tens of points of
	// one target): the key's target part is made once a run.
	// settled: the flags of a model that a write of its last value again
	// only counts (ValueModel.again) and that is marked for the next
	// checkpoint already (or the next save writes every model).
	settled := uint8(vmLastIn | vmDirty)
	if m.ps.full {
		settled = vmLastIn
	}
	target, field := -1, ""
	var k pointKey
	var fieldID uint8
	baseOK, fieldOK := false, true
	for pts := tx.Points; len(pts) > 0; {
		p0 := &pts[0]
		if int(p0.Target) >= len(tx.Targets) {
			pts = pts[1:]
			continue
		}
		tg := &tx.Targets[p0.Target]
		if int(p0.Target) != target {
			target = int(p0.Target)
			k, baseOK = m.targetKey(pu, tg.Space, tg.ID, true)
		}
		if p0.Field != field { // a CROB's fields take turns on one target
			field = p0.Field
			fieldID, fieldOK = m.fieldKey(field, true)
		}
		if !baseOK || !fieldOK {
			pts = pts[1:]
			continue
		}
		k.field = fieldID
		if fieldID != 0 { // a command's parameters (a CROB's op, count, on, off): one point each
			k.address, k.sub, k.bits = tg.Address+uint64(p0.Element), p0.Sub, p0.Type.Bits
			m.learnPoint(a, &k, a.points.nextRef(&k), p0.Type, p0.V, now)
			pts = pts[1:]
			continue
		}
		pts = pts[m.learnRun(a, &k, tg.Address, pts, settled, now):]
	}
}

// learnRun learns the written values at the start of pts that are of the
// first one's target (its value, not a parameter), and returns how many;
// k holds the key's target, base the target's address. Its own function,
// so that the loop's few variables stay in registers.
func (m *Model) learnRun(a *Asset, k *pointKey, base uint64, pts []protocols.Point, settled uint8, now time.Time) int {
	t := &a.points
	target := pts[0].Target
	pu, id, space, field := k.pu, k.id, k.space, k.field
	for i := 0; i < len(pts); i++ {
		// the likely case first, in a loop whose state stays in registers:
		// a block write's numbers come in the order they were learned
		// (each the entry after the last found), most of them what they
		// were, so each only counts
		if t.slots != nil {
			learn, n := t.learn, uint(t.next)
			for ; i < len(pts) && n < uint(len(learn)); i, n = i+1, n+1 {
				p, e := &pts[i], &learn[n]
				if p.Target != target || len(p.Field) != 0 ||
					e.k.address != base+uint64(p.Element) || e.k.sub != p.Sub || e.k.bits != p.Type.Bits ||
					e.k.pu != pu || e.k.id != id || e.k.space != space || e.k.field != field ||
					e.vm.flags&settled != settled || math.Float64bits(p.V) != math.Float64bits(e.vm.Last) || e.vm.Count == math.MaxUint32 {
					break
				}
				e.vm.Count++ // again, without the call
			}
			t.next = int32(n)
			if i == len(pts) {
				break
			}
		}
		p := &pts[i]
		if p.Target != target || len(p.Field) != 0 {
			return i
		}
		k.address, k.sub, k.bits = base+uint64(p.Element), p.Sub, p.Type.Bits
		m.learnPoint(a, k, t.nextRef(k), p.Type, p.V, now)
	}
	return len(pts)
}

// learnPoint folds v, written to the point k, into its value model vm
// (nil: not found yet). A point written again with the value it had (a
// setpoint an HMI writes back) only counts (ValueModel.again), and a model
// already marked for the next checkpoint is not marked again.
func (m *Model) learnPoint(a *Asset, k *pointKey, vm *ValueModel, typ protocols.NumType, v float64, now time.Time) {
	if vm == nil {
		vm = a.points.refSlow(k)
	}
	if vm == nil {
		if !m.newKey(a, now) {
			return
		}
		vm = a.points.add(*k, ValueModel{Type: typ})
	}
	if !vm.again(v) {
		vm.Learn(v)
	}
	if vm.flags&vmDirty == 0 && !m.ps.full { // full: the next save writes every model anyway
		m.dirtyPoint(a, *k, vm)
	}
}

// observeHosts learns the transaction's endpoints as hosts while the
// network learns, and after it reports each one not learned as a new host,
// once. Its flow's notes spare the lookups once both are known hosts, or
// once network learning is over and the ones not known were reported (a
// host that came after the baseline, talking on): that note holds for
// transactions no earlier than it, in its network epoch.
func (m *Model) observeHosts(tx *protocols.Transaction, now time.Time) []finding.Finding {
	memo, ns := tx.Memo, now.UnixNano()
	if memo != nil && memo.Reported == m.netEpoch && memo.Reported != 0 && ns >= memo.ReportedAt {
		return nil
	}
	var out []finding.Finding
	netLearning, reported := m.networkLearning(now), true
	for _, host := range m.unknownHosts(tx) {
		if !host.IsValid() {
			continue
		}
		if netLearning {
			m.learnHost(host, now) // beyond maxHosts a flood of spoofed hosts is not kept
			m.netNew = now
			m.ps.metaDirty = true
			m.netChanged()
			continue
		}
		if _, ok := m.newHosts[host]; ok {
			continue
		}
		if m.newHosts == nil {
			m.newHosts = map[netip.Addr]struct{}{}
		}
		if len(m.newHosts) < maxHosts { // beyond it each alerts again (folded by the engine)
			m.newHosts[host] = struct{}{}
		} else {
			reported = false
		}
		out = append(out, finding.Finding{Key: finding.NewKey("new_asset", host.String()), Time: now, Asset: host.String(),
			Message: fmt.Sprintf("new host %s appeared after the network baseline was learned", host)})
	}
	if memo != nil && !netLearning && reported && memo.Known != m.knownEpoch {
		memo.Reported, memo.ReportedAt = m.netEpoch, ns
	}
	return out
}

// learnAt folds one use of the function at now into its cadence.
func (f *Function) learnAt(now time.Time) {
	ns := now.UnixNano()
	if f.Count > 0 {
		iv := float64(ns-f.Last) / 1e9
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
	f.Last = ns
	f.Seen = max(f.Seen, ns)
	f.Quiet = false
}

// countRates counts a transaction in its link's rate windows; learning
// raises the learned maxima. It returns the rate that moved, if any.
func (m *Model) countRates(l *Link, tx *protocols.Transaction, now time.Time, learning bool) [2]*rate {
	var moved [2]*rate
	ns := now.UnixNano()
	if c, ok := rateOf(tx.Op); ok {
		r := l.rate(c)
		r.add(ns)
		moved[0] = r
	}
	if tx.Outcome == protocols.OutcomeException {
		r := l.rate(rateExceptions)
		r.add(ns)
		moved[1] = r
	}
	if learning {
		for _, r := range moved {
			if r != nil {
				r.learn()
			}
		}
	}
	return moved
}

// rate returns the link's rate of a class, made on first use.
func (l *Link) rate(c rateClass) *rate {
	if l.rates[c] == nil {
		l.rates[c] = &rate{}
	}
	return l.rates[c]
}

func lastAddress(tg protocols.Target) uint64 {
	if tg.Count <= 1 {
		return tg.Address
	}
	return tg.Address + tg.Count - 1
}

// pointRef is one written number resolved to its point.
type pointRef struct {
	space   string
	address uint64
	id      string
	sub     uint8
	field   string
	typ     protocols.NumType
	v       float64
}

// eachPoint calls fn for each written number of a transaction: its typed
// Points, or, from a dissector that gives none, its numeric Values paired
// with the targets (value i to target i when there are as many targets as
// values, else to consecutive addresses of the first target).
func eachPoint(tx *protocols.Transaction, fn func(pointRef)) {
	if len(tx.Points) > 0 {
		for _, p := range tx.Points {
			if int(p.Target) >= len(tx.Targets) {
				continue
			}
			tg := &tx.Targets[p.Target]
			fn(pointRef{space: tg.Space, address: tg.Address + uint64(p.Element), id: tg.ID, sub: p.Sub, field: p.Field, typ: p.Type, v: p.V})
		}
		return
	}
	if len(tx.Values) == 0 || len(tx.Targets) == 0 || tx.CodeName == "mask_write_register" {
		return
	}
	for i, v := range tx.Values {
		num, typ, ok := numeric(v)
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
		fn(pointRef{space: tg.Space, address: addr, id: tg.ID, field: protocols.FieldValue, typ: typ, v: num})
	}
}

func numeric(v protocols.Value) (float64, protocols.NumType, bool) {
	switch v.Kind {
	case protocols.ValueInt:
		return float64(v.Int), protocols.NumType{}, true
	case protocols.ValueBool:
		return float64(v.Int), protocols.TypeBool, true
	case protocols.ValueFloat:
		return v.F, protocols.FloatType(64), !math.IsNaN(v.F)
	}
	return 0, protocols.NumType{}, false
}

// units returns the units a transaction's unit may match in what was
// learned: its own, "" (learned from a connection picked up mid-stream,
// before the unit could be known), and when its own is not known, every
// unit learned for the protocol. An S7 HMI that reconnects (new COTP
// setup, unit "0/2") repeating what it did on a connection picked up
// mid-stream (unit "") is the same client on the same PLC.
func (m *Model) candidates(a *Asset, proto, unit string, fn func(pu uint32) bool) {
	if id := m.puID(proto, unit, false); id != 0 && fn(id) {
		return
	}
	if unit != "" {
		if id := m.puID(proto, "", false); id != 0 {
			fn(id)
		}
		return
	}
	for _, id := range a.pus {
		if u := m.pu(id); u.proto == proto && u.unit != "" && fn(id) {
			return
		}
	}
}

// pointKey builds a point's key; ok is false when a name it needs is not
// interned (and create is false), or the model has 255 fields already.
func (m *Model) pointKey(pu uint32, p pointRef, create bool) (pointKey, bool) {
	k, ok := m.targetKey(pu, p.space, p.id, create)
	if !ok {
		return k, false
	}
	if k.field, ok = m.fieldKey(p.field, create); !ok {
		return k, false
	}
	k.address, k.sub, k.bits = p.address, p.sub, p.typ.Bits
	return k, true
}

// targetKey is the part of a point's key its target gives: the protocol and
// unit, the space and the node id (false when a name is not interned and
// create is false, or cannot be).
func (m *Model) targetKey(pu uint32, space, id string, create bool) (pointKey, bool) {
	k := pointKey{pu: pu}
	if k.space = m.strs.id(space, create); k.space == 0 {
		return k, false
	}
	if id != "" {
		if k.id = m.strs.id(id, create); k.id == 0 {
			return k, false
		}
	}
	return k, true
}

// fieldKey is a point's field id, 0 for the value itself.
func (m *Model) fieldKey(field string, create bool) (uint8, bool) {
	if field == "" {
		return 0, true
	}
	f := m.fields.id(field, create && len(m.fields.list) < 255)
	return uint8(f), f != 0
}

// function finds the learned function of a transaction, nil if none.
func (m *Model) function(a *Asset, tx *protocols.Transaction) *Function {
	client := m.clients.id(tx.Client.IP, false)
	if client == 0 {
		return nil
	}
	var f *Function
	m.candidates(a, tx.Proto, tx.Unit, func(pu uint32) bool {
		f = a.functions[funcKey{client, pu, int32(tx.Code), subcodeOf(tx), tx.Op}]
		return f != nil
	})
	return f
}

// changedCovers reports whether a state-changing operation on the target
// was learned (by any client).
func (m *Model) changedCovers(a *Asset, tx *protocols.Transaction, tg protocols.Target) bool {
	ok := false
	var id, space uint32
	if tg.ID != "" {
		if id = m.strs.id(tg.ID, false); id == 0 {
			return false
		}
	} else if space = m.strs.id(tg.Space, false); space == 0 {
		return false
	}
	m.candidates(a, tx.Proto, tx.Unit, func(pu uint32) bool {
		if id != 0 {
			_, ok = a.changedIDs[nodeKey{pu, id}]
		} else if rs := a.changed[spaceKey{pu, space}]; rs != nil {
			ok = rs.Covers(tg.Address, lastAddress(tg))
		}
		return ok
	})
	return ok
}

// changedGaps names the parts of a target's range that no client wrote or
// commanded while learning, when some other part of it was: "" when none
// of it was (or the target has no range).
func (m *Model) changedGaps(a *Asset, tx *protocols.Transaction, tg protocols.Target) string {
	space := m.strs.id(tg.Space, false)
	if space == 0 {
		return ""
	}
	var gaps []Range
	lo, hi := tg.Address, lastAddress(tg)
	m.candidates(a, tx.Proto, tx.Unit, func(pu uint32) bool {
		if rs := a.changed[spaceKey{pu, space}]; rs != nil {
			if g := rs.Gaps(lo, hi); len(g) > 0 && (len(g) > 1 || g[0] != Range{lo, hi}) {
				gaps = g
			}
		}
		return gaps != nil
	})
	if gaps == nil {
		return ""
	}
	const most = 3
	var b strings.Builder
	for i, g := range gaps[:min(len(gaps), most)] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d..%d", tg.Space, g.Lo, g.Hi)
	}
	if len(gaps) > most {
		fmt.Fprintf(&b, " and %d more ranges", len(gaps)-most)
	}
	return b.String()
}

// pointModel finds the value model of a point, false if none.
func (m *Model) pointModel(a *Asset, tx *protocols.Transaction, p pointRef) (ValueModel, bool) {
	var vm ValueModel
	found := false
	m.candidates(a, tx.Proto, tx.Unit, func(pu uint32) bool {
		k, ok := m.pointKey(pu, p, false)
		if ok {
			vm, found = a.points.get(k)
		}
		return found
	})
	return vm, found
}

func (m *Model) detect(a *Asset, tx *protocols.Transaction, now time.Time, out []finding.Finding) []finding.Finding {
	// Names are built only when something is found: the common path allocates nothing.
	var serverName, clientName string
	server := func() string {
		if serverName == "" {
			serverName = m.names.Text(tx.Server.IP)
		}
		return serverName
	}
	client := func() string {
		if clientName == "" {
			clientName = m.names.Text(tx.Client.IP)
		}
		return clientName
	}
	find := func(kind, msg string, parts ...string) *finding.Finding {
		out = append(out, finding.Finding{Key: finding.NewKey(kind, append([]string{server()}, parts...)...), Time: now, Asset: server(),
			Message: msg})
		return &out[len(out)-1]
	}
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	addr := func(n uint64) string { return strconv.FormatUint(n, 10) }
	what := func() string { return describe(tx) }
	if a.served(tx.Proto) == 0 {
		find("new_protocol", fmt.Sprintf("%s spoke %s for the first time (%s from %s)", server(), tx.Proto, what(), client()), tx.Proto)
	}
	if tx.Outcome == protocols.OutcomeUnsolicited || tx.FunctionUnknown {
		return out // the device reporting by itself, or a response to a request not seen: no client's function
	}
	lk := linkKey{m.clients.id(tx.Client.IP, false), m.strs.id(tx.Proto, false)}
	var l *Link
	if lk.client != 0 && lk.proto != 0 {
		l = a.links[lk]
	}
	switch {
	case l == nil && tx.Op.ChangesState():
		find("write_from_new_client", client()+" sent "+what()+" to "+server()+", which it never did while the baseline was learned",
			client(), tx.Proto)
	case l == nil:
		find("new_link", client()+" talked "+tx.Proto+" to "+server()+" for the first time ("+what()+")", client(), tx.Proto)
	default:
		l.seen = max(l.seen, now.UnixNano()) // the client still talks to the asset (Tick)
	}
	if l == nil {
		// Tracked for bursts only: detection never adds to the baseline.
		ulk := unlearnedKey{tx.Client.IP, tx.Proto}
		if l = a.unlearned[ulk]; l == nil {
			if a.unlearned == nil {
				a.unlearned = map[unlearnedKey]*Link{}
			}
			l = &Link{First: now}
			if len(a.unlearned) < maxUnlearnedLinks {
				a.unlearned[ulk] = l
			}
		}
	} else if f := m.function(a, tx); f == nil {
		nf := find("new_function", client()+" used "+what()+" on "+server()+unitText(tx.Unit)+" for the first time",
			client(), tx.Proto, tx.Unit, num(int64(tx.Code)), num(int64(subcodeOf(tx))))
		if tx.Op == protocols.OpSession {
			nf.Lower, nf.LowerWhy = 3, "a known client setting up its session (a reconnect)"
		}
	} else {
		f.Seen = max(f.Seen, now.UnixNano())
		f.Quiet = false
		f.Late = tx.Outcome == protocols.OutcomeNoResponse
	}
	moved := m.countRates(l, tx, now, false)
	out = m.checkRates(l, moved, tx, now, out)
	if !tx.Op.ChangesState() {
		return out
	}
	for _, tg := range tx.Targets {
		if m.changedCovers(a, tx, tg) {
			continue
		}
		where, which := tg.ID, "which"
		if where == "" {
			var wb [64]byte
			where = string(appendRange(wb[:0], tg))
			if gaps := m.changedGaps(a, tx, tg); gaps != "" {
				which = "of which " + gaps // the rest of the range was written while learning
			}
		}
		f := find("write_to_unseen_target", client()+" sent "+opName(tx)+" to "+where+" on "+server()+unitText(tx.Unit)+", "+which+
			" no client wrote or commanded while learning", tx.Proto, tx.Unit, tg.Space, addr(tg.Address), tg.ID)
		f.Space, f.Address, f.HasAddress = tg.Space, tg.Address, tg.ID == ""
		if tg.ID == "" && m.polls(a, tx, tg) {
			f.Lower, f.LowerWhy = 2, "the client reads these points cyclically: an HMI writing back a value it displays?"
		}
	}
	eachPoint(tx, func(p pointRef) {
		vm, found := m.pointModel(a, tx, p)
		if !found {
			if p.sub != 0 && !a.capped && m.changedCovers(a, tx, protocols.Target{Space: p.space, Address: p.address}) {
				// the byte was written, but never this bit of it
				f := find("write_to_unseen_target", fmt.Sprintf("%s wrote %s %s on %s%s, a point never written while learning", client(), formatNum(p.v),
					pointName(p), server(), unitText(tx.Unit)), tx.Proto, tx.Unit, p.space, addr(p.address), num(int64(p.sub)))
				f.Space, f.Address, f.HasAddress = p.space, p.address, true
			}
			return
		}
		if vm.Type == (protocols.NumType{}) {
			vm.Type = p.typ // learned from a dissector without types, or an older baseline
		}
		verdict, why := vm.Judge(p.v, m.cfg.ValueMargin)
		isParam := p.field != protocols.FieldValue && p.field != protocols.FieldOp
		if verdict == Fits || (verdict == Outside && isParam) {
			// a command's count or times moving within an order of magnitude is the same operation
			return
		}
		name := pointName(p)
		// The verdict is part of the key: a write an order of magnitude out
		// is its own alert at full severity, never a repeat folded into (or
		// regulated, or marked normal, as) a point's mild deviations.
		degree := "far"
		if verdict == Outside {
			degree = "outside"
		}
		f := find("value_out_of_range", fmt.Sprintf("%s wrote %s to %s on %s%s: %s; %s", client(), valueText(p), name, server(), unitText(tx.Unit), why,
			vm.Describe()), tx.Proto, tx.Unit, p.space, addr(p.address), p.id, num(int64(p.sub)), p.field, degree)
		if verdict == Outside {
			f.Lower, f.LowerWhy = 3, "outside the learned range, but not by an order of magnitude"
		}
		f.Space, f.Address, f.HasAddress = p.space, p.address, p.id == ""
	})
	return out
}

// checkRates reports a burst of writes, controls or exceptions well above
// the learned maxima in a sliding window, once per burst (rate.newBurst).
func (m *Model) checkRates(l *Link, moved [2]*rate, tx *protocols.Transaction, now time.Time, out []finding.Finding) []finding.Finding {
	for i, r := range moved {
		if r == nil {
			continue
		}
		factor, slack := uint32(2), uint32(10)
		if i == 1 {
			factor, slack = 3, 5
		}
		window, n, learned, ok := r.newBurst(factor, slack)
		if !ok {
			continue
		}
		server, client := m.names.Text(tx.Server.IP), m.names.Text(tx.Client.IP)
		if i == 1 {
			out = append(out, finding.Finding{Key: finding.NewKey("exception_burst", server, client), Time: now, Asset: server,
				Message: fmt.Sprintf("%s drew %d exception responses from %s within %s (learned at most %d in any %s): probing?",
					client, n, server, window, learned, window)})
			continue
		}
		class := "writes"
		if tx.Op == protocols.OpControl {
			class = "control commands"
		}
		msg := fmt.Sprintf("%s sent %d %s to %s within %s; at most %d were learned in any %s", client, n, class, server, window,
			learned, window)
		if window == longWindow && r.Partial {
			msg += fmt.Sprintf(" (learning saw less than 10 s of them: ten times their 1 s peak, %d, is the measure)", r.longMax())
		}
		out = append(out, finding.Finding{Key: finding.NewKey("write_burst", server, client, class), Time: now, Asset: server, Message: msg})
	}
	return out
}

// polls reports whether the client reads the target cyclically (at least
// minPolls reads learned).
func (m *Model) polls(a *Asset, tx *protocols.Transaction, tg protocols.Target) bool {
	client, space := m.clients.id(tx.Client.IP, false), m.strs.id(tg.Space, false)
	if client == 0 || space == 0 {
		return false
	}
	found := false
	m.candidates(a, tx.Proto, tx.Unit, func(pu uint32) bool {
		for k, f := range a.functions {
			if k.client != client || k.pu != pu || k.op != protocols.OpRead || f.Count < minPolls {
				continue
			}
			if rs := f.ranges(space); rs != nil && rs.Covers(tg.Address, lastAddress(tg)) {
				found = true
				return true
			}
		}
		return false
	})
	return found
}

// minPolls reads of a range make it "polled".
const minPolls = 10

// Tick checks cyclic traffic that stopped; call it as packet time advances
// (it does the work at most every few seconds of packet time). A poll is
// reported stopped once its client no longer talks to the device either:
// a client that stops one poll and goes on with others, or with commands,
// changed what it reads (an HMI screen closed, a master done with its
// class polls), as a client that starts reading new points did, which is
// no alert either; a client gone quiet is the device lost from view.
func (m *Model) Tick(now time.Time) []finding.Finding {
	if protocols.Elapsed(now, m.lastTick) < 5*time.Second {
		return nil
	}
	m.lastTick = now
	var out []finding.Finding
	for _, a := range m.assets {
		if m.learning(a, now) {
			continue
		}
		for fk, f := range a.functions { // map order: sorted below so alert ids are stable
			if f.Quiet || f.Count < 10 || f.Period <= 0 || f.Jitter > f.Period {
				continue
			}
			limit := math.Max(math.Max(5*f.Period, f.Period+10*f.Jitter), 10)
			if f.Late {
				limit += lateBy(m.pu(fk.pu).proto).Seconds()
			}
			if float64(now.UnixNano()-m.heardSince(max(f.Seen, f.Last), limit))/1e9 > limit {
				pu := m.pu(fk.pu)
				if l := a.links[linkKey{fk.client, m.strs.id(pu.proto, false)}]; l != nil &&
					float64(now.UnixNano()-max(l.seen, l.Last.UnixNano()))/1e9 <= limit {
					continue // the client still talks to the device: it changed what it polls
				}
				f.Quiet = true
				server := a.Server.String()
				client := m.clients.addr(fk.client)
				out = append(out, finding.Finding{Key: finding.NewKey("cyclic_stopped", server, client.String(), pu.proto, pu.unit,
					fmt.Sprint(fk.code)), Time: now, Asset: server, Source: finding.HostOf(client), Dest: finding.HostOf(a.Server),
					Message: fmt.Sprintf("%s stopped polling %s (%s code %d, every %s until %s)", client, server, pu.proto,
						fk.code, formatPeriod(f.Period), time.Unix(0, max(f.Seen, f.Last)).UTC().Format(time.RFC3339))})
			}
		}
	}
	// Two functions can share a key (one code, two subcodes or ops): the
	// message, which names the period and the last poll, decides between
	// them, so the alert raised first is the same on every run.
	slices.SortFunc(out, func(x, y finding.Finding) int {
		return cmp.Or(strings.Compare(x.Key.String(), y.Key.String()), strings.Compare(x.Message, y.Message))
	})
	return out
}

// lateBy is how long after its request an unanswered transaction reaches
// the model: the dissector's response timeout (its profile's
// ResponseTimeout), 5 minutes for a protocol that does not say.
func lateBy(proto string) time.Duration {
	if p, ok := protocols.ProfileOf(proto); ok && p.ResponseTimeout > 0 {
		return p.ResponseTimeout
	}
	return 5 * time.Minute
}

// Heard notes a packet the monitor heard at ns: any packet, ARP and
// chatter too, not only transactions. While the network learns it learns
// the network's longest silence; then a silence abnormal for it
// (abnormalSilence) that is also longer than a poll's own stop limit is a
// monitor, or a feed, that heard nothing, not a poll that stopped: Tick
// judges the poll's absence from the end of that silence. A model loaded
// from records heard nothing since its save: its first packet ends such a
// silence too, and restarts the clock of every poll.
func (m *Model) Heard(ns int64) {
	gap := time.Duration(ns - m.heard)
	switch {
	case !m.heardAny:
		m.heardAny, m.heard = true, ns
		if m.ps.loaded {
			m.silences = append(m.silences, silence{0, ns})
		}
	case gap <= m.quiet: // most packets stop here
	case m.netStart.IsZero() || m.networkLearning(time.Unix(0, ns)):
		m.quiet = gap
		m.ps.metaDirty = true
	case gap > m.abnormalSilence():
		if len(m.silences) == maxSilences {
			m.silences = append(m.silences[:0], m.silences[1:]...)
		}
		m.silences = append(m.silences, silence{m.heard, ns})
	}
	m.heard = max(m.heard, ns)
}

// heardSince is since, or the end of the latest silence after it that
// lasted longer than limit seconds.
func (m *Model) heardSince(since int64, limit float64) int64 {
	for i := len(m.silences) - 1; i >= 0 && m.silences[i].to > since; i-- {
		if s := m.silences[i]; float64(s.to-s.from)/1e9 > limit {
			return s.to
		}
	}
	return since
}

func formatPeriod(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.0f ms", s*1000)
	}
	return fmt.Sprintf("%.1f s", s)
}

// describe names a transaction for messages: "write_multiple_registers (modbus 16) on holding_register 10..12".
func describe(tx *protocols.Transaction) string {
	var buf [96]byte
	b := appendOpName(buf[:0], tx)
	if len(tx.Targets) > 0 {
		tg := tx.Targets[0]
		b = append(b, " on "...)
		if tg.ID != "" {
			b = append(b, tg.ID...)
		} else {
			b = appendRange(b, tg)
		}
	}
	return string(b)
}

// opName names a transaction's function: "write_single_register (modbus 6)".
func opName(tx *protocols.Transaction) string {
	var buf [64]byte
	return string(appendOpName(buf[:0], tx))
}

// appendOpName appends opName: messages are built for every finding of
// an alert flood, folded or not, and fmt costs ten times as much.
func appendOpName(b []byte, tx *protocols.Transaction) []byte {
	name := tx.CodeName
	if name == "" {
		name = tx.Op.String()
	}
	b = append(append(append(append(b, name...), " ("...), tx.Proto...), ' ')
	return append(strconv.AppendInt(b, int64(tx.Code), 10), ')')
}

// appendRange appends an addressed target's space and range: "holding_register 10..12".
func appendRange(b []byte, tg protocols.Target) []byte {
	b = strconv.AppendUint(append(append(b, tg.Space...), ' '), tg.Address, 10)
	return strconv.AppendUint(append(b, ".."...), lastAddress(tg), 10)
}

// unitText names a unit for messages, nothing when it is not known.
func unitText(unit string) string {
	if unit == "" {
		return ""
	}
	return " (unit " + unit + ")"
}

// pointName names a point or a command parameter: "holding_register 7",
// "M 101.5", "g12v1 3 (on_ms)".
func pointName(p pointRef) string {
	s := p.id
	if s == "" {
		s = fmt.Sprintf("%s %d", p.space, p.address)
		if p.sub != 0 {
			s += fmt.Sprintf(".%d", p.sub-1)
		}
	}
	if p.field != protocols.FieldValue {
		s += " (" + p.field + ")"
	}
	return s
}

// valueText renders a written number, codes in hex.
func valueText(p pointRef) string {
	if p.typ.Kind == protocols.NumCode {
		return fmt.Sprintf("0x%02x", uint64(p.v))
	}
	return formatNum(p.v)
}

// Keys is the number of learned keys over all assets.
func (m *Model) Keys() int { return m.keys }

// AssetCount is the number of server assets with a baseline.
func (m *Model) AssetCount() int { return len(m.assets) }
