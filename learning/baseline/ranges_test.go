package baseline

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRangeSetMerges(t *testing.T) {
	var s RangeSet
	assert.True(t, s.Add(0, 99))
	assert.True(t, s.Add(100, 199), "adjacent: merged")
	assert.Equal(t, RangeSet{{0, 199}}, s)
	assert.False(t, s.Add(10, 20), "covered")
	assert.True(t, s.Add(300, 310))
	assert.True(t, s.Add(250, 260))
	assert.Equal(t, RangeSet{{0, 199}, {250, 260}, {300, 310}}, s)
	assert.True(t, s.Add(190, 305), "bridges three")
	assert.Equal(t, RangeSet{{0, 310}}, s)
	assert.True(t, s.Covers(5, 310))
	assert.False(t, s.Covers(300, 311))
	assert.True(t, s.Add(400, 400))
	assert.False(t, s.Covers(399, 399))
	assert.True(t, s.Covers(400, 400))
	assert.True(t, s.Add(^uint64(0)-1, ^uint64(0)))
	assert.True(t, s.Covers(^uint64(0), ^uint64(0)))
}
