package protocols

import (
	"math"
	"slices"
	"strconv"
)

// NumKind says how a written number is typed on the wire.
type NumKind uint8

const (
	// NumUnknown: a number whose type the protocol does not say.
	NumUnknown NumKind = iota
	// NumBool: a coil, a bit.
	NumBool
	// NumUnsigned and NumSigned: integers of Bits bits.
	NumUnsigned
	NumSigned
	// NumRegister: a register of Bits bits whose signedness the protocol
	// does not say (a Modbus holding register holds INT or UINT alike).
	NumRegister
	// NumFloat: an IEEE 754 float of Bits bits.
	NumFloat
	// NumCode: a code from an enumeration (a command's operation type):
	// any code never learned is a deviation, whatever its magnitude.
	NumCode
)

var numKindNames = [...]string{"number", "bool", "uint", "int", "register", "float", "code"}

func (k NumKind) String() string {
	if int(k) < len(numKindNames) {
		return numKindNames[k]
	}
	return "number"
}

// NumType is a written number's wire type: kind and width in bits.
type NumType struct {
	Kind NumKind
	Bits uint8
}

// Common wire types.
var (
	TypeBool = NumType{NumBool, 1}
	TypeReg  = NumType{NumRegister, 16}
	TypeCode = NumType{NumCode, 8}
)

// UintType, IntType and FloatType build sized types.
func UintType(bits uint8) NumType  { return NumType{NumUnsigned, bits} }
func IntType(bits uint8) NumType   { return NumType{NumSigned, bits} }
func FloatType(bits uint8) NumType { return NumType{NumFloat, bits} }

func (t NumType) String() string {
	switch t.Kind {
	case NumBool, NumCode, NumUnknown:
		return t.Kind.String()
	}
	return t.Kind.String() + strconv.Itoa(int(t.Bits))
}

// ParseNumType is the inverse of String; ok is false for anything else.
func ParseNumType(s string) (NumType, bool) {
	for k, name := range numKindNames {
		kind := NumKind(k)
		switch kind {
		case NumBool:
			if s == name {
				return TypeBool, true
			}
			continue
		case NumCode:
			if s == name {
				return TypeCode, true
			}
			continue
		case NumUnknown:
			if s == name {
				return NumType{}, true
			}
			continue
		}
		if len(s) > len(name) && s[:len(name)] == name {
			bits, err := strconv.Atoi(s[len(name):])
			if err == nil && (bits == 8 || bits == 16 || bits == 32 || bits == 64) {
				return NumType{kind, uint8(bits)}, true
			}
		}
	}
	return NumType{}, false
}

// Extremes returns the smallest and largest value of an integer type, and
// false for types without fixed integer bounds (floats, codes, unknown).
// A register's bounds are its unsigned ones.
func (t NumType) Extremes() (lo, hi float64, ok bool) {
	if t.Bits == 0 || t.Bits > 64 {
		return 0, 0, false
	}
	switch t.Kind {
	case NumBool:
		return 0, 1, true
	case NumUnsigned, NumRegister:
		return 0, math.Ldexp(1, int(t.Bits)) - 1, true
	case NumSigned:
		return -math.Ldexp(1, int(t.Bits)-1), math.Ldexp(1, int(t.Bits)-1) - 1, true
	}
	return 0, 0, false
}

// Point fields: "" is the point's value; the others are the parameters of a
// command sent to the point (a DNP3 CROB's operation type, count and times).
const (
	FieldValue   = ""
	FieldOp      = "op"
	FieldCount   = "count"
	FieldOnTime  = "on_ms"
	FieldOffTime = "off_ms"
)

// Point is one written number as the value models see it: which point
// (target i, element k of that target, bit b), which of its fields, its wire type
// and its value. Dissectors fill Points beside Values; learning reads only
// Points (records show Values).
type Point struct {
	Target uint16 // index into the transaction's Targets
	// Element is the element's offset from the target's address, in the
	// target's address units (register i of a Modbus range: i; element k of
	// an S7 INT array: 2k bytes).
	Element uint32
	Sub     uint8  // bit number + 1 when the point is one bit of the addressed unit (S7 BIT items); 0: the whole unit
	Field   string // FieldValue or a command parameter
	Type    NumType
	V       float64
}

// MaxPoints caps the points kept per transaction (a CROB gives four).
const MaxPoints = 4 * MaxValues

// NewPoints appends up to n points of target (fewer at MaxPoints, none for
// a target out of range) and returns them for a decoder to fill in place,
// Target set and the rest zero: a block write's numbers without a call
// and a check each.
func (t *Transaction) NewPoints(target, n int) []Point {
	n = min(n, MaxPoints-len(t.Points))
	if n <= 0 || target < 0 || target > math.MaxUint16 {
		return nil
	}
	start := len(t.Points)
	t.Points = slices.Grow(t.Points, n)[:start+n]
	ps := t.Points[start:]
	for i := range ps {
		ps[i] = Point{Target: uint16(target)}
	}
	return ps
}

// AddPoint appends a written number of target i, element k, unless the
// cap is reached or v is not a number.
func (t *Transaction) AddPoint(target, element int, field string, typ NumType, v float64) {
	if len(t.Points) >= MaxPoints || target < 0 || target > math.MaxUint16 || element < 0 {
		return
	}
	t.Points = append(t.Points, Point{Target: uint16(target), Element: uint32(element), Field: field, Type: typ, V: v})
}
