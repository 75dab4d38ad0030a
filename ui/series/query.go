package series

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Info describes a series.
type Info struct {
	Key     string    `json:"key"`
	Kind    string    `json:"kind"` // value or count
	Point   *Point    `json:"point,omitempty"`
	Traffic *Traffic  `json:"traffic,omitempty"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
	Count   uint64    `json:"count"`
	Writers []string  `json:"writers,omitempty"` // clients seen writing (up to 4)
}

func (k Kind) String() string {
	if k == KindCount {
		return "count"
	}
	return "value"
}

func (s *Store) info(sr *series) Info {
	in := Info{Key: sr.key, Kind: sr.kind.String(), First: time.Unix(0, sr.first).UTC(), Last: time.Unix(0, sr.last).UTC(), Count: sr.count}
	in.Point, in.Traffic, _ = ParseKey(sr.key)
	for _, w := range sr.writers {
		in.Writers = append(in.Writers, w.String())
	}
	return in
}

// List describes the series of an asset (its points, its traffic and its
// links' traffic), sorted by key.
func (s *Store) List(asset string) []Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Info, 0, len(s.byAsset[asset]))
	for _, sr := range s.byAsset[asset] {
		out = append(out, s.info(sr))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Query asks for a series' buckets between Since and Until (zero: the
// series' first and last observation), at most MaxPoints of them.
type Query struct {
	Key       string
	Since     time.Time
	Until     time.Time
	MaxPoints int // 0: DefaultPoints; 2..MaxPoints
}

// Sample is one point of a query's answer: a bucket, or adjacent buckets
// merged down to the points asked for.
type Sample struct {
	T    int64   `json:"t"` // start, Unix milliseconds
	N    uint32  `json:"n"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Last float64 `json:"last"`
}

// Result is a query's answer.
type Result struct {
	Info
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	Tier        int       `json:"tier"`     // index of the tier read
	TierSeconds float64   `json:"tier_s"`   // its bucket width
	StepSeconds float64   `json:"step_s"`   // the width of a sample (a multiple of tier_s)
	Retained    time.Time `json:"retained"` // the tier holds nothing older
	Clamped     bool      `json:"clamped"`  // since was older than anything kept
	Samples     []Sample  `json:"samples"`  // ascending time; intervals without data are absent
	Merged      bool      `json:"merged"`   // buckets were merged to fit MaxPoints
}

// maxRead: a query reads up to this many buckets of a tier (or 8 per
// point asked) before it turns to a coarser one.
const maxRead = 4096

// Errors of a query.
var (
	ErrNoSeries = errors.New("no such series")
	ErrRange    = errors.New("bad range")
)

// Query reads a series.
func (s *Store) Query(q Query) (Result, error) {
	if q.MaxPoints == 0 {
		q.MaxPoints = DefaultPoints
	}
	if q.MaxPoints < 2 || q.MaxPoints > MaxPoints {
		return Result{}, fmt.Errorf("%w: max_points %d: want 2 to %d", ErrRange, q.MaxPoints, MaxPoints)
	}
	s.mu.Lock()
	sr := s.series[q.Key]
	if sr == nil {
		s.mu.Unlock()
		return Result{}, ErrNoSeries
	}
	res := Result{Info: s.info(sr)}
	// retention counts back from the series' own last observation
	now, id, kind := sr.last, sr.id, sr.kind
	since, until := q.Since.UnixNano(), q.Until.UnixNano()
	if q.Since.IsZero() {
		since = sr.first
	}
	if q.Until.IsZero() {
		until = sr.last + int64(s.cfg.Tiers[0].Width)
	}
	tiers := s.cfg.Tiers
	if until <= since {
		s.mu.Unlock()
		return Result{}, fmt.Errorf("%w: until must be after since", ErrRange)
	}
	if longest := tiers[len(tiers)-1].Keep; until-since > int64(longest)+int64(tiers[len(tiers)-1].Width) {
		s.mu.Unlock()
		return Result{}, fmt.Errorf("%w: %v is longer than the %v kept", ErrRange, time.Duration(until-since), longest)
	}
	// the finest tier that still holds since, and whose buckets over the
	// range are not too many to read for the points asked
	ti := len(tiers) - 1
	for i, t := range tiers {
		if since >= now-int64(t.Keep) && (until-since)/int64(t.Width) <= int64(max(8*q.MaxPoints, maxRead)) {
			ti = i
			break
		}
	}
	t := tiers[ti]
	w := int64(t.Width)
	if oldest := now - int64(t.Keep); since < oldest {
		since, res.Clamped = oldest, true
		if until <= since {
			until = since + w
		}
	}
	since -= since % w // whole buckets
	res.Tier, res.TierSeconds, res.Retained = ti, t.Width.Seconds(), time.Unix(0, now-int64(t.Keep)).UTC()
	// chunks not yet on disk: the writer's queue and the open one
	span := w * ChunkBuckets
	mem := map[int64][]byte{}
	for _, c := range s.pending {
		if c.id == id && int(c.tier) == ti && c.start+span > since && c.start < until {
			mem[c.start] = c.data
		}
	}
	if ts := &sr.tiers[ti]; ts.open && ts.curIdx >= 0 && ts.start+span > since && ts.start < until {
		mem[ts.start] = ts.encoded(kind)
	}
	s.mu.Unlock()

	var buckets []Bucket
	var derr error
	take := func(start int64, data []byte) {
		bs, err := decodeChunk(kind, start, w, data)
		if err != nil {
			derr = err
		}
		for _, b := range bs {
			if b.T >= since && b.T < until {
				buckets = append(buckets, b)
			}
		}
	}
	from := since - since%span
	err := s.be.scan(id, uint8(ti), from, until, span, func(start int64, data []byte) {
		if _, ok := mem[start]; !ok {
			take(start, data)
		}
	})
	if err != nil {
		return Result{}, err
	}
	for start, data := range mem {
		take(start, data)
	}
	if derr != nil {
		s.cfg.Logf("series %s: %v (the damaged chunk is skipped)", q.Key, derr)
	}
	slices.SortFunc(buckets, func(a, b Bucket) int { return cmp.Compare(a.T, b.T) })
	// merge to at most MaxPoints samples of step, a multiple of the tier width, from since
	k := max(int64(1), (until-since+w*int64(q.MaxPoints-1)-1)/(w*int64(q.MaxPoints-1)))
	step := w * k
	res.Since, res.Until, res.StepSeconds = time.Unix(0, since).UTC(), time.Unix(0, until).UTC(), time.Duration(step).Seconds()
	res.Samples = make([]Sample, 0, min(len(buckets), q.MaxPoints))
	var cur Bucket
	flush := func() {
		if cur.N > 0 {
			res.Samples = append(res.Samples, Sample{T: cur.T / 1e6, N: cur.N, Min: cur.Min, Max: cur.Max, Last: cur.Last})
		}
	}
	for _, b := range buckets {
		g := since + (b.T-since)/step*step
		if cur.N == 0 || g != cur.T {
			flush()
			cur = Bucket{T: g}
		} else {
			res.Merged = true
		}
		if kind == KindCount {
			n := float64(uint64(cur.N) + uint64(b.N))
			cur.merge(b)
			cur.Min, cur.Max, cur.Last = n, n, n
		} else {
			cur.merge(b)
		}
	}
	flush()
	return res, nil
}
