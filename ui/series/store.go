// Package series keeps the dashboard's time series: the values written to
// each process point and reported by it, and the traffic of each asset and
// link. Observations fold into buckets of a few tiers (1 s kept an hour,
// 1 min kept a day, 15 min kept 30 days by default), each tier a ring of
// chunks of 64 buckets compactly encoded (encode.go) and persisted in a
// bbolt file of their own. Memory holds only each series' open chunks, so
// it grows with the number of series, not with time; disk is bounded by the
// tiers' retention (see the budget in bench_test.go).
//
// Time is packet time: a replay of an old capture is kept, retained and
// plotted on its own time.
package series

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Tier is one resolution: buckets of Width, kept for Keep.
type Tier struct {
	Width time.Duration
	Keep  time.Duration
}

// DefaultTiers: a second for the last hour, a minute for the last day,
// a quarter of an hour for 30 days.
var DefaultTiers = []Tier{{time.Second, time.Hour}, {time.Minute, 24 * time.Hour}, {15 * time.Minute, 30 * 24 * time.Hour}}

// ChunkBuckets is the number of buckets of a chunk.
const ChunkBuckets = 64

// Kind tells what a series holds.
type Kind uint8

const (
	KindValue Kind = 1 // numbers: min, max and last per bucket
	KindCount Kind = 2 // events: how many per bucket
)

// Limits of a store and of a query.
const (
	DefaultMaxSeries = 50000
	DefaultPoints    = 600
	MaxPoints        = 2000
	maxWriters       = 4
	maxPending       = 1 << 18 // sealed chunks waiting for a failing disk
)

// Config configures a store.
type Config struct {
	Path      string // bbolt file; "" keeps everything in memory
	Tiers     []Tier // finest first, widths dividing each other; nil: DefaultTiers
	MaxSeries int    // 0: DefaultMaxSeries; more series are refused and counted
	// FlushEvery: how often (wall time) sealed chunks are written, and
	// CheckpointEvery: how often open chunks and metadata are (0: 10 s and
	// 10 min). Only a file store has a writer goroutine.
	FlushEvery, CheckpointEvery time.Duration
	Logf                        func(format string, args ...any)
	// NoSync skips fsync (benchmarks: the footprint does not depend on it).
	NoSync bool
	// NoWriter: no writer goroutine; the caller calls Flush and Checkpoint.
	NoWriter bool
}

// Stats are a store's counters.
type Stats struct {
	Series    int    `json:"series"`
	Refused   uint64 `json:"refused"`    // observations of series over the cap
	Late      uint64 `json:"late"`       // observations older than a tier's open chunk
	Pending   int    `json:"pending"`    // sealed chunks not yet written
	DiskBytes int64  `json:"disk_bytes"` // file size (a memory store: bytes of chunks)
	WriteErrs uint64 `json:"write_errors"`
}

// Store keeps the series. Its methods are safe for concurrent use.
type Store struct {
	cfg     Config
	be      backend
	mu      sync.Mutex
	series  map[string]*series
	byAsset map[string][]*series
	nextID  uint32
	now     int64 // latest observation, Unix ns
	pruned  int64 // packet time of the last prune
	pending []chunkRec
	dirty   map[string]*series
	deleted []string
	stats   Stats
	flushMu sync.Mutex
	stop    chan struct{}
	done    chan struct{}
}

type series struct {
	id      uint32
	key     string
	asset   string
	kind    Kind
	first   int64
	last    int64
	count   uint64
	writers []netip.Addr
	loaded  bool // from the file: open chunks may be on disk to resume
	tiers   []tierState
}

type tierState struct {
	start   int64 // chunk start, Unix ns
	open    bool
	enc     []byte
	e       encoder
	curIdx  int32
	cur     Bucket
	changed bool // since the last checkpoint
}

