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
