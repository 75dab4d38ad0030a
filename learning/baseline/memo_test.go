package baseline

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLearnMemoAttributesEachFunction: transactions that differ from the
// one before in a single field (client, protocol, unit, code, subcode,
// operation) or in none are each counted on their own link and function,
// across a save and load, however they follow one another.
func TestLearnMemoAttributesEachFunction(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	clients := []string{"10.0.0.1", "10.0.0.5"}
	protos := []string{"modbus", "dnp3"}
	units := []string{"1", "2"}
	type variant struct {
		client, proto, unit string
		code, sub           int
		op                  protocols.Op
	}
	cur := variant{"10.0.0.1", "modbus", "1", 3, -1, protocols.OpRead}
	funcs := map[string]uint64{}
	links := map[string]uint64{}
	served := map[string]uint64{}
	m := New(Config{Mode: ModeLearn})
	path := filepath.Join(t.TempDir(), "state.db")
	const n = 4000
	for i := range n {
		switch rng.IntN(8) { // one field changes, or none (the memo's case)
		case 0:
			cur.client = clients[rng.IntN(2)]
		case 1:
			cur.proto = protos[rng.IntN(2)]
		case 2:
			cur.unit = units[rng.IntN(2)]
		case 3:
			cur.code = []int{3, 16}[rng.IntN(2)]
		case 4:
			cur.sub = rng.IntN(2)*8 - 1 // -1 (none) or 7
		case 5:
			cur.op = []protocols.Op{protocols.OpRead, protocols.OpWrite}[rng.IntN(2)]
		}
		tx := mtx(cur.client, "10.0.0.2", time.Duration(i)*time.Second, cur.op, cur.code, "holding_register", uint64(rng.IntN(4)), 1)
		tx.Proto, tx.Unit = cur.proto, cur.unit
		if cur.sub >= 0 {
			tx.HasSubcode, tx.Subcode = true, cur.sub
		}
		m.Observe(tx)
		funcs[fmt.Sprintf("%s %s %s %s %d %d", cur.client, cur.proto, cur.unit, cur.op, cur.code, cur.sub)]++
		links[cur.client+" "+cur.proto]++
		served[cur.proto]++
		if i == n/2 { // a save and a load in the middle: learning goes on in the loaded model
			st, err := store.Open(path)
			require.NoError(t, err)
			require.NoError(t, st.Checkpoint(map[string]store.Component{"baseline": m}))
			m = New(Config{Mode: ModeLearn})
			require.NoError(t, st.Load(map[string]store.Component{"baseline": m}))
			require.NoError(t, st.Close())
		}
	}
	doc := m.Export(t0.Add(n * time.Second))
	require.Len(t, doc.Assets, 1)
	a := doc.Assets[0]
	gotFuncs := map[string]uint64{}
	for _, f := range a.Functions {
		sub := -1
		if f.Subcode != nil {
			sub = int(*f.Subcode)
		}
		gotFuncs[fmt.Sprintf("%s %s %s %s %d %d", f.Client, f.Proto, f.Unit, f.Op, f.Code, sub)] = f.Count
	}
	gotLinks := map[string]uint64{}
	for _, l := range a.Links {
		gotLinks[l.Client+" "+l.Proto] = l.Count
	}
	assert.Greater(t, len(funcs), 40, "the walk reached most of the 64 functions")
	assert.Equal(t, funcs, gotFuncs)
	assert.Equal(t, links, gotLinks)
	assert.Equal(t, served, a.Protocols)
}

// periodOver is learnUntil's rule without building a time: the two must
// agree on every side of the period's end, with and without an explicit
// LearnUntil, and for an asset never seen (zero FirstSeen).
func TestPeriodOverAgreesWithLearnUntil(t *testing.T) {
	m := New(Config{Mode: ModeAuto, LearningPeriod: time.Hour})
	t0 := time.Date(2020, 3, 10, 19, 51, 54, 0, time.UTC)
	for _, a := range []*Asset{
		{FirstSeen: t0},
		{FirstSeen: t0, LearnUntil: t0.Add(3 * time.Hour)},
		{},
	} {
		for _, d := range []time.Duration{-time.Hour, 0, time.Hour - 1, time.Hour, time.Hour + 1, 3*time.Hour - 1, 3 * time.Hour, 100 * time.Hour} {
			now := t0.Add(d)
			assert.Equal(t, !now.Before(m.learnUntil(a)), m.periodOver(a, now), "first %v until %v at %v", a.FirstSeen, a.LearnUntil, d)
		}
	}
}
