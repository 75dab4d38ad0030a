package baseline

import (
	"math"
	"sort"
)

// Class is what a written point's learned values look like, after Erez &
// Wool's classification of PLC registers: each class has its own test of
// "out of range".
type Class string

const (
	ClassConstant   Class = "constant"   // one value only
	ClassEnumerated Class = "enumerated" // a few distinct values (modes, on/off)
	ClassCounter    Class = "counter"    // only ever increases, by small steps
	ClassSetpoint   Class = "setpoint"   // many values, changed in steps, rarely
	ClassContinuous Class = "continuous" // many values, changing with most writes
)

// maxEnum is the largest distinct-value set kept as an enumeration.
const maxEnum = 8

// minSamples writes are needed before a point's values are judged.
const minSamples = 5

// ValueModel learns one written point.
type ValueModel struct {
	Count    uint64    `json:"count"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	Distinct []float64 `json:"distinct,omitempty"` // sorted; nil once more than maxEnum were seen
	Many     bool      `json:"many,omitempty"`     // more than maxEnum distinct values seen
	Last     float64   `json:"last"`
	Changes  uint64    `json:"changes"`  // writes whose value differed from the previous
	MaxStep  float64   `json:"max_step"` // largest |change| between consecutive writes
	Rising   bool      `json:"rising"`   // every change so far was an increase
}

// Learn folds one written value into the model.
func (m *ValueModel) Learn(v float64) {
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

// Allows reports whether v fits what was learned; margin widens numeric
// ranges by that fraction of their span (at least 1, values being mostly
// integers) on each side.
func (m *ValueModel) Allows(v float64, margin float64) bool {
	if m.Count < minSamples {
		return true // too few writes to know the point's range
	}
	switch m.Class() {
	case ClassConstant, ClassEnumerated:
		i := sort.SearchFloat64s(m.Distinct, v)
		return i < len(m.Distinct) && m.Distinct[i] == v
	case ClassCounter:
		step := math.Max(m.MaxStep, 1)
		return v >= m.Last && v-m.Last <= 10*step
	}
	slack := math.Max((m.Max-m.Min)*margin, 1)
	return v >= m.Min-slack && v <= m.Max+slack
}

// Describe renders the learned range for messages.
func (m *ValueModel) Describe() string {
	switch m.Class() {
	case ClassConstant, ClassEnumerated:
		return "learned values " + formatSet(m.Distinct)
	case ClassCounter:
		return "a counter last at " + formatNum(m.Last)
	}
	return "learned range " + formatNum(m.Min) + ".." + formatNum(m.Max)
}
