package iec104

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/otwatch/otwatch/protocols"
)

// Format is an APDU's frame format (IEC 60870-5-104 §5).
type Format uint8

const (
	FormatI Format = iota // numbered information transfer: carries an ASDU
	FormatS               // numbered supervisory: acknowledges I-format APDUs
	FormatU               // unnumbered control: STARTDT, STOPDT, TESTFR
)

// APCI is the application protocol control information of one APDU.
type APCI struct {
	Format Format
	// Length is the APDU length octet: the bytes after it (control field + ASDU).
	Length int
	// SendSeq and RecvSeq are N(S) and N(R), 15 bits each (I-format: both;
	// S-format: RecvSeq).
	SendSeq, RecvSeq uint16
	// UFunctions are the U-format function bits of the first control octet (0xFC mask).
	UFunctions byte
}

// ParseAPCI decodes the APCI at the start of apdu (which begins with the
// start octet 0x68). ok is false when the length octet is below 4 or the
// control field is cut: tshark shows nothing of such an APDU either.
func ParseAPCI(apdu []byte) (a APCI, ok bool) {
	if len(apdu) < apciLen || apdu[0] != startOctet || int(apdu[1]) < minAPDULen {
		return a, false
	}
	a.Length = int(apdu[1])
	c := apdu[2:6]
	switch {
	case c[0]&0x01 == 0:
		a.Format = FormatI
		a.SendSeq = binary.LittleEndian.Uint16(c[0:]) >> 1
		a.RecvSeq = binary.LittleEndian.Uint16(c[2:]) >> 1
	case c[0]&0x03 == 0x01:
		a.Format = FormatS
		a.RecvSeq = binary.LittleEndian.Uint16(c[2:]) >> 1
	default:
		a.Format = FormatU
		a.UFunctions = c[0] & uFunctionsMask
	}
	return a, true
}

// Code is the record code of an S- or U-format APDU (RECORDS.md): 0x100
// plus the first control octet with the sequence bits cleared.
func (a APCI) Code() int {
	if a.Format == FormatS {
		return CodeS
	}
	return 0x100 | int(a.UFunctions) | 0x03
}

// decodeAPDU fills t from one APDU (start octet included) sent by the
// controlling station (controlling) or the controlled station. It returns
// false when the APDU makes no record: its length octet is below 4, a
// U-format names no function, or an I-format carries no ASDU byte.
func decodeAPDU(apdu []byte, t *protocols.Transaction, controlling bool, units *unitCache) (APCI, bool) {
	a, ok := ParseAPCI(apdu)
	if !ok {
		return a, false
	}
	t.Proto = Proto
	if a.Length > maxAPDULen {
		t.AddAnomaly("iec104.invalid_length")
	}
	switch a.Format {
	case FormatS:
		t.Op, t.Code, t.CodeName = protocols.OpSession, CodeS, "s_format"
		if a.Length != minAPDULen {
			t.AddAnomaly("iec104.control_frame_length")
		}
		return a, true
	case FormatU:
		if a.UFunctions == 0 {
			return a, false
		}
		t.Op, t.Code = protocols.OpSession, a.Code()
		if name, one := codes.UFunctions[a.UFunctions]; one {
			t.CodeName = name
		} else {
			t.CodeName = "u_format_multiple"
			t.AddAnomaly("iec104.u_format_functions")
		}
		if a.Length != minAPDULen {
			t.AddAnomaly("iec104.control_frame_length")
		}
		return a, true
	}
	asdu := apdu[apciLen:]
	if len(asdu) == 0 {
		return a, false
	}
	decodeASDU(asdu, t, controlling, units)
	return a, true
}

