package alerts

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reflectedAlertJSON is how the alert record was written before
// AppendJSON: encoding/json over the struct, ts in the records' format.
func reflectedAlertJSON(t *testing.T, a *Alert) []byte {
	type plain Alert
	b, err := json.Marshal(&struct {
		TS string `json:"ts"`
		*plain
	}{protocols.FormatTime(a.TS), (*plain)(a)})
	require.NoError(t, err)
	return b
}

// awkward strings: what encoding/json escapes, and what it replaces.
var awkward = []string{"", "plain", `say "hi" \ there`, "<script>&amp;</script>", "line\nbreak\ttab\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff\xfe utf-8 \xe2\x80", "\xe2\x80\xa8 alone"}

func randomAlert(rng *rand.Rand) *Alert {
	s := func() string { return awkward[rng.IntN(len(awkward))] }
	a := &Alert{ID: s(), TS: time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC(), Kind: s(), Severity: rng.IntN(12) - 1,
		Message: s(), Key: s(), BaseSeverity: rng.IntN(11), Frames: []uint64{}}
	if rng.IntN(2) == 0 {
		a.Proto, a.Unit, a.Op, a.Incident, a.Regulation, a.Asset = s(), s(), s(), s(), s(), s()
		code := rng.IntN(300) - 20
		a.Code = &code
		addr := int32(rng.Int32N(65536) - 1)
		a.Client = &Endpoint{IP: s(), Port: uint16(rng.IntN(65536)), MAC: s(), Address: &addr}
		a.Server = &Endpoint{IP: s(), Port: uint16(rng.IntN(65536)), MAC: s()}
		x, n := rng.Uint64(), rng.Uint64N(100)
		a.Targets = []Target{{Space: s(), ID: s(), File: rng.Uint32()}, {Space: s(), Address: &x, Count: &n}}
		a.Values = protocols.AppendValues(nil, []protocols.Value{protocols.StringValue(s()), protocols.FloatValue(math.NaN()),
			protocols.IntValue(rng.Int64()), protocols.FloatValue(rng.NormFloat64())})
		a.Frames = append(a.Frames, rng.Uint64(), 7)
		a.Mitre = []string{s(), s()}
		a.Learning, a.Repeats = true, rng.Uint64()
	}
	if rng.IntN(5) == 0 {
		a.Frames = nil // encoding/json writes null
	}
	return a
}

// TestAlertJSONIsWhatReflectionWrote: the alert record AppendJSON writes
// is byte for byte what encoding/json wrote by reflection, for alerts
// with every field set or not and strings that need escaping; through
// json.Marshal (which calls MarshalJSON) too.
func TestAlertJSONIsWhatReflectionWrote(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		a := randomAlert(rng)
		want := reflectedAlertJSON(t, a)
		require.Equal(t, string(want), string(a.AppendJSON(nil)), "alert %d", i)
		viaMarshal, err := json.Marshal(a)
		require.NoError(t, err)
		require.Equal(t, string(want), string(viaMarshal), "alert %d through json.Marshal", i)
	}
}

// FuzzJSONString: appendJSONString writes any string as encoding/json does.
func FuzzJSONString(f *testing.F) {
	for _, s := range awkward {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendJSONString(nil, s)))
		raw := protocols.AppendValues(nil, []protocols.Value{protocols.StringValue(s)})
		wantRaw, err := json.Marshal(json.RawMessage(raw))
		require.NoError(t, err)
		require.Equal(t, string(wantRaw), string(appendHTMLSafe(nil, raw)))
	})
}

// TestSavedAlertReadsBack: a recent alert's state record reads back, with
// encoding/json as LoadQueue reads it, into the alert and the transaction
// it was written from, for transactions with every field set (filled by
// reflection) or none, and strings that need escaping. A string that is
// not UTF-8 reads back as encoding/json's own encoding made it.
func TestSavedAlertReadsBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 500; i++ {
		a := randomAlert(rng)
		x := &protocols.Transaction{}
		if i%7 != 0 {
			testkit.Fill(rng, reflect.ValueOf(x).Elem(), awkward[1:])
		}
		// what encoding/json made of the same fields, read back
		type oracle struct {
			Alert *Alert                 `json:"alert"`
			TS    time.Time              `json:"ts"`
			Tx    *protocols.Transaction `json:"tx,omitempty"`
		}
		wantJSON, err := json.Marshal(oracle{a, a.TS, x})
		require.NoError(t, err)
		var want, got savedAlert
		require.NoError(t, json.Unmarshal(wantJSON, &want))
		require.NoError(t, json.Unmarshal(appendSaved(nil, savedAlert{a, a.TS, x}), &got), "record %d", i)
		require.Equal(t, want, got, "record %d", i)
		if i%7 != 0 {
			require.NotEqual(t, protocols.Transaction{}, *got.Tx, "record %d: the transaction was kept", i)
		}
	}
}

