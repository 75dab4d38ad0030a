package baseline

import (
	"fmt"
	"math"
	"sort"

	"github.com/otwatch/otwatch/protocols"
)

// Class is what a written point's learned values look like, after Erez &
// Wool's classification of PLC registers. It describes the point to the
// operator (and on the dashboard); what alerts is the Judge below.
type Class string

const (
	ClassConstant   Class = "constant"   // one value only
	ClassEnumerated Class = "enumerated" // a few distinct values (modes, on/off, command codes)
	ClassCounter    Class = "counter"    // only ever increases, by small steps
	ClassSetpoint   Class = "setpoint"   // many values, changed in steps, rarely
	ClassContinuous Class = "continuous" // many values, changing with most writes
)

// maxEnum is the largest distinct-value set kept as an enumeration.
const maxEnum = 8

// farFactor: a magnitude this many times the largest learned one is "an
// order of magnitude outside everything learned".
const farFactor = 10

// ValueModel learns one written point (or one parameter of the commands
// sent to it) from its first sample on.
type ValueModel struct {
	Type     protocols.NumType `json:"-"`
	Count    uint64            `json:"count"`
	Min      float64           `json:"min"`
	Max      float64           `json:"max"`
	MaxAbs   float64           `json:"max_abs"`            // largest magnitude learned
	Distinct []float64         `json:"distinct,omitempty"` // sorted; nil once more than maxEnum were seen
	Many     bool              `json:"many,omitempty"`     // more than maxEnum distinct values seen
	Last     float64           `json:"last"`
	Changes  uint64            `json:"changes"`  // writes whose value differed from the previous
	MaxStep  float64           `json:"max_step"` // largest |change| between consecutive writes
	Rising   bool              `json:"rising"`   // every change so far was an increase
}

// Learn folds one written value into the model.
func (m *ValueModel) Learn(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return // never part of a range: judged as the type's extreme
	}
	if m.Count == 0 {
		m.Min, m.Max, m.Last, m.Rising = v, v, v, true
	} else {
		if v != m.Last {
			m.Changes++
			step := math.Abs(v - m.Last)
			if step > m.MaxStep {
				m.MaxStep = step
			}
			if v < m.Last {
				m.Rising = false
			}
		}
		m.Min, m.Max, m.Last = math.Min(m.Min, v), math.Max(m.Max, v), v
	}
	m.MaxAbs = math.Max(m.MaxAbs, math.Abs(v))
	m.Count++
	if !m.Many {
		i := sort.SearchFloat64s(m.Distinct, v)
		if i == len(m.Distinct) || m.Distinct[i] != v {
			if len(m.Distinct) == maxEnum {
				m.Many, m.Distinct = true, nil
			} else {
				m.Distinct = append(m.Distinct, 0)
				copy(m.Distinct[i+1:], m.Distinct[i:])
				m.Distinct[i] = v
			}
		}
	}
}

// Class says which kind of point this is.
func (m *ValueModel) Class() Class {
	switch {
	case !m.Many && len(m.Distinct) == 1:
		return ClassConstant
	case !m.Many:
		return ClassEnumerated
	case m.Rising && m.Changes >= 3:
		return ClassCounter
	case float64(m.Changes) < 0.5*float64(m.Count):
		return ClassSetpoint
	}
	return ClassContinuous
}

// Verdict is how far a written value lies from what a point learned.
type Verdict uint8

const (
	// Fits: inside the learned range (widened by the margin), or a learned code.
	Fits Verdict = iota
	// Outside: outside the learned range, but not by an order of magnitude;
	// or a boolean's state never written.
	Outside
	// Far: an order of magnitude beyond every learned magnitude, a sign
	// never learned, the type's extreme, a code never learned for the
	// point, or not a number.
	Far
)

// Judge says how v compares with the model; why says it in words when it
// does not fit. margin widens the learned range by that fraction of its
// span or of its largest magnitude, whichever is larger (at least one unit
// for integer types), so a setpoint moving a little past what was learned
// is not a deviation. Within the range nothing alerts: values between
// learned ones are how setpoints move.
func (m *ValueModel) Judge(v, margin float64) (Verdict, string) {
	t := m.Type
	if m.Count == 0 {
		return Fits, ""
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Far, "not a number"
	}
	if t.Kind == protocols.NumBool || (t.Kind == protocols.NumCode && !m.Many) {
		i := sort.SearchFloat64s(m.Distinct, v)
		if i < len(m.Distinct) && m.Distinct[i] == v {
			return Fits, ""
		}
		if t.Kind == protocols.NumBool {
			return Outside, "a state never written while learning (learned " + formatSet(m.Distinct) + ")"
		}
		return Far, "a code never learned for this point (learned " + formatCodes(m.Distinct) + ")"
	}
	if lo, hi, ok := t.Extremes(); ok && (v == hi || (v == lo && t.Kind == protocols.NumSigned)) && (v < m.Min || v > m.Max) {
		return Far, fmt.Sprintf("the %s's extreme value", t)
	}
	if flipped, why := m.signFlip(v); flipped {
		return Far, why
	}
	if math.Abs(v) > farFactor*math.Max(m.MaxAbs, 1) {
		return Far, fmt.Sprintf("more than %d times the largest magnitude learned (%s)", farFactor, formatNum(m.MaxAbs))
	}
	slack := margin * math.Max(m.Max-m.Min, math.Max(math.Abs(m.Min), math.Abs(m.Max)))
	if t.Kind != protocols.NumFloat {
		slack = math.Max(slack, 1)
	}
	if v < m.Min-slack || v > m.Max+slack {
		return Outside, "outside the " + m.Describe()
	}
	return Fits, ""
}

// signFlip: every learned value had one sign and v has the other. For a
// register of unknown signedness, a value with the top bit set where none
// was learned reads as a negative INT.
func (m *ValueModel) signFlip(v float64) (bool, string) {
	t := m.Type
	switch t.Kind {
	case protocols.NumRegister:
		if t.Bits == 0 || t.Bits > 64 {
			return false, ""
		}
		half := math.Ldexp(1, int(t.Bits)-1)
		if m.Max < half && v >= half {
			return true, fmt.Sprintf("negative as a signed %d-bit integer (%s), where every learned value was positive", t.Bits,
				formatNum(v-2*half))
		}
	case protocols.NumSigned, protocols.NumFloat, protocols.NumUnknown:
		if m.Min >= 0 && v < 0 && m.MaxAbs > 0 {
			return true, "negative, where every learned value was positive or zero"
		}
		if m.Max <= 0 && v > 0 && m.MaxAbs > 0 {
			return true, "positive, where every learned value was negative or zero"
		}
	}
	return false, ""
}

// Describe renders the learned values for messages.
func (m *ValueModel) Describe() string {
	if m.Type.Kind == protocols.NumCode && !m.Many {
		return "learned codes " + formatCodes(m.Distinct)
	}
	switch m.Class() {
	case ClassConstant, ClassEnumerated:
		return "learned values " + formatSet(m.Distinct)
	}
	return "learned range " + formatNum(m.Min) + ".." + formatNum(m.Max)
}

func formatCodes(vs []float64) string {
	out := "{"
	for i, v := range vs {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("0x%02x", uint64(v))
	}
	return out + "}"
}
