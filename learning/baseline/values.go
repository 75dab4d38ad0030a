package baseline

import (
	"fmt"
	"math"

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
const maxEnum = 6

// farFactor: a magnitude this many times the largest learned one is "an
// order of magnitude outside everything learned".
const farFactor = 10

// ValueModel learns one written point (or one parameter of the commands
// sent to it) from its first sample on. It is 56 bytes without a pointer:
// a million of them are the plant's baseline. An enumeration (codes,
// booleans, modes) of up to 6 values is Min, Max and the values between
// them, kept as float32 (exact for every integer below 2^24).
type ValueModel struct {
	Type     protocols.NumType
	flags    uint8 // vmMany, vmRising, vmDirty, vmLastIn
	n        uint8 // distinct values: 0, 1 (Min), 2 (Min, Max), or Min, inner[:n-2], Max
	Count    uint32
	Changes  uint32 // writes whose value differed from the previous
	Min, Max float64
	Last     float64
	inner    [maxEnum - 2]float32 // sorted, strictly between Min and Max
}

const (
	vmMany   = 1 << iota // more than maxEnum distinct values seen
	vmRising             // every change so far was an increase
	vmDirty              // changed since the last checkpoint
	// vmLastIn: Last is one of the values learned, as it always is after
	// Learn (not kept in the file: a model read back checks once), so a
	// write of Last again needs no search of them (Model.learnRun)
	vmLastIn
)

// Many reports more than maxEnum distinct values seen.
func (m *ValueModel) Many() bool { return m.flags&vmMany != 0 }

// distinctInto writes the distinct values learned into buf.
func (m *ValueModel) distinctInto(buf *[maxEnum]float64) []float64 {
	switch {
	case m.Many() || m.n == 0:
		return buf[:0]
	case m.n == 1:
		buf[0] = m.Min
		return buf[:1]
	}
	buf[0] = m.Min
	k := 1
	for _, d := range m.inner[:m.n-2] {
		buf[k] = float64(d)
		k++
	}
	buf[k] = m.Max
	return buf[:k+1]
}

// Distinct returns the distinct values learned, nil once there were too many.
func (m *ValueModel) Distinct() []float64 {
	if m.Many() {
		return nil
	}
	var buf [maxEnum]float64
	return append([]float64(nil), m.distinctInto(&buf)...)
}

// MaxAbs is the largest magnitude learned.
func (m *ValueModel) MaxAbs() float64 { return math.Max(math.Abs(m.Min), math.Abs(m.Max)) }

// hasDistinct reports whether v is one of the distinct values learned.
func (m *ValueModel) hasDistinct(v float64) bool {
	if m.Many() || m.n == 0 {
		return false
	}
	if v == m.Min || v == m.Max {
		return true
	}
	if m.n <= 2 || float64(float32(v)) != v {
		return false
	}
	f := float32(v)
	for _, d := range m.inner[:m.n-2] {
		if d == f {
			return true
		}
	}
	return false
}

// again is Learn for the value learned last, bit for bit, when it is one
// of the model's values (always, but for a model loaded otherwise): only
// the count moves. It reports whether it was that case.
func (m *ValueModel) again(v float64) bool {
	if m.Count == 0 || math.Float64bits(v) != math.Float64bits(m.Last) {
		return false
	}
	if m.flags&vmLastIn == 0 {
		if !m.Many() && !m.hasDistinct(v) {
			return false
		}
		m.flags |= vmLastIn
	}
	if m.Count < math.MaxUint32 {
		m.Count++
	}
	return true
}

// Learn folds one written value into the model.
func (m *ValueModel) Learn(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return // never part of a range: judged as the type's extreme
	}
	m.flags |= vmLastIn // v joins the values below, or they become many
	newValue := !m.Many() && !m.hasDistinct(v)
	var set []float64
	if newValue {
		var buf [maxEnum + 1]float64
		var old [maxEnum]float64
		set = append(buf[:0], m.distinctInto(&old)...)
	}
	if m.Count == 0 {
		m.Min, m.Max, m.Last = v, v, v
		m.flags |= vmRising
	} else {
		if v != m.Last {
			if m.Changes < math.MaxUint32 {
				m.Changes++
			}
			if v < m.Last {
				m.flags &^= vmRising
			}
		}
		m.Min, m.Max, m.Last = lower(m.Min, v), higher(m.Max, v), v
	}
	if m.Count < math.MaxUint32 {
		m.Count++
	}
	if !newValue {
		return
	}
	if len(set) == maxEnum {
		m.flags |= vmMany
		m.n, m.inner = 0, [maxEnum - 2]float32{}
		return
	}
	i := len(set)
	set = append(set, v)
	for i > 0 && set[i-1] > v {
		set[i] = set[i-1]
		i--
	}
	set[i] = v
	for j := 1; j < len(set)-1; j++ {
		if float64(float32(set[j])) != set[j] {
			m.flags |= vmMany // a value between the ends that float32 cannot hold: a continuous point
			m.n, m.inner = 0, [maxEnum - 2]float32{}
			return
		}
		m.inner[j-1] = float32(set[j])
	}
	m.n = uint8(len(set))
}

