package protocols

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// TestStateRecordFieldsReadBack: each field form reads back what was
// appended, and a number too wide for its field, a flag that is not 0 or
// 1, or a count past the bytes left fails the cursor.
func TestStateRecordFieldsReadBack(t *testing.T) {
	at := time.Date(2026, 12, 6, 8, 0, 0, 7, time.UTC)
	b := binary.AppendUvarint(nil, 300)
	b = binary.AppendVarint(b, -5)
	b = binary.AppendVarint(b, math.MinInt32)
	b = AppendRecBool(AppendRecString(b, "pump"), true)
	b = AppendRecFloat(AppendRecTime(AppendRecTime(b, at), time.Time{}), math.Inf(-1))
	c := NewCursor(b)
	if v, i, i32, s, f := c.Uvarint(), c.Int(), c.Int32(), c.Str(), c.Bool(); v != 300 || i != -5 || i32 != math.MinInt32 || s != "pump" || !f {
		t.Fatalf("read %v %v %v %q %v", v, i, i32, s, f)
	}
	if got, zero, inf := c.Time(), c.Time(), c.Float(); !got.Equal(at) || !zero.IsZero() || !math.IsInf(inf, -1) || c.Failed() || c.Len() != 0 {
		t.Fatalf("read %v %v %v, failed %v, %d left", got, zero, inf, c.Failed(), c.Len())
	}
	for name, rec := range map[string][]byte{
		"int32 too wide": binary.AppendVarint(nil, math.MaxInt32+1),
		"flag of 2":      {2},
		"count past end": binary.AppendUvarint(nil, 5),
	} {
		c := NewCursor(rec)
		switch name {
		case "int32 too wide":
			c.Int32()
		case "flag of 2":
			c.Bool()
		default:
			c.Count()
		}
		if !c.Failed() {
			t.Errorf("%s: read without failing", name)
		}
	}
}
