package opcua

import (
	"encoding/base64"
	"math"
	"strconv"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// reader decodes OPC UA binary built-in types (OPC 10000-6 §5.2) from a byte
// slice in place: the shared cursor (little-endian integers, a first failure
// that sticks, checked once at the end) and, here, what is OPC UA's own —
// Int32-prefixed strings, counts capped by the bytes left, NodeIds,
// Variants, DataValues.
type reader struct {
	protocols.Cursor
	// elem is the built-in type id of the Variant element last emitted,
	// for typing written values (1 Boolean .. 11 Double).
	elem byte
	// strs makes the strings kept (NodeIds, texts); nil allocates each.
	strs *protocols.Strings
}

func newReader(b []byte, strs *protocols.Strings) reader {
	return reader{Cursor: protocols.NewCursor(b), strs: strs}
}

func (r *reader) boolean() bool { return r.U8() != 0 }

func (r *reader) i32() int32 { return int32(r.U32LE()) }

func (r *reader) f64() float64 { return math.Float64frombits(r.U64LE()) }

// bytes reads a String or ByteString: Int32 length, -1 for null.
func (r *reader) bytes() []byte {
	n := r.i32()
	if n == -1 || r.Failed() {
		return nil
	}
	if n < -1 {
		r.Fail()
		return nil
	}
	return r.Take(int(n))
}

// str reads a String as printable text (see printable).
func (r *reader) str() string { return r.strs.Printable(r.bytes()) }

// count reads an array length and caps it by the bytes that remain, each
// element taking at least minSize bytes: a claimed count that cannot fit
// fails the reader instead of driving a huge loop or allocation.
func (r *reader) count(minSize int) int {
	n := r.i32()
	if r.Failed() || n == -1 {
		return 0
	}
	if n < -1 || int64(n)*int64(minSize) > int64(r.Len()) {
		r.Fail()
		return 0
	}
	return int(n)
}

// NodeID is a decoded NodeId; Str aliases the decoded buffer.
type NodeID struct {
	NS   uint16
	Kind byte // 'i' numeric, 's' string, 'g' guid, 'b' opaque
	Num  uint32
	Str  []byte
	// Expanded NodeId extras.
	URI         []byte
	ServerIndex uint32
	// wire is the NodeId's encoding as read (nil when built otherwise):
	// its text is a function of these bytes alone.
	wire []byte
}

// IsNull is true for ns=0;i=0, the null NodeId.
func (n NodeID) IsNull() bool { return n.Kind == 'i' && n.NS == 0 && n.Num == 0 }

// Numeric0 returns the identifier of a namespace-0 numeric NodeId.
func (n NodeID) Numeric0() (uint32, bool) { return n.Num, n.Kind == 'i' && n.NS == 0 && n.URI == nil }

// String renders the NodeId in the standard text form ("i=85",
// "ns=2;s=Tank1", "ns=1;g=…", "ns=3;b=base64").
func (n NodeID) String() string {
	return string(n.appendText(make([]byte, 0, 16+len(n.URI)+len(n.Str)*4/3)))
}

// text is the NodeId's String, made with the reader's strings.
// A session names the same nodes request after request (a poll's reads,
// its authentication token): the text of an encoding seen recently is
// recalled rather than formatted again.
func (r *reader) text(n NodeID) string {
	if s, ok := r.strs.Recall(protocols.RenderOPCUANode, n.wire); ok {
		return s
	}
	var buf [128]byte
	return r.strs.Remember(protocols.RenderOPCUANode, n.wire, n.appendText(buf[:0])) // a nil wire is not remembered
}

func (n NodeID) appendText(b []byte) []byte {
	if n.URI != nil {
		b = append(b, "nsu="...)
		b = protocols.AppendPrintable(b, n.URI)
		b = append(b, ';')
	} else if n.NS != 0 {
		b = append(b, "ns="...)
		b = strconv.AppendUint(b, uint64(n.NS), 10)
		b = append(b, ';')
	}
	switch n.Kind {
	case 's':
		b = append(b, "s="...)
		b = protocols.AppendPrintable(b, n.Str)
	case 'g':
		b = append(b, "g="...)
		b = appendGUID(b, n.Str)
	case 'b':
		b = append(b, "b="...)
		b = base64.StdEncoding.AppendEncode(b, n.Str)
	default:
		b = append(b, "i="...)
		b = strconv.AppendUint(b, uint64(n.Num), 10)
	}
	if n.ServerIndex != 0 {
		b = append(b, ";svr="...)
		b = strconv.AppendUint(b, uint64(n.ServerIndex), 10)
	}
	return b
}

// number renders v in decimal, made with the reader's strings.
func (r *reader) number(v uint64) string {
	var buf [20]byte
	return r.strs.Bytes(strconv.AppendUint(buf[:0], v, 10))
}

// appendGUID renders a 16-byte binary Guid (Data1..3 little-endian).
func appendGUID(b, g []byte) []byte {
	const hex = "0123456789abcdef"
	if len(g) != 16 {
		return b
	}
	order := [16]int{3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 8, 9, -1, 10, 11}
	for _, i := range order {
		if i < 0 {
			b = append(b, '-')
			continue
		}
		b = append(b, hex[g[i]>>4], hex[g[i]&15])
	}
	for _, c := range g[12:] {
		b = append(b, hex[c>>4], hex[c&15])
	}
	return b
}

// nodeID reads a NodeId; expanded also honours the namespace-URI and
// server-index flags of an ExpandedNodeId.
func (r *reader) nodeID(expanded bool) NodeID {
	from := r.Rest()
	enc := r.U8()
	var n NodeID
	switch enc & 0x3F {
	case 0: // two-byte
		n.Kind, n.Num = 'i', uint32(r.U8())
	case 1: // four-byte
		n.Kind, n.NS, n.Num = 'i', uint16(r.U8()), uint32(r.U16LE())
	case 2:
		n.Kind, n.NS, n.Num = 'i', r.U16LE(), r.U32LE()
	case 3:
		n.Kind, n.NS, n.Str = 's', r.U16LE(), r.bytes()
	case 4:
		n.Kind, n.NS, n.Str = 'g', r.U16LE(), r.Take(16)
	case 5:
		n.Kind, n.NS, n.Str = 'b', r.U16LE(), r.bytes()
	default:
		r.Fail()
		return n
	}
	if !expanded && enc&0xC0 != 0 {
		r.Fail() // a plain NodeId carries no URI or server index
		return n
	}
	if enc&0x80 != 0 {
		n.URI = r.bytes()
		if n.URI == nil {
			n.URI = []byte{}
		}
	}
	if enc&0x40 != 0 {
		n.ServerIndex = r.U32LE()
	}
	if !r.Failed() {
		n.wire = from[:len(from)-r.Len()]
	}
	return n
}

// qualifiedName reads a QualifiedName (UInt16 namespace, String name).
func (r *reader) qualifiedName() []byte {
	r.U16LE()
	return r.bytes()
}

// localizedText reads a LocalizedText and returns its text.
func (r *reader) localizedText() []byte {
	mask := r.U8()
	if mask&0x01 != 0 {
		r.bytes()
	}
	if mask&0x02 != 0 {
		return r.bytes()
	}
	return nil
}

// extensionObject reads an ExtensionObject: its type NodeId and its body
// (nil when the object has none).
func (r *reader) extensionObject() (NodeID, []byte) {
	id := r.nodeID(false)
	switch r.U8() {
	case 0:
		return id, nil
	case 1, 2:
		return id, r.bytes()
	}
	r.Fail()
	return id, nil
}

// maxDepth bounds the nesting of DiagnosticInfo, Variant and DataValue.
const maxDepth = 8

// diagnosticInfo skips a DiagnosticInfo.
func (r *reader) diagnosticInfo(depth int) {
	if depth > maxDepth {
		r.Fail()
		return
	}
	mask := r.U8()
	for _, bit := range [...]byte{0x01, 0x02, 0x08, 0x04} { // symbolic id, namespace, locale, localized text
		if mask&bit != 0 {
			r.i32()
		}
	}
	if mask&0x10 != 0 {
		r.bytes()
	}
	if mask&0x20 != 0 {
		r.U32LE()
	}
	if mask&0x40 != 0 {
		r.diagnosticInfo(depth + 1)
	}
}

// variant reads a Variant; each scalar (and each array element) that has a
// protocol-independent value goes to emit, when emit is not nil.
func (r *reader) variant(depth int, emit func(protocols.Value)) {
	if depth > maxDepth {
		r.Fail()
		return
	}
	r.variantRest(r.U8(), depth, emit)
}

// variantRest reads a Variant after its encoding byte.
func (r *reader) variantRest(enc byte, depth int, emit func(protocols.Value)) {
	typ := enc & 0x3F
	if typ > 25 {
		r.Fail()
		return
	}
	n := 1
	if enc&0x80 != 0 {
		n = r.count(1)
		if typ == 0 && n > 0 {
			r.Fail()
			return
		}
	} else if typ == 0 {
		if enc&0x40 != 0 {
			r.Fail()
		}
		return
	}
	for i := 0; i < n && !r.Failed(); i++ {
		r.variantElement(typ, depth, emit)
	}
	if enc&0x40 != 0 && enc&0x80 != 0 {
		dims := r.count(4)
		r.Skip(4 * dims)
	}
}

func (r *reader) variantElement(typ byte, depth int, emit func(protocols.Value)) {
	var v protocols.Value
	ok := true
	switch typ {
	case 1:
		v = protocols.BoolValue(r.boolean())
	case 2:
		v = protocols.IntValue(int64(int8(r.U8())))
	case 3:
		v = protocols.IntValue(int64(r.U8()))
	case 4:
		v = protocols.IntValue(int64(int16(r.U16LE())))
	case 5:
		v = protocols.IntValue(int64(r.U16LE()))
	case 6:
		v = protocols.IntValue(int64(r.i32()))
	case 7, 19: // UInt32, StatusCode
		v = protocols.IntValue(int64(r.U32LE()))
	case 8:
		v = protocols.IntValue(int64(r.U64LE()))
	case 9:
		u := r.U64LE()
		if u > math.MaxInt64 {
			v = protocols.FloatValue(float64(u))
		} else {
			v = protocols.IntValue(int64(u))
		}
	case 10:
		v = protocols.FloatValue(float64(math.Float32frombits(r.U32LE())))
	case 11:
		v = protocols.FloatValue(r.f64())
	case 12, 16: // String, XmlElement
		v = protocols.StringValue(printable(r.bytes()))
	case 13:
		v = protocols.StringValue(formatDateTime(int64(r.U64LE())))
	case 14:
		v = protocols.StringValue(string(appendGUID(nil, r.Take(16))))
	case 15:
		b := r.bytes()
		ok = false
		if emit != nil && b != nil {
			v, ok = protocols.StringValue(base64.StdEncoding.EncodeToString(b)), true
		}
	case 17, 18:
		id := r.nodeID(typ == 18)
		ok = emit != nil
		if ok {
			v = protocols.StringValue(r.text(id))
		}
	case 20:
		v = protocols.StringValue(printable(r.qualifiedName()))
	case 21:
		v = protocols.StringValue(printable(r.localizedText()))
	case 22:
		r.extensionObject()
		ok = false
	case 23:
		r.dataValue(depth+1, emit)
		ok = false
	case 24:
		r.variant(depth+1, emit)
		ok = false
	case 25:
		r.diagnosticInfo(depth + 1)
		ok = false
	}
	if ok && emit != nil && !r.Failed() {
		r.elem = typ
		emit(v)
	}
}

// numType is the wire type of a Variant element of built-in type typ, false
// for what is not a number the value models judge.
func numType(typ byte) (protocols.NumType, bool) {
	switch typ {
	case 1:
		return protocols.TypeBool, true
	case 2, 4, 6, 8:
		return protocols.IntType(8 << ((typ - 2) / 2)), true
	case 3, 5, 7, 9:
		return protocols.UintType(8 << ((typ - 3) / 2)), true
	case 10:
		return protocols.FloatType(32), true
	case 11:
		return protocols.FloatType(64), true
	}
	return protocols.NumType{}, false
}

// dataValue reads a DataValue; its Variant's values go to emit. It returns
// the StatusCode (0, Good, when absent).
func (r *reader) dataValue(depth int, emit func(protocols.Value)) uint32 {
	if depth > maxDepth {
		r.Fail()
		return 0
	}
	mask := r.U8()
	if mask&0x01 != 0 {
		r.variant(depth+1, emit)
	}
	return r.dataValueRest(mask)
}

// dataValueRest reads the fields of a DataValue after its value, as the
// encoding mask says: status code, source and server timestamps and picoseconds.
func (r *reader) dataValueRest(mask byte) (status uint32) {
	if mask&0x02 != 0 {
		status = r.U32LE()
	}
	if mask&0x04 != 0 {
		r.U64LE()
	}
	if mask&0x10 != 0 {
		r.U16LE()
	}
	if mask&0x08 != 0 {
		r.U64LE()
	}
	if mask&0x20 != 0 {
		r.U16LE()
	}
	return status
}

// dataValueScalar reads a DataValue whose value is a scalar
// ExtensionObject or String, returning whichever it holds.
func (r *reader) dataValueScalar() (ext NodeID, body []byte, s []byte, isString bool) {
	mask := r.U8()
	if mask&0x01 != 0 {
		enc := r.U8()
		switch {
		case enc == 12:
			s, isString = r.bytes(), true
		case enc == 22:
			ext, body = r.extensionObject()
		default:
			r.variantRest(enc, 1, nil)
		}
	}
	r.dataValueRest(mask)
	return
}

// formatDateTime renders an OPC UA DateTime (100 ns ticks since 1601-01-01 UTC).
func formatDateTime(ticks int64) string {
	const epochDiff = 116444736000000000 // ticks from 1601 to 1970
	if ticks <= 0 || ticks == math.MaxInt64 {
		return strconv.FormatInt(ticks, 10)
	}
	t := time.Unix(0, 0).Add(time.Duration(ticks-epochDiff) * 100)
	return t.UTC().Format(time.RFC3339Nano)
}

// printable is the shared sanitiser for strings from the wire (protocols.Printable).
func printable(b []byte) string { return protocols.Printable(b) }
