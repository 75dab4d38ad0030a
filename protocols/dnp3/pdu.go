package dnp3

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"

	"github.com/otwatch/otwatch/protocols"
)

// ---- Data link layer (IEEE 1815-2012 §9) ----

// Link layer constants.
const (
	StartByte1    = 0x05
	StartByte2    = 0x64
	LinkHeaderLen = 10 // start(2) length control dst(2) src(2) crc(2)
	// MaxLinkFrame is the largest frame: length 255 → 250 data octets in 16 blocks.
	MaxLinkFrame = 292
	blockLen     = 16
)

// Link control bits and primary functions.
const (
	LinkDIR = 0x80
	LinkPRM = 0x40
	LinkFCB = 0x20
	LinkFCV = 0x10 // DFC on secondary frames

	LinkResetLinkStates     = 0
	LinkTestLinkStates      = 2
	LinkConfirmedUserData   = 3
	LinkUnconfirmedUserData = 4
	LinkRequestLinkStatus   = 9
)

// LinkHeader is the decoded 10-octet link header.
type LinkHeader struct {
	Length  uint8 // octets after the length field, CRCs excluded: control+dst+src(5)+user data
	Control uint8
	Dst     uint16
	Src     uint16
}

// Errors of ParseLinkHeader.
var (
	ErrShort     = errors.New("dnp3: need more bytes")
	ErrNoStart   = errors.New("dnp3: no 0x0564 start bytes")
	ErrHeaderCRC = errors.New("dnp3: link header CRC mismatch")
	ErrLength    = errors.New("dnp3: link length below 5")
)

// ParseLinkHeader decodes and checks the link header at the start of b.
func ParseLinkHeader(b []byte) (LinkHeader, error) {
	var h LinkHeader
	if len(b) >= 1 && b[0] != StartByte1 || len(b) >= 2 && b[1] != StartByte2 {
		return h, ErrNoStart
	}
	if len(b) < LinkHeaderLen {
		return h, ErrShort
	}
	if crc16(b[:8]) != binary.LittleEndian.Uint16(b[8:]) {
		return h, ErrHeaderCRC
	}
	h = LinkHeader{Length: b[2], Control: b[3], Dst: binary.LittleEndian.Uint16(b[4:]), Src: binary.LittleEndian.Uint16(b[6:])}
	if h.Length < 5 {
		return h, ErrLength
	}
	return h, nil
}

// DataLen is the number of user data octets (CRCs excluded).
func (h LinkHeader) DataLen() int { return int(h.Length) - 5 }

// FrameLen is the size of the whole frame on the wire, CRCs included.
func (h LinkHeader) FrameLen() int {
	n := h.DataLen()
	return LinkHeaderLen + n + 2*((n+blockLen-1)/blockLen)
}

// Function is the link function code (control bits 0–3).
func (h LinkHeader) Function() uint8 { return h.Control & 0x0F }

// Primary: the frame was sent by the initiating station.
func (h LinkHeader) Primary() bool { return h.Control&LinkPRM != 0 }

// CarriesUserData: a primary (un)confirmed user data frame.
func (h LinkHeader) CarriesUserData() bool {
	f := h.Function()
	return h.Primary() && (f == LinkConfirmedUserData || f == LinkUnconfirmedUserData)
}

// AppendUserData checks the CRC of every data block of frame (whole frame,
// header included) and appends the user data octets to dst. ok is false on
// a bad block CRC (dst is then returned unchanged).
func AppendUserData(dst []byte, frame []byte, h LinkHeader) ([]byte, bool) {
	n := h.DataLen()
	if len(frame) < h.FrameLen() {
		return dst, false
	}
	start := len(dst)
	dst = slices.Grow(dst, n)
	b := frame[LinkHeaderLen:]
	for ; n >= blockLen; n -= blockLen {
		// a whole block: checked and copied as one 16-octet value
		blk := (*[blockLen]byte)(b)
		if crc16(blk[:]) != binary.LittleEndian.Uint16(b[blockLen:]) {
			return dst[:start], false
		}
		l := len(dst)
		dst = dst[:l+blockLen]
		*(*[blockLen]byte)(dst[l:]) = *blk
		b = b[blockLen+2:]
	}
	if n > 0 {
		if crc16(b[:n]) != binary.LittleEndian.Uint16(b[n:]) {
			return dst[:start], false
		}
		dst = append(dst, b[:n]...)
	}
	return dst, true
}

