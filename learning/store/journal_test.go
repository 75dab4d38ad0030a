package store

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// kvComp is an Incremental component over plain buckets of records: what
// it changed since the last save is replayed as puts, deletes and bucket
// deletions, in order.
type kvComp struct {
	data map[string]map[string]string
	ops  []kvOp
	full bool
}

type kvOp struct {
	op          byte
	bucket, key string
	value       string
}

func newKV() *kvComp { return &kvComp{data: map[string]map[string]string{}, full: true} }

func (c *kvComp) put(b, k, v string) {
	if c.data[b] == nil {
		c.data[b] = map[string]string{}
	}
	c.data[b][k] = v
	c.ops = append(c.ops, kvOp{opPut, b, k, v})
}

func (c *kvComp) del(b, k string) {
	delete(c.data[b], k)
	c.ops = append(c.ops, kvOp{opDelete, b, k, ""})
}

func (c *kvComp) dropBucket(b string) {
	delete(c.data, b)
	c.ops = append(c.ops, kvOp{opDeleteBucket, b, "", ""})
}

func (c *kvComp) MarshalState() ([]byte, error) { return nil, fmt.Errorf("incremental only") }
func (c *kvComp) UnmarshalState([]byte) error   { return fmt.Errorf("incremental only") }
func (c *kvComp) NeedsFull() bool               { return c.full }
func (c *kvComp) SaveFailed()                   { c.full = true }

