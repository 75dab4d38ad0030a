package s7comm

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/otwatch/otwatch/protocols"
)

// S7comm-plus request bodies name what they touch with "item addresses":
// symbol CRC, access area (0x8a0e0000 | DB number, or 0x50..0x54 for
// I/Q/M/C/T, or a system object class), the number of IDs that follow, the
// access sub-area and LIDs (symbolic element ids of optimized blocks, not
// byte offsets). Integers are variable-length (7 bits per byte, high bit =
// more follows). Values are typed (flags, datatype, [count], elements).

// maxPlusItems caps the items decoded per request.
const maxPlusItems = 64

// Access areas of item addresses.
const (
	plusAreaDB = 0x8a0e
)

var plusIQMCT = map[uint32]string{0x50: "I", 0x51: "Q", 0x52: "M", 0x53: "C", 0x54: "T"}

// Subscription attributes (SetVariable on a subscription object re-arms
// cyclic reads; it writes nothing to the process).
var plusSubscriptionAttrs = map[uint32]bool{1048: true, 1049: true, 1051: true, 1053: true}

// vlq reads an unsigned variable-length integer; n is 0 when b ends first
// or the value runs past 10 bytes.
func vlq(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// svlq reads a signed variable-length integer: bit 6 of the first byte is
// the sign.
func svlq(b []byte) (v int64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	if b[0]&0x40 != 0 {
		v = -1
	}
	for i := 0; i < len(b) && i < 10; i++ {
		v = v<<7 | int64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// plusReader reads a request body; the first error sticks.
type plusReader struct {
	b   []byte
	bad bool
}

func (r *plusReader) u32() uint32 {
	if r.bad || len(r.b) < 4 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *plusReader) vlq() uint64 {
	if r.bad {
		return 0
	}
	v, n := vlq(r.b)
	if n == 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *plusReader) bytes(n int) []byte {
	if r.bad || n < 0 || len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// address reads one item address into a target.
func (r *plusReader) address() (protocols.Target, bool) {
	crc := r.vlq()
	area := uint32(r.vlq())
	ids := r.vlq()
	if r.bad || ids > uint64(len(r.b)) { // each id takes at least one byte
		r.bad = true
		return protocols.Target{}, false
	}
	var path strings.Builder
	sub := uint64(0)
	for i := uint64(0); i < ids; i++ {
		v := r.vlq()
		if i == 0 {
			sub = v
			continue
		}
		if path.Len() > 0 {
			path.WriteByte('.')
		}
		path.WriteString(strconv.FormatUint(v, 10))
	}
	var tg protocols.Target
	switch {
	case area>>16 == plusAreaDB:
		tg = protocols.Target{Space: "db" + itoa(int(area&0xffff)), ID: path.String()}
	case plusIQMCT[area] != "":
		tg = protocols.Target{Space: plusIQMCT[area], ID: path.String()}
	default:
		id := strconv.FormatUint(uint64(area), 10) + "." + strconv.FormatUint(sub, 10)
		if path.Len() > 0 {
			id += "." + path.String()
		}
		tg = protocols.Target{Space: "object", ID: id}
	}
	if tg.ID == "" {
		tg.ID = "-"
	}
	if crc != 0 {
		tg.ID += "@" + hex32(uint32(crc))[2:]
	}
	return tg, !r.bad
}

// value reads one typed value (flags, datatype, [count], elements) into t.
// It returns false when the type cannot be skipped.
func (r *plusReader) value(t *protocols.Transaction) bool {
	hdr := r.bytes(2)
	if hdr == nil {
		return false
	}
	flags, typ := hdr[0], hdr[1]
	count := uint64(1)
	if flags&0x30 != 0 { // array or address array
		count = r.vlq()
		if r.bad || count > uint64(len(r.b)) {
			r.bad = true
			return false
		}
	}
	for i := uint64(0); i < count && !r.bad; i++ {
		switch typ {
		case 0x00: // null
		case 0x01: // BOOL
			if b := r.bytes(1); b != nil {
				t.AddValue(protocols.BoolValue(b[0] != 0))
			}
		case 0x02, 0x0a: // USINT, BYTE
			if b := r.bytes(1); b != nil {
				t.AddValue(protocols.IntValue(int64(b[0])))
			}
		case 0x06: // SINT
			if b := r.bytes(1); b != nil {
				t.AddValue(protocols.IntValue(int64(int8(b[0]))))
			}
		case 0x03, 0x0b: // UINT, WORD
			if b := r.bytes(2); b != nil {
				t.AddValue(protocols.IntValue(int64(binary.BigEndian.Uint16(b))))
			}
		case 0x07: // INT
			if b := r.bytes(2); b != nil {
				t.AddValue(protocols.IntValue(int64(int16(binary.BigEndian.Uint16(b)))))
			}
		case 0x0c, 0x12: // DWORD, RID
			if b := r.bytes(4); b != nil {
				t.AddValue(protocols.IntValue(int64(binary.BigEndian.Uint32(b))))
			}
		case 0x0d, 0x10: // LWORD, TIMESTAMP
			if b := r.bytes(8); b != nil {
				t.AddValue(protocols.IntValue(int64(binary.BigEndian.Uint64(b))))
			}
		case 0x0e: // REAL
			if b := r.bytes(4); b != nil {
				t.AddValue(protocols.FloatValue(float64(math.Float32frombits(binary.BigEndian.Uint32(b)))))
			}
		case 0x0f: // LREAL
			if b := r.bytes(8); b != nil {
				t.AddValue(protocols.FloatValue(math.Float64frombits(binary.BigEndian.Uint64(b))))
			}
		case 0x04, 0x05, 0x13: // UDINT, ULINT, AID
			v := r.vlq()
			if !r.bad {
				t.AddValue(protocols.IntValue(int64(v)))
			}
		case 0x08, 0x09, 0x11: // DINT, LINT, TIMESPAN
			v, n := svlq(r.b)
			if n == 0 {
				r.bad = true
				break
			}
			r.b = r.b[n:]
			t.AddValue(protocols.IntValue(v))
		case 0x15: // WSTRING: length, UTF-8 bytes
			n := r.vlq()
			if b := r.bytes(int(min(n, uint64(len(r.b)+1)))); b != nil {
				t.AddValue(protocols.StringValue(printable(b)))
			}
		default: // blob, variant, struct...: layout not followed
			return false
		}
	}
	return !r.bad
}

// decodePlusBody names what a request touches: item addresses of
// Get/SetMultiVariables, object and attribute of Get/SetVariable, and the
// values written. body starts after the sequence number.
func decodePlusBody(p *PlusPDU, t *protocols.Transaction) {
	if p.Opcode != OpcodeRequest || len(p.Body) < 5 {
		return
	}
	r := plusReader{b: p.Body[5:]} // session id, transport flags
	switch p.Function {
	case PlusGetMultiVariables, PlusSetMultiVariables:
		object := r.u32()
		if object != 0 {
			attr(t, "object", hex32(object))
			return // session settings or a subscription: not process variables
		}
		count := r.vlq()
		r.vlq() // number of fields
		if r.bad {
			return
		}
		n := 0
		for i := uint64(0); i < count && !r.bad; i++ {
			tg, ok := r.address()
			if !ok {
				t.AddAnomaly(anomalyPlusInvalidItem)
				return
			}
			if n < maxPlusItems {
				t.Targets = append(t.Targets, tg)
				n++
			}
		}
		if p.Function != PlusSetMultiVariables {
			return
		}
		for i := uint64(0); i < count && !r.bad; i++ {
			r.vlq() // item number
			if !r.value(t) {
				return
			}
		}
	case PlusSetVariable, PlusGetVariable:
		object := r.u32()
		count := r.vlq()
		if r.bad || count == 0 || count > uint64(len(r.b)) {
			return
		}
		attrID := uint32(r.vlq())
		if r.bad {
			return
		}
		t.Targets = append(t.Targets, protocols.Target{Space: "object", ID: hex32(object) + "." + strconv.FormatUint(uint64(attrID), 10)})
		if p.Function == PlusSetVariable {
			if plusSubscriptionAttrs[attrID] {
				t.Op = protocols.OpRead // re-arms a subscription's cyclic reads
				attr(t, "subscription", "true")
			}
			r.value(t)
		}
	}
}
