package enip

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/otwatch/otwatch/protocols"
)

// Path is what a CIP request path (a padded EPATH, CIP Vol. 1 Appendix C)
// addresses: a class/instance/attribute, or a Logix tag by name.
type Path struct {
	Class                 classID
	Instance, Attribute   uint32
	HasClass, HasInstance bool
	HasAttribute          bool
	// Symbol is the tag name: ANSI extended symbolic segments joined by
	// ".", element (member) segments after them as "[n]"; empty for
	// logical paths. It points into the decoder's scratch buffer.
	Symbol []byte
}

// parsePath decodes a padded EPATH. ok is false when a segment is cut or
// of a kind whose size cannot be known; p then holds the segments before it.
func parsePath(b []byte, scratch []byte) (p Path, ok bool) {
	sym := scratch[:0]
	c := protocols.NewCursor(b)
	for c.Len() > 0 {
		seg := c.U8()
		switch seg & 0xE0 {
		case 0x20: // logical: 8-bit value, or a pad byte and a 16- or 32-bit one
			kind, format := seg>>2&0x07, seg&0x03
			var v uint32
			switch format {
			case 0:
				v = uint32(c.U8())
			case 1:
				c.Skip(1)
				v = uint32(c.U16LE())
			case 2:
				c.Skip(1)
				v = c.U32LE()
			default:
				return p, false
			}
			if c.Failed() {
				return p, false
			}
			if kind == 5 { // special: electronic key, format 4 with 8 bytes of key
				if format != 0 || v != 4 {
					return p, false
				}
				c.Skip(8)
				continue
			}
			switch kind {
			case 0:
				if !p.HasClass {
					p.Class, p.HasClass = classID(v), true
				}
			case 1, 3: // instance, connection point
				if !p.HasInstance {
					p.Instance, p.HasInstance = v, true
				}
			case 2: // member: an element index after a tag name
				if len(sym) > 0 && len(sym)+12 < cap(sym) {
					sym = append(sym, '[')
					sym = strconv.AppendUint(sym, uint64(v), 10)
					sym = append(sym, ']')
				}
			case 4:
				if !p.HasAttribute {
					p.Attribute, p.HasAttribute = v, true
				}
			}
		case 0x80: // data: 0x91 ANSI extended symbol, 0x80 simple data
			n := int(c.U8())
			switch seg {
			case 0x91:
				name := c.Take(n)
				if c.Failed() {
					return p, false
				}
				if len(sym) > 0 && len(sym) < cap(sym) {
					sym = append(sym, '.')
				}
				if len(sym)+n <= cap(sym) {
					sym = append(sym, name...)
				}
				if n&1 != 0 && c.Len() > 0 { // the pad byte, which a path may end without
					c.Skip(1)
				}
			case 0x80:
				c.Skip(2 * n) // n words
			default:
				return p, false
			}
		case 0x00: // port: link address (a byte, or a size byte and that many padded to a word), extended port id
			n := 1
			if seg&0x10 != 0 {
				size := int(c.U8())
				n = size + size&1
			}
			if seg&0x0F == 0x0F {
				n += 2
			}
			c.Skip(n)
		default:
			return p, false
		}
	}
	if c.Failed() {
		return p, false
	}
	p.Symbol = sym
	return p, true
}

// message is one CIP message router request or reply.
type message struct {
	service  serviceCode
	response bool
	path     []byte // request: the padded EPATH
	status   byte   // reply: general status
	extended []byte // reply: additional status words
	data     []byte
}

// parseMessage splits a CIP message router PDU (CIP Vol. 1, §2-4): a
// request is the service, the path size in words and the path; a reply the
// service, a reserved byte, the general status, the size in words of the
// additional status and that status. The data follows.
func parseMessage(b []byte) (m message, ok bool) {
	c := protocols.NewCursor(b)
	service := c.U8()
	m.service, m.response = serviceCode(service&0x7F), service&0x80 != 0
	if m.response {
		c.Skip(1)
		m.status = c.U8()
		m.extended = c.Take(2 * int(c.U8()))
	} else {
		m.path = c.Take(2 * int(c.U8()))
	}
	m.data = c.Rest()
	return m, !c.Failed()
}

