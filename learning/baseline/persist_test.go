package baseline

import (
	"encoding/json"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingWriter counts what a save writes.
type countingWriter struct {
	puts, deletes, buckets int
	keys                   map[string]bool
}

func (c *countingWriter) Put(bucket, key, value []byte) error {
	c.puts++
	if c.keys != nil {
		c.keys[string(bucket)+"/"+string(key)] = true
	}
	return nil
}
func (c *countingWriter) Delete(bucket, key []byte) error  { c.deletes++; return nil }
func (c *countingWriter) DeleteBucket(bucket []byte) error { c.buckets++; return nil }

func exportJSON(t *testing.T, m *Model, at time.Time) string {
	t.Helper()
	doc := m.Export(at)
	for i := range doc.Assets {
		for j := range doc.Assets[i].Functions {
			doc.Assets[i].Functions[j].LastSeen = nil
		}
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return string(b)
}

// learnedFrom learns real transactions of the protocols' testdata.
func learnedFrom(t *testing.T, paths ...string) (*Model, time.Time) {
	m := New(Config{Mode: ModeLearn})
	var last time.Time
	for _, p := range paths {
		for _, tx := range replayed(t, p) {
			m.Observe(tx)
			if tx.Time().After(last) {
				last = tx.Time()
			}
		}
	}
	return m, last
}

// TestRecordsRoundTrip: a baseline saved as records and loaded again is
// the same baseline, and detects the same.
func TestRecordsRoundTrip(t *testing.T) {
	m, at := learnedFrom(t, testdata("dnp3", "dnp3_example.pcap"), testdata("modbus", "arkime_modbus.pcap"),
		testdata("s7comm", "s7comm_varservice_libnodavedemo.pcap"), testdata("opcua", "icsnpp_open62541_mainloop.pcap"))
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(path)
	require.NoError(t, err)
	require.NoError(t, st.Checkpoint(map[string]store.Component{"baseline": m}))
	require.NoError(t, st.Close())
	st, err = store.Open(path)
	require.NoError(t, err)
	defer st.Close()
	back := New(Config{Mode: ModeLearn})
	require.NoError(t, st.Load(map[string]store.Component{"baseline": back}))
	assert.Equal(t, exportJSON(t, m, at), exportJSON(t, back, at))
	assert.Equal(t, m.Keys(), back.Keys())
	require.NotZero(t, m.quiet)
	assert.Equal(t, m.quiet, back.quiet, "the network's longest silence while learning")
	assert.Contains(t, exportJSON(t, back, at), `"partial":true`, "rates learned over less than 10 s (arkime_modbus.pcap's writes)")
	// it detects like the original
	back.SetMode(ModeDetect)
	m.SetMode(ModeDetect)
	for _, tx := range replayed(t, testdata("dnp3", "dnp3_example.pcap")) {
		c := setPoint(clone(tx, at.Add(time.Hour)), protocols.FieldOnTime, 1e6)
		assert.Equal(t, kinds(m.Observe(c)), kinds(back.Observe(c)))
	}
}

// TestCheckpointWritesWhatChanged: after a first (full) save, a save
// writes the records that changed and nothing else; detection changes
// nothing to write.
func TestCheckpointWritesWhatChanged(t *testing.T) {
	m, at := learnedFrom(t, testdata("dnp3", "dnp3_example.pcap"))
	full := &countingWriter{}
	require.NoError(t, m.SaveChanges(full, true))
	assert.Greater(t, full.puts, 50)
	none := &countingWriter{}
	require.NoError(t, m.SaveChanges(none, false))
	assert.Zero(t, none.puts, "nothing changed")
	// one more SELECT on a new index: the function, the link, the asset's
	// counts, the range and four points of the CROB (a second after the
	// last transaction: no longer silence for the network's meta)
	sel := find(t, replayed(t, testdata("dnp3", "dnp3_example.pcap")), "a select", func(tx *protocols.Transaction) bool { return tx.Code == 3 })
	tx := clone(sel, at.Add(time.Second))
	tx.Targets[0].Address = 99
	m.Observe(tx)
	some := &countingWriter{keys: map[string]bool{}}
	require.NoError(t, m.SaveChanges(some, false))
	assert.Equal(t, 1+1+1+1+4, some.puts, "the asset, the function, the link, the range and the four fields of the CROB: %v", some.keys)
	// detection: frozen, nothing to save
	m.SetMode(ModeDetect)
	for i := 0; i < 50; i++ {
		m.Observe(clone(sel, at.Add(time.Hour+time.Duration(i)*time.Second)))
	}
	det := &countingWriter{}
	require.NoError(t, m.SaveChanges(det, false))
	assert.Zero(t, det.puts)
	// relearning an asset drops its records and writes it anew
	assert.True(t, m.Relearn(sel.Server.IP, at.Add(2*time.Hour)))
	re := &countingWriter{}
	require.NoError(t, m.SaveChanges(re, false))
	assert.Equal(t, 1, re.buckets)
	assert.Equal(t, 1, re.puts, "the fresh asset")
}

// TestFreshModelListsNothingUntilSaved: a model that was never saved
// (read without --db) keeps no change lists, and its first save writes
// everything; one loaded from a state file lists its changes at once.
func TestFreshModelListsNothingUntilSaved(t *testing.T) {
	m, at := learnedFrom(t, testdata("dnp3", "dnp3_example.pcap"))
	assert.True(t, m.NeedsFull(), "never saved: the next save is full")
	assert.Equal(t, -1, m.Dirty())
	assert.Empty(t, m.ps.dirty, "no asset listed")
	for _, a := range m.assets {
		assert.Empty(t, a.dirt.points, "no point listed")
		a.points.each(func(k pointKey, vm ValueModel) { assert.Zero(t, vm.flags&vmDirty, "no point marked") })
	}
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(path)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.Checkpoint(map[string]store.Component{"baseline": m}))
	assert.False(t, m.NeedsFull())
	assert.Zero(t, m.Dirty(), "saved: nothing pending")
	back := New(Config{Mode: ModeLearn})
	require.NoError(t, st.Load(map[string]store.Component{"baseline": back}))
	assert.False(t, back.NeedsFull(), "loaded: the store holds it, only changes are written")
	sel := find(t, replayed(t, testdata("dnp3", "dnp3_example.pcap")), "a select", func(tx *protocols.Transaction) bool { return tx.Code == 3 })
	tx := clone(sel, at.Add(time.Minute))
	tx.Targets[0].Address = 99
	back.Observe(tx)
	assert.Equal(t, 1+1+1+4, back.Dirty(), "the function, the link, the range and the CROB's four fields (the asset record is not counted)")
}

// TestSnapshotMigratesToRecords: a state file of schema 1 (the baseline as
// one JSON snapshot) loads, and the next checkpoint replaces the snapshot
// with records.
func TestSnapshotMigratesToRecords(t *testing.T) {
	m, at := learnedFrom(t, testdata("modbus", "arkime_modbus.pcap"))
	snap, err := m.MarshalState()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(path)
	require.NoError(t, err)
	// written as schema 1 wrote it
	require.NoError(t, st.Checkpoint(map[string]store.Component{"baseline": snapshotOnly{snap}}))
	back := New(Config{Mode: ModeLearn})
	require.NoError(t, st.Load(map[string]store.Component{"baseline": back}))
	assert.Equal(t, exportJSON(t, m, at), exportJSON(t, back, at))
	assert.True(t, back.NeedsFull(), "loaded from a snapshot: the next save is full")
	require.NoError(t, st.Checkpoint(map[string]store.Component{"baseline": back}))
	raw, err := st.Snapshot("baseline")
	require.NoError(t, err)
	assert.Nil(t, raw, "the snapshot is gone, records replace it")
	again := New(Config{Mode: ModeLearn})
	require.NoError(t, st.Load(map[string]store.Component{"baseline": again}))
	assert.Equal(t, exportJSON(t, m, at), exportJSON(t, again, at))
	require.NoError(t, st.Close())
	_ = netip.Addr{}
}

// snapshotOnly is a component as schema 1 stored it.
type snapshotOnly struct{ b []byte }

func (s snapshotOnly) MarshalState() ([]byte, error) { return s.b, nil }
func (s snapshotOnly) UnmarshalState([]byte) error   { return nil }

// TestPollsRestartAfterALoad: last-seen times are not saved, so a model
// loaded an hour after its checkpoint has heard nothing since: the first
// packet it hears restarts the clock of every poll, and a poll that does
// not come back within its limit while others do is reported then.
func TestPollsRestartAfterALoad(t *testing.T) {
	m := New(Config{Mode: ModeLearn})
	for at := time.Duration(0); at < time.Minute; at += time.Second {
		m.Observe(mtx("10.0.0.1", "10.0.0.10", at, protocols.OpRead, 3, "holding_register", 0, 10))
		m.Observe(mtx("10.0.0.2", "10.0.0.20", at+10*time.Millisecond, protocols.OpRead, 3, "holding_register", 0, 10))
	}
	back := reloaded(t, m, ModeDetect)

	var stopped []string
	for at := time.Hour; at < time.Hour+time.Minute; at += time.Second {
		tx := mtx("10.0.0.2", "10.0.0.20", at, protocols.OpRead, 3, "holding_register", 0, 10)
		back.Observe(tx)
		for _, f := range findingsOf(back.Tick(tx.Time()), "cyclic_stopped") {
			stopped = append(stopped, f.Time.Sub(t0).String()+" "+f.Message)
		}
	}
	require.Len(t, stopped, 1, "10.0.0.1's poll only, once its limit passed after the load: %v", stopped)
	assert.Contains(t, stopped[0], "10.0.0.1 stopped polling 10.0.0.10 ")
	assert.True(t, strings.HasPrefix(stopped[0], "1h0m1"), "10 s after the first transaction heard, not at it: %s", stopped[0])
}

// A capture whose packets carry no time (every timestamp zero, as some
// tools and crafted files write) is heard all the same: after a load, its
// packets end the load's silence once, not once each.
func TestZeroTimestampsAfterALoad(t *testing.T) {
	m := New(Config{Mode: ModeLearn})
	m.Observe(mtx("10.0.0.1", "10.0.0.10", 0, protocols.OpRead, 3, "holding_register", 0, 10))
	back := reloaded(t, m, ModeDetect)
	for range 100_000 {
		back.Heard(0)
	}
	assert.Equal(t, 1, len(back.silences), "the load's silence, ended by the first packet")
	back.Heard(int64(time.Hour))
	assert.Equal(t, 2, len(back.silences), "a silence after it is still heard")
}

// reloaded saves m to a state file and loads it back into a model of mode.
func reloaded(t *testing.T, m *Model, mode Mode) *Model {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.Checkpoint(map[string]store.Component{"baseline": m}))
	back := New(Config{Mode: mode})
	require.NoError(t, st.Load(map[string]store.Component{"baseline": back}))
	return back
}

