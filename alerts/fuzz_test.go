package alerts

import (
	"fmt"
	"testing"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/store/storetest"
	"github.com/otwatch/otwatch/protocols"
)

// FuzzLoadRecords: random alert-state records (an SD card's corruption, a
// hand edit) are refused or restored, and a restored engine keeps
// working: new findings and repeats, a mark-normal, incidents, a full and
// an incremental save. The daemon loads them at start: a panic there, or
// after, is a crash loop and a blind monitor. The seed is a real engine's
// records: regulations of folded repeats, recent alerts with their
// transactions, an incident.
func FuzzLoadRecords(f *testing.F) {
	raise := func(e *Engine, i int) {
		x := tx("10.0.9.1", "10.0.0.1", float64(i*30), protocols.OpWrite, 6, "holding_register", uint64(i%3), 1, int64(i))
		e.Raise(finding.Finding{Key: finding.NewKey("write_to_unseen_target", "10.0.0.1", fmt.Sprint(i%3)),
			Time: x.RequestTime, Asset: "10.0.0.1", Tx: x, Frames: []uint64{x.RequestFrame}, Message: "a write"})
	}
	seed := NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	for i := range 12 {
		raise(seed, i)
	}
	seed.Flush()
	kv := storetest.KV{}
	if err := seed.SaveChanges(kv, true); err != nil {
		f.Fatal(err)
	}
	if err := seed.SaveQueue(kv, true); err != nil {
		f.Fatal(err)
	}
	back := NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	if back.LoadRecords(storetest.Decode(kv.Encode())) != nil || back.LoadQueue(storetest.Decode(kv.Encode())) != nil ||
		len(back.Recent()) != len(seed.Recent()) || len(back.Recent()) == 0 {
		f.Fatal("the seed does not load back")
	}
	f.Add(kv.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		e := NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
		recs := storetest.Decode(data)
		if e.LoadRecords(recs) != nil || e.LoadQueue(recs) != nil {
			return
		}
		for i := 10; i < 16; i++ {
			raise(e, i)
		}
		e.Observe(tx("10.0.9.2", "10.0.0.1", 600, protocols.OpWrite, 16, "holding_register", 40, 2, 1, 2))
		if r := e.Recent(); len(r) > 0 {
			e.MarkNormal(r[0].ID)
		}
		e.Flush()
		e.Incidents()
		for _, full := range []bool{true, false} {
			if err := e.SaveChanges(storetest.KV{}, full); err != nil {
				t.Fatal(err)
			}
			if err := e.SaveQueue(storetest.KV{}, full); err != nil {
				t.Fatal(err)
			}
		}
	})
}