func (c *kvComp) SaveChanges(w Writer, full bool) error {
	defer func() { c.ops, c.full = nil, false }()
	if full {
		var bs []string
		for b := range c.data {
			bs = append(bs, b)
		}
		sort.Strings(bs)
		for _, b := range bs {
			for k, v := range c.data[b] {
				if err := w.Put([]byte(b), []byte(k), []byte(v)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, o := range c.ops {
		var err error
		switch o.op {
		case opPut:
			err = w.Put([]byte(o.bucket), []byte(o.key), []byte(o.value))
		case opDelete:
			err = w.Delete([]byte(o.bucket), []byte(o.key))
		case opDeleteBucket:
			err = w.DeleteBucket([]byte(o.bucket))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// LoadRecords also checks that the reader gives buckets and records in
// key order, as the baseline's loader expects.
func (c *kvComp) LoadRecords(r Reader) error {
	c.data = map[string]map[string]string{}
	last := ""
	return r.Buckets(func(name []byte) error {
		if string(name) <= last {
			return fmt.Errorf("bucket %q after %q", name, last)
		}
		last = string(name)
		prev := ""
		return r.ForEach(name, func(k, v []byte) error {
			if prev != "" && string(k) <= prev {
				return fmt.Errorf("%s: key %q after %q", name, k, prev)
			}
			prev = string(k)
			if c.data[string(name)] == nil {
				c.data[string(name)] = map[string]string{}
			}
			c.data[string(name)][string(k)] = string(v)
			return nil
		})
	})
}

// journalLen counts the entries of the journal a checkpoint appends to and
// the records of the current slot.
func journalLen(t *testing.T, s *Store, name string) (journal, base int) {
	t.Helper()
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		if j, _, _ := writeJournal(tx, []byte(name)); j != nil {
			journal = j.Stats().KeyN
		}
		slot := current(tx, []byte(name))
		return slot.ForEachBucket(func(k []byte) error { base += slot.Bucket(k).Stats().KeyN; return nil })
	}))
	return journal, base
}

// foldState says which slot is current and which a fold fills ("" when
// none).
func foldState(t *testing.T, s *Store, name string) (cur, fold string) {
	t.Helper()
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		cb := compBucket(tx, []byte(name))
		cur, fold = string(cb.Get(keyCurrent)), string(cb.Get(keyFold))
		return nil
	}))
	return cur, fold
}

// TestJournal: checkpoints append what changed to a journal and leave the
// current slot's records as they were; a reload lays the journal over
// them (puts, updates, deletes, a bucket deleted and refilled), in key
// order. Past compactShare, fold steps between checkpoints copy the slot
// with its journal into the other slot a batch at a time while checkpoints
// go on, and make it current; a full save cancels a fold under way. The
// file is reloaded after every round, mid-fold too, and compared with the
// component's own map.
func TestJournal(t *testing.T) {
	defer func(m int, sh float64, fb int) { compactMin, compactShare, foldBatch = m, sh, fb }(compactMin, compactShare, foldBatch)
	compactMin, compactShare, foldBatch = 2000, 0.2, 170
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	require.NoError(t, err)
	c := newKV()
	key := func(i int) string { return string(binary.BigEndian.AppendUint32(nil, uint32(i))) }
	for b := 0; b < 10; b++ {
		for i := 0; i < 200; i++ {
			c.put(fmt.Sprintf("bucket%02d", b), key(i), fmt.Sprintf("v%d", i))
		}
	}
	require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
	j, base := journalLen(t, s, "kv")
	assert.Equal(t, 0, j)
	assert.Equal(t, 2000, base)

	rng := rand.New(rand.NewPCG(7, 7))
	folds, midFold, fullMidFold := 0, 0, 0
	for round := 0; round < 80; round++ {
		for n := 0; n < 60; n++ {
			b := fmt.Sprintf("bucket%02d", rng.IntN(12)) // two buckets only ever in the journal
			switch r := rng.IntN(20); {
			case r == 0:
				c.dropBucket(b)
			case r < 5:
				c.del(b, key(rng.IntN(250)))
			default:
				c.put(b, key(rng.IntN(250)), fmt.Sprintf("r%d-%d", round, n))
			}
		}
		_, folding := foldState(t, s, "kv")
		if folding != "" && round%25 == 0 {
			c.full = true // an import: the full save replaces the fold
			fullMidFold++
		}
		_, before := journalLen(t, s, "kv")
		require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
		_, after := journalLen(t, s, "kv")
		if !c.full && folding == "" {
			assert.Equal(t, before, after, "round %d: a checkpoint left the slot's records alone", round)
		}
		if _, f := foldState(t, s, "kv"); f != "" && c.full {
			t.Fatalf("round %d: a full save left the fold of %s under way", round, f)
		}
		cur, _ := foldState(t, s, "kv")
		for step := rng.IntN(3); step > 0; step-- {
			_, err := s.FoldStep()
			require.NoError(t, err)
		}
		now, f := foldState(t, s, "kv")
		if now != cur {
			folds++
		}
		if f != "" {
			midFold++
		}
		require.NoError(t, s.Close())
		s, err = Open(path)
		require.NoError(t, err)
		got := newKV()
		require.NoError(t, s.Load(map[string]Component{"kv": got}), "round %d", round)
		want := map[string]map[string]string{}
		for b, recs := range c.data {
			if len(recs) > 0 {
				want[b] = recs
			}
		}
		require.Equal(t, want, got.data, "round %d: the reload differs (slot %s, fold %q)", round, now, f)
	}
	t.Logf("%d folds completed, %d reloads mid-fold, %d full saves mid-fold (the fold ended first)", folds, midFold, fullMidFold)
	assert.Positive(t, folds, "a fold completed")
	assert.Positive(t, midFold, "the file was reloaded while a fold was under way")
	assert.Positive(t, fullMidFold, "a full save came while a fold was under way")
	require.NoError(t, s.Close())
}

// TestJournalDamage: a journal entry cut short is reported by name, on
// its own or inside a chunk.
func TestJournalDamage(t *testing.T) {
	for name, bad := range map[string][]byte{
		"entry":                {opPut, 5, 'b'},
		"chunk":                {opChunk, 3, opPut, 1, 'b', 9},
		"chunk length":         {opChunk, 40, opPut},
		"operation in chunk":   {opChunk, 4, 'x', 1, 'b', 0},
		"empty entry":          {},
		"operation on its own": {'x', 1, 'b', 0},
	} {
		path := filepath.Join(t.TempDir(), "state.db")
		s, err := Open(path)
		require.NoError(t, err)
		c := newKV()
		c.put("b", "k", "v")
		require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
		c.put("b", "k2", "v2")
		require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
		require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
			j, _, _ := writeJournal(tx, []byte("kv"))
			return j.Put(binary.BigEndian.AppendUint64(nil, 99), bad)
		}))
		err = s.Load(map[string]Component{"kv": newKV()})
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "journal unreadable", name)
		s.Close()
	}
}

// TestJournalSingleEntries: a journal written before entries were packed
// into chunks, a record an entry, still reads, and a checkpoint's chunks
// follow it.
func TestJournalSingleEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	require.NoError(t, err)
	c := newKV()
	c.put("b", "k1", "v1")
	c.put("b", "k2", "v2")
	require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
	entry := func(op byte, bucket, key, value string) []byte {
		e := append([]byte{op}, byte(len(bucket)))
		e = append(append(e, bucket...), byte(len(key)))
		return append(append(e, key...), value...)
	}
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		j, _, _ := writeJournal(tx, []byte("kv"))
		for i, e := range [][]byte{entry(opPut, "b", "k1", "old"), entry(opDelete, "b", "k2", ""), entry(opPut, "c", "k", "v")} {
			if err := j.Put(binary.BigEndian.AppendUint64(nil, uint64(i+1)), e); err != nil {
				return err
			}
		}
		return nil
	}))
	c.data = map[string]map[string]string{"b": {"k1": "old"}, "c": {"k": "v"}}
	c.put("c", "k", "new")
	require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
	got := newKV()
	require.NoError(t, s.Load(map[string]Component{"kv": got}))
	assert.Equal(t, map[string]map[string]string{"b": {"k1": "old"}, "c": {"k": "new"}}, got.data)
	j, _ := journalLen(t, s, "kv")
	assert.Equal(t, 4, j, "three records of one entry, then a chunk")
	s.Close()
}

