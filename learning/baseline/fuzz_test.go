package baseline

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/store/storetest"
	"github.com/otwatch/otwatch/protocols"
)

// FuzzLoadRecords loads random state records: a state file an SD card
// corrupted, or one a careless hand edited. The daemon loads it at start,
// so a panic there is a crash loop and a blind monitor. Invariants: the
// load returns an error or a model, and a model it returns serves what a
// loaded one serves (transactions, ticks, the baseline document, a save)
// without a panic. The seed is a real model's records: polls, writes with
// values, a CROB's fields, the network's hosts and its longest silence.
func FuzzLoadRecords(f *testing.F) {
	m := fuzzSeedModel()
	kv := storetest.KV{}
	if err := m.SaveChanges(kv, true); err != nil {
		f.Fatal(err)
	}
	seed := kv.Encode()
	if back := New(Config{Mode: ModeDetect}); back.LoadRecords(storetest.Decode(seed)) != nil || back.AssetCount() != 2 || back.Keys() != m.Keys() {
		f.Fatalf("the seed does not load back: %d assets, %d of %d keys", back.AssetCount(), back.Keys(), m.Keys())
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, mode := range []Mode{ModeDetect, ModeAuto} {
			back := New(Config{Mode: mode})
			if err := back.LoadRecords(storetest.Decode(in)); err != nil {
				continue
			}
			serveLoaded(t, back)
		}
	})
}

// fuzzSeedModel is a model learned from 20 s of polls, writes with
// values and a CROB's fields, with a host the network learned.
func fuzzSeedModel() *Model {
	m := New(Config{Mode: ModeLearn})
	m.Heard(int64(t0.UnixNano()))
	for at := time.Duration(0); at < 20*time.Second; at += time.Second {
		m.Heard(t0.Add(at).UnixNano())
		m.Observe(mtx("10.0.0.1", "10.0.0.10", at, protocols.OpRead, 3, "holding_register", 0, 10))
		m.Observe(mtx("10.0.0.1", "10.0.0.10", at, protocols.OpWrite, 6, "holding_register", 100, 1, int64(500+at/time.Second)))
		crob := mtx("10.0.0.2", "10.0.0.20", at, protocols.OpControl, 3, "g12v1", 4, 1)
		crob.Proto, crob.Unit = "dnp3", "1/4"
		crob.AddPoint(0, 0, protocols.FieldOp, protocols.TypeCode, 3)
		crob.AddPoint(0, 0, protocols.FieldOnTime, protocols.UintType(32), 500)
		m.Observe(crob)
	}
	m.LearnHost(netip.MustParseAddr("10.0.0.3"), t0)
	return m
}

// FuzzImportDocument: a baseline document an engineer edited by hand (or
// any bytes given to otwatch baseline import) is refused with its reason,
// or imported; an imported model serves transactions, ticks, the
// document and a save without a panic. The seed is a real model's
// document.
func FuzzImportDocument(f *testing.F) {
	seed, err := json.Marshal(fuzzSeedModel().Export(t0.Add(time.Minute)))
	if err != nil {
		f.Fatal(err)
	}
	if err := New(Config{Mode: ModeDetect}).UnmarshalState(seed); err != nil {
		f.Fatalf("the seed does not import: %v", err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		m := New(Config{Mode: ModeDetect})
		if m.UnmarshalState(data) != nil {
			return
		}
		serveLoaded(t, m)
	})
}

// serveLoaded serves a loaded or imported model as the daemon does:
// writes of a known client, far out of its values, and of a new one,
// the clock, the document, a full save.
func serveLoaded(t *testing.T, m *Model) {
	later := t0.Add(2 * time.Hour)
	m.Heard(later.UnixNano())
	m.Observe(mtx("10.0.0.1", "10.0.0.10", 2*time.Hour, protocols.OpWrite, 6, "holding_register", 100, 1, 9999))
	m.Observe(mtx("10.0.0.9", "10.0.0.10", 2*time.Hour, protocols.OpWrite, 16, "holding_register", 300, 2, 1, 2))
	crob := mtx("10.0.0.2", "10.0.0.20", 2*time.Hour, protocols.OpControl, 3, "g12v1", 4, 1)
	crob.Proto, crob.Unit = "dnp3", "1/4"
	crob.AddPoint(0, 0, protocols.FieldOp, protocols.TypeCode, 4)
	m.Observe(crob)
	m.Tick(later.Add(time.Minute))
	m.Export(later)
	if err := m.SaveChanges(storetest.KV{}, true); err != nil {
		t.Fatalf("saving: %v", err)
	}
}