// Open opens (creating) a store.
func Open(cfg Config) (*Store, error) {
	if cfg.Tiers == nil {
		cfg.Tiers = DefaultTiers
	}
	for i, t := range cfg.Tiers {
		if t.Width <= 0 || t.Keep < t.Width*ChunkBuckets || (i > 0 && (t.Width%cfg.Tiers[i-1].Width != 0 || t.Keep < cfg.Tiers[i-1].Keep)) {
			return nil, fmt.Errorf("series: tier %d (%v kept %v): widths must grow by multiples, each kept at least %d buckets and no shorter than the finer", i, t.Width, t.Keep, ChunkBuckets)
		}
	}
	if cfg.MaxSeries <= 0 {
		cfg.MaxSeries = DefaultMaxSeries
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 10 * time.Second
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 10 * time.Minute
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	s := &Store{cfg: cfg, series: map[string]*series{}, byAsset: map[string][]*series{}, dirty: map[string]*series{}, nextID: 1}
	if cfg.Path == "" {
		s.be = newMem()
		return s, nil
	}
	be, err := openBolt(cfg.Path, cfg.NoSync)
	if err != nil {
		return nil, fmt.Errorf("series: %s: %w", cfg.Path, err)
	}
	s.be = be
	err = be.load(func(key string, m seriesMeta) {
		if len(s.series) >= cfg.MaxSeries {
			return
		}
		sr := s.newSeries(key, m.Kind, m.ID)
		sr.first, sr.last, sr.count, sr.loaded = m.First, m.Last, m.Count, true
		for _, w := range m.Writers {
			if a, err := netip.ParseAddr(w); err == nil && len(sr.writers) < maxWriters {
				sr.writers = append(sr.writers, a)
			}
		}
		s.nextID = max(s.nextID, m.ID+1)
		s.now = max(s.now, m.Last)
	})
	if err != nil {
		be.close()
		return nil, err
	}
	s.pruned = s.now
	if !cfg.NoWriter {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.writer()
	}
	return s, nil
}

func (s *Store) writer() {
	defer close(s.done)
	flush, ckpt := time.NewTicker(s.cfg.FlushEvery), time.NewTicker(s.cfg.CheckpointEvery)
	defer flush.Stop()
	defer ckpt.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-flush.C:
			if err := s.Flush(); err != nil {
				s.cfg.Logf("series: %v", err)
			}
		case <-ckpt.C:
			if err := s.Checkpoint(); err != nil {
				s.cfg.Logf("series: %v", err)
			}
		}
	}
}

// Close checkpoints everything and closes the file.
func (s *Store) Close() error {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
	err := s.Checkpoint()
	if cerr := s.be.close(); err == nil {
		err = cerr
	}
	return err
}

// newSeries registers a series; callers hold s.mu (or are loading).
func (s *Store) newSeries(key string, kind Kind, id uint32) *series {
	if id == 0 {
		id = s.nextID
		s.nextID++
	}
	sr := &series{id: id, key: key, asset: assetOf(key), kind: kind, tiers: make([]tierState, len(s.cfg.Tiers))}
	for i := range sr.tiers {
		sr.tiers[i].curIdx = -1
	}
	s.series[key] = sr
	s.byAsset[sr.asset] = append(s.byAsset[sr.asset], sr)
	return sr
}

// get finds or creates a series; nil when the cap refuses it. Callers hold s.mu.
func (s *Store) get(key []byte, kind Kind) *series {
	if sr := s.series[string(key)]; sr != nil {
		if sr.kind != kind {
			return nil
		}
		return sr
	}
	if len(s.series) >= s.cfg.MaxSeries || s.nextID == math.MaxUint32 {
		s.stats.Refused++
		return nil
	}
	return s.newSeries(string(key), kind, 0)
}

// observe folds v at t (Unix ns) into a series; callers hold s.mu.
func (s *Store) observe(sr *series, t int64, v float64) {
	if t <= 0 {
		return
	}
	if sr.count == 0 || t < sr.first {
		sr.first = t
	}
	sr.last = max(sr.last, t)
	sr.count++
	s.now = max(s.now, t)
	if s.cfg.Path == "" && s.now-s.pruned >= int64(time.Hour) {
		s.be.prune(s.cutsLocked(), 0) // a memory store has no writer: retention runs here
	}
	s.dirty[sr.key] = sr
	for i := range sr.tiers {
		s.observeTier(sr, i, t, v)
	}
}