// versioned is a snapshot component that says when it changed.
type versioned struct {
	N       int
	version uint64
	marshal int
}

func (v *versioned) MarshalState() ([]byte, error) { v.marshal++; return []byte(fmt.Sprint(v.N)), nil }
func (v *versioned) UnmarshalState(b []byte) error {
	_, err := fmt.Sscan(string(b), &v.N)
	return err
}
func (v *versioned) StateVersion() uint64 { return v.version }

// TestUnchangedSnapshotSkipped: a Versioned component whose version did
// not move is neither marshalled nor written; when it moves, it is.
func TestUnchangedSnapshotSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	require.NoError(t, err)
	v := &versioned{N: 1, version: 1}
	require.NoError(t, s.Checkpoint(map[string]Component{"v": v}))
	require.NoError(t, s.Checkpoint(map[string]Component{"v": v}))
	assert.Equal(t, 1, v.marshal, "unchanged: not marshalled again")
	v.N, v.version = 2, 2
	require.NoError(t, s.Checkpoint(map[string]Component{"v": v}))
	assert.Equal(t, 2, v.marshal)
	require.NoError(t, s.Close())
	s, err = Open(path)
	require.NoError(t, err)
	got := &versioned{}
	require.NoError(t, s.Load(map[string]Component{"v": got}))
	assert.Equal(t, 2, got.N)
	require.NoError(t, s.Checkpoint(map[string]Component{"v": got}))
	assert.Equal(t, 0, got.marshal, "as loaded: not written back")
	s.Close()
}

// TestCompact: a file bloated by a state that shrank is rewritten to what
// is live, and reads back the same.
func TestCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	require.NoError(t, err)
	c := newKV()
	for i := 0; i < 50000; i++ {
		c.put(fmt.Sprintf("b%d", i%50), fmt.Sprintf("k%06d", i), fmt.Sprintf("value %d with some padding to take room", i))
	}
	require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
	for b := 1; b < 50; b++ {
		c.dropBucket(fmt.Sprintf("b%d", b))
	}
	c.full = true
	require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
	require.NoError(t, s.Close())
	before, after, err := Compact(path)
	require.NoError(t, err)
	assert.Less(t, after*3, before, "the compacted file holds what is live: %d → %d bytes", before, after)
	s, err = Open(path)
	require.NoError(t, err)
	got := newKV()
	require.NoError(t, s.Load(map[string]Component{"kv": got}))
	assert.Equal(t, c.data, got.data)
	// in use: refused, nothing changed
	_, _, err = Compact(path)
	require.ErrorIs(t, err, ErrInUse)
	s.Close()
}

// TestFoldBesideCheckpoints: fold steps on a goroutine of their own, as
// the daemon runs them, beside checkpoints on another; the state reloads
// as the component holds it (run with -race).
func TestFoldBesideCheckpoints(t *testing.T) {
	defer func(m int, sh float64, fb int) { compactMin, compactShare, foldBatch = m, sh, fb }(compactMin, compactShare, foldBatch)
	compactMin, compactShare, foldBatch = 1500, 0.2, 50
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	require.NoError(t, err)
	c := newKV()
	for i := 0; i < 1000; i++ {
		c.put(fmt.Sprintf("b%02d", i%20), fmt.Sprintf("k%04d", i), "v")
	}
	stop, done := make(chan struct{}), make(chan int)
	go func() {
		steps := 0
		for {
			select {
			case <-stop:
				done <- steps
				return
			default:
			}
			did, err := s.FoldStep()
			assert.NoError(t, err)
			if did {
				steps++
			}
		}
	}()
	rng := rand.New(rand.NewPCG(3, 3))
	for round := 0; round < 60; round++ {
		for n := 0; n < 40; n++ {
			c.put(fmt.Sprintf("b%02d", rng.IntN(22)), fmt.Sprintf("k%04d", rng.IntN(1100)), fmt.Sprintf("r%d", round))
		}
		require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
	}
	close(stop)
	steps := <-done
	require.NoError(t, s.Fold())
	got := newKV()
	require.NoError(t, s.Load(map[string]Component{"kv": got}))
	assert.Equal(t, c.data, got.data)
	assert.Positive(t, steps, "fold steps ran beside the checkpoints")
	require.NoError(t, s.Close())
}