// lower and higher are math.Min and math.Max for numbers that are not NaN
// (-0 below +0), inlined: Learn runs for every written number, and the
// math package's are calls.
func lower(a, b float64) float64 {
	if a < b || a == b && math.Signbit(a) {
		return a
	}
	return b
}

func higher(a, b float64) float64 {
	if a > b || a == b && !math.Signbit(a) {
		return a
	}
	return b
}

// Class says which kind of point this is.
func (m *ValueModel) Class() Class {
	switch {
	case !m.Many() && m.n == 1:
		return ClassConstant
	case !m.Many():
		return ClassEnumerated
	case m.flags&vmRising != 0 && m.Changes >= 3:
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
	if t.Kind == protocols.NumBool || (t.Kind == protocols.NumCode && !m.Many()) {
		if m.hasDistinct(v) {
			return Fits, ""
		}
		if t.Kind == protocols.NumBool {
			return Outside, "a state never written while learning (learned " + formatSet(m.Distinct()) + ")"
		}
		return Far, "a code never learned for this point (learned " + formatCodes(m.Distinct()) + ")"
	}
	if lo, hi, ok := t.Extremes(); ok && (v == hi || (v == lo && t.Kind == protocols.NumSigned)) && (v < m.Min || v > m.Max) {
		return Far, fmt.Sprintf("the %s's extreme value", t)
	}
	if flipped, why := m.signFlip(v); flipped {
		return Far, why
	}
	if maxAbs := m.MaxAbs(); math.Abs(v) > farFactor*math.Max(maxAbs, 1) {
		return Far, fmt.Sprintf("more than %d times the largest magnitude learned (%s)", farFactor, formatNum(maxAbs))
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
		if m.Min >= 0 && v < 0 && m.MaxAbs() > 0 {
			return true, "negative, where every learned value was positive or zero"
		}
		if m.Max <= 0 && v > 0 && m.MaxAbs() > 0 {
			return true, "positive, where every learned value was negative or zero"
		}
	}
	return false, ""
}

// Describe renders the learned values for messages.
func (m *ValueModel) Describe() string {
	if m.Type.Kind == protocols.NumCode && !m.Many() {
		return "learned codes " + formatCodes(m.Distinct())
	}
	switch m.Class() {
	case ClassConstant, ClassEnumerated:
		return "learned values " + formatSet(m.Distinct())
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

// ValueDoc is a value model as the baseline document writes it.
type ValueDoc struct {
	Count    uint32    `json:"count"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	Distinct []float64 `json:"distinct,omitempty"` // sorted; absent once more than 6 were seen
	Many     bool      `json:"many,omitempty"`
	Last     float64   `json:"last"`
	Changes  uint32    `json:"changes"`
	Rising   bool      `json:"rising"`
}

// Doc renders the model for the document.
func (m *ValueModel) Doc() ValueDoc {
	return ValueDoc{Count: m.Count, Min: m.Min, Max: m.Max, Distinct: m.Distinct(), Many: m.Many(), Last: m.Last,
		Changes: m.Changes, Rising: m.flags&vmRising != 0}
}

// fromDoc restores a model from the document, checking it.
func (d ValueDoc) model(typ protocols.NumType) (ValueModel, error) {
	vm := ValueModel{Type: typ, Count: d.Count, Changes: d.Changes, Min: d.Min, Max: d.Max, Last: d.Last}
	if d.Count > 0 && d.Min > d.Max {
		return vm, fmt.Errorf("min %v above max %v", d.Min, d.Max)
	}
	if d.Many {
		vm.flags |= vmMany
	} else if len(d.Distinct) > 0 {
		if len(d.Distinct) > maxEnum {
			return vm, fmt.Errorf("distinct: at most %d values", maxEnum)
		}
		for i, v := range d.Distinct {
			if i > 0 && v <= d.Distinct[i-1] {
				return vm, fmt.Errorf("distinct: must be sorted without repeats")
			}
		}
		if d.Distinct[0] != d.Min || d.Distinct[len(d.Distinct)-1] != d.Max {
			return vm, fmt.Errorf("distinct: must run from min to max")
		}
		if len(d.Distinct) > 2 {
			for i, v := range d.Distinct[1 : len(d.Distinct)-1] {
				vm.inner[i] = float32(v)
			}
		}
		vm.n = uint8(len(d.Distinct))
	}
	if d.Rising {
		vm.flags |= vmRising
	}
	vm.settle()
	return vm, nil
}

// settle sets vmLastIn as the model's values say, for a model read back
// (from the file, a document) rather than learned.
func (m *ValueModel) settle() {
	m.flags &^= vmLastIn
	if m.Count > 0 && (m.Many() || m.hasDistinct(m.Last)) {
		m.flags |= vmLastIn
	}
}