// decodeASDU reads the data unit identifier (type, variable structure
// qualifier, cause of transmission, common address) and the information
// objects: their addresses become targets, command values become Values
// and Points, monitored values ReadValues.
func decodeASDU(asdu []byte, t *protocols.Transaction, controlling bool, units *unitCache) {
	typeID := asdu[0]
	t.Code = int(typeID)
	info, known := types[typeID]
	if known {
		t.CodeName = info.name
		t.AddAttr("type", info.mnemonic)
	} else {
		t.CodeName = "type_" + strconv.Itoa(int(typeID))
		t.AddAnomaly("iec104.unknown_type")
	}
	if len(asdu) < 3 {
		t.AddAnomaly("iec104.short_asdu")
		return
	}
	vsq, cot := asdu[1], asdu[2]
	cause := int(cot & 0x3F)
	t.Subcode, t.HasSubcode = cause, true
	if name := codes.Causes[cause]; name != "" {
		t.SubcodeName = name
	} else {
		t.SubcodeName = "cause_" + strconv.Itoa(cause)
		t.AddAnomaly("iec104.unknown_cause")
	}
	negative, test := cot&0x40 != 0, cot&0x80 != 0
	if test {
		t.AddAttr("test", "true")
	}
	if len(asdu) < asduHeaderLen {
		t.AddAnomaly("iec104.short_asdu")
		return
	}
	if oa := asdu[3]; oa != 0 {
		t.AddAttr("originator", protocols.Itoa(int(oa)))
	}
	t.Unit = units.name(binary.LittleEndian.Uint16(asdu[4:]))
	// Side and outcome: the controlling station activates; the controlled
	// station confirms (a negative confirmation is an exception),
	// terminates, or reports on its own.
	t.Op = info.op
	switch {
	case controlling && info.command && cause != cotAct && cause != cotDeact:
		t.Op = protocols.OpOther // a command the master sends with another cause
	case !controlling && info.command:
		t.Op = protocols.OpOther // the station's confirmation or termination
		if cause == cotAct || cause == cotDeact {
			t.AddAnomaly("iec104.command_from_station")
		}
	}
	if !controlling {
		switch {
		case negative || (cause >= cotUnknownMin && cause <= cotUnknownMax):
			t.Outcome, t.ExceptionCode, t.HasException = protocols.OutcomeException, int64(cot&0x7F), true
		case cause == cotPeriodic || cause == cotBackground || cause == cotSpont || cause == cotInit:
			t.Outcome = protocols.OutcomeUnsolicited
		}
	}
	// A counter interrogation whose qualifier freezes or resets the
	// counters (FRZ, bits 6-7 of QCC) changes them: control.
	if typeID == 101 && t.Op == protocols.OpRead && len(asdu) > asduHeaderLen+ioaLen && asdu[asduHeaderLen+ioaLen]&0xC0 != 0 {
		t.Op = protocols.OpControl
	}
	n := int(vsq & 0x7F)
	if n == 0 {
		t.AddAnomaly("iec104.no_objects")
		return
	}
	if !known {
		return
	}
	objects(asdu[asduHeaderLen:], vsq&0x80 != 0, n, info, t, controlling && t.Op != protocols.OpOther)
}

// objects walks the information objects. With SQ set, one address is
// followed by n elements of consecutive addresses; otherwise each element
// has its own address. written: the values are a command's (Values and
// Points); otherwise they are reported (ReadValues).
func objects(b []byte, sq bool, n int, info typeInfo, t *protocols.Transaction, written bool) {
	if sq {
		if len(b) < ioaLen {
			t.AddAnomaly("iec104.short_asdu")
			return
		}
		ioa := ioaOf(b)
		b = b[ioaLen:]
		have := n
		if info.size > 0 && len(b)/info.size < n {
			have = len(b) / info.size
			t.AddAnomaly("iec104.short_asdu")
		}
		if have == 0 && info.size > 0 {
			return
		}
		t.AddTarget("ioa", uint64(ioa), uint64(have))
		for k := 0; k < have && info.size > 0; k++ {
			value(b[k*info.size:], info, t, written, 0, k)
		}
		if rest := len(b) - have*info.size; rest > 0 && have == n && !info.variable {
			t.AddAnomaly("iec104.trailing_bytes")
		}
		return
	}
	for k := 0; k < n; k++ {
		size := info.size
		if info.variable && len(b) >= ioaLen+size {
			size += int(b[ioaLen+3]) // F_SG_NA_1: length of segment
		}
		if len(b) < ioaLen+size {
			t.AddAnomaly("iec104.short_asdu")
			return
		}
		addTarget(t, ioaOf(b))
		if info.size > 0 {
			value(b[ioaLen:], info, t, written, len(t.Targets)-1, int(uint64(ioaOf(b))-t.Targets[len(t.Targets)-1].Address))
		}
		b = b[ioaLen+size:]
	}
	if len(b) > 0 {
		t.AddAnomaly("iec104.trailing_bytes")
	}
}