// TestFoldStepBoundedByBytes: a fold step stops at foldBytes however few
// records that is, so large records (a recent alert with its transaction)
// do not make a step of megabytes.
func TestFoldStepBoundedByBytes(t *testing.T) {
	defer func(m, fb, by int) { compactMin, foldBatch, foldBytes = m, fb, by }(compactMin, foldBatch, foldBytes)
	compactMin, foldBatch, foldBytes = 1, 10000, 50<<10
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	c := newKV()
	big := string(make([]byte, 10<<10))
	for i := 0; i < 60; i++ {
		c.put("b", fmt.Sprintf("k%03d", i), big)
	}
	require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
	for i := 0; i < 60; i += 2 {
		c.put("b", fmt.Sprintf("k%03d", i), big+"x") // a journal of half the slot
	}
	require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
	steps := 0
	for {
		did, err := s.FoldStep()
		require.NoError(t, err)
		if !did {
			break
		}
		steps++
	}
	// a step to start, ten of at most six records (five reach 50 KiB), one
	// to finish
	assert.GreaterOrEqual(t, steps, 12, "steps of at most foldBytes")
	got := newKV()
	require.NoError(t, s.Load(map[string]Component{"kv": got}))
	assert.Equal(t, c.data, got.data)
	j, base := journalLen(t, s, "kv")
	assert.Equal(t, 0, j, "folded in")
	assert.Equal(t, 60, base)
}

// kvQueue is kvComp with a queue: records put in key order and deleted
// oldest first.
type kvQueue struct {
	*kvComp
	queue map[string]string
	qops  []kvOp
}

func (c *kvQueue) SaveQueue(w Writer, full bool) error {
	defer func() { c.qops = nil }()
	if full {
		for k, v := range c.queue {
			if err := w.Put([]byte("q"), []byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, o := range c.qops {
		var err error
		if o.op == opPut {
			err = w.Put([]byte("q"), []byte(o.key), []byte(o.value))
		} else {
			err = w.Delete([]byte("q"), []byte(o.key))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *kvQueue) LoadQueue(r Reader) error {
	c.queue = map[string]string{}
	return r.ForEach([]byte("q"), func(k, v []byte) error { c.queue[string(k)] = string(v); return nil })
}

// TestQueueInPlace: a Queued component's queue is written in place at each
// checkpoint, not journaled, survives folds of its records and full
// saves, and reloads as it was.
func TestQueueInPlace(t *testing.T) {
	defer func(m int) { compactMin = m }(compactMin)
	compactMin = 500
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	require.NoError(t, err)
	c := &kvQueue{kvComp: newKV(), queue: map[string]string{}}
	for i := 0; i < 100; i++ {
		c.put("b", fmt.Sprintf("k%03d", i), "v")
	}
	next, oldest := 0, 0
	for round := 0; round < 30; round++ {
		for n := 0; n < 20; n++ { // the queue turns over: twenty in, twenty out past forty
			k := fmt.Sprintf("%08d", next)
			c.queue[k] = fmt.Sprintf("alert %d", next)
			c.qops = append(c.qops, kvOp{opPut, "q", k, c.queue[k]})
			if next++; len(c.queue) > 40 {
				k := fmt.Sprintf("%08d", oldest)
				delete(c.queue, k)
				c.qops = append(c.qops, kvOp{opDelete, "q", k, ""})
				oldest++
			}
			c.put("b", fmt.Sprintf("k%03d", rand.IntN(100)), fmt.Sprintf("r%d", round))
		}
		if round == 20 {
			c.full = true // an import
		}
		require.NoError(t, s.Checkpoint(map[string]Component{"kv": c}))
		require.NoError(t, s.Fold())
		var queued int
		require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
			queued = compBucket(tx, []byte("kv")).Bucket(keyQueue).Bucket([]byte("q")).Stats().KeyN
			return nil
		}))
		assert.Equal(t, len(c.queue), queued, "round %d: the queue in place holds what is queued", round)
		got := &kvQueue{kvComp: newKV()}
		require.NoError(t, s.Load(map[string]Component{"kv": got}))
		assert.Equal(t, c.queue, got.queue, "round %d", round)
		assert.Equal(t, c.data, got.data, "round %d", round)
		assert.NotContains(t, got.data, "q", "round %d: the queue is not among the journaled records", round)
	}
	require.NoError(t, s.Close())
}
