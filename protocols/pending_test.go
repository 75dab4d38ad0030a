package protocols

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPendingPairsOldestFirst(t *testing.T) {
	var p Pending[uint16, string]
	t0 := time.Unix(0, 0)
	p.Push(1, t0, "a")
	p.Push(2, t0, "b")
	p.Push(1, t0, "c")
	v, ok := p.Take(1)
	require.True(t, ok)
	assert.Equal(t, "a", v)
	v, _ = p.Take(1)
	assert.Equal(t, "c", v)
	_, ok = p.Take(1)
	assert.False(t, ok)
	assert.Equal(t, 1, p.Len())
}

func TestPendingBoundAndExpiry(t *testing.T) {
	p := Pending[int, int]{Max: 2, Timeout: time.Second}
	t0 := time.Unix(0, 0)
	_, evicted := p.Push(1, t0, 1)
	assert.False(t, evicted)
	p.Push(2, t0.Add(time.Second), 2)
	old, evicted := p.Push(3, t0.Add(2*time.Second), 3)
	require.True(t, evicted)
	assert.Equal(t, 1, old)
	v, ok := p.Expire(t0.Add(2500 * time.Millisecond))
	require.True(t, ok, "sent at 1 s, 1.5 s old")
	assert.Equal(t, 2, v)
	_, ok = p.Expire(t0.Add(2500 * time.Millisecond))
	assert.False(t, ok, "sent at 2 s, 0.5 s old")
	v, ok = p.Oldest()
	require.True(t, ok)
	assert.Equal(t, 3, v)
	assert.Zero(t, p.Len())
}

func TestPendingLatestAndRule(t *testing.T) {
	var p Pending[uint8, string]
	t0 := time.Unix(0, 0)
	p.Push(1, t0, "a")
	p.Push(2, t0, "b")
	p.Push(1, t0, "c")
	p.Push(3, t0, "d")
	v, ok := p.TakeLatest(1)
	require.True(t, ok)
	assert.Equal(t, "c", v, "the newest under the key")
	v, ok = p.TakeFunc(func(k uint8, v string) bool { return k > 1 })
	require.True(t, ok)
	assert.Equal(t, "b", v, "the oldest the rule accepts")
	_, ok = p.TakeFunc(func(k uint8, v string) bool { return v == "z" })
	assert.False(t, ok)
	v, ok = p.Latest()
	require.True(t, ok)
	assert.Equal(t, "d", v)
	assert.Equal(t, 1, p.Len())
	_, ok = p.TakeLatest(9)
	assert.False(t, ok)
}

func TestRequestsEmitUnanswered(t *testing.T) {
	var got []*Transaction
	env := &Env{Client: &Endpoint{}, Server: &Endpoint{}, EmitFunc: func(t *Transaction) { got = append(got, t) }}
	r := NewRequests[uint16](2, time.Second, "test.too_many")
	t0 := time.Unix(0, 0)
	tx := func(code int, at time.Duration) *Transaction {
		return &Transaction{Code: code, RequestTime: t0.Add(at), Outcome: OutcomeOK}
	}
	r.Add(env, 1, tx(1, 0))
	r.Add(env, 2, tx(2, 500*time.Millisecond))
	r.Add(env, 3, tx(3, 900*time.Millisecond))
	require.Len(t, got, 1, "the oldest is evicted from a full table")
	assert.Equal(t, 1, got[0].Code)
	assert.Equal(t, OutcomeNoResponse, got[0].Outcome)
	assert.Contains(t, got[0].Anomalies, "test.too_many")

	r.ExpireAll(env, t0.Add(1600*time.Millisecond))
	require.Len(t, got, 2, "only the request older than the timeout expires")
	assert.Equal(t, 2, got[1].Code)
	assert.Empty(t, got[1].Anomalies)

	taken, ok := r.Take(3)
	require.True(t, ok)
	assert.Equal(t, OutcomeOK, taken.Outcome, "an answered request is the caller's")
	r.Add(env, 4, tx(4, 2*time.Second))
	r.Add(env, 5, tx(5, 2*time.Second))
	r.CloseAll(env)
	require.Len(t, got, 4)
	assert.Equal(t, []int{4, 5}, []int{got[2].Code, got[3].Code}, "oldest first")
	assert.Equal(t, OutcomeNoResponse, got[3].Outcome)
	assert.Zero(t, r.Len())
}

func TestPendingFirstEntriesInPlace(t *testing.T) {
	p := new(Pending[uint16, *Transaction])
	tx := new(Transaction)
	allocs := testing.AllocsPerRun(100, func() {
		p.Push(1, time.Time{}, tx)
		p.Push(2, time.Time{}, tx)
		p.Take(2)
		p.Take(1)
	})
	assert.Zero(t, allocs, "two waiting requests need no allocation")
}
