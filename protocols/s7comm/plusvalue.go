package s7comm

import (
	"math"
	"strconv"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// The S7comm-plus object model, as far as a monitor needs it to name what is
// read and written:
//
//   - integers are variable-length quantities (VLQ): 7 bits per byte, the
//     high bit says another byte follows. 32-bit values take at most 5
//     bytes; 64-bit values at most 9, the 9th carrying 8 bits. Signed VLQs
//     carry the sign in bit 6 of the first byte.
//   - a value (PValue) is flags (0x10 array, 0x20 address array, 0x40
//     sparse array), a datatype, for arrays a VLQ element count (a sparse
//     array instead prefixes every element with a VLQ key and ends with key
//     0), then the elements. Fixed-size types are big-endian; UDInt/ULInt,
//     DInt/LInt, AID, Timespan and Variant are VLQs; WString and Blob carry
//     a VLQ length. A Struct value is a 4-byte id followed by an id-value
//     list of its members ended by id 0; packed structs (type-info ids
//     0x90000000.. and 0x02000000..) carry their members as raw bytes
//     behind an interface timestamp, flags and a length.
//   - an object is element 0xa1 (relation id, class id, class flags,
//     attribute id), its attributes (0xa3 id + value), relations (0xa4),
//     tag descriptions (0xa7/0xa8), type and name lists (0xab/0xac) and
//     nested objects, ended by 0xa2.
//
// The decoder walks all of it without allocating: values go straight into
// the transaction, and every string it builds (target ids, detail values,
// string values) is written into one per-PDU arena turned into a single
// string at the end.

// PValue datatypes and flags.
const (
	ptNull      = 0x00
	ptBool      = 0x01
	ptUSInt     = 0x02
	ptUInt      = 0x03
	ptUDInt     = 0x04
	ptULInt     = 0x05
	ptSInt      = 0x06
	ptInt       = 0x07
	ptDInt      = 0x08
	ptLInt      = 0x09
	ptByte      = 0x0a
	ptWord      = 0x0b
	ptDWord     = 0x0c
	ptLWord     = 0x0d
	ptReal      = 0x0e
	ptLReal     = 0x0f
	ptTimestamp = 0x10
	ptTimespan  = 0x11
	ptRID       = 0x12
	ptAID       = 0x13
	ptBlob      = 0x14
	ptWString   = 0x15
	ptVariant   = 0x16
	ptStruct    = 0x17
	ptS7String  = 0x19

	pfArray     = 0x10
	pfAddrArray = 0x20
	pfSparse    = 0x40
)

// Object element ids.
const (
	elemStartObject = 0xa1
	elemEndObject   = 0xa2
	elemAttribute   = 0xa3
	elemRelation    = 0xa4
	elemStartTag    = 0xa7
	elemEndTag      = 0xa8
	elemTypeList    = 0xab
	elemNameList    = 0xac
)

// Decoder limits.
const (
	// maxPlusDepth caps struct and object nesting.
	maxPlusDepth = 32
	// maxBlobHex: bytes of a blob or packed struct shown in a value.
	maxBlobHex = 32
	// maxPlusString caps a string value or detail taken from a PDU.
	maxPlusString = 256
)

// plusReader reads an S7comm-plus body: the shared cursor (big-endian
// fixed-size fields, a first failure that sticks) and the S7comm-plus
// variable-length integers, whose counts are capped by the bytes left.
type plusReader struct {
	protocols.Cursor
}

// peek is the next byte, -1 at the end or once failed.
func (r *plusReader) peek() int {
	if b := r.Rest(); len(b) > 0 {
		return int(b[0])
	}
	return -1
}

// vlq reads an unsigned 32-bit VLQ (at most 5 bytes).
func (r *plusReader) vlq() uint32 {
	v, n := vlq32(r.Rest())
	r.consumed(n)
	return v
}

// vlq64 reads an unsigned 64-bit VLQ.
func (r *plusReader) vlq64() uint64 {
	v, n := vlq(r.Rest())
	r.consumed(n)
	return v
}

// svlq64 reads a signed VLQ (32 or 64 bit: the encoding is the same).
func (r *plusReader) svlq64() int64 {
	v, n := svlq(r.Rest())
	r.consumed(n)
	return v
}

// consumed moves past a VLQ of n bytes; n is 0 for one that is cut or too
// long (its value is then 0), which fails the reader.
func (r *plusReader) consumed(n int) {
	if n == 0 {
		r.Fail()
		return
	}
	r.Skip(n)
}

// count reads a VLQ element count and fails when even one byte per element
// would not fit in what is left.
func (r *plusReader) count() int {
	n := r.vlq()
	if r.Failed() || uint64(n) > uint64(r.Len()) {
		r.Fail()
		return 0
	}
	return int(n)
}

// vlq32 decodes an unsigned 32-bit VLQ; n is 0 when b ends first or the
// value runs past 5 bytes.
func vlq32(b []byte) (v uint32, n int) {
	for i := 0; i < len(b) && i < 5; i++ {
		v = v<<7 | uint32(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// vlq decodes an unsigned 64-bit VLQ: 8 bytes of 7 bits, then (when the
// 8th still says "more") a 9th byte of 8 bits. n is 0 when b ends first.
func vlq(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 8; i++ {
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	if len(b) < 9 {
		return 0, 0
	}
	return v<<8 | uint64(b[8]), 9
}

// svlq decodes a signed VLQ: bit 6 of the first byte is the sign.
func svlq(b []byte) (v int64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	if b[0]&0x40 != 0 {
		v = -1
	}
	for i := 0; i < len(b) && i < 8; i++ {
		v = v<<7 | int64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	if len(b) < 9 {
		return 0, 0
	}
	return v<<8 | int64(b[8]), 9
}

// pval is one decoded scalar (or the first element of an array).
type pval struct {
	typ   byte
	flags byte
	ok    bool   // a scalar was read
	num   bool   // i/u/f meaningful
	float bool   // f holds the value
	sign  bool   // i holds the value (else u)
	i     int64  // signed integers, timespans
	u     uint64 // unsigned integers, ids, bool, timestamps
	f     float64
	b     []byte // WString, Blob, packed struct bytes (aliases the PDU)
	count int    // elements of an array
}

func (v *pval) int() (int64, bool) {
	switch {
	case !v.ok || !v.num:
		return 0, false
	case v.float:
		return int64(v.f), true
	case v.sign:
		return v.i, true
	}
	return int64(v.u), true
}

// Where decoded values go.
const (
	sinkNone = iota
	sinkWrite
	sinkRead
	sinkIDs // collect unsigned values as ids (attribute lists)
)

// Kinds of arena-built strings and where they land.
const (
	refTargetID = iota
	refTargetSpace
	refAttr
	refValue
	refReadValue
)

type strRef struct {
	kind     uint8
	idx      int32
	off, end int32
}

// plusDecoder decodes S7comm-plus bodies into a transaction. Its scratch
// space is reused from PDU to PDU (one decoder per session): in steady state
// a PDU costs at most one allocation, the string of its arena.
type plusDecoder struct {
	r     plusReader
	t     *protocols.Transaction
	sink  uint8
	depth int
	arena []byte
	refs  []strRef
	// hook sees every attribute value (id, first scalar) the walk meets.
	hook func(d *plusDecoder, id uint32, v *pval)
	// objHook sees every object start (relation id, class id).
	objHook func(d *plusDecoder, relid, class uint32)
	// facts gathered by the hooks for the caller.
	facts plusFacts
	// sessionID of the PDU's session; created maps objects the session
	// created to their class (owned by the session).
	sessionID uint32
	created   map[uint32]uint32
	// truncated: the body was cut by the reassembly cap; running out of
	// bytes is then no anomaly.
	truncated bool
	// ids collected by sinkIDs.
	ids  [maxPlusItems]uint32
	nids int
	// createdID: the first object id a CreateObject response returned.
	createdID uint32
	// named: a specific anomaly already says what was wrong.
	named bool
	seen  pval
	// Where written numbers go as typed points: the target, whether it is
	// byte-addressed (absolute), the element counter.
	ptTarget int
	ptAbs    bool
	ptElem   int
}

// plusFacts are what a walk learned that decides the operation and the
// identity: the caller reads them after the walk.
type plusFacts struct {
	blockRel     uint32 // a program object touched (relation id), 0 none
	blockClass   uint32 // class of a created program object
	blockTempRel uint32 // its relation id when temporary
	blockNumber  int64  // Block.BlockNumber, -1 unknown
	body         bool   // a block body attribute was named
	knowhow      int8   // Block.KnowhowProtected: -1 unknown, 0/1
	mac          bool   // Block.AdditionalMAC present
	language     int64  // Block.BlockLanguage, -1 unknown
	opState      int64  // value written to OperatingStateREQ, -1 none
	command      uint32 // a command attribute written
	subscription bool   // subscription attributes named
	session      bool   // the session object named
	legitimation bool   // ServerSessionResponse written
	transaction  bool   // a ClassTransaction object (download sequence)
	object       uint32 // the object a Set/Get/DeleteObject request names
	createdClass uint32 // class of the first object of a CreateObject
	createdRel   uint32 // its relation id
	cpuState     int64  // AS_DIS.OperatingState read, -1 none
	paom         []byte // SessionVersionSystemPAOMString
	paomProject  []byte
	clientApp    []byte
	clientHost   []byte
	clientUser   []byte
	clientID     []byte
	comment      []byte // ServerSessionClientComment (the client's in a request, the server's in a response)
	ium0         []byte // I&M0 record
}

func (f *plusFacts) reset() {
	*f = plusFacts{knowhow: -1, language: -1, opState: -1, cpuState: -1, blockNumber: -1}
}

// begin starts a PDU body.
func (d *plusDecoder) begin(t *protocols.Transaction, body []byte, sink uint8) {
	d.t, d.r, d.sink, d.depth = t, plusReader{protocols.NewCursor(body)}, sink, 0
	d.arena, d.refs = d.arena[:0], d.refs[:0]
	d.hook, d.objHook = nil, nil
	d.truncated, d.nids, d.createdID, d.named = false, 0, 0, false
	d.ptTarget, d.ptAbs, d.ptElem = -1, false, 0
	d.facts.reset()
}

// finish turns the arena into one string and points every reference into it.
func (d *plusDecoder) finish() {
	if len(d.refs) == 0 {
		return
	}
	s := string(d.arena)
	t := d.t
	for _, r := range d.refs {
		v := s[r.off:r.end]
		switch r.kind {
		case refTargetID:
			t.Targets[r.idx].ID = v
		case refTargetSpace:
			t.Targets[r.idx].Space = v
		case refAttr:
			t.Attrs[r.idx].Value = v
		case refValue:
			t.Values[r.idx].Str = v
		case refReadValue:
			t.ReadValues[r.idx].Str = v
		}
	}
	d.refs = d.refs[:0]
	if cap(d.arena) > 64<<10 {
		d.arena = nil
	}
}

func (d *plusDecoder) ref(kind uint8, idx int, off int) {
	d.refs = append(d.refs, strRef{kind: kind, idx: int32(idx), off: int32(off), end: int32(len(d.arena))})
}

// attr adds a detail whose value is a constant string.
func (d *plusDecoder) attr(key, val string) { attr(d.t, key, val) }

// attrBytes adds a detail whose value is built in the arena from b.
func (d *plusDecoder) attrBytes(key string, b []byte) {
	off := len(d.arena)
	d.arena = appendPrintable(d.arena, b, maxPlusString)
	d.t.Attrs = append(d.t.Attrs, protocols.Attr{Key: key})
	d.ref(refAttr, len(d.t.Attrs)-1, off)
}

// attrName adds a detail naming an id.
func (d *plusDecoder) attrName(key string, id uint32) {
	off := len(d.arena)
	d.arena = plusName(d.arena, id)
	d.t.Attrs = append(d.t.Attrs, protocols.Attr{Key: key})
	d.ref(refAttr, len(d.t.Attrs)-1, off)
}

// attrClass adds a detail naming a class ("OB.Class_Rid" → "OB").
func (d *plusDecoder) attrClass(key string, id uint32) {
	off := len(d.arena)
	d.arena = plusName(d.arena, id)
	if n := len(d.arena) - off; n > 10 && string(d.arena[len(d.arena)-10:]) == ".Class_Rid" {
		d.arena = d.arena[:len(d.arena)-10]
	}
	d.t.Attrs = append(d.t.Attrs, protocols.Attr{Key: key})
	d.ref(refAttr, len(d.t.Attrs)-1, off)
}

// attrHex adds a detail with a 32-bit id in hex.
func (d *plusDecoder) attrHex(key string, v uint32) {
	off := len(d.arena)
	d.arena = appendHex32(d.arena, v)
	d.t.Attrs = append(d.t.Attrs, protocols.Attr{Key: key})
	d.ref(refAttr, len(d.t.Attrs)-1, off)
}

// attrInt adds a detail with a number.
func (d *plusDecoder) attrInt(key string, v int64) {
	if v >= 0 && v < 100 {
		d.attr(key, strconv.Itoa(int(v))) // small numbers are static strings
		return
	}
	off := len(d.arena)
	d.arena = strconv.AppendInt(d.arena, v, 10)
	d.t.Attrs = append(d.t.Attrs, protocols.Attr{Key: key})
	d.ref(refAttr, len(d.t.Attrs)-1, off)
}

// objectTarget adds an object target "object.attribute[.lids]".
func (d *plusDecoder) objectTarget(obj, attrID uint32, lids []uint32) {
	if len(d.t.Targets) >= maxPlusItems {
		return
	}
	off := len(d.arena)
	d.arena = d.objectName(d.arena, obj, attrID)
	d.arena = append(d.arena, '.')
	d.arena = plusAttrName(d.arena, attrID)
	for _, l := range lids {
		d.arena = strconv.AppendUint(append(d.arena, '.'), uint64(l), 10)
	}
	d.t.Targets = append(d.t.Targets, protocols.Target{Space: "object"})
	d.ref(refTargetID, len(d.t.Targets)-1, off)
}

// objectName names an object for a target. Ids the PLC hands out per
// connection are named by what they are, so that a target stays the same
// from one HMI session to the next: the session object is "session", an
// object the session created is named by its class ("Subscription"), an
// unknown dynamic object written with subscription attributes is a
// subscription. Program and native objects keep their names ("OB1",
// "CPUexecUnit").
func (d *plusDecoder) objectName(b []byte, obj, attrID uint32) []byte {
	switch {
	case obj != 0 && obj == d.sessionID:
		return append(b, "session"...)
	case d.created != nil && d.created[obj] != 0:
		return plusName(b, d.created[obj])
	case plusSubscriptionAttrs[attrID] && plusDynamic(obj):
		return append(b, "Subscription"...)
	}
	return plusName(b, obj)
}

// plusDynamic: ids a PLC allocates at run time (subscriptions, TIS jobs).
func plusDynamic(id uint32) bool {
	return id >= 0x10000000 && id <= 0x1fffffff || id >= 0x70000000 && id <= 0x7fffffff
}

// emit sends one decoded scalar to the sink.
func (d *plusDecoder) emit(v *pval) {
	if d.sink == sinkNone || !v.ok {
		return
	}
	if d.sink == sinkIDs {
		if v.num && !v.float && d.nids < len(d.ids) {
			d.ids[d.nids] = uint32(v.u)
			d.nids++
		}
		return
	}
	t := d.t
	var pv protocols.Value
	str := false
	off := len(d.arena)
	switch {
	case v.typ == ptBool:
		pv = protocols.BoolValue(v.u != 0)
	case v.float:
		pv = protocols.FloatValue(v.f)
	case v.typ == ptTimestamp:
		d.arena = time.Unix(0, int64(v.u)).UTC().AppendFormat(d.arena, time.RFC3339Nano)
		str = true
	case v.typ == ptWString:
		d.arena = appendPrintable(d.arena, v.b, maxPlusString)
		str = true
	case v.typ == ptBlob || v.typ == ptStruct && v.b != nil:
		d.arena = appendBlobHex(d.arena, v.b)
		str = true
	case v.num && v.sign:
		pv = protocols.IntValue(v.i)
	case v.num:
		pv = protocols.IntValue(int64(v.u))
	default:
		return
	}
	if str {
		pv = protocols.StringValue("")
	}
	if d.sink == sinkWrite {
		d.point(v)
		n := len(t.Values)
		t.AddValue(pv)
		if str && len(t.Values) > n {
			d.ref(refValue, n, off)
		} else if str {
			d.arena = d.arena[:off]
		}
		return
	}
	n := len(t.ReadValues)
	t.AddReadValue(pv)
	if str && len(t.ReadValues) > n {
		d.ref(refReadValue, n, off)
	} else if str {
		d.arena = d.arena[:off]
	}
}

// point adds a written number as a typed point of the current target: the
// value models judge it by its wire type, as classic S7comm's items.
func (d *plusDecoder) point(v *pval) {
	if d.ptTarget < 0 || !v.num {
		return
	}
	typ, size := plusNumType(v.typ)
	if typ.Kind == protocols.NumUnknown {
		return
	}
	x := float64(v.u)
	switch {
	case v.float:
		x = v.f
	case v.sign:
		x = float64(v.i)
	}
	elem := d.ptElem
	if d.ptAbs {
		elem *= size // byte-addressed target: the element's byte offset
	}
	d.t.AddPoint(d.ptTarget, elem, protocols.FieldValue, typ, x)
	d.ptElem++
}

// plusNumType: the wire type of a datatype and its size in bytes.
func plusNumType(typ byte) (protocols.NumType, int) {
	switch typ {
	case ptBool:
		return protocols.TypeBool, 1
	case ptUSInt, ptByte:
		return protocols.UintType(8), 1
	case ptUInt, ptWord:
		return protocols.UintType(16), 2
	case ptUDInt, ptDWord:
		return protocols.UintType(32), 4
	case ptULInt, ptLWord:
		return protocols.UintType(64), 8
	case ptSInt:
		return protocols.IntType(8), 1
	case ptInt:
		return protocols.IntType(16), 2
	case ptDInt:
		return protocols.IntType(32), 4
	case ptLInt:
		return protocols.IntType(64), 8
	case ptReal:
		return protocols.FloatType(32), 4
	case ptLReal:
		return protocols.FloatType(64), 8
	}
	return protocols.NumType{}, 1
}

// element reads one element of type typ.
func (d *plusDecoder) element(typ byte, v *pval) {
	r := &d.r
	*v = pval{typ: typ, flags: v.flags, ok: true, num: true}
	switch typ {
	case ptNull:
		v.ok, v.num = false, false
	case ptBool, ptUSInt, ptByte:
		v.u = uint64(r.U8())
	case ptSInt:
		v.i, v.sign = int64(int8(r.U8())), true
	case ptUInt, ptWord:
		v.u = uint64(r.U16BE())
	case ptInt:
		v.i, v.sign = int64(int16(r.U16BE())), true
	case ptDWord, ptRID:
		v.u = uint64(r.U32BE())
	case ptLWord, ptTimestamp:
		v.u = r.U64BE()
	case ptReal:
		v.f, v.float = float64(math.Float32frombits(r.U32BE())), true
	case ptLReal:
		v.f, v.float = math.Float64frombits(r.U64BE()), true
	case ptUDInt, ptAID, ptVariant:
		v.u = uint64(r.vlq())
	case ptULInt:
		v.u = r.vlq64()
	case ptDInt, ptLInt, ptTimespan:
		v.i, v.sign = r.svlq64(), true
	case ptWString:
		v.b, v.num = r.Take(r.count()), false
	case ptBlob:
		v.num = false
		if root := r.vlq(); root > 1 {
			r.Skip(8)
			switch r.U8() {
			case 0x00: // an id-value list (program transfer): walked, not shown as values
				sink := d.sink
				d.sink = sinkNone
				d.nested(true)
				d.sink, v.ok = sink, false
				return
			case 0x02, 0x03:
				v.b = r.Take(r.count())
			default:
				r.Fail()
			}
		} else {
			v.b = r.Take(r.count())
		}
	default: // Struct is handled by value; S7String only in tag descriptions
		r.Fail()
	}
	if r.Failed() {
		v.ok = false
	}
}

// value reads one PValue; id is the attribute it belongs to (0 in item
// lists). It returns whether a struct was entered (its member list follows)
// and whether the enclosing id-value list ends here (a struct address array
// consumes its lists itself).
func (d *plusDecoder) value(id uint32) (entered, endList bool) {
	r := &d.r
	flags, typ := r.U8(), r.U8()
	if r.Failed() {
		return false, false
	}
	var v pval
	v.flags = flags
	if typ == ptStruct {
		sid := r.U32BE()
		v = pval{typ: ptStruct, flags: flags, ok: !r.Failed(), num: true, u: uint64(sid)}
		switch {
		case sid > 0x90000000 && sid < 0x9fffffff || sid > 0x02000000 && sid < 0x02ffffff:
			// packed struct: interface timestamp, transport flags, length, bytes
			r.U64BE()
			tf := r.vlq()
			n := r.count()
			if tf&0x400 != 0 {
				n = r.count()
			}
			v.b, v.num = r.Take(n), false
			d.see(id, &v)
			d.emit(&v)
			return false, false
		case flags&pfAddrArray != 0:
			d.see(id, &v)
			for n := r.count(); n > 0 && !r.Failed(); n-- {
				d.nested(true)
			}
			return false, true
		}
		d.see(id, &v)
		return !r.Failed(), false
	}
	array := flags&(pfArray|pfAddrArray) != 0
	sparse := flags&pfSparse != 0
	n := 1
	if array && !sparse {
		if typ == ptNull {
			r.vlq()
			n = 0 // zero-size elements: nothing to read, whatever the count says
		} else {
			n = r.count()
		}
	}
	first := true
	for i := 0; (sparse || i < n) && !r.Failed(); i++ {
		et := typ
		if sparse {
			if r.vlq() == 0 || r.Failed() {
				break
			}
		} else if array && typ == ptVariant {
			r.U8() // flags of the element
			et = r.U8()
		}
		var e pval
		e.flags = flags
		d.element(et, &e)
		if r.Failed() {
			break
		}
		if first {
			v, first = e, false
			v.count = n
		}
		d.emit(&e)
	}
	if !first {
		d.see(id, &v)
	}
	return false, false
}

// see hands an attribute's value to the hook (through a field of the
// decoder, so that the value itself stays on the stack).
func (d *plusDecoder) see(id uint32, v *pval) {
	if d.hook != nil && id != 0 && !d.r.Failed() {
		d.seen = *v
		d.hook(d, id, &d.seen)
	}
}

// nested reads an id-value list one level deeper.
func (d *plusDecoder) nested(recursive bool) {
	d.depth++
	if d.depth > maxPlusDepth {
		d.r.Fail()
	} else {
		d.idValueList(recursive)
	}
	d.depth--
}

// idValueList reads id-value pairs until id 0 (recursive) or one pair.
func (d *plusDecoder) idValueList(recursive bool) {
	r := &d.r
	for !r.Failed() {
		id := r.vlq()
		if id == 0 || r.Failed() {
			return
		}
		entered, end := d.value(id)
		if entered {
			d.nested(true)
		}
		if end || !recursive {
			return
		}
	}
}

// itemValueList reads "item number, value" pairs until item number 0.
func (d *plusDecoder) itemValueList() {
	r := &d.r
	for !r.Failed() {
		if n := r.vlq(); n == 0 || r.Failed() {
			return
		}
		if entered, _ := d.value(0); entered {
			d.nested(true)
		}
	}
}

// object walks object elements until the end of the enclosing object (0xa2)
// or an element it does not know (left unread).
func (d *plusDecoder) object() {
	r := &d.r
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxPlusDepth {
		r.Fail()
		return
	}
	for !r.Failed() {
		switch r.peek() {
		case elemStartObject:
			r.U8()
			rel := r.U32BE()
			class := r.vlq()
			r.vlq() // class flags
			if r.vlq() != 0 {
				r.vlq() // attribute id flags
			}
			if r.Failed() {
				return
			}
			if d.objHook != nil {
				d.objHook(d, rel, class)
			}
			d.object()
		case elemEndObject:
			r.U8()
			return
		case elemAttribute:
			r.U8()
			d.idValueList(false)
		case elemRelation:
			r.U8()
			r.vlq()
			r.Skip(4)
		case elemStartTag:
			r.U8()
			d.tagDescription()
		case elemEndTag:
			r.U8()
		case elemTypeList, elemNameList:
			r.U8()
			// blocks of a 16-bit length, ended by length 0
			for !r.Failed() {
				n := r.U16BE()
				if n == 0 {
					break
				}
				r.Skip(int(n))
			}
		default:
			return
		}
	}
}

// tagDescription skips a tag description of an S7-1200 firmware 2 object
// (offset info type, name, datatype, soft datatype, attribute flags, LID,
// length and the offset info its type selects).
func (d *plusDecoder) tagDescription() {
	r := &d.r
	info := r.U8()
	r.Skip(r.count()) // name
	r.U8()            // unknown
	r.U8()            // datatype
	r.vlq()           // soft datatype
	r.Skip(4)         // attribute flags
	r.vlq()           // LID
	r.vlq()           // string length / struct relation / unknown
	if info&0x0c != 0 {
		r.vlq() // accessability
		r.vlq() // section
	}
	r.vlq() // offset 1
	r.vlq() // offset 2
	switch info & 0x03 {
	case 0x01:
		r.vlq()
		r.vlq()
	case 0x02:
		r.svlq64() // lower bound
		r.vlq()    // element count
		r.vlq()
		r.vlq()
	case 0x03:
		r.vlq()
		r.vlq()
		for n := r.count(); n > 0 && !r.Failed(); n-- {
			r.svlq64()
			r.vlq()
		}
	}
	if info == 0x08 {
		r.vlq()
		r.vlq()
	}
}

// appendPrintable appends b as the shared sanitiser shows it
// (protocols.Printable: printable text kept, controls, bidi overrides and
// bad bytes escaped), at most max bytes of input; trailing NULs (S7 string
// padding) are dropped. Plain ASCII is appended without allocating.
func appendPrintable(dst, b []byte, max int) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	if len(b) > max {
		b = b[:max]
	}
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return append(dst, protocols.Printable(b)...)
		}
	}
	return append(dst, b...)
}

// appendBlobHex appends "0x" and the first maxBlobHex bytes in hex, with
// "..." when cut.
func appendBlobHex(dst, b []byte) []byte {
	const digits = "0123456789abcdef"
	dst = append(dst, '0', 'x')
	for i, c := range b {
		if i == maxBlobHex {
			return append(dst, "..."...)
		}
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}
