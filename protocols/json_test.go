package protocols

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
	"unicode/utf8"

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

// TestAppendTimeIsAppendFormat checks the hand-written record time against
// the standard library's formatting, around the epoch, leap days, century
// and era boundaries, random instants of years 0-9999 and outside them.
func TestAppendTimeIsAppendFormat(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		want := tm.UTC().AppendFormat(nil, TimeFormat)
		if got := AppendTime(nil, tm); string(got) != string(want) {
			t.Fatalf("%v: %s, want %s", tm, got, want)
		}
	}
	for _, s := range []int64{0, -1, 1, 86399, 86400, -86400, -86401, 951782400, 951868800, 4107542400, -62135596800, -62167219200,
		253402300799, 253402300800, -62167219201} {
		for _, ns := range []int{0, 1, 999999999} {
			check(time.Unix(s, int64(ns)))
		}
	}
	for y := 1595; y <= 2405; y++ { // every 29 February and 1 March, local zones too
		check(time.Date(y, 2, 28, 23, 59, 59, 123, time.UTC).Add(time.Second))
		check(time.Date(y, 3, 1, 0, 0, 0, 0, time.FixedZone("X", -5*3600)))
	}
	rng := rand.New(rand.NewPCG(7, 9))
	for range 200000 {
		check(time.Unix(rng.Int64N(253402300800+62167219200)-62167219200, rng.Int64N(1e9)))
	}
	for range 1000 {
		check(time.Unix(rng.Int64N(1<<40)-1<<39, 5)) // beyond year 9999 and before year 0
	}
}

// TestAppendStringAsBefore checks the fast path of AppendString against
// the character-by-character encoding it replaced.
func TestAppendStringAsBefore(t *testing.T) {
	before := func(b []byte, s string) []byte {
		const hex = "0123456789abcdef"
		b = append(b, '"')
		for i := 0; i < len(s); {
			c := s[i]
			if c < utf8.RuneSelf {
				switch {
				case c == '"' || c == '\\':
					b = append(b, '\\', c)
				case c < 0x20:
					b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
				default:
					b = append(b, c)
				}
				i++
				continue
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
		}
		return append(b, '"')
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("ab \"\\\x00\x1f\x7f\xc3\xa9\xe2\x80\xae\xff/")
	for _, s := range []string{"", "plain", `q"`, `\`, "é", "\xff", "a\nb"} {
		assert.Equal(t, string(before(nil, s)), string(AppendString(nil, s)), "%q", s)
	}
	for range 20000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := string(b)
		if got, want := AppendString([]byte("x"), s), before([]byte("x"), s); string(got) != string(want) {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	}
}

// BenchmarkAppendJSON encodes a typical read record: one per transaction
// of `otwatch read --records`.
func BenchmarkAppendJSON(b *testing.B) {
	tx := Transaction{Proto: "modbus", Unit: "1", Op: OpRead, Code: 3, CodeName: "read_holding_registers",
		Client:  Endpoint{IP: netip.MustParseAddr("10.0.0.5"), Port: 50123, HasMAC: true, LinkAddress: -1},
		Server:  Endpoint{IP: netip.MustParseAddr("10.0.0.9"), Port: 502, HasMAC: true, LinkAddress: -1},
		Targets: []Target{{Space: "holding_register", Address: 100, Count: 10}}, HasID: true, ID: 7,
		RequestFrame: 10, ResponseFrame: 11, RequestTime: time.Unix(1700000000, 123456789), ResponseTime: time.Unix(1700000000, 223456789)}
	line := tx.AppendJSON(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		line = tx.AppendJSON(line[:0])
	}
}