func (s *Store) observeTier(sr *series, i int, t int64, v float64) {
	ts := &sr.tiers[i]
	w := int64(s.cfg.Tiers[i].Width)
	span := w * ChunkBuckets
	chunk := t - t%span
	switch {
	case !ts.open:
		s.begin(sr, i, chunk)
	case chunk > ts.start:
		s.seal(sr, i)
		s.begin(sr, i, chunk)
	case chunk < ts.start:
		s.stats.Late++
		return
	}
	idx := int32((t - chunk) / w)
	if idx < ts.curIdx {
		idx = ts.curIdx // a little late (responses finish out of order): the current bucket
	}
	if idx > ts.curIdx {
		if ts.curIdx >= 0 {
			ts.enc = ts.e.append(ts.enc, sr.kind, ts.curIdx, &ts.cur)
		}
		ts.cur, ts.curIdx = Bucket{T: chunk + int64(idx)*w}, idx
	}
	ts.cur.add(v)
	ts.changed = true
}

// begin opens the chunk at start, resuming one checkpointed before a restart.
func (s *Store) begin(sr *series, i int, start int64) {
	ts := &sr.tiers[i]
	*ts = tierState{start: start, open: true, e: newEncoder(), curIdx: -1}
	if !sr.loaded {
		return
	}
	data, err := s.be.get(sr.id, uint8(i), start)
	if err != nil || len(data) == 0 {
		return
	}
	bs, err := decodeChunk(sr.kind, start, int64(s.cfg.Tiers[i].Width), data)
	if err != nil || len(bs) == 0 {
		return
	}
	for _, b := range bs[:len(bs)-1] {
		ts.enc = ts.e.append(ts.enc, sr.kind, int32((b.T-start)/int64(s.cfg.Tiers[i].Width)), &b)
	}
	ts.cur = bs[len(bs)-1]
	ts.curIdx = int32((ts.cur.T - start) / int64(s.cfg.Tiers[i].Width))
}

// encoded returns the open chunk's bytes with the current bucket.
func (ts *tierState) encoded(kind Kind) []byte {
	out := slices.Clip(ts.enc)
	if ts.curIdx >= 0 {
		e := ts.e
		out = e.append(out, kind, ts.curIdx, &ts.cur)
	}
	return out
}

// seal hands the open chunk to the writer.
func (s *Store) seal(sr *series, i int) {
	ts := &sr.tiers[i]
	if ts.curIdx >= 0 {
		rec := chunkRec{id: sr.id, tier: uint8(i), start: ts.start, data: ts.encoded(sr.kind)}
		if s.cfg.Path == "" {
			s.be.write([]chunkRec{rec}, nil, nil)
		} else {
			if len(s.pending) >= maxPending {
				s.pending = s.pending[1:]
				s.stats.WriteErrs++
			}
			s.pending = append(s.pending, rec)
		}
	}
	*ts = tierState{curIdx: -1}
}

// Flush writes the sealed chunks, and prunes what the retention dropped
// (every hour of packet time).
func (s *Store) Flush() error { return s.flush(false) }

// Checkpoint writes the sealed chunks, the open ones and the metadata.
func (s *Store) Checkpoint() error { return s.flush(true) }

