package alerts

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomKept is a random alert with, most times, a random transaction's
// record kept.
func randomKept(rng *rand.Rand, i int) *Alert {
	a := randomAlert(rng)
	if i%5 != 0 {
		x := &protocols.Transaction{}
		testkit.Fill(rng, reflect.ValueOf(x).Elem(), awkward)
		a.tx = x.AppendRecord(nil)
	}
	return a
}

// TestAlertRecordReadsBack: a recent alert's binary record reads back
// into the alert it was written from, every field set or not, with its
// transaction's record.
func TestAlertRecordReadsBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 2000; i++ {
		a := randomKept(rng, i)
		rec := appendAlertRecord(nil, a)
		got, err := readAlertRecord(rec)
		require.NoError(t, err, "record %d", i)
		require.Equal(t, a, got, "record %d", i)
		for j := range rec {
			rec[j] = 0xa5 // nothing read back aliases the record (bbolt's memory is gone after the transaction)
		}
		require.Equal(t, a, got, "record %d after its bytes changed", i)
	}
}

// TestDamagedAlertRecordIsAnError: every cut of a record, a byte more, or
// an unknown format is an error, never a panic or half an alert.
func TestDamagedAlertRecordIsAnError(t *testing.T) {
	a := randomKept(rand.New(rand.NewPCG(1, 3)), 1)
	for a.Client == nil { // every optional part present
		a = randomKept(rand.New(rand.NewPCG(uint64(len(a.ID)), 3)), 1)
	}
	rec := appendAlertRecord(nil, a)
	for n := 0; n < len(rec); n++ {
		_, err := readSavedRecord(rec[:n])
		require.Error(t, err, "cut at %d of %d", n, len(rec))
	}
	_, err := readSavedRecord(append(rec, 0))
	require.True(t, errors.Is(err, errAlertRecord), "%v", err)
	rec[0] = alertRecordFormat + 1
	_, err = readSavedRecord(rec[:len(rec)-1])
	require.True(t, errors.Is(err, errAlertRecord), "%v", err)
}

// TestJSONRecordsStillLoad: a state file whose recent alerts were saved as
// JSON (before the binary records) loads them, transactions included, and
// an operator can still mark one normal.
func TestJSONRecordsStillLoad(t *testing.T) {
	newEngine := func() *Engine {
		return NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	}
	e := newEngine()
	for i := range 5 {
		x := tx("10.0.9.1", "10.0.0.2", 0, protocols.OpWrite, 16, "holding_register", uint64(100*i), 2)
		x.Values = []protocols.Value{protocols.IntValue(int64(i)), protocols.IntValue(7)}
		x.RequestTime = t0
		e.Raise(finding.Finding{Key: finding.NewKey("write_to_unseen_target", "10.0.0.2", x.Targets[0].Space, string(rune('a'+i))),
			Time: t0, Asset: "10.0.0.2", Tx: x, Message: "m"})
	}
	require.Len(t, e.Recent(), 5)
	disk := newMemRecords()
	require.NoError(t, e.SaveChanges(disk, true))
	require.NoError(t, e.SaveQueue(disk, true))
	for k := range disk.b[string(recRecent)] { // written again as the JSON of before
		a := e.recentAt(uint64(k[7]))
		x, err := a.transaction()
		require.NoError(t, err)
		disk.b[string(recRecent)][k] = appendSaved(nil, savedAlert{a, a.TS, x})
	}
	got := newEngine()
	require.NoError(t, got.LoadRecords(disk))
	require.NoError(t, got.LoadQueue(disk))
	assert.Equal(t, e.Recent(), got.Recent())
	require.NoError(t, got.MarkNormal(got.Recent()[2].ID))
	got.Recent()[3].tx = []byte{9} // a record no build wrote
	require.ErrorIs(t, got.MarkNormal(got.Recent()[3].ID), protocols.ErrTxRecord)
}

// FuzzAlertRecord: no bytes make a recent alert's record reader panic,
// and what it reads writes a record that reads back the same.
func FuzzAlertRecord(f *testing.F) {
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range 4 {
		f.Add(appendAlertRecord(nil, randomKept(rng, i)))
	}
	f.Add([]byte(`{"alert":{"id":"x"},"ts":"2024-01-02T03:04:05Z","tx":{"Proto":"modbus"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := readSavedRecord(b)
		if err != nil {
			return
		}
		again := appendAlertRecord(nil, a)
		back, err := readAlertRecord(again)
		require.NoError(t, err)
		require.Equal(t, again, appendAlertRecord(nil, back))
	})
}

// TestIncidentRecordReadsBack: incidents of a random run of alerts read
// back from their binary records as they were, but for the narrative,
// which is told again; and from the JSON records of before, narrative
// included. A cut record is an error.
func TestIncidentRecordReadsBack(t *testing.T) {
	e := awkwardRun(31, 800, 15*time.Minute, 80, "new_link", "plc_stop", "scan", "new_host")
	require.Greater(t, len(e.incidents.all), 20)
	jsonChecked := 0
	for _, inc := range e.incidents.all {
		inc.tell()
		want := *inc
		want.dirty, want.unsaved = false, false
		rec := appendIncidentRecord(nil, inc)
		got, err := readIncidentRecord(rec)
		require.NoError(t, err, inc.ID)
		assert.Empty(t, got.Narrative, "not kept")
		got.tell()
		got.dirty = false
		require.Equal(t, want, got, inc.ID)

		old, err := readIncidentRecord(inc.appendJSON(nil))
		require.NoError(t, err, inc.ID)
		if utf8.ValidString(fmt.Sprint(want)) { // JSON replaced what is not UTF-8; the binary record keeps it
			require.Equal(t, want, old, inc.ID)
			jsonChecked++
		}

		for n := 0; n < len(rec); n += 1 + n/8 {
			_, err := readIncidentRecord(rec[:n])
			require.ErrorIs(t, err, errIncidentRecord, "%s cut at %d", inc.ID, n)
		}
	}
	require.Greater(t, jsonChecked, 5)
}

// FuzzIncidentRecord: no bytes make the incident record reader panic,
// and what it reads writes a record that reads back the same.
func FuzzIncidentRecord(f *testing.F) {
	inc := &Incident{ID: "inc-1", Source: "10.0.0.9", First: t0, Last: t0.Add(time.Hour), Assets: []string{"10.0.0.2"}, AssetCount: 1,
		Alerts: []string{"a1"}, AlertCount: 4, Kinds: []string{"scan"}, MaxSeverity: 6, Score: 40,
		Events: []Event{{t0, "scan", 6, "10.0.0.9 scanned", "a1"}}, Skipped: 3}
	f.Add(appendIncidentRecord(nil, inc))
	f.Add(inc.appendJSON(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readIncidentRecord(b)
		if err != nil {
			return
		}
		again := appendIncidentRecord(nil, &got)
		back, err := readIncidentRecord(again)
		require.NoError(t, err)
		require.Equal(t, again, appendIncidentRecord(nil, &back))
	})
}
