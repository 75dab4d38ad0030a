package alerts

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIncrementalStateMatchesSnapshot: an engine driven at random (new
// alerts, repeats folded in, families of distinct deviations, keys
// forgotten past the bound, recent alerts dropped past MaxRecent, flushes,
// operators marking alerts normal, maintenance windows) checkpoints its
// records after every round; loading them into a new engine gives the
// snapshot the engine itself would write, every time. A change the
// records missed shows here.
func TestIncrementalStateMatchesSnapshot(t *testing.T) {
	defer func(n int) { maxRegulated = n }(maxRegulated)
	maxRegulated = 120
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(path)
	require.NoError(t, err)
	defer st.Close()
	cfg := Config{MaxRecent: 40}
	e := NewEngine(cfg, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	rng := rand.New(rand.NewPCG(5, 5))
	now := t0
	var ids []string
	for round := 0; round < 60; round++ {
		for n := 0; n < 40; n++ {
			now = now.Add(time.Duration(rng.IntN(90)) * time.Second)
			switch r := rng.IntN(40); {
			case r == 0:
				e.Flush()
			case r == 1 && len(ids) > 0:
				e.MarkNormal(ids[rng.IntN(len(ids))]) // it may be gone: an error then
			case r == 2:
				e.SetMaintenance(Maintenance{Until: now.Add(10 * time.Minute), Reason: fmt.Sprintf("r%d", round), By: "op"})
			case r < 6: // a sweep: a family's alert counts the rest
				for a := range 3 * familyAlone {
					now = now.Add(time.Second)
					x := tx("10.0.9.2", "10.0.0.9", 0, protocols.OpWrite, 6, "coil", uint64(1000*round+a), 1, 1)
					x.RequestTime = now
					e.Raise(finding.Finding{Key: finding.NewKey("write_to_unseen_target", "10.0.0.9", fmt.Sprint(x.Targets[0].Address)),
						Time: now, Asset: "10.0.0.9", Tx: x, Message: "a sweep"})
				}
			default:
				server := fmt.Sprintf("10.0.0.%d", 1+rng.IntN(6))
				x := tx("10.0.9.1", server, 0, protocols.OpWrite, 6, "holding_register", uint64(rng.IntN(60)), 1, int64(round))
				x.RequestTime = now
				e.Raise(finding.Finding{Key: finding.NewKey("write_to_unseen_target", server, fmt.Sprint(x.Targets[0].Address)),
					Time: now, Asset: server, Tx: x, Message: "a write"})
			}
		}
		ids = ids[:0]
		for _, a := range e.Recent() {
			ids = append(ids, a.ID)
		}
		require.NoError(t, st.Checkpoint(map[string]store.Component{"alerts": e}), "round %d", round)
		want, err := e.MarshalState()
		require.NoError(t, err)
		got := NewEngine(cfg, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
		require.NoError(t, st.Load(map[string]store.Component{"alerts": got}), "round %d", round)
		have, err := got.MarshalState()
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(have), "round %d: the records load to another state", round)
	}
	assert.GreaterOrEqual(t, e.recentSeq, uint64(3*cfg.MaxRecent), "recent alerts were dropped past MaxRecent")
	assert.Positive(t, e.Folded, "repeats were folded in")
}

// TestRegulationRecordRoundTrip: a regulation record reads back as
// written, zero times included; a damaged one is refused.
func TestRegulationRecordRoundTrip(t *testing.T) {
	for _, r := range []*regulation{
		{},
		{LastAlert: t0, AlertTimes: []time.Time{t0.Add(-time.Hour), t0}, Folded: 3, FoldFrames: []uint64{1, 2, 900000},
			FoldFirst: t0.Add(time.Second), FoldLast: t0.Add(time.Minute)},
		{LastAlert: time.Unix(0, 0).UTC()}, // the epoch is a time, not none
	} {
		b := appendRegulation(nil, r)
		got, err := readRegulation(b)
		require.NoError(t, err)
		assert.Equal(t, r, got)
		_, err = readRegulation(b[:len(b)-1])
		assert.Error(t, err, "cut short")
		_, err = readRegulation(append(b, 0))
		assert.Error(t, err, "a byte too many")
	}
}

// FuzzReadRegulation: any bytes (a damaged file) give a regulation or an
// error, never a panic; a regulation read writes back as read (the bytes
// may differ: a varint written long reads as the short one).
func FuzzReadRegulation(f *testing.F) {
	f.Add(appendRegulation(nil, &regulation{LastAlert: t0, AlertTimes: []time.Time{t0}, Folded: 2, FoldFrames: []uint64{7}}))
	f.Add([]byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := readRegulation(b); err == nil {
			again, err := readRegulation(appendRegulation(nil, r))
			require.NoError(t, err)
			assert.Equal(t, r, again, "a record read writes back as read")
		}
	})
}

// snapshotOnly is a component that writes a snapshot, as the engine did
// before its records.
type snapshotOnly struct{ b []byte }

func (s snapshotOnly) MarshalState() ([]byte, error) { return s.b, nil }
func (s snapshotOnly) UnmarshalState([]byte) error   { return nil }

// TestStateFileFromBeforeRecords: a state file holding the engine as one
// snapshot loads it; the next checkpoint writes records in its place, and
// they load to the same state.
func TestStateFileFromBeforeRecords(t *testing.T) {
	e := NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	for i := range 30 {
		x := tx("10.0.9.1", "10.0.0.1", float64(i*30), protocols.OpWrite, 6, "holding_register", uint64(i%7), 1, 1)
		e.Raise(finding.Finding{Key: finding.NewKey("write_to_unseen_target", "10.0.0.1", fmt.Sprint(i%7)),
			Time: x.RequestTime, Asset: "10.0.0.1", Tx: x, Message: "a write"})
	}
	old, err := e.MarshalState()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(path)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.Checkpoint(map[string]store.Component{"alerts": snapshotOnly{old}}))

	got := NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	require.NoError(t, st.Load(map[string]store.Component{"alerts": got}))
	have, err := got.MarshalState()
	require.NoError(t, err)
	require.JSONEq(t, string(old), string(have), "the snapshot loads")
	assert.True(t, got.NeedsFull(), "records are written in full at the next checkpoint")
	require.NoError(t, st.Checkpoint(map[string]store.Component{"alerts": got}))
	snap, err := st.Snapshot("alerts")
	require.NoError(t, err)
	assert.Nil(t, snap, "the snapshot gave way to the records")

	again := NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	require.NoError(t, st.Load(map[string]store.Component{"alerts": again}))
	have, err = again.MarshalState()
	require.NoError(t, err)
	require.JSONEq(t, string(old), string(have), "the records load to the same state")
	assert.False(t, again.NeedsFull())
}