func (s *Store) flush(all bool) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	chunks := s.pending
	s.pending = nil
	var metas map[string]*seriesMeta
	var deleted []string
	if all {
		metas = make(map[string]*seriesMeta, len(s.dirty))
		for key, sr := range s.dirty {
			m := &seriesMeta{ID: sr.id, Kind: sr.kind, First: sr.first, Last: sr.last, Count: sr.count}
			for _, w := range sr.writers {
				m.Writers = append(m.Writers, w.String())
			}
			metas[key] = m
			for i := range sr.tiers {
				if ts := &sr.tiers[i]; ts.open && ts.changed && ts.curIdx >= 0 {
					chunks = append(chunks, chunkRec{id: sr.id, tier: uint8(i), start: ts.start, data: ts.encoded(sr.kind)})
					ts.changed = false
				}
			}
		}
		clear(s.dirty)
		deleted, s.deleted = s.deleted, nil
	}
	prune := s.now-s.pruned >= int64(time.Hour)
	s.mu.Unlock()
	if len(chunks) > 0 || len(metas) > 0 || len(deleted) > 0 {
		if err := s.be.write(chunks, metas, deleted); err != nil {
			s.mu.Lock()
			s.stats.WriteErrs++
			if len(s.pending)+len(chunks) <= maxPending {
				s.pending = append(chunks, s.pending...) // tried again at the next flush
			}
			s.mu.Unlock()
			return fmt.Errorf("writing %d chunks: %w", len(chunks), err)
		}
	}
	if prune || all {
		return s.prune()
	}
	return nil
}

// prune drops the chunks past each tier's retention, counted back from
// each series' own last observation (a replay of an old capture keeps its
// history; a register written once keeps its last writes), and the chunks
// of series no longer kept; in transactions of pruneBatch deletions.
func (s *Store) prune() error {
	s.mu.Lock()
	cuts := s.cutsLocked()
	s.mu.Unlock()
	for {
		n, err := s.be.prune(cuts, pruneBatch)
		if err != nil || n < pruneBatch {
			return err
		}
	}
}

// cutsLocked returns the retention cuts at the store's time. It also seals
// the open chunks of series silent for longer than a chunk (their memory
// goes), and, when the store holds more than 90% of MaxSeries, drops the
// series silent for longer than the longest retention, the oldest first.
// Callers hold s.mu; the cuts judge by a snapshot of the series.
func (s *Store) cutsLocked() []pruneCut {
	now := s.now
	s.pruned = now
	longest := int64(s.cfg.Tiers[len(s.cfg.Tiers)-1].Keep)
	var silent []*series
	for _, sr := range s.series {
		for i, t := range s.cfg.Tiers {
			if ts := &sr.tiers[i]; ts.open && sr.last < now-int64(t.Width)*ChunkBuckets {
				s.seal(sr, i)
			}
		}
		if sr.last < now-longest {
			silent = append(silent, sr)
		}
	}
	if over := len(s.series) - s.cfg.MaxSeries*9/10; over > 0 {
		slices.SortFunc(silent, func(a, b *series) int { return cmp.Compare(a.last, b.last) })
		for _, sr := range silent[:min(over, len(silent))] {
			s.dropSeries(sr)
		}
	}
	last := make(map[uint32]int64, len(s.series))
	for _, sr := range s.series {
		last[sr.id] = sr.last
	}
	cuts := make([]pruneCut, 0, len(s.cfg.Tiers))
	for i, t := range s.cfg.Tiers {
		keep := int64(t.Keep) + int64(t.Width)*ChunkBuckets - 1
		cuts = append(cuts, pruneCut{tier: uint8(i), scan: now - keep, drop: func(id uint32, start int64) bool {
			l, ok := last[id]
			return !ok || start < l-keep // a series dropped, or a chunk past its retention
		}})
	}
	return cuts
}

// pruneBatch bounds the deletions of one prune transaction.
const pruneBatch = 20000

func (s *Store) dropSeries(sr *series) {
	delete(s.series, sr.key)
	delete(s.dirty, sr.key)
	list := s.byAsset[sr.asset]
	if i := slices.Index(list, sr); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(s.byAsset, sr.asset)
	} else {
		s.byAsset[sr.asset] = list
	}
	s.deleted = append(s.deleted, sr.key)
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	st.Series, st.Pending = len(s.series), len(s.pending)
	s.mu.Unlock()
	st.DiskBytes = s.be.size()
	return st
}

// Now is the time of the latest observation.
func (s *Store) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Unix(0, s.now).UTC()
}

// Tiers returns the store's tiers.
func (s *Store) Tiers() []Tier { return slices.Clone(s.cfg.Tiers) }
