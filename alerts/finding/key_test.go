package finding

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The string form is what alerts, feedback marks, families and state
// files written by earlier versions hold: it must not change.
func TestKeyString(t *testing.T) {
	written := map[string]Key{ // as earlier versions wrote them
		"plc_stop|10.0.0.2|10.0.0.1|s7comm|stop|": NewKey("plc_stop", "10.0.0.2", "10.0.0.1", "s7comm", "stop", ""),
		"scan|10.0.0.9": NewKey("scan", "10.0.0.9"),
		"limit_reached|inventory|a message | with a bar":               NewKey("limit_reached", "inventory", "a message | with a bar"),
		"mac_changed|10.0.0.2|00:00:00:00:00:01|00:00:00:00:00:02":     NewKey("mac_changed", "10.0.0.2", "00:00:00:00:00:01", "00:00:00:00:00:02"),
		"new_function|10.0.0.2|10.0.0.1|modbus||8|4":                   NewKey("new_function", "10.0.0.2", "10.0.0.1", "modbus", "", "8", "4"),
		"write_to_unseen_target|10.0.0.2|modbus|1|holding_register|5|": NewKey("write_to_unseen_target", "10.0.0.2", "modbus", "1", "holding_register", "5", ""),
		"kind":  NewKey("kind"),
		"kind|": NewKey("kind", ""),
	}
	for want, key := range written {
		assert.Equal(t, want, key.String())
		assert.Equal(t, "x"+want, string(key.AppendTo([]byte("x"))), "AppendTo writes the same")
		back, ok := ParseKey(want, 0)
		assert.True(t, ok)
		assert.Equal(t, want, back.String(), "every string reads back to itself")
	}
}

func TestParseKey(t *testing.T) {
	k, ok := ParseKey("mac_changed|10.0.0.2|00:00:00:00:00:01|00:00:00:00:00:02", 0)
	assert.True(t, ok)
	assert.Equal(t, "mac_changed", k.Kind)
	assert.Equal(t, []string{"10.0.0.2", "00:00:00:00:00:01", "00:00:00:00:00:02"}, k.Parts)
	assert.Equal(t, "10.0.0.2", k.Part(0))
	assert.Equal(t, "", k.Part(3), "past the end")

	// a bounded parse keeps the rest, bars included, in the last part
	k, _ = ParseKey("v|10.0.0.2|opcua|ns=2;s=a|b", 3)
	assert.Equal(t, []string{"10.0.0.2", "opcua", "ns=2;s=a|b"}, k.Parts)

	k, ok = ParseKey("clock_jump", 0)
	assert.True(t, ok)
	assert.Equal(t, Key{Kind: "clock_jump"}, k)
	_, ok = ParseKey("", 0)
	assert.False(t, ok)
}
