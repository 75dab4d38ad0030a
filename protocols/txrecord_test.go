package protocols_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/require"
)

var recStrings = []string{"", "holding_register", "dnp3.bad_crc", "caf\u00e9", "bad \xff utf-8", "ns=2;s=Pump \"A\""}

// TestTxRecordReadsBack: a transaction's state record reads back into the
// transaction it was written from, with every field set (by reflection:
// a field added later fails here until the record carries it), none set,
// or IPv6 endpoints without MACs.
func TestTxRecordReadsBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 500; i++ {
		x := &protocols.Transaction{}
		switch i % 7 {
		case 0: // nothing set
		case 1:
			x.Client.IP, x.Server.IP = netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("2001:db8::2")
			x.Client.LinkAddress, x.Code, x.ExceptionCode = -1, -300, math.MinInt64
			x.Targets = []protocols.Target{{Space: "node", ID: "ns=3;i=1001", Address: math.MaxUint64}}
		default:
			testkit.Fill(rng, reflect.ValueOf(x).Elem(), recStrings)
		}
		rec := x.AppendRecord(nil)
		got, err := protocols.ReadTxRecord(rec)
		require.NoError(t, err, "record %d", i)
		require.Equal(t, x, got, "record %d", i)
		if i%7 > 1 {
			require.NotEqual(t, protocols.Transaction{}, *got, "record %d: the transaction was kept", i)
		}
	}
}

// TestTxRecordKeepsNumbersBitForBit: NaN and the infinities, written to a
// point or a value, read back as they were (JSON could not say them).
func TestTxRecordKeepsNumbersBitForBit(t *testing.T) {
	odd := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.SmallestNonzeroFloat64}
	x := &protocols.Transaction{Proto: "s7comm", RequestTime: time.Unix(1, 2).UTC()}
	for i, f := range odd {
		x.Values = append(x.Values, protocols.FloatValue(f))
		x.Points = append(x.Points, protocols.Point{Element: uint32(i), Type: protocols.FloatType(32), V: f})
	}
	got, err := protocols.ReadTxRecord(x.AppendRecord(nil))
	require.NoError(t, err)
	for i, f := range odd {
		require.Equal(t, math.Float64bits(f), math.Float64bits(got.Values[i].F), "value %d", i)
		require.Equal(t, math.Float64bits(f), math.Float64bits(got.Points[i].V), "point %d", i)
	}
}

// TestDamagedTxRecordIsAnError: every cut of a record, a record with a
// byte more, and one of an unknown format are errors, never a panic or a
// transaction made up of the rest.
func TestDamagedTxRecordIsAnError(t *testing.T) {
	x := &protocols.Transaction{}
	testkit.Fill(rand.New(rand.NewPCG(1, 1)), reflect.ValueOf(x).Elem(), recStrings)
	rec := x.AppendRecord(nil)
	for n := 0; n < len(rec); n++ {
		_, err := protocols.ReadTxRecord(rec[:n])
		require.True(t, errors.Is(err, protocols.ErrTxRecord), "cut at %d of %d: %v", n, len(rec), err)
	}
	_, err := protocols.ReadTxRecord(append(bytes.Clone(rec), 0))
	require.ErrorIs(t, err, protocols.ErrTxRecord)
	other := bytes.Clone(rec)
	other[0] = 2
	_, err = protocols.ReadTxRecord(other)
	require.ErrorIs(t, err, protocols.ErrTxRecord)
}

// FuzzTxRecord: no bytes make ReadTxRecord panic or allocate beyond what
// they can hold, and what it reads writes a record that reads back the
// same.
func FuzzTxRecord(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 4; i++ {
		x := &protocols.Transaction{}
		if i > 0 {
			testkit.Fill(rng, reflect.ValueOf(x).Elem(), recStrings)
		}
		f.Add(x.AppendRecord(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := protocols.ReadTxRecord(b)
		if err != nil {
			return
		}
		again := x.AppendRecord(nil)
		y, err := protocols.ReadTxRecord(again)
		require.NoError(t, err)
		require.Equal(t, again, y.AppendRecord(nil))
	})
}