// addTarget extends the last target when ioa follows it, so a report of
// consecutive points is one range.
func addTarget(t *protocols.Transaction, ioa uint32) {
	if k := len(t.Targets) - 1; k >= 0 {
		last := &t.Targets[k]
		if last.Space == "ioa" && last.Address+last.Count == uint64(ioa) {
			last.Count++
			return
		}
	}
	t.AddTarget("ioa", uint64(ioa), 1)
}

func ioaOf(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }

// value decodes the value of one information element e (at least
// info.size bytes).
func value(e []byte, info typeInfo, t *protocols.Transaction, written bool, target, element int) {
	var v protocols.Value
	var typ protocols.NumType
	qualifier := -1 // a command's qualifier (QU of SCO/DCO/RCO, QL of QOS)
	selected := false
	switch info.val {
	case valNone:
		return
	case valSinglePt:
		v, typ = protocols.BoolValue(e[0]&0x01 != 0), protocols.TypeBool
		if info.command {
			qualifier, selected = int(e[0]>>2&0x1F), e[0]&0x80 != 0
		}
	case valDoublePt:
		v, typ = protocols.IntValue(int64(e[0]&0x03)), protocols.NumType{Kind: protocols.NumCode, Bits: 2}
		if info.command {
			qualifier, selected = int(e[0]>>2&0x1F), e[0]&0x80 != 0
		}
	case valStep:
		s := int64(e[0] & 0x7F)
		if s >= 64 {
			s -= 128
		}
		v, typ = protocols.IntValue(s), protocols.IntType(7)
	case valBits32:
		v, typ = protocols.IntValue(int64(binary.LittleEndian.Uint32(e))), protocols.UintType(32)
	case valNormalized:
		v, typ = protocols.FloatValue(float64(int16(binary.LittleEndian.Uint16(e)))/32768), protocols.FloatType(32)
		if info.command && info.size >= 3 {
			qualifier, selected = int(e[2]&0x7F), e[2]&0x80 != 0
		}
	case valScaled:
		v, typ = protocols.IntValue(int64(int16(binary.LittleEndian.Uint16(e)))), protocols.IntType(16)
		if info.command && info.size >= 3 {
			qualifier, selected = int(e[2]&0x7F), e[2]&0x80 != 0
		}
	case valFloat:
		f := float64(math.Float32frombits(binary.LittleEndian.Uint32(e)))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			v = protocols.StringValue(strconv.FormatFloat(f, 'g', -1, 64))
		} else {
			v = protocols.FloatValue(f)
		}
		typ = protocols.FloatType(32)
		if info.command && info.size >= 5 {
			qualifier, selected = int(e[4]&0x7F), e[4]&0x80 != 0
		}
	case valCounter:
		v, typ = protocols.IntValue(int64(int32(binary.LittleEndian.Uint32(e)))), protocols.IntType(32)
	}
	if !written {
		t.AddReadValue(v)
		return
	}
	t.AddValue(v)
	if v.Kind != protocols.ValueString {
		f := v.F
		if v.Kind != protocols.ValueFloat {
			f = float64(v.Int)
		}
		t.AddPoint(target, element, protocols.FieldValue, typ, f)
	}
	if qualifier >= 0 && (info.val == valSinglePt || info.val == valDoublePt) {
		t.AddPoint(target, element, protocols.FieldOp, protocols.TypeCode, float64(qualifier))
	}
	if info.command && len(t.Attrs) < 8 && t.Attr("command_phase") == "" {
		if selected {
			t.AddAttr("command_phase", "select")
		} else {
			t.AddAttr("command_phase", "execute")
		}
	}
}

// unitCache renders the common address of the ASDU, the station's address
// (the record's unit; 65535 is the broadcast address), keeping the last
// one so a station's APDUs allocate no string each.
type unitCache struct {
	ca   uint16
	s    string
	have bool
}

func (u *unitCache) name(ca uint16) string {
	if u == nil {
		return protocols.Itoa(int(ca))
	}
	if !u.have || u.ca != ca {
		u.ca, u.s, u.have = ca, protocols.Itoa(int(ca)), true
	}
	return u.s
}
