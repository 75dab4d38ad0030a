package series

import (
	"math"
	"path/filepath"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func observeN(s *Store, key string, kind Kind, from int64, step time.Duration, n int, v func(i int) float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.get([]byte(key), kind)
	if sr == nil {
		return
	}
	for i := 0; i < n; i++ {
		s.observe(sr, from+int64(i)*int64(step), v(i))
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	in := []Bucket{
		{N: 1, Min: 5, Max: 5, Last: 5}, {N: 1, Min: 5, Max: 5, Last: 5}, {N: 3, Min: -2, Max: 70000, Last: 1.5},
		{N: 60, Min: 0.1, Max: math.MaxFloat64, Last: math.Inf(-1)}, {N: 2, Min: math.Copysign(0, -1), Max: 0, Last: 0},
		{N: math.MaxUint32, Min: 1 << 60, Max: 1 << 60, Last: 1 << 60},
	}
	e := newEncoder()
	var enc []byte
	idx := []int32{0, 1, 5, 6, 40, 63}
	for i := range in {
		enc = e.append(enc, KindValue, idx[i], &in[i])
	}
	out, err := decodeChunk(KindValue, 1000, 10, enc)
	if err != nil || len(out) != len(in) {
		t.Fatalf("decoded %d buckets, %v", len(out), err)
	}
	for i := range in {
		in[i].T = 1000 + int64(idx[i])*10
		if out[i] != in[i] && !(math.Signbit(in[i].Min) && out[i].Min == 0) {
			t.Errorf("bucket %d: %+v, want %+v", i, out[i], in[i])
		}
	}
	if len(enc) > 2+2+12+30 {
		t.Logf("%d bytes", len(enc))
	}
	// a constant polled register: 2 bytes a bucket
	e = newEncoder()
	enc = nil
	for i := int32(0); i < ChunkBuckets; i++ {
		enc = e.append(enc, KindValue, i, &Bucket{N: 1, Min: 1200, Max: 1200, Last: 1200})
	}
	if len(enc) != 2*ChunkBuckets+2 {
		t.Errorf("constant register: %d bytes for %d buckets", len(enc), ChunkBuckets)
	}
	for _, bad := range [][]byte{{0}, {1}, {1, 0x80 | 0x40 | codeSame}, {1, 0x40 | codeF64, 1, 2}, {65, 1}} {
		if _, err := decodeChunk(KindValue, 0, 1, bad); err == nil {
			t.Errorf("% x decoded without error", bad)
		}
	}
}

func TestQueryDownsampling(t *testing.T) {
	s, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	key := "v|10.0.0.1|modbus|1|holding_register|100|0||write|"
	// 2 hours of a 1 s poll: a sawtooth 0..99
	observeN(s, key, KindValue, t0, time.Second, 7200, func(i int) float64 { return float64(i % 100) })
	// the last hour is kept at 1 s: asked for 600 points it merges by 6 s
	r, err := s.Query(Query{Key: key, Since: time.Unix(0, t0+int64(time.Hour)), Until: time.Unix(0, t0+2*int64(time.Hour)), MaxPoints: 600})
	if err != nil {
		t.Fatal(err)
	}
	if r.Tier != 0 || r.StepSeconds != 7 || len(r.Samples) > 600 || len(r.Samples) < 500 || !r.Merged {
		t.Errorf("last hour: tier %d step %v, %d samples, merged %v", r.Tier, r.StepSeconds, len(r.Samples), r.Merged)
	}
	var n uint64
	for _, p := range r.Samples {
		n += uint64(p.N)
		if p.Min < 0 || p.Max > 99 || p.Min > p.Max {
			t.Fatalf("sample %+v", p)
		}
	}
	if n != 3600 {
		t.Errorf("the last hour's samples count %d observations, want 3600", n)
	}
	// the whole two hours: the first is past the 1 s tier's hour, read at 1 min
	r, err = s.Query(Query{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if r.Tier != 1 || r.StepSeconds != 60 || len(r.Samples) != 120 || r.Merged {
		t.Errorf("two hours: tier %d step %v, %d samples", r.Tier, r.StepSeconds, len(r.Samples))
	}
	if p := r.Samples[0]; p.N != 60 || p.Min != 0 || p.Max != 59 || p.Last != 59 || p.T != t0/1e6 {
		t.Errorf("first minute: %+v", p)
	}
	// bounds
	for _, q := range []Query{{Key: key, MaxPoints: 1}, {Key: key, MaxPoints: MaxPoints + 1},
		{Key: key, Since: time.Unix(0, t0+10), Until: time.Unix(0, t0)},
		{Key: key, Since: time.Unix(0, t0-int64(40*24*time.Hour)), Until: time.Unix(0, t0)}} {
		if _, err := s.Query(q); err == nil {
			t.Errorf("%+v: no error", q)
		}
	}
	if _, err := s.Query(Query{Key: "v|nope"}); err != ErrNoSeries {
		t.Errorf("unknown key: %v", err)
	}
}

func TestRetentionAndRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "series.db")
	tiers := []Tier{{time.Second, 2 * time.Minute}, {time.Minute, 2 * time.Hour}}
	s, err := Open(Config{Path: path, Tiers: tiers})
	if err != nil {
		t.Fatal(err)
	}
	key := "t|10.0.0.1|||transactions"
	// 3 hours of two transactions a second
	observeN(s, key, KindCount, t0, 500*time.Millisecond, 6*3600*2/2, func(int) float64 { return 1 })
	if err := s.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	// the 1 min tier keeps 2 hours (plus the chunk holding its edge)
	if _, err := s.Query(Query{Key: key, Since: time.Unix(0, t0), Until: time.Unix(0, t0+3*int64(time.Hour))}); err == nil {
		t.Error("a range longer than kept: no error")
	}
	end := t0 + 3*int64(time.Hour)
	r, err := s.Query(Query{Key: key, Since: time.Unix(0, end-2*int64(time.Hour)-int64(time.Minute)), Until: time.Unix(0, end)})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clamped || r.Tier != 1 || len(r.Samples) < 120 || len(r.Samples) > 121 {
		t.Errorf("after retention: clamped %v tier %d, %d samples", r.Clamped, r.Tier, len(r.Samples))
	}
	var kept int
	s.be.scan(1, 1, t0-int64(time.Hour), t0+4*int64(time.Hour), int64(time.Minute)*ChunkBuckets, func(int64, []byte) { kept++ })
	if kept > 3 { // 2 h of 64 min chunks
		t.Errorf("%d chunks of the 1 min tier kept", kept)
	}
	for _, p := range r.Samples {
		if p.N != 120 {
			t.Fatalf("a minute holds %d transactions, want 120: %+v", p.N, p)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// restart: the open chunk resumes, nothing is lost or doubled
	s, err = Open(Config{Path: path, Tiers: tiers})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	observeN(s, key, KindCount, end, 500*time.Millisecond, 60, func(int) float64 { return 1 })
	r, err = s.Query(Query{Key: key, Since: time.Unix(0, end-int64(time.Minute)), Until: time.Unix(0, end+int64(time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	if r.Tier != 0 || len(r.Samples) != 90 || r.Count != 6*3600*2/2+60 {
		t.Errorf("after restart: tier %d, %d samples, count %d", r.Tier, len(r.Samples), r.Count)
	}
	for _, p := range r.Samples {
		if p.N != 2 {
			t.Errorf("sample %+v: want 2 a second", p)
			break
		}
	}
}

func TestSeriesCap(t *testing.T) {
	s, _ := Open(Config{MaxSeries: 2})
	for i, k := range []string{"t|a|||x", "t|b|||x", "t|c|||x"} {
		observeN(s, k, KindCount, t0, time.Second, 1, func(int) float64 { return 1 })
		if _, err := s.Query(Query{Key: k}); (err == nil) != (i < 2) {
			t.Errorf("series %d: %v", i, err)
		}
	}
	if st := s.Stats(); st.Series != 2 || st.Refused != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestRetentionPerSeries: retention counts back from each series' own last
// observation: a capture replayed from years ago keeps its history while
// live traffic moves the store's time on, and a live series loses what is
// past its retention.
func TestRetentionPerSeries(t *testing.T) {
	for _, path := range []string{"", filepath.Join(t.TempDir(), "series.db")} {
		s, err := Open(Config{Path: path, NoWriter: true})
		if err != nil {
			t.Fatal(err)
		}
		old, live := "t|10.0.0.3|||transactions", "t|10.9.9.9|||transactions"
		observeN(s, old, KindCount, t0, time.Second, 3600, func(int) float64 { return 1 })
		later := t0 + int64(2*365*24*time.Hour)
		observeN(s, live, KindCount, later, time.Second, 3*3600, func(int) float64 { return 1 })
		if err := s.Checkpoint(); err != nil { // prunes
			t.Fatal(err)
		}
		r, err := s.Query(Query{Key: old})
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, p := range r.Samples {
			n += uint64(p.N)
		}
		if r.Tier != 0 || n != 3600 {
			t.Errorf("store %q: the old capture's series reads tier %d with %d of its 3600 transactions", path, r.Tier, n)
		}
		// the live series' first hours are past the 1 s tier's hour: pruned there
		var kept int
		s.be.scan(2, 0, later, later+int64(3*time.Hour), int64(time.Second)*ChunkBuckets, func(int64, []byte) { kept++ })
		if want := int(time.Hour/(time.Second*ChunkBuckets)) + 2; kept > want {
			t.Errorf("store %q: %d chunks of the live series' 1 s tier kept, want at most %d", path, kept, want)
		}
		s.Close()
	}
}
