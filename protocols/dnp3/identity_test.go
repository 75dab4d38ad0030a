package dnp3

import (
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/stretchr/testify/assert"
)

// TestIdentityOfDeviceAttributes: a response's device attributes are facts
// wherever they stand among the attributes every response or control
// carries (IIN, CROB details); a response with only those, and a request,
// give none.
func TestIdentityOfDeviceAttributes(t *testing.T) {
	fields := func(attrs ...string) []string {
		tx := &protocols.Transaction{ResponseFrame: 2}
		for i := 0; i < len(attrs); i += 2 {
			tx.Attrs = append(tx.Attrs, protocols.Attr{Key: attrs[i], Value: attrs[i+1]})
		}
		var out []string
		for _, f := range identity(tx) {
			out = append(out, f.Field+"="+f.Value)
		}
		return out
	}
	assert.Empty(t, fields("iin", "0000"))
	assert.Empty(t, fields("iin", "0000", "crob.1", "latch_on count=1", "crob.12", "pulse_on"))
	assert.Equal(t, []string{"vendor_name=ACME"}, fields("iin", "0000", "vendor_name", "ACME"))
	assert.Equal(t, []string{"firmware=2.1", "product_name=RTU"},
		fields("crob.3", "x", "software_version", "2.1", "iin", "0000", "product_name", "RTU"))
	assert.Equal(t, []string{"serial=42"}, fields("serial", "42", "iin", "8000"))
	assert.Empty(t, identity(&protocols.Transaction{Attrs: []protocols.Attr{{Key: "vendor_name", Value: "ACME"}}}), "a request")
}