// serviceOf names a request's service and gives its op, which depends on
// the class it addresses: 0x4B..0x63 are object-specific.
func serviceOf(service serviceCode, p *Path) (string, protocols.Op) {
	if s, ok := codes.Services[service]; ok {
		op := s.Op
		if p.HasClass && p.Class == classNVS && op != protocols.OpRead {
			op = protocols.OpFirmwareUpdate
		}
		return s.Name, op
	}
	switch {
	case p.HasClass && p.Class == classConnManager:
		if s, ok := codes.ConnManagerServices[service]; ok {
			return s.Name, s.Op
		}
	case p.HasClass && p.Class == classPCCC && service == svcExecutePCCC:
		return "execute_pccc", protocols.OpOther // refined from the PCCC command (pccc)
	case p.HasClass && p.Class == classNVS:
		return "nvs_service_" + strconv.Itoa(int(service)), protocols.OpFirmwareUpdate
	case len(p.Symbol) > 0 || (p.HasClass && (p.Class == classSymbol || p.Class == classTemplate)) || !p.HasClass:
		if s, ok := codes.LogixServices[service]; ok {
			return s.Name, s.Op
		}
	}
	return serviceName(byte(service)), protocols.OpOther
}

var serviceNames = func() [128]string {
	var n [128]string
	for i := range n {
		n[i] = "service_0x" + strconv.FormatUint(uint64(i), 16)
	}
	return n
}()

func serviceName(s byte) string { return serviceNames[s&0x7F] }

// Logix atomic data types (the type code before a tag's data).
var logixTypes = map[uint16]struct {
	size int
	typ  protocols.NumType
}{
	0xC1: {1, protocols.TypeBool}, 0xC2: {1, protocols.IntType(8)}, 0xC3: {2, protocols.IntType(16)},
	0xC4: {4, protocols.IntType(32)}, 0xC5: {8, protocols.IntType(64)}, 0xC6: {1, protocols.UintType(8)},
	0xC7: {2, protocols.UintType(16)}, 0xC8: {4, protocols.UintType(32)}, 0xC9: {8, protocols.UintType(64)},
	0xCA: {4, protocols.FloatType(32)}, 0xCB: {8, protocols.FloatType(64)}, 0xD3: {4, protocols.UintType(32)},
}

// logixValues decodes count elements of a Logix atomic type from b;
// written values go to Values and Points, read ones to ReadValues.
func logixValues(t *protocols.Transaction, typeCode uint16, count int, b []byte, written bool) {
	lt, ok := logixTypes[typeCode]
	if !ok {
		return
	}
	for k := 0; k < count && len(b) >= lt.size; k++ {
		e := b[:lt.size]
		b = b[lt.size:]
		var v protocols.Value
		var f float64
		switch lt.typ.Kind {
		case protocols.NumBool:
			v, f = protocols.BoolValue(e[0] != 0), float64(min(e[0], 1))
		case protocols.NumSigned:
			n := protocols.IntLE(e)
			v, f = protocols.IntValue(n), float64(n)
		case protocols.NumUnsigned:
			n := protocols.UintLE(e)
			v, f = protocols.IntValue(int64(n)), float64(n)
		case protocols.NumFloat:
			if lt.size == 4 {
				f = float64(math.Float32frombits(binary.LittleEndian.Uint32(e)))
			} else {
				f = math.Float64frombits(binary.LittleEndian.Uint64(e))
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				v = protocols.StringValue(strconv.FormatFloat(f, 'g', -1, 64))
			} else {
				v = protocols.FloatValue(f)
			}
		}
		if !written {
			t.AddReadValue(v)
			continue
		}
		t.AddValue(v)
		if v.Kind != protocols.ValueString {
			t.AddPoint(0, k, protocols.FieldValue, lt.typ, f)
		}
	}
}
