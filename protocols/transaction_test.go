package protocols

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTxPoolReusesOnceAndEmpties(t *testing.T) {
	var none *TxPool
	assert.Nil(t, none.Get(), "a nil pool keeps nothing")
	none.Put(&Transaction{})

	p := &TxPool{}
	assert.Nil(t, p.Get())
	tx := &Transaction{Proto: "modbus", Code: 3, RequestFrame: 7, HasID: true}
	tx.AddTarget("holding_register", 100, 2)
	tx.AddAttr("k", "v")
	tx.AddAnomaly("modbus.invalid_length")
	p.Put(tx)
	p.Put(tx) // emitted twice by mistake: kept once
	got := p.Get()
	require.Same(t, tx, got)
	assert.Nil(t, p.Get(), "put twice, handed out once")
	assert.Empty(t, got.Targets)
	assert.Empty(t, got.Attrs)
	assert.Empty(t, got.Anomalies)
	assert.Equal(t, "", got.Proto)
	assert.Zero(t, got.RequestFrame)
	assert.False(t, got.HasID)
	assert.GreaterOrEqual(t, cap(got.Targets), 1, "room kept")

	huge := &Transaction{Targets: make([]Target, 0, maxPooledTxBytes/int(unsafe.Sizeof(Target{}))+1)}
	p.Put(huge)
	assert.Nil(t, p.Get(), "a transaction grown past maxPooledTxBytes is left to the collector")

	// large ones are kept while the pool's byte budget allows
	large := func() *Transaction {
		return &Transaction{Targets: make([]Target, 0, maxPooledTxBytes/int(unsafe.Sizeof(Target{})))}
	}
	kept := 0
	for range 2 * maxPooledBytes / maxPooledTxBytes {
		p.Put(large())
	}
	for p.Get() != nil {
		kept++
	}
	assert.Equal(t, maxPooledBytes/large().room(), kept, "bounded by bytes")
	assert.Zero(t, p.bytes, "emptied: no room left counted")
	reused := large()
	p.Put(reused)
	require.Same(t, reused, p.Get(), "a large transaction comes back with its room")
	assert.Equal(t, maxPooledTxBytes/int(unsafe.Sizeof(Target{})), cap(reused.Targets))

	for range maxPooled + 10 {
		p.Put(&Transaction{})
	}
	assert.Len(t, p.free, maxPooled, "bounded")
}

// fillExported sets every exported field v holds, nested structs
// included, to something other than its zero value.
func fillExported(v reflect.Value) {
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f.SetInt(1)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			f.SetUint(1)
		case reflect.Float32, reflect.Float64:
			f.SetFloat(1)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 4))
		case reflect.Struct:
			fillExported(f)
		case reflect.Pointer, reflect.Interface, reflect.Map:
			if f.Kind() == reflect.Pointer {
				f.Set(reflect.New(f.Type().Elem()))
			}
		}
	}
}

// TestResetClearsEverythingButRoom: a pooled transaction comes back with
// every field zero and only its slices' room kept.
func TestResetClearsEverythingButRoom(t *testing.T) {
	tx := &Transaction{}
	fillExported(reflect.ValueOf(tx).Elem())
	require.NotEqual(t, Transaction{}, *tx)
	tx.Reset()
	for name, s := range map[string]int{"Targets": cap(tx.Targets), "Values": cap(tx.Values), "Points": cap(tx.Points),
		"ReadValues": cap(tx.ReadValues), "Anomalies": cap(tx.Anomalies), "Attrs": cap(tx.Attrs)} {
		assert.Equal(t, 4, s, "%s keeps its room", name)
	}
	assert.Empty(t, tx.Targets)
	assert.Empty(t, tx.Values)
	assert.Empty(t, tx.Points)
	assert.Empty(t, tx.ReadValues)
	assert.Empty(t, tx.Anomalies)
	assert.Empty(t, tx.Attrs)
	tx.Targets, tx.Values, tx.Points, tx.ReadValues, tx.Anomalies, tx.Attrs = nil, nil, nil, nil, nil, nil
	assert.Equal(t, Transaction{}, *tx)
}