// memRecords is a component's records in memory: a store.Writer and a
// store.Reader, counting the puts.
type memRecords struct {
	b    map[string]map[string][]byte
	puts map[string]int
}

func newMemRecords() *memRecords {
	return &memRecords{b: map[string]map[string][]byte{}, puts: map[string]int{}}
}

func (m *memRecords) Put(bucket, key, value []byte) error {
	if m.b[string(bucket)] == nil {
		m.b[string(bucket)] = map[string][]byte{}
	}
	m.b[string(bucket)][string(key)] = append([]byte(nil), value...)
	m.puts[string(bucket)]++
	return nil
}

func (m *memRecords) Delete(bucket, key []byte) error {
	delete(m.b[string(bucket)], string(key))
	return nil
}

func (m *memRecords) DeleteBucket(bucket []byte) error {
	delete(m.b, string(bucket))
	return nil
}

func (m *memRecords) Buckets(fn func(name []byte) error) error {
	for _, name := range slices.Sorted(maps.Keys(m.b)) {
		if err := fn([]byte(name)); err != nil {
			return err
		}
	}
	return nil
}

func (m *memRecords) ForEach(bucket []byte, fn func(key, value []byte) error) error {
	recs := m.b[string(bucket)]
	for _, k := range slices.Sorted(maps.Keys(recs)) {
		if err := fn([]byte(k), recs[k]); err != nil {
			return err
		}
	}
	return nil
}

// TestIncidentsAreRecordsOfTheirOwn: a checkpoint writes the incidents
// that changed, not all of them (a flood's thousand incidents were one
// record, rewritten whole at every checkpoint while any changed); an
// incident dropped past the retention is deleted; and a file whose meta
// record still holds the incidents loads, and is saved again whole.
func TestIncidentsAreRecordsOfTheirOwn(t *testing.T) {
	newEngine := func() *Engine {
		return NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	}
	raise := func(e *Engine, source string, now time.Time) {
		e.Raise(finding.Finding{Key: finding.NewKey("new_host", source, now.String()), Time: now, Asset: source,
			Message: "a host not seen before", Source: &finding.Host{IP: source}})
	}
	e := newEngine()
	for i := range 40 {
		raise(e, fmt.Sprintf("10.0.1.%d", i), t0.Add(time.Duration(i)*time.Second))
	}
	disk := newMemRecords()
	require.NoError(t, e.SaveChanges(disk, true))
	require.Equal(t, 40, disk.puts[string(recIncidents)])

	raise(e, "10.0.1.7", t0.Add(time.Minute)) // one incident changes
	disk.puts = map[string]int{}
	require.NoError(t, e.SaveChanges(disk, false))
	assert.Equal(t, 1, disk.puts[string(recIncidents)], "only the incident that changed is written")
	got := newEngine()
	require.NoError(t, got.LoadRecords(disk))
	assert.Equal(t, e.Incidents(), got.Incidents())

	raise(e, "10.0.2.1", t0.Add(incidentRetention+time.Hour)) // the forty are past the retention
	require.NoError(t, e.SaveChanges(disk, false))
	require.Len(t, e.Incidents(), 1)
	assert.Len(t, disk.b[string(recIncidents)], 1, "the dropped incidents' records are deleted")
	got = newEngine()
	require.NoError(t, got.LoadRecords(disk))
	assert.Equal(t, e.Incidents(), got.Incidents())

	// a meta record written before incidents had records of their own
	old := newMemRecords()
	meta, err := json.Marshal(engineMeta{Feedback: map[string]int{}, Incidents: e.Incidents(), Seq: e.seq})
	require.NoError(t, err)
	require.NoError(t, old.Put(recMeta, keyMeta, meta))
	got = newEngine()
	require.NoError(t, got.LoadRecords(old))
	assert.Equal(t, e.Incidents(), got.Incidents())
	assert.True(t, got.NeedsFull(), "saved again in the new layout")
}