// crcTables hold CRC-16/DNP (polynomial 0x3D65, reflected 0xA6BC, init 0,
// output complemented): crcTables[0][b] is the CRC step of byte b, and
// crcTables[k][b] that of b followed by k zero bytes, so that sixteen bytes
// (one whole block of a link frame) or eight are folded in at once
// ("slicing by 16"). Every link frame's header and each of its 16-octet
// blocks carry one: it is the dissector's largest per-byte cost.
var crcTables = func() (t [16][256]uint16) {
	for i := range t[0] {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA6BC
			} else {
				c >>= 1
			}
		}
		t[0][i] = c
	}
	for k := 1; k < len(t); k++ {
		for i := range t[k] {
			c := t[k-1][i]
			t[k][i] = c>>8 ^ t[0][byte(c)]
		}
	}
	return
}()

func crc16(b []byte) uint16 {
	var c uint16
	t := &crcTables
	for len(b) >= 16 {
		x, y := binary.LittleEndian.Uint64(b)^uint64(c), binary.LittleEndian.Uint64(b[8:])
		c = t[15][byte(x)] ^ t[14][byte(x>>8)] ^ t[13][byte(x>>16)] ^ t[12][byte(x>>24)] ^
			t[11][byte(x>>32)] ^ t[10][byte(x>>40)] ^ t[9][byte(x>>48)] ^ t[8][byte(x>>56)] ^
			t[7][byte(y)] ^ t[6][byte(y>>8)] ^ t[5][byte(y>>16)] ^ t[4][byte(y>>24)] ^
			t[3][byte(y>>32)] ^ t[2][byte(y>>40)] ^ t[1][byte(y>>48)] ^ t[0][byte(y>>56)]
		b = b[16:]
	}
	if len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b) ^ uint64(c)
		c = t[7][byte(x)] ^ t[6][byte(x>>8)] ^ t[5][byte(x>>16)] ^ t[4][byte(x>>24)] ^
			t[3][byte(x>>32)] ^ t[2][byte(x>>40)] ^ t[1][byte(x>>48)] ^ t[0][byte(x>>56)]
		b = b[8:]
	}
	for _, x := range b {
		c = c>>8 ^ t[0][byte(c)^x]
	}
	return ^c
}

// ---- Transport layer (§8) ----

// Transport header bits.
const (
	TransportFIN = 0x80
	TransportFIR = 0x40
)

// ---- Application layer (§4) ----

// Application control bits.
const (
	AppFIR = 0x80
	AppFIN = 0x40
	AppCON = 0x20
	AppUNS = 0x10
)

// AppHeader is the application request/response header.
type AppHeader struct {
	Control  uint8
	Function uint8
	IIN      uint16 // responses only: IIN1<<8 | IIN2
}

// Seq is the application sequence number.
func (a AppHeader) Seq() uint8 { return a.Control & 0x0F }

// IsResponse: function codes 128 and up are sent by outstations.
func (a AppHeader) IsResponse() bool { return a.Function >= 128 }

// ParseAppHeader decodes the header of an application fragment and returns
// the object octets behind it. ok is false when the fragment is too short.
func ParseAppHeader(frag []byte) (AppHeader, []byte, bool) {
	if len(frag) < 2 {
		return AppHeader{}, nil, false
	}
	a := AppHeader{Control: frag[0], Function: frag[1]}
	if !a.IsResponse() {
		return a, frag[2:], true
	}
	if len(frag) < 4 {
		return a, nil, false
	}
	a.IIN = uint16(frag[2])<<8 | uint16(frag[3])
	return a, frag[4:], true
}

// ObjectHeader is one object header of a fragment (§4.2.2.7).
type ObjectHeader struct {
	Group, Variation, Qualifier uint8
	// Start and Count: the index range for range qualifiers; Start 0 and
	// the object count for count qualifiers; both 0 for "all" (0x06).
	Start, Count uint32
}

// PrefixCode and RangeCode split the qualifier.
func (h ObjectHeader) PrefixCode() uint8 { return h.Qualifier >> 4 & 7 }
func (h ObjectHeader) RangeCode() uint8  { return h.Qualifier & 0x0F }

// Space is the target space name, e.g. "g12v1".
func (h ObjectHeader) Space() string { return spaceName(h.Group, h.Variation) }

// spaceName names a group and variation. Every group's variations 0–15 and
// group 0's attributes are cut from one string made at start-up (no map,
// no allocation per target); others are rare and made on demand.
func spaceName(g, v uint8) string {
	if i := spaceIndex(g, v); i >= 0 {
		return spaceNameText[spaceNameOff[i]:spaceNameOff[i+1]]
	}
	return "g" + strconv.Itoa(int(g)) + "v" + strconv.Itoa(int(v))
}

// spaceIndex: g<<4|v for v < 16, then group 0's variations 16–255.
func spaceIndex(g, v uint8) int {
	switch {
	case v < 16:
		return int(g)<<4 | int(v)
	case g == 0:
		return 256*16 + int(v) - 16
	}
	return -1
}