func TestCloneSharesNothing(t *testing.T) {
	tx := &Transaction{Proto: "dnp3"}
	tx.AddTarget("g12v1", 1, 1)
	tx.AddValue(IntValue(5))
	tx.AddPoint(0, 0, FieldOp, TypeCode, 3)
	tx.AddReadValue(IntValue(6))
	tx.AddAnomaly("dnp3.bad_crc")
	tx.AddAttr("iin", "0x0000")
	c := tx.Clone()
	assert.Equal(t, tx, c)
	tx.Reset()
	tx.AddTarget("g1v2", 9, 9)
	tx.AddValue(IntValue(0))
	tx.AddPoint(0, 0, FieldValue, TypeBool, 1)
	tx.AddReadValue(IntValue(0))
	tx.AddAnomaly("x")
	tx.AddAttr("a", "b")
	assert.Equal(t, []Target{{Space: "g12v1", Address: 1, Count: 1}}, c.Targets)
	assert.Equal(t, []Value{IntValue(5)}, c.Values)
	assert.Equal(t, FieldOp, c.Points[0].Field)
	assert.Equal(t, []Value{IntValue(6)}, c.ReadValues)
	assert.Equal(t, []string{"dnp3.bad_crc"}, c.Anomalies)
	assert.Equal(t, []Attr{{Key: "iin", Value: "0x0000"}}, c.Attrs)
}

// OpCounts counts an op outside the vocabulary as "other" (the name
// Op.String gives it) rather than losing it, and names only the ops seen.
func TestOpCounts(t *testing.T) {
	var c OpCounts
	c.Count(OpWrite)
	c.Count(OpWrite)
	c.Count(OpRead)
	c.Count(Op(200))
	assert.Equal(t, uint64(4), c.Total())
	assert.Equal(t, map[string]uint64{"write": 2, "read": 1, "other": 1}, c.ByName())
	assert.Equal(t, map[string]uint64{}, (&OpCounts{}).ByName())
}

// TestNewValuesAndPoints: values and points made in place are zero (but a
// point's target) even where a recycled transaction's slices held others,
// stop at their caps (values marking the transaction truncated, as
// AddValue does), and a target out of range gets none.
func TestNewValuesAndPoints(t *testing.T) {
	tx := &Transaction{}
	for i := range 10 {
		tx.AddValue(IntValue(int64(i + 1)))
		tx.AddPoint(3, i, "", IntType(16), float64(i+1))
	}
	tx.Reset() // the room stays, with what it held
	vs, ps := tx.NewValues(4), tx.NewPoints(2, 4)
	if len(vs) != 4 || len(ps) != 4 || len(tx.Values) != 4 || len(tx.Points) != 4 {
		t.Fatalf("made %d values and %d points: %v %v", len(vs), len(ps), tx.Values, tx.Points)
	}
	for i := range vs {
		if vs[i] != (Value{}) || ps[i] != (Point{Target: 2}) {
			t.Fatalf("element %d not fresh: %v %v", i, vs[i], ps[i])
		}
	}
	if tx.ValuesTruncated {
		t.Fatal("truncated below the cap")
	}
	if vs = tx.NewValues(MaxValues); len(vs) != MaxValues-4 || !tx.ValuesTruncated || len(tx.Values) != MaxValues {
		t.Fatalf("at the cap: %d made, truncated %v, %d in all", len(vs), tx.ValuesTruncated, len(tx.Values))
	}
	if ps = tx.NewPoints(1, MaxPoints); len(ps) != MaxPoints-4 || len(tx.Points) != MaxPoints {
		t.Fatalf("points at the cap: %d made, %d in all", len(ps), len(tx.Points))
	}
	if tx.NewValues(1) != nil || tx.NewPoints(1, 1) != nil {
		t.Fatal("made beyond the caps")
	}
	fresh := &Transaction{}
	if fresh.NewPoints(-1, 3) != nil || fresh.NewPoints(1<<16, 3) != nil || len(fresh.Points) != 0 {
		t.Fatal("points for a target out of range")
	}
}
