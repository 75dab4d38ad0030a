package protocols

import (
	"encoding/json"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendJSONIsValidAndComplete(t *testing.T) {
	tx := Transaction{
		Proto:  "dnp3",
		Client: Endpoint{IP: netip.MustParseAddr("fd00::1"), Port: 40000, MAC: [6]byte{0, 0x0e, 0x8c, 1, 2, 3}, HasMAC: true, LinkAddress: 3},
		Server: Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: 20000, LinkAddress: 4},
		Unit:   "4", Op: OpControl, Code: 5, CodeName: "direct_operate",
		Targets: []Target{{Space: "g12v1", Address: 7, Count: 1}, {Space: "node", ID: "ns=2;s=Tank \"1\"\n"}},
		Values:  []Value{IntValue(-3), FloatValue(1.5), FloatValue(math.NaN()), StringValue("a\x01\xff"), BoolValue(true)},
		Outcome: OutcomeException, ExceptionCode: 2, HasException: true,
		RequestFrame: 10, ResponseFrame: 12,
		RequestTime: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600)),
		Anomalies:   []string{"dnp3.bad_crc"},
		Attrs:       []Attr{{Key: "vendor_name", Value: "ACME"}},
	}
	line := tx.AppendJSON(nil)
	var m map[string]any
	require.NoError(t, json.Unmarshal(line, &m), "%s", line)
	assert.Equal(t, "2026-01-02T02:04:05.000000006Z", m["ts"], "UTC with nanoseconds")
	assert.Equal(t, "control", m["op"])
	assert.Equal(t, "exception", m["outcome"])
	assert.Equal(t, float64(2), m["exception_code"])
	client := m["client"].(map[string]any)
	assert.Equal(t, "fd00::1", client["ip"])
	assert.Equal(t, "00:0e:8c:01:02:03", client["mac"])
	assert.Equal(t, float64(3), client["address"])
	assert.Equal(t, "", m["server"].(map[string]any)["mac"], "no MAC known")
	targets := m["targets"].([]any)
	assert.Equal(t, "ns=2;s=Tank \"1\"\n", targets[1].(map[string]any)["id"])
	values := m["values"].([]any)
	assert.Equal(t, []any{float64(-3), 1.5, "NaN", "a\x01\ufffd", true}, values)
	assert.Equal(t, map[string]any{"vendor_name": "ACME"}, m["detail"])
	_, hasSub := m["subcode"]
	assert.False(t, hasSub, "subcode only when the protocol has one")

	// response-only transaction: ts is the response time, no request_frame
	resp := Transaction{Proto: "modbus", ResponseFrame: 3, ResponseTime: time.Unix(5, 0)}
	m = nil
	require.NoError(t, json.Unmarshal(resp.AppendJSON(nil), &m))
	assert.Equal(t, "1970-01-01T00:00:05.000000000Z", m["ts"])
	_, hasReq := m["request_frame"]
	assert.False(t, hasReq)
}

func TestAddValueCaps(t *testing.T) {
	var tx Transaction
	for i := 0; i < MaxValues+10; i++ {
		tx.AddValue(IntValue(int64(i)))
	}
	assert.Len(t, tx.Values, MaxValues)
	assert.True(t, tx.ValuesTruncated)
}

func TestOpNamesRoundTrip(t *testing.T) {
	for op := OpOther; op < numOps; op++ {
		back, ok := ParseOp(op.String())
		require.True(t, ok)
		assert.Equal(t, op, back)
	}
	_, ok := ParseOp("explode")
	assert.False(t, ok)
}

func TestRegisterRejectsDuplicates(t *testing.T) {
	assert.Panics(t, func() { DeclareAnomaly("nodot", "") })
	DeclareAnomaly("test.once", "")
	assert.Panics(t, func() { DeclareAnomaly("test.once", "") })
}