const spaceNameCount = 256*16 + 240

var spaceNameText, spaceNameOff = func() (string, [spaceNameCount + 1]uint16) {
	var off [spaceNameCount + 1]uint16
	b := make([]byte, 0, 8*spaceNameCount)
	for i := range spaceNameCount { // the inverse of spaceIndex
		g, v := i>>4, i&15
		if i >= 256*16 {
			g, v = 0, i-256*16+16
		}
		off[i] = uint16(len(b))
		b = append(b, 'g')
		b = strconv.AppendInt(b, int64(g), 10)
		b = append(b, 'v')
		b = strconv.AppendInt(b, int64(v), 10)
	}
	off[spaceNameCount] = uint16(len(b))
	return string(b), off
}()

// Object is one object (point) of a header: its index (or position for count
// qualifiers) and its data octets. For packed objects (single or double
// bits) Data is nil and Bits holds the point's value.
type Object struct {
	Index uint32
	Data  []byte
	Bits  uint8
}

// Size kinds of the object table.
const (
	sizeFixed    = iota // Size octets
	sizeBits            // Size bits per object, packed
	sizeNone            // no data (class objects, default variations)
	sizeAttr            // g0: data type, length octet, value
	sizeVarIsLen        // octet strings: the variation is the length
	sizePrefixed        // length given by the object size prefix only
)

type objectSize struct {
	kind uint8
	size uint8
}

// objectSizeOf gives the data size of an object of group g, variation v;
// ok is false for an object this decoder does not know.
func objectSizeOf(g, v uint8) (objectSize, bool) {
	switch {
	case g == 0: // device attributes: data type, length octet, value
		return objectSize{sizeAttr, 0}, true
	case v == 0: // "any variation" never carries data
		return objectSize{sizeNone, 0}, true
	case g >= 110 && g <= 113: // octet strings: the variation is the length
		return objectSize{sizeVarIsLen, 0}, true
	}
	if v < 16 {
		if sz := smallSizes[g][v]; sz.known {
			return sz.objectSize, true
		}
	}
	switch g {
	case 70, 82, 83, 85, 86, 87, 88, 90, 91, 120:
		// File transfer, data sets, application identifiers, authentication:
		// variable-size objects whose length comes from the size prefix.
		return objectSize{sizePrefixed, 0}, true
	}
	return objectSize{}, false
}

// smallSizes: the objects of fixed size, packed bits or no data, by group
// and variation (none of them has a variation above 15).
var smallSizes = func() (t [256][16]struct {
	objectSize
	known bool
}) {
	set := func(g, v uint8, sz objectSize) {
		t[g][v].objectSize, t[g][v].known = sz, true
	}
	fixed := func(g uint8, sizes ...uint8) {
		for i, s := range sizes {
			if s != 0 {
				set(g, uint8(i+1), objectSize{sizeFixed, s})
			}
		}
	}
	bits := func(g, v, n uint8) { set(g, v, objectSize{sizeBits, n}) }
	none := func(g uint8, vs ...uint8) {
		for _, v := range vs {
			set(g, v, objectSize{sizeNone, 0})
		}
	}
	bits(1, 1, 1)
	fixed(1, 0, 1)
	fixed(2, 1, 7, 3)
	bits(3, 1, 2)
	fixed(3, 0, 1)
	fixed(4, 1, 7, 3)
	bits(10, 1, 1)
	fixed(10, 0, 1)
	fixed(11, 1, 7)
	fixed(12, 11, 11)
	bits(12, 3, 1)
	fixed(13, 1, 7)
	fixed(20, 5, 3, 5, 3, 4, 2, 4, 2)
	fixed(21, 5, 3, 5, 3, 11, 9, 11, 9, 4, 2, 4, 2)
	fixed(22, 5, 3, 5, 3, 11, 9, 11, 9)
	fixed(23, 5, 3, 5, 3, 11, 9, 11, 9)
	fixed(30, 5, 3, 4, 2, 5, 9)
	fixed(31, 5, 3, 11, 9, 4, 2, 5, 9)
	fixed(32, 5, 3, 11, 9, 5, 9, 11, 15)
	fixed(33, 5, 3, 11, 9, 5, 9, 11, 15)
	fixed(34, 2, 4, 4)
	fixed(40, 5, 3, 5, 9)
	fixed(41, 5, 3, 5, 9)
	fixed(42, 5, 3, 11, 9, 5, 9, 11, 15)
	fixed(43, 5, 3, 11, 9, 5, 9, 11, 15)
	fixed(50, 6, 10, 6, 11)
	fixed(51, 6, 6)
	fixed(52, 2, 2)
	none(60, 1, 2, 3, 4)
	bits(80, 1, 1)
	fixed(81, 3)
	fixed(101, 2, 4, 8)
	fixed(102, 1)
	fixed(121, 7)
	fixed(122, 7, 13)
	// g120 authentication objects of fixed size, sent with count qualifiers.
	fixed(120, 0, 0, 6, 2) // v3 aggressive mode request: CSQ, user; v4 session key status request: user
	return
}()

