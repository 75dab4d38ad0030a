package protocols

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMissedRequests(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	m := MissedRequests{Window: 30 * time.Second}
	assert.True(t, m.Possible(t0), "before any bytes: nothing is known")
	m.Feed(t0)
	m.Feed(at(20)) // only the first bytes start the clock
	assert.True(t, m.Possible(at(30)), "a request sent just before the start may still be answered")
	assert.False(t, m.Possible(at(31)), "every request this could answer was seen")

	m.Gap(at(100))
	assert.True(t, m.Possible(at(120)), "its request may have been in the gap")
	assert.False(t, m.Possible(at(131)))
	m.Gap(t0) // a gap reported late never moves the clock back
	assert.False(t, m.Possible(at(131)))

	// in-order protocols: after the first pair, older requests were answered
	m.Gap(at(200))
	assert.True(t, m.Possible(at(201)))
	m.Matched(at(202))
	m.Matched(at(205)) // only the first pair counts
	assert.True(t, m.Possible(at(202)), "a response held back until the pair (S7 orphans) is judged at its own time")
	assert.False(t, m.Possible(at(203)), "an answer after the first pair answers nothing missed")
	m.Gap(at(300))
	assert.True(t, m.Possible(at(301)), "a gap forgets the pair")
}