// TestNaNWriteDoesNotStopCheckpoints: an alert on a write of NaN (an S7
// REAL, a Modbus float) is saved with the rest, its numbers as written
// (the whole JSON snapshot writes them as null); once encoding/json
// refused it and every checkpoint of the alerts failed until the alert
// left the recent set.
func TestNaNWriteDoesNotStopCheckpoints(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	defer st.Close()
	e := NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	x := tx("10.0.9.1", "10.0.0.2", 0, protocols.OpWrite, 16, "holding_register", 1, 2)
	x.Values = []protocols.Value{protocols.FloatValue(math.NaN()), protocols.FloatValue(math.Inf(-1))}
	x.Points = []protocols.Point{{Type: protocols.FloatType(32), V: math.NaN()}, {Element: 1, Type: protocols.FloatType(32), V: 2.5}}
	x.RequestTime = t0
	e.Raise(finding.Finding{Key: finding.NewKey("write_to_unseen_target", "10.0.0.2", "1"), Time: t0, Asset: "10.0.0.2", Tx: x, Message: "m"})
	require.NoError(t, st.Checkpoint(map[string]store.Component{"alerts": e}))
	_, err = e.MarshalState()
	require.NoError(t, err)

	got := NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	require.NoError(t, st.Load(map[string]store.Component{"alerts": got}))
	recent := got.Recent()
	require.Len(t, recent, 1)
	kept, err := recent[0].transaction()
	require.NoError(t, err)
	require.NotNil(t, kept)
	assert.True(t, math.IsNaN(kept.Values[0].F) && math.IsInf(kept.Values[1].F, -1), "kept as written: %v", kept.Values)
	assert.True(t, math.IsNaN(kept.Points[0].V))
	assert.Equal(t, 2.5, kept.Points[1].V)
	assert.Equal(t, x.Targets, kept.Targets)
}

// TestIncidentsJSONIsWhatReflectionWrote: incidents are written byte for
// byte as encoding/json wrote them, after a random run of alerts with
// awkward texts.
func TestIncidentsJSONIsWhatReflectionWrote(t *testing.T) {
	e := awkwardRun(7, 600, 10*time.Minute, 9, "new_link", "plc_stop", "scan", "malformed_pdu")
	type plainIncident Incident // its fields without its MarshalJSON
	list := e.incidents.list()
	require.Greater(t, len(list), 20)
	plain := make([]plainIncident, len(list))
	for i := range list {
		plain[i] = plainIncident(list[i])
		want, err := json.Marshal(plain[i])
		require.NoError(t, err)
		require.Equal(t, string(want), string(list[i].appendJSON(nil)), "incident %d", i)
	}
}

// awkwardRun raises n alerts of the kinds, from sources with awkward
// names to assets among the first of 10.0.0.x, at random gaps up to gap:
// a run whose incidents the codec and record tests write and read.
func awkwardRun(seed uint64, n int, gap time.Duration, assets int, kinds ...string) *Engine {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	e := NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	now := t0
	for i := 0; i < n; i++ {
		now = now.Add(time.Duration(rng.Int64N(int64(gap))))
		source, asset := awkward[rng.IntN(len(awkward))], fmt.Sprintf("10.0.0.%d", rng.IntN(assets))
		e.Raise(finding.Finding{Key: finding.NewKey(kinds[rng.IntN(len(kinds))], asset, source, fmt.Sprint(i%60)),
			Time: now, Asset: asset, Message: awkward[rng.IntN(len(awkward))], Source: &finding.Host{IP: source}})
	}
	return e
}
