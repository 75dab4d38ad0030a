package baseline

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// memKV is a store.Writer and store.Reader in memory, records in key order.
type memKV map[string]map[string][]byte

func (kv memKV) Put(bucket, key, value []byte) error {
	b := kv[string(bucket)]
	if b == nil {
		b = map[string][]byte{}
		kv[string(bucket)] = b
	}
	b[string(key)] = bytes.Clone(value)
	return nil
}

func (kv memKV) Delete(bucket, key []byte) error {
	delete(kv[string(bucket)], string(key))
	return nil
}

func (kv memKV) DeleteBucket(bucket []byte) error {
	delete(kv, string(bucket))
	return nil
}

func (kv memKV) Buckets(fn func(name []byte) error) error {
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range kv {
			if !yield(k) {
				return
			}
		}
	}) {
		if err := fn([]byte(name)); err != nil {
			return err
		}
	}
	return nil
}

func (kv memKV) ForEach(bucket []byte, fn func(key, value []byte) error) error {
	b := kv[string(bucket)]
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn([]byte(k), b[k]); err != nil {
			return err
		}
	}
	return nil
}

// encode flattens the records: [2-byte length][bucket][key][value], each so.
func (kv memKV) encode() []byte {
	var out []byte
	put := func(b []byte) { out = append(binary.BigEndian.AppendUint16(out, uint16(len(b))), b...) }
	kv.Buckets(func(name []byte) error {
		return kv.ForEach(name, func(k, v []byte) error {
			put(name)
			put(k)
			put(v)
			return nil
		})
	})
	return out
}

func decodeKV(in []byte) memKV {
	kv := memKV{}
	take := func() ([]byte, bool) {
		if len(in) < 2 {
			return nil, false
		}
		n := min(int(binary.BigEndian.Uint16(in)), len(in)-2)
		b := in[2 : 2+n]
		in = in[2+n:]
		return b, true
	}
	for {
		bucket, ok1 := take()
		key, ok2 := take()
		value, ok3 := take()
		if !ok1 || !ok2 || !ok3 {
			return kv
		}
		kv.Put(bucket, key, value)
	}
}

// FuzzLoadRecords loads random state records: a state file an SD card
// corrupted, or one a careless hand edited. The daemon loads it at start,
// so a panic there is a crash loop and a blind monitor. Invariants: the
// load returns an error or a model, and a model it returns serves what a
// loaded one serves (transactions, ticks, the baseline document, a save)
// without a panic. The seed is a real model's records: polls, writes with
// values, a CROB's fields, the network's hosts and its longest silence.
func FuzzLoadRecords(f *testing.F) {
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
	kv := memKV{}
	if err := m.SaveChanges(kv, true); err != nil {
		f.Fatal(err)
	}
	seed := kv.encode()
	if back := New(Config{Mode: ModeDetect}); back.LoadRecords(decodeKV(seed)) != nil || back.AssetCount() != 2 || back.Keys() != m.Keys() {
		f.Fatalf("the seed does not load back: %d assets, %d of %d keys", back.AssetCount(), back.Keys(), m.Keys())
	}
	f.Add(seed)
	later := t0.Add(2 * time.Hour)
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, mode := range []Mode{ModeDetect, ModeAuto} {
			back := New(Config{Mode: mode})
			if err := back.LoadRecords(decodeKV(in)); err != nil {
				continue
			}
			back.Heard(later.UnixNano())
			for _, tx := range []*protocols.Transaction{
				mtx("10.0.0.1", "10.0.0.10", 2*time.Hour, protocols.OpWrite, 6, "holding_register", 100, 1, 9999),
				mtx("10.0.0.9", "10.0.0.10", 2*time.Hour, protocols.OpWrite, 16, "holding_register", 300, 2, 1, 2),
			} {
				back.Observe(tx)
			}
			back.Tick(later.Add(time.Minute))
			back.Export(later)
			if err := back.SaveChanges(memKV{}, true); err != nil {
				t.Fatalf("saving a loaded model: %v", err)
			}
		}
	})
}
