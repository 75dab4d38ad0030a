package testkit

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeHex(t *testing.T) {
	for _, tc := range []struct {
		name, listing string
		want          []byte
	}{
		{"grouped", "0001 00 0a0b", []byte{0, 1, 0, 0x0a, 0x0b}},
		{"bar comments", "01 02 | first\n03 | 04 is a comment", []byte{1, 2, 3}},
		{"slash comments", "\n\tff // end 0a\n\t10\n", []byte{0xff, 0x10}},
		{"empty", "  // nothing\n", []byte{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeHex(tc.listing)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeHexRejectsBadListings(t *testing.T) {
	for _, listing := range []string{"0", "zz", "01 0 | odd digit count"} {
		_, err := DecodeHex(listing)
		assert.Error(t, err, listing)
	}
	assert.Panics(t, func() { Hex(nil, "abc") })
}
