package baseline

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNamesRecentAnswersAsTheMap: names of the same length (mod 8) asked in
// any order, each as a fresh copy or the same string, always get the id
// they were made with; a name never made gets 0 without create, whatever
// names of its length were asked just before.
func TestNamesRecentAnswersAsTheMap(t *testing.T) {
	words := []string{"count", "on_ms", "value", "ab", "off_ms", "status", "holding_register", "abcdefghij", "x"}
	n := newNames()
	want := map[string]uint32{}
	for _, w := range words {
		want[w] = n.id(w, true)
		require.NotZero(t, want[w])
	}
	rng := rand.New(rand.NewPCG(3, 5))
	for range 5000 {
		w := words[rng.IntN(len(words))]
		if rng.IntN(2) == 0 {
			w = string([]byte(w)) // another string with the same bytes
		}
		assert.Equal(t, want[w], n.id(w, false), w)
		assert.Equal(t, w, n.name(want[w]))
		for _, never := range []string{"cOunt", "on_mz", "y", "offms!"} {
			assert.Zero(t, n.id(never, false), never)
		}
	}
	assert.Len(t, n.list, len(words), "nothing made without create")
}