// TestWriteAgainIsCountedAndSaved: a block write of the values it had
// before is counted for each of its points (the learn loop counts such a
// write itself) and marks them for the next checkpoint once, however
// often it repeats; then nothing is left to save.
func TestWriteAgainIsCountedAndSaved(t *testing.T) {
	path := testdata("s7comm", "snap7.pcap")
	m, at := learnedFrom(t, path)
	w := find(t, replayed(t, path), "a block write", func(tx *protocols.Transaction) bool {
		return tx.Op == protocols.OpWrite && len(tx.Points) >= 8
	})
	counted := func() (n uint64) {
		for _, a := range m.Export(at).Assets {
			for _, p := range a.Points {
				n += uint64(p.Model.Count)
			}
		}
		return n
	}
	require.NoError(t, m.SaveChanges(&countingWriter{}, true))
	before := counted()
	m.Observe(clone(w, at.Add(time.Second)))
	first := &countingWriter{keys: map[string]bool{}}
	require.NoError(t, m.SaveChanges(first, false))
	require.NotZero(t, first.puts)
	for i := 2; i <= 4; i++ {
		m.Observe(clone(w, at.Add(time.Duration(i)*time.Second)))
	}
	again := &countingWriter{keys: map[string]bool{}}
	require.NoError(t, m.SaveChanges(again, false))
	assert.Equal(t, before+4*uint64(len(w.Points)), counted(), "each of the %d points counted four more times", len(w.Points))
	points := func(keys map[string]bool) (ps []string) {
		for k := range keys {
			if _, key, _ := strings.Cut(k, "/"); strings.HasPrefix(key, "p") {
				ps = append(ps, k)
			}
		}
		sort.Strings(ps)
		return ps
	}
	assert.Len(t, points(first.keys), len(w.Points), "each point's record")
	assert.Equal(t, points(first.keys), points(again.keys), "the same points written after three repeats as after one")
	none := &countingWriter{}
	require.NoError(t, m.SaveChanges(none, false))
	assert.Zero(t, none.puts)
}