var (
	errTruncated     = errors.New("truncated")
	errBadQualifier  = errors.New("bad qualifier")
	errUnknownObject = errors.New("unknown object")
)

// objectReader walks the object headers of a fragment. Errors stick: the
// first one ends the walk and names the anomaly.
type objectReader struct {
	b        []byte
	withData bool
	err      error
	anomaly  string
}

func (r *objectReader) fail(err error, anomaly string) {
	if r.err == nil {
		r.err, r.anomaly = err, anomaly
	}
}

func uintN(b []byte, n int) uint32 {
	switch n {
	case 1:
		return uint32(b[0])
	case 2:
		return uint32(binary.LittleEndian.Uint16(b))
	case 4:
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

var widthOf = [4]int{0, 1, 2, 4}

// prefixWidth is the octet width of each qualifier prefix code.
var prefixWidth = [8]int{0, 1, 2, 4, 1, 2, 4, 0}

// next decodes the next object header and gives each of its objects to d
// when d wants them (d may be nil: headers only). It returns false at the
// end of the fragment or on error.
func (r *objectReader) next(d *objectDecoder) (ObjectHeader, bool) {
	var h ObjectHeader
	if r.err != nil || len(r.b) == 0 {
		return h, false
	}
	if len(r.b) < 3 {
		r.fail(errTruncated, "dnp3.trailing_bytes")
		return h, false
	}
	h.Group, h.Variation, h.Qualifier = r.b[0], r.b[1], r.b[2]
	b := r.b[3:]
	prefix, rng := h.PrefixCode(), h.RangeCode()
	count := uint64(0)
	switch {
	case rng <= 5: // start-stop, octet or virtual addresses
		w := widthOf[rng%3+1]
		if len(b) < 2*w {
			r.fail(errTruncated, "dnp3.object_truncated")
			return h, false
		}
		start, stop := uintN(b, w), uintN(b[w:], w)
		b = b[2*w:]
		if stop < start {
			r.fail(errBadQualifier, "dnp3.bad_range")
			return h, false
		}
		h.Start, count = start, uint64(stop-start)+1
	case rng == 6: // all objects, no range field
	case rng <= 9 || rng == 0xB: // count
		w := 1
		if rng != 0xB {
			w = widthOf[rng-6]
		}
		if len(b) < w {
			r.fail(errTruncated, "dnp3.object_truncated")
			return h, false
		}
		count = uint64(uintN(b, w))
		b = b[w:]
	default:
		r.fail(errBadQualifier, "dnp3.bad_qualifier")
		return h, false
	}
	if prefix == 7 || (prefix != 0 && rng < 7) || (rng == 0xB && prefix < 4) {
		r.fail(errBadQualifier, "dnp3.bad_qualifier")
		return h, false
	}
	if count > math.MaxUint32 {
		count = math.MaxUint32
	}
	h.Count = uint32(count)
	size, known := objectSizeOf(h.Group, h.Variation)
	visit := d != nil && d.wants(&h)
	pw := prefixWidth[prefix] // index prefix (codes 1–3) or object size prefix (4–6)
	sizePrefix := prefix >= 4
	withData := r.withData || sizePrefix
	if withData && !sizePrefix && (!known || size.kind == sizePrefixed) {
		r.fail(errUnknownObject, "dnp3.unknown_object")
		return h, false
	}
	if !withData || (known && size.kind == sizeNone) {
		// Headers only (or objects without data): an index prefix may still follow per object.
		if pw > 0 {
			if uint64(len(b)) < count*uint64(pw) {
				r.fail(errTruncated, "dnp3.object_truncated")
				return h, false
			}
			for i := uint32(0); visit && i < h.Count; i++ {
				d.object(&h, Object{Index: uintN(b[int(i)*pw:], pw)})
			}
			b = b[int(count)*pw:]
		}
		r.b = b
		return h, true
	}
	if size.kind == sizeBits {
		if pw > 0 {
			r.fail(errBadQualifier, "dnp3.bad_qualifier")
			return h, false
		}
		n := (count*uint64(size.size) + 7) / 8
		if uint64(len(b)) < n {
			r.fail(errTruncated, "dnp3.object_truncated")
			return h, false
		}
		if visit {
			mask := uint8(1)<<size.size - 1
			for i := uint32(0); i < h.Count; i++ {
				bit := uint64(i) * uint64(size.size)
				d.object(&h, Object{Index: h.Start + i, Bits: b[bit/8] >> (bit % 8) & mask})
			}
		}
		r.b = b[n:]
		return h, true
	}
	if !visit && pw == 0 && size.kind == sizeFixed {
		// Nobody looks at these objects: step over them at once.
		n := count * uint64(size.size)
		if uint64(len(b)) < n {
			r.fail(errTruncated, "dnp3.object_truncated")
			return h, false
		}
		r.b = b[n:]
		return h, true
	}
	// One object at a time: [prefix] data.
	for i := uint32(0); i < h.Count; i++ {
		if len(b) < pw {
			r.fail(errTruncated, "dnp3.object_truncated")
			return h, false
		}
		idx := h.Start + i
		n := 0
		if sizePrefix {
			n = int(uintN(b, pw))
		} else if pw > 0 {
			idx = uintN(b, pw)
		}
		b = b[pw:]
		switch {
		case sizePrefix:
		case size.kind == sizeFixed:
			n = int(size.size)
		case size.kind == sizeVarIsLen:
			n = int(h.Variation)
		case size.kind == sizeAttr:
			if len(b) < 2 {
				r.fail(errTruncated, "dnp3.object_truncated")
				return h, false
			}
			n = 2 + int(b[1])
		}
		if len(b) < n {
			r.fail(errTruncated, "dnp3.object_truncated")
			return h, false
		}
		if visit {
			d.object(&h, Object{Index: idx, Data: b[:n]})
		}
		b = b[n:]
	}
	r.b = b
	return h, true
}

// ---- Decoding into a Transaction ----

// MaxTargets caps the targets kept per transaction.
const MaxTargets = 64

// decodeMode says what a fragment's objects contribute to its transaction.
type decodeMode uint8

const (
	// modeRequest: targets, written values and SELECT/OPERATE bookkeeping.
	modeRequest decodeMode = iota
	// modeResponse: status and identity only (the request gave the targets).
	modeResponse
	// modeReport: a response without its request (unsolicited, unmatched):
	// the points it reports become the targets.
	modeReport
)

// addTarget appends a target, merging it with the previous one when adjacent.
func addTarget(t *protocols.Transaction, space string, addr, count uint64) {
	if n := len(t.Targets); n > 0 {
		last := &t.Targets[n-1]
		if last.Space == space && last.Count > 0 && count > 0 && last.Address+last.Count == addr {
			last.Count += count
			return
		}
	}
	if len(t.Targets) >= MaxTargets {
		if t.Attr("targets_truncated") == "" {
			t.Attrs = append(t.Attrs, protocols.Attr{Key: "targets_truncated", Value: "true"})
		}
		return
	}
	t.Targets = append(t.Targets, protocols.Target{Space: space, Address: addr, Count: count})
}

// DecodeFragment fills t from a whole application fragment: function code,
// names, op (unless t already holds its request's), targets, written values,
// outcome, identity and anomalies. It returns the application header; ok is
// false when the fragment is too short to carry one.
func DecodeFragment(frag []byte, t *protocols.Transaction) (AppHeader, bool) {
	return decodeFragment(frag, t, nil)
}

// decodeFragment is DecodeFragment making its strings with strs.
func decodeFragment(frag []byte, t *protocols.Transaction, strs *protocols.Strings) (AppHeader, bool) {
	a, objs, ok := ParseAppHeader(frag)
	if !ok {
		t.Proto = "dnp3"
		if len(frag) >= 2 {
			setFunction(t, frag[1])
		}
		t.AddAnomaly("dnp3.fragment_too_short")
		return a, false
	}
	mode := modeRequest
	if a.IsResponse() {
		mode = modeReport
		if t.RequestFrame != 0 {
			mode = modeResponse
		}
	}
	if mode != modeResponse {
		setFunction(t, a.Function)
		t.ID, t.HasID = uint64(a.Seq()), true
	}
	if !knownFunction(a.Function) {
		t.AddAnomaly("dnp3.unknown_function")
	}
	if a.IsResponse() {
		t.Outcome = protocols.OutcomeOK
		if a.Function == FuncUnsolicitedResponse {
			t.Outcome = protocols.OutcomeUnsolicited
		}
	}
	decodeObjects(a, objs, t, mode, strs)
	if a.IsResponse() {
		if a.IIN&IINErrors != 0 {
			t.Outcome, t.ExceptionCode, t.HasException = protocols.OutcomeException, int64(a.IIN), true
		}
		const digits = "0123456789abcdef"
		v := a.IIN
		iin := [6]byte{'0', 'x', digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]}
		t.AddAttr("iin", strs.Bytes(iin[:]))
	}
	return a, true
}

// objectDecoder turns the objects of one fragment into t's targets,
// values, points, status and identity.
type objectDecoder struct {
	a             AppHeader
	t             *protocols.Transaction
	mode          decodeMode
	strs          *protocols.Strings
	controlStatus int // the first non-zero control status of a response, -1 none
}

// decodeObjects walks the objects of a fragment into t.
func decodeObjects(a AppHeader, objs []byte, t *protocols.Transaction, mode decodeMode, strs *protocols.Strings) {
	r := objectReader{b: objs, withData: a.IsResponse() || !headersOnly(a.Function)}
	d := objectDecoder{a: a, t: t, mode: mode, strs: strs, controlStatus: -1}
	var hdr ObjectHeader
	pointsFrom := 0 // points of the header being walked start here
	for {
		pointsFrom = len(t.Points)
		h, ok := r.next(&d)
		if !ok {
			break
		}
		hdr = h
		if mode == modeResponse {
			continue
		}
		if h.PrefixCode() == 0 || h.PrefixCode() >= 4 {
			n := len(t.Targets)
			addTarget(t, hdr.Space(), uint64(h.Start), uint64(h.Count))
			rangePoints(t, pointsFrom, n, hdr.Space())
		}
		if mode == modeRequest && a.Function == FuncWrite && h.Group == 70 && h.Variation == 5 {
			t.Op = protocols.OpProgramDownload
		}
	}
	if r.err != nil {
		t.AddAnomaly(r.anomaly)
		if len(t.Points) > pointsFrom && (hdr.PrefixCode() == 0 || hdr.PrefixCode() >= 4) {
			t.Points = t.Points[:pointsFrom] // a truncated range header added no target
		}
	}
	if d.controlStatus > 0 && t.Outcome != protocols.OutcomeException {
		t.Outcome, t.ExceptionCode, t.HasException = protocols.OutcomeException, int64(d.controlStatus), true
	}
}

// prefixed: the header's objects carry an index prefix (each is its own target).
func (h *ObjectHeader) prefixed() bool { return h.PrefixCode() >= 1 && h.PrefixCode() <= 3 }

// wants says whether object gives anything for the objects of h; the
// reader steps over the others (the points of a class poll's response).
func (d *objectDecoder) wants(h *ObjectHeader) bool {
	switch {
	case d.mode != modeResponse && h.prefixed(),
		h.Group == 0 && d.a.IsResponse(),
		h.Group == 12 && (h.Variation == 1 || h.Variation == 2),
		h.Group == 41:
		return true
	case d.mode == modeRequest:
		return d.a.Function == FuncWrite || h.Group == 70 && h.Variation == 3
	}
	return false
}

// object takes one object of a header wants chose.
func (d *objectDecoder) object(h *ObjectHeader, o Object) {
	t, a, mode := d.t, d.a, d.mode
	if mode != modeResponse && h.prefixed() {
		addTarget(t, h.Space(), uint64(o.Index), 1)
	}
	switch {
	case h.Group == 0 && o.Data != nil && a.IsResponse():
		deviceAttribute(t, h.Variation, o.Data)
	case h.Group == 12 && (h.Variation == 1 || h.Variation == 2) && len(o.Data) == 11:
		if st := int(o.Data[10] & 0x7F); st != 0 && a.IsResponse() && d.controlStatus <= 0 {
			d.controlStatus = st
		}
		if mode == modeRequest && h.Variation == 1 {
			t.AddValue(protocols.StringValue(crobOperation(o.Data[0])))
			var key [16]byte
			t.AddAttr(d.strs.Bytes(strconv.AppendUint(append(key[:0], "crob."...), uint64(o.Index), 10)), d.crobDetail(o.Data))
			// The command's parameters are what the value models learn:
			// operation type (with trip/close and queue/clear bits),
			// count, on-time and off-time.
			if tg, el, ok := d.pointAt(h, o); ok { // one target for the four
				t.AddPoint(tg, el, protocols.FieldOp, protocols.TypeCode, float64(o.Data[0]))
				t.AddPoint(tg, el, protocols.FieldCount, protocols.UintType(8), float64(o.Data[1]))
				t.AddPoint(tg, el, protocols.FieldOnTime, protocols.UintType(32), float64(binary.LittleEndian.Uint32(o.Data[2:])))
				t.AddPoint(tg, el, protocols.FieldOffTime, protocols.UintType(32), float64(binary.LittleEndian.Uint32(o.Data[6:])))
			}
		}
	case h.Group == 41 && len(o.Data) > 0:
		if st := int(o.Data[len(o.Data)-1] & 0x7F); st != 0 && a.IsResponse() && d.controlStatus <= 0 {
			d.controlStatus = st
		}
		if mode == modeRequest {
			v := analogOutputValue(h.Variation, o.Data)
			t.AddValue(v)
			if typ, ok := analogOutputType(h.Variation, o.Data); ok {
				d.point(h, o, protocols.FieldValue, typ, number(v))
			}
		}
	case mode == modeRequest && a.Function == FuncWrite:
		d.writtenValue(h, o)
	case mode == modeRequest && h.Group == 70 && h.Variation == 3 && len(o.Data) >= 16:
		fileCommand(t, o.Data)
	}
}

// point adds a typed written number of object o; a prefixed object's
// target is known now, a range's once its header is walked (Element holds
// the index until then).
func (d *objectDecoder) point(h *ObjectHeader, o Object, field string, typ protocols.NumType, v float64) {
	if tg, el, ok := d.pointAt(h, o); ok {
		d.t.AddPoint(tg, el, field, typ, v)
	}
}

// pointAt is where the written numbers of object o go: the target and the
// element in it, found once for all the fields of the object. ok is false
// outside a request, and when the object's target was capped away.
func (d *objectDecoder) pointAt(h *ObjectHeader, o Object) (target, element int, ok bool) {
	if d.mode != modeRequest {
		return 0, 0, false
	}
	if !h.prefixed() {
		return 0, int(o.Index), true // Element holds the index until rangePoints
	}
	t := d.t
	n := len(t.Targets)
	if n == 0 || t.Targets[n-1].Space != h.Space() || uint64(o.Index) < t.Targets[n-1].Address {
		return 0, 0, false // the target was capped away
	}
	return n - 1, int(uint64(o.Index) - t.Targets[n-1].Address), true
}

// rangePoints ties the points of a range header (Element holding the
// object index) to the target addTarget just made or extended; targets was
// the number of targets before it. Without a target (capped), they go.
func rangePoints(t *protocols.Transaction, from, targets int, space string) {
	n := len(t.Targets)
	if n == 0 || (n == targets && t.Targets[n-1].Space != space) {
		t.Points = t.Points[:from]
		return
	}
	tg := &t.Targets[n-1]
	for i := from; i < len(t.Points); i++ {
		p := &t.Points[i]
		if uint64(p.Element) < tg.Address {
			t.Points = t.Points[:from]
			return
		}
		p.Target, p.Element = uint16(n-1), uint32(uint64(p.Element)-tg.Address)
	}
}

func number(v protocols.Value) float64 {
	if v.Kind == protocols.ValueFloat {
		return v.F
	}
	return float64(v.Int)
}

// crobDetail is appendCROBDetail's text, recalled when the same command
// was rendered recently (a SELECT and its OPERATE carry the same block,
// and a master sends the same few commands again and again).
func (d *objectDecoder) crobDetail(data []byte) string {
	if s, ok := d.strs.Recall(protocols.RenderDNP3CROB, data); ok {
		return s
	}
	var buf [64]byte
	return d.strs.Remember(protocols.RenderDNP3CROB, data, appendCROBDetail(buf[:0], data))
}

// appendCROBDetail renders a CROB's fields for the logs.
func appendCROBDetail(b, d []byte) []byte {
	b = append(b, "op="...)
	b = append(b, crobOperation(d[0])...)
	if d[0]&0x10 != 0 {
		b = append(b, " queue"...)
	}
	if d[0]&0x20 != 0 {
		b = append(b, " clear"...)
	}
	b = append(b, " count="...)
	b = strconv.AppendUint(b, uint64(d[1]), 10)
	b = append(b, " on="...)
	b = strconv.AppendUint(b, uint64(binary.LittleEndian.Uint32(d[2:])), 10)
	b = append(b, " off="...)
	b = strconv.AppendUint(b, uint64(binary.LittleEndian.Uint32(d[6:])), 10)
	b = append(b, " status="...)
	return strconv.AppendUint(b, uint64(d[10]&0x7F), 10)
}

// analogOutputValue decodes the value of a g41 analog output block.
func analogOutputValue(v uint8, d []byte) protocols.Value {
	switch {
	case v == 1 && len(d) == 5:
		return protocols.IntValue(int64(int32(binary.LittleEndian.Uint32(d))))
	case v == 2 && len(d) == 3:
		return protocols.IntValue(int64(int16(binary.LittleEndian.Uint16(d))))
	case v == 3 && len(d) == 5:
		return protocols.FloatValue(float64(math.Float32frombits(binary.LittleEndian.Uint32(d))))
	case v == 4 && len(d) == 9:
		return protocols.FloatValue(math.Float64frombits(binary.LittleEndian.Uint64(d)))
	}
	return protocols.IntValue(0)
}

// analogOutputType is the wire type of a g41 analog output block's value.
func analogOutputType(v uint8, d []byte) (protocols.NumType, bool) {
	switch {
	case v == 1 && len(d) == 5:
		return protocols.IntType(32), true
	case v == 2 && len(d) == 3:
		return protocols.IntType(16), true
	case v == 3 && len(d) == 5:
		return protocols.FloatType(32), true
	case v == 4 && len(d) == 9:
		return protocols.FloatType(64), true
	}
	return protocols.NumType{}, false
}

// writtenValue keeps the values of a WRITE: time, IIN bits, deadbands,
// strings; IIN bits and deadbands are points for the value models too (a
// time is not: every clock write is a new value).
func (d *objectDecoder) writtenValue(h *ObjectHeader, o Object) {
	t := d.t
	point := func(field string, typ protocols.NumType, v float64) { d.point(h, o, field, typ, v) }
	switch {
	case o.Data == nil:
		if h.Group == 80 {
			t.AddValue(protocols.BoolValue(o.Bits != 0))
			b := 0.0
			if o.Bits != 0 {
				b = 1
			}
			point(protocols.FieldValue, protocols.TypeBool, b)
		}
	case h.Group == 50 && len(o.Data) >= 6:
		t.AddValue(protocols.IntValue(int64(le48(o.Data))))
	case h.Group == 34 && h.Variation == 1 && len(o.Data) == 2:
		v := binary.LittleEndian.Uint16(o.Data)
		t.AddValue(protocols.IntValue(int64(v)))
		point(protocols.FieldValue, protocols.UintType(16), float64(v))
	case h.Group == 34 && h.Variation == 2 && len(o.Data) == 4:
		v := binary.LittleEndian.Uint32(o.Data)
		t.AddValue(protocols.IntValue(int64(v)))
		point(protocols.FieldValue, protocols.UintType(32), float64(v))
	case h.Group == 34 && h.Variation == 3 && len(o.Data) == 4:
		v := float64(math.Float32frombits(binary.LittleEndian.Uint32(o.Data)))
		t.AddValue(protocols.FloatValue(v))
		point(protocols.FieldValue, protocols.FloatType(32), v)
	case h.Group == 110:
		t.AddValue(protocols.StringValue(printable(o.Data)))
	}
}

func le48(b []byte) uint64 {
	return uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint16(b[4:]))<<32
}

