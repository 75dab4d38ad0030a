package protocols

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestIdentityFieldsAnswerAsTheMap: the filter never hides a key of the
// map, and any other key, of the same length and end octets as one of them
// or not, is found in neither.
func TestIdentityFieldsAnswerAsTheMap(t *testing.T) {
	m := map[string]string{"application_uri": "application_uri", "product_name": "product_name",
		"software_version": "firmware", "serial": "serial", "x": "x", "": "empty"}
	f := NewIdentityFields(m)
	keys := []string{"security_policy", "attribute_id", "iin", "crob.1", "serial!", "applicationXuri", "product_namE"}
	for k := range m {
		keys = append(keys, k)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for range 2000 {
		b := make([]byte, rng.IntN(20))
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		keys = append(keys, string(b))
	}
	passedOver := 0
	for _, k := range keys {
		want, wantOK := m[k]
		got, ok := f.Field(k)
		assert.Equal(t, wantOK, ok, k)
		assert.Equal(t, want, got, k)
		if f.filter&keyBit(k) == 0 {
			passedOver++
		}
	}
	assert.Greater(t, passedOver, len(keys)/2, "the filter rules out most other keys")
}