// fileCommand reads a g70v3 file command (open/delete): its mode decides the op.
// Layout: name offset(2) name size(2) created(6) permissions(2) auth key(4)
// file size(4) mode(2) max block(2) request id(2) name.
func fileCommand(t *protocols.Transaction, d []byte) {
	if len(d) < 26 {
		return
	}
	mode := binary.LittleEndian.Uint16(d[20:])
	nameOff, nameLen := int(binary.LittleEndian.Uint16(d)), int(binary.LittleEndian.Uint16(d[2:]))
	if nameOff >= 26 && nameOff+nameLen <= len(d) && nameLen > 0 {
		t.Attrs = append(t.Attrs, protocols.Attr{Key: "file_name", Value: printable(d[nameOff : nameOff+nameLen])})
	}
	if t.Code != FuncOpenFile {
		return
	}
	switch mode {
	case fileModeWrite, fileModeAppend:
		t.Op = protocols.OpProgramDownload
	case fileModeRead, fileModeNull:
		t.Op = protocols.OpRead
	}
	t.Attrs = append(t.Attrs, protocols.Attr{Key: "file_mode", Value: strconv.Itoa(int(mode))})
}

// deviceAttribute records a g0 attribute of a response: data type, length, value.
func deviceAttribute(t *protocols.Transaction, v uint8, d []byte) {
	if len(d) < 2 {
		return
	}
	name, ok := codes.DeviceAttributes[v]
	if !ok {
		return
	}
	val := d[2:]
	var s string
	switch d[0] {
	case 1, 5, 6: // VSTR, OSTR, BSTR
		s = printable(val)
	case 2: // UINT
		var u uint64
		for i := len(val) - 1; i >= 0 && len(val) <= 8; i-- {
			u = u<<8 | uint64(val[i])
		}
		s = strconv.FormatUint(u, 10)
	default:
		s = printable(val)
	}
	t.Attrs = append(t.Attrs, protocols.Attr{Key: name, Value: s})
}

// printable is the shared sanitiser for strings from the wire (protocols.Printable).
func printable(b []byte) string { return protocols.Printable(b) }
