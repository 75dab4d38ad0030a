package s7comm

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/otwatch/otwatch/protocols"
)

// Decoding errors. Only framing errors make a session give up; S7 content
// errors become named anomalies.
var (
	ErrShort      = errors.New("s7comm: truncated")
	ErrNotTPKT    = errors.New("s7comm: not a TPKT header")
	ErrBadCOTP    = errors.New("s7comm: bad COTP header")
	ErrNotS7      = errors.New("s7comm: not an S7comm PDU")
	ErrBadHeader  = errors.New("s7comm: inconsistent S7comm header")
	ErrNotS7Plus  = errors.New("s7comm: not an S7comm-plus PDU")
	errNoFunction = errors.New("s7comm: no parameter")
)

// ---- TPKT (RFC 1006) ----

// TPKTHeaderLen is the size of the TPKT header: version 3, reserved 0, length.
const TPKTHeaderLen = 4

// minTPKTLen: a TPKT header plus the smallest COTP header (LI + code + 1).
const minTPKTLen = TPKTHeaderLen + 3

// ParseTPKT returns the total length (header included) announced by the TPKT
// header at b. ErrShort when fewer than 4 bytes; ErrNotTPKT when the header
// is implausible.
func ParseTPKT(b []byte) (int, error) {
	if len(b) < TPKTHeaderLen {
		return 0, ErrShort
	}
	if b[0] != 3 || b[1] != 0 {
		return 0, ErrNotTPKT
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n < minTPKTLen {
		return 0, ErrNotTPKT
	}
	return n, nil
}

// ---- COTP (ISO 8073) ----

// COTP TPDU codes (high nibble of the second byte).
const (
	COTPConnectRequest    = 0xe0
	COTPConnectConfirm    = 0xd0
	COTPDisconnectRequest = 0x80
	COTPDisconnectConfirm = 0xc0
	COTPData              = 0xf0
	COTPExpeditedData     = 0x10
	COTPDataAck           = 0x60
	COTPExpeditedAck      = 0x20
	COTPReject            = 0x50
	COTPError             = 0x70
)

func knownCOTPType(t byte) bool {
	switch t {
	case COTPConnectRequest, COTPConnectConfirm, COTPDisconnectRequest, COTPDisconnectConfirm,
		COTPData, COTPExpeditedData, COTPDataAck, COTPExpeditedAck, COTPReject, COTPError:
		return true
	}
	return false
}

// COTP is one decoded TPDU; slices alias the input.
type COTP struct {
	Type    byte // TPDU code, e.g. COTPData
	EOT     bool // DT: last fragment of the TSDU
	SrcTSAP []byte
	DstTSAP []byte
	Payload []byte // DT user data
}

// ParseCOTP decodes the TPDU in b (a TPKT payload).
func ParseCOTP(b []byte) (c COTP, err error) {
	if len(b) < 2 {
		return c, ErrShort
	}
	li := int(b[0])
	if li < 1 || li+1 > len(b) || li == 255 {
		return c, ErrBadCOTP
	}
	c.Type = b[1] & 0xf0
	switch c.Type {
	case COTPConnectRequest, COTPConnectConfirm, COTPDataAck, COTPReject: // low nibble: credit (CDT)
	default:
		if b[1]&0x0f != 0 {
			return c, ErrBadCOTP
		}
	}
	if !knownCOTPType(c.Type) {
		return c, ErrBadCOTP
	}
	switch c.Type {
	case COTPData:
		if li < 2 {
			return c, ErrBadCOTP
		}
		c.EOT = b[2]&0x80 != 0
		c.Payload = b[1+li:]
	case COTPConnectRequest, COTPConnectConfirm:
		if li < 6 {
			return c, ErrBadCOTP
		}
		// dst ref, src ref, class: then variable part.
		p := b[7 : 1+li]
		for len(p) >= 2 {
			code, n := p[0], int(p[1])
			if 2+n > len(p) {
				return c, ErrBadCOTP
			}
			switch code {
			case 0xc1:
				c.SrcTSAP = p[2 : 2+n]
			case 0xc2:
				c.DstTSAP = p[2 : 2+n]
			}
			p = p[2+n:]
		}
	}
	return c, nil
}

// RackSlot renders a two-byte S7 TSAP (connection type, rack<<5|slot) as
// "rack/slot"; "" for other TSAPs (S7comm-plus uses strings).
func RackSlot(tsap []byte) string {
	if len(tsap) != 2 {
		return ""
	}
	return itoa(int(tsap[1]>>5)) + "/" + itoa(int(tsap[1]&0x1f))
}

// ---- S7comm header ----

// Header is the S7comm header (10 bytes, 12 for ack and ack_data).
type Header struct {
	ROSCTR     byte
	PDURef     uint16
	ParamLen   int
	DataLen    int
	ErrorClass byte
	ErrorCode  byte
	Len        int
}

// ParseHeader decodes and checks the S7comm header at b, which must hold the
// whole PDU: parameter and data lengths must fit it exactly.
func ParseHeader(b []byte) (h Header, err error) {
	if len(b) < 1 || b[0] != ProtocolIDS7 {
		return h, ErrNotS7
	}
	if len(b) < 10 {
		return h, ErrShort
	}
	h.ROSCTR = b[1]
	if _, ok := codes.ROSCTRNames[h.ROSCTR]; !ok {
		return h, ErrBadHeader
	}
	h.PDURef = binary.BigEndian.Uint16(b[4:])
	h.ParamLen = int(binary.BigEndian.Uint16(b[6:]))
	h.DataLen = int(binary.BigEndian.Uint16(b[8:]))
	h.Len = 10
	if h.ROSCTR == ROSCTRAck || h.ROSCTR == ROSCTRAckData {
		if len(b) < 12 {
			return h, ErrShort
		}
		h.ErrorClass, h.ErrorCode = b[10], b[11]
		h.Len = 12
	}
	if h.Len+h.ParamLen+h.DataLen != len(b) {
		return h, ErrBadHeader
	}
	return h, nil
}

// PDU is a decoded S7comm PDU: header plus the parameter and data blocks,
// with the fields that name its function. Slices alias the input.
type PDU struct {
	Header
	Param, Data []byte
	// Job / ack_data: the parameter's function code.
	Function    byte
	HasFunction bool
	// Userdata parameter.
	UDMethod   byte
	UDType     byte
	UDGroup    byte
	UDSub      byte
	UDSeq      byte
	UDLast     bool // last data unit (8-byte parameter only)
	UDError    uint16
	UDExtended bool // 8-byte userdata parameter (data unit ref, last, error)
	// Continuation is set by the session for a response data unit that
	// continues a previous one (no SZL header of its own).
	Continuation bool
}

// DecodePDU decodes a whole S7comm PDU.
func DecodePDU(b []byte) (p PDU, err error) {
	p.Header, err = ParseHeader(b)
	if err != nil {
		return p, err
	}
	p.Param = b[p.Len : p.Len+p.ParamLen]
	p.Data = b[p.Len+p.ParamLen:]
	switch p.ROSCTR {
	case ROSCTRUserdata:
		q := p.Param
		if len(q) < 8 {
			return p, ErrBadHeader
		}
		// The length byte (q[3]) is 4 or 8 for requests/responses; mode
		// transition pushes carry other heads: the byte is not checked.
		p.UDMethod, p.UDType, p.UDGroup, p.UDSub, p.UDSeq = q[4], q[5]>>4, q[5]&0x0f, q[6], q[7]
		p.UDLast = true
		if q[3] >= 8 && len(q) >= 12 {
			p.UDExtended = true
			p.UDLast = q[9] == 0
			p.UDError = binary.BigEndian.Uint16(q[10:])
		}
	case ROSCTRJob, ROSCTRAckData: // an ack's parameter, if any, names nothing
		if len(p.Param) > 0 {
			p.Function, p.HasFunction = p.Param[0], true
		}
	}
	return p, nil
}

// IsUserdataRequest: userdata type Request (4) or NC Request (7).
func (p *PDU) IsUserdataRequest() bool { return p.UDType == UDRequest || p.UDType == UDNCRequest }

// ---- semantics: filling a Transaction ----

func attr(t *protocols.Transaction, k, v string) {
	t.Attrs = append(t.Attrs, protocols.Attr{Key: k, Value: v})
}

func setFunction(t *protocols.Transaction, fc byte) {
	t.Proto = ProtoS7
	t.Code = int(fc)
	if f := codes.Functions[fc]; f.Name != "" {
		t.CodeName, t.Op = f.Name, f.Op
	} else {
		t.CodeName, t.Op = "unknown", protocols.OpOther
		t.AddAnomaly("s7comm.unknown_function")
	}
}

func setUserdata(t *protocols.Transaction, group, sub byte) {
	t.Proto = ProtoS7
	t.Code = int(group)
	g, ok := codes.Groups[group]
	if group == GroupModeTransition {
		// No subfunction: the byte is the CPU's new mode.
		t.CodeName, t.Op = g.Name, g.Op
		t.SubcodeName = modeName(sub)
		return
	}
	t.Subcode, t.HasSubcode = int(sub), true
	if !ok {
		t.CodeName, t.Op, t.SubcodeName = "unknown", protocols.OpOther, "unknown"
		t.AddAnomaly("s7comm.unknown_function")
		return
	}
	t.CodeName, t.Op = g.Name, g.Op
	if s, ok := codes.Subfunctions[uint16(group)<<8|uint16(sub)]; ok {
		t.SubcodeName, t.Op = s.Name, s.Op
	} else {
		t.SubcodeName = "unknown"
	}
}

// item is one S7ANY address of a read/write var parameter.
type item struct {
	syntax    byte
	transport byte
	length    uint16
	db        uint16
	area      byte
	address   uint32 // byte<<3 | bit
}

// space names the target space of an item's area.
func (it item) space() string {
	s := codes.Areas[it.area]
	if s == "" {
		return "area_0x" + strings.TrimPrefix(hex16(uint16(it.area)), "0x00")
	}
	if it.area == 0x84 || it.area == 0x85 {
		if int(it.db) < len(dbNames) && it.area == 0x84 {
			return dbNames[it.db] // the common case, without an allocation per item
		}
		return s + itoa(int(it.db))
	}
	return s
}

// dbNames are "db0" … "db1023", the data blocks nearly every PLC program uses.
var dbNames = func() (n [1024]string) {
	for i := range n {
		n[i] = "db" + strconv.Itoa(i)
	}
	return
}()

// itemKey names the detail attribute of item i (0-based).
func itemKey(i int) string {
	if i < len(itemKeys) {
		return itemKeys[i]
	}
	return "item" + strconv.Itoa(i+1)
}

// itemKeys name the detail attribute of each of the first items.
var itemKeys = func() (k [maxItemAttrs]string) {
	for i := range k {
		k[i] = "item" + strconv.Itoa(i+1)
	}
	return
}()

func (it item) counterLike() bool {
	return it.area == 0x1c || it.area == 0x1d || it.area == 0x1e || it.area == 0x1f
}

func (it item) target() protocols.Target {
	if it.counterLike() {
		return protocols.Target{Space: it.space(), Address: uint64(it.address), Count: uint64(it.length)}
	}
	return protocols.Target{Space: it.space(), Address: uint64(it.address >> 3), Count: uint64(it.length)}
}

// appendDescription renders an item as Step 7 would write it, e.g. "DB1.DBX 2.0 BYTE 4".
func (it item) appendDescription(b []byte) []byte {
	switch {
	case it.area == 0x84 || it.area == 0x85:
		for _, c := range []byte(it.space()) {
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			b = append(b, c)
		}
		b = append(b, ".DBX "...)
	default:
		b = append(append(b, it.space()...), ' ')
	}
	if it.counterLike() {
		b = strconv.AppendInt(b, int64(it.address), 10)
	} else {
		b = strconv.AppendInt(b, int64(it.address>>3), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(it.address&7), 10)
	}
	b = append(b, ' ')
	if s := transportSizes[it.transport]; s.name != "" {
		b = append(b, s.name...)
	} else {
		b = append(b, "0x"+strings.TrimPrefix(hex16(uint16(it.transport)), "0x00")...)
	}
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(it.length), 10)
}

// maxItemAttrs caps the per-item descriptions kept as detail attributes.
const maxItemAttrs = 8

// itemInfo is what decoding an item's written data needs: its transport
// size, element count, bit number and the index of its target (-1: the item
// has no target, not being an S7ANY address).
type itemInfo struct {
	transport byte
	bit       uint8
	length    uint16
	target    int16
}

// parseItems walks the item list of a read/write var parameter (function
// byte first), appending targets, and returns what decoding the items'
// written values needs in items[:n] (items holds the count the parameter
// gives). Descriptions are made with strs.
func parseItems(param []byte, t *protocols.Transaction, items []itemInfo, strs *protocols.Strings) (n int) {
	if len(param) < 2 {
		t.AddAnomaly("s7comm.invalid_parameter")
		return 0
	}
	count := int(param[1])
	b := param[2:]
	// Room for every S7ANY item the bytes can hold, in one allocation.
	t.Targets = slices.Grow(t.Targets, min(count, len(b)/12))
	for i := 0; i < count; i++ {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			t.AddAnomaly("s7comm.invalid_item")
			return n
		}
		spec := b[:2+int(b[1])]
		b = b[len(spec):]
		if spec[0] != 0x12 || len(spec) < 3 {
			t.AddAnomaly("s7comm.invalid_item")
			continue
		}
		if spec[2] != 0x10 { // not S7ANY: DBREAD, NCK, drive ES, symbolic: recognised, not named
			items[n] = itemInfo{target: -1}
			n++
			if len(t.Attrs) < maxItemAttrs*2 {
				attr(t, itemKey(i), "syntax_id 0x"+strings.TrimPrefix(hex16(uint16(spec[2])), "0x00"))
			}
			continue
		}
		if len(spec) != 12 {
			t.AddAnomaly("s7comm.invalid_item")
			if len(spec) < 12 {
				continue
			}
		}
		it := item{syntax: spec[2], transport: spec[3], length: binary.BigEndian.Uint16(spec[4:]),
			db: binary.BigEndian.Uint16(spec[6:]), area: spec[8],
			address: uint32(spec[9])<<16 | uint32(spec[10])<<8 | uint32(spec[11])}
		items[n] = itemInfo{transport: it.transport, bit: uint8(it.address & 7), length: it.length, target: int16(len(t.Targets))}
		t.Targets = append(t.Targets, it.target())
		if i < maxItemAttrs {
			d, ok := strs.Recall(protocols.RenderS7Item, spec) // a poll names the same items cycle after cycle
			if !ok {
				var buf [64]byte
				d = strs.Remember(protocols.RenderS7Item, spec, it.appendDescription(buf[:0]))
			}
			attr(t, itemKey(i), d)
		}
		n++
	}
	if len(b) != 0 {
		t.AddAnomaly("s7comm.invalid_parameter")
	}
	return n
}

// dataItems walks the data items of a write var request or a read var
// response: return code, transport size, length, data, fill byte. each is
// called per item with its index, return code, data transport size and data.
func dataItems(data []byte, want int, response bool, t *protocols.Transaction, each func(i int, rc, ts byte, d []byte)) {
	b := data
	i := 0
	for ; i < want && len(b) > 0; i++ {
		if len(b) < 4 {
			t.AddAnomaly("s7comm.invalid_data")
			return
		}
		rc, ts, n := b[0], b[1], int(binary.BigEndian.Uint16(b[2:]))
		if lengthInBits(ts) {
			n = (n + 7) / 8
		}
		if response && rc != 0xff {
			n = 0 // a failed item carries no data, whatever its length says
		}
		if 4+n > len(b) {
			t.AddAnomaly("s7comm.invalid_data")
			n = len(b) - 4
		}
		each(i, rc, ts, b[4:4+n])
		b = b[4+n:]
		if n%2 == 1 && len(b) > 0 && i+1 < want {
			b = b[1:] // fill byte between items
		}
	}
	if i < want || len(b) != 0 {
		t.AddAnomaly("s7comm.invalid_data")
	}
}

// addValues decodes an item's written bytes by its transport size, as
// values for the records and as typed points for the value models: one
// point per element, its element offset in bytes (the address unit of S7
// targets). A BYTE item of 2 or 4 bytes is one 16- or 32-bit point, as HMIs
// write WORD, INT, DWORD, DINT and REAL tags; a BIT item is a point of its
// own bit.
func addValues(t *protocols.Transaction, it itemInfo, d []byte) {
	tg := int(it.target)
	point := func(element int, typ protocols.NumType, v float64) {
		if tg >= 0 && len(t.Points) < protocols.MaxPoints {
			t.AddPoint(tg, element, protocols.FieldValue, typ, v)
			if it.transport == 0x01 {
				t.Points[len(t.Points)-1].Sub = it.bit + 1
			}
		}
	}
	switch it.transport {
	case 0x01: // BIT
		if len(d) > 0 {
			t.AddValue(protocols.BoolValue(d[0]&1 != 0))
			point(0, protocols.TypeBool, float64(d[0]&1))
		}
		return
	case 0x03: // CHAR
		t.AddValue(protocols.StringValue(printable(d)))
		return
	case 0x08: // REAL
		n := len(d) / 4
		vals, pts := t.NewValues(n), t.NewPoints(tg, n)
		for i := 0; i < n; i++ {
			f := float64(math.Float32frombits(binary.BigEndian.Uint32(d[4*i:])))
			if i < len(vals) {
				vals[i] = protocols.FloatValue(f)
			}
			if i < len(pts) {
				pts[i].Element, pts[i].Type, pts[i].V = uint32(4*i), protocols.FloatType(32), f
			}
		}
		return
	case 0x05, 0x07: // INT, DINT
		w := 2
		if it.transport == 0x07 {
			w = 4
		}
		typ := protocols.IntType(uint8(8 * w))
		n := len(d) / w
		vals, pts := t.NewValues(n), t.NewPoints(tg, n)
		for i := 0; i < n; i++ {
			var v int64
			if w == 2 {
				v = int64(int16(binary.BigEndian.Uint16(d[2*i:])))
			} else {
				v = int64(int32(binary.BigEndian.Uint32(d[4*i:])))
			}
			if i < len(vals) {
				vals[i] = protocols.IntValue(v)
			}
			if i < len(pts) {
				pts[i].Element, pts[i].Type, pts[i].V = uint32(w*i), typ, float64(v)
			}
		}
		return
	}
	size := 1
	if s := transportSizes[it.transport]; s.name != "" && s.size > 0 && s.size <= 8 {
		size = s.size
	}
	if it.transport == 0x02 && size == 1 && (len(d) == 2 || len(d) == 4) {
		// BYTE x2 / x4: one WORD or DWORD-sized point, signedness unknown
		var w uint64
		for _, c := range d {
			w = w<<8 | uint64(c)
			t.AddValue(protocols.IntValue(int64(c)))
		}
		point(0, protocols.NumType{Kind: protocols.NumRegister, Bits: uint8(8 * len(d))}, float64(w))
		return
	}
	typ := protocols.UintType(uint8(8 * size))
	if it.transport == 0x04 || it.transport == 0x06 { // WORD, DWORD: bit strings HMIs use for INT/DINT too
		typ = protocols.NumType{Kind: protocols.NumRegister, Bits: uint8(8 * size)}
	}
	// a block write is thousands of these: values and points filled in place
	n := len(d) / size
	vals, pts := t.NewValues(n), t.NewPoints(tg, n)
	if size == 1 { // BYTE arrays, the common block: a loop without the width
		for i := range vals {
			vals[i] = protocols.IntValue(int64(d[i]))
		}
		for i := range min(len(pts), len(d)) {
			pts[i].Element, pts[i].Type, pts[i].V = uint32(i), typ, float64(d[i])
		}
		return
	}
	for i := range vals {
		vals[i] = protocols.IntValue(int64(protocols.UintBE(d[i*size : i*size+size])))
	}
	for i := range pts {
		pts[i].Element, pts[i].Type, pts[i].V = uint32(i*size), typ, float64(protocols.UintBE(d[i*size:i*size+size]))
	}
}

// DecodeJob fills t from a job PDU: function, targets, values, details.
func DecodeJob(p *PDU, t *protocols.Transaction) { decodeJob(p, t, nil) }

// decodeJob is DecodeJob making its strings with strs.
func decodeJob(p *PDU, t *protocols.Transaction, strs *protocols.Strings) {
	if !p.HasFunction {
		t.Proto = ProtoS7
		t.CodeName = "unknown"
		t.AddAnomaly("s7comm.invalid_parameter")
		return
	}
	setFunction(t, p.Function)
	q := p.Param
	switch p.Function {
	case FuncReadVar, FuncWriteVar:
		var few [64]itemInfo // most jobs name a few items (a 240-byte PDU at most 19): no 256 to clear each time
		items := few[:]
		if len(q) >= 2 && int(q[1]) > len(few) {
			items = make([]itemInfo, q[1])
		}
		n := parseItems(q, t, items, strs)
		if p.Function == FuncWriteVar {
			dataItems(p.Data, n, false, t, func(i int, _, _ byte, d []byte) { addValues(t, items[i], d) })
		} else if len(p.Data) != 0 {
			t.AddAnomaly("s7comm.invalid_data")
		}
	case FuncSetupComm:
		if len(q) != 8 {
			t.AddAnomaly("s7comm.invalid_parameter")
			if len(q) < 8 {
				return
			}
		}
		attr(t, "max_amq_calling", itoa(int(binary.BigEndian.Uint16(q[2:]))))
		attr(t, "max_amq_called", itoa(int(binary.BigEndian.Uint16(q[4:]))))
		attr(t, "pdu_size", itoa(int(binary.BigEndian.Uint16(q[6:]))))
	case FuncRequestDownload, FuncDownloadBlock, FuncDownloadEnded, FuncStartUpload:
		if len(q) < 9 || len(q) < 9+int(q[8]) {
			t.AddAnomaly("s7comm.invalid_parameter")
			return
		}
		if p.Function != FuncRequestDownload {
			attr(t, "upload_id", itoa(int(binary.BigEndian.Uint32(q[4:]))))
		}
		fileName(t, q[9:9+int(q[8])])
		if rest := q[9+int(q[8]):]; p.Function == FuncRequestDownload && len(rest) >= 1 && len(rest) >= 1+int(rest[0]) {
			attr(t, "block_length", printable(rest[1:1+int(rest[0])]))
		}
	case FuncUpload, FuncEndUpload:
		if len(q) < 8 {
			t.AddAnomaly("s7comm.invalid_parameter")
			return
		}
		attr(t, "upload_id", itoa(int(binary.BigEndian.Uint32(q[4:]))))
	case FuncPIService:
		decodePIService(q, t)
	case FuncPLCStop:
		if len(q) < 7 || len(q) < 7+int(q[6]) {
			t.AddAnomaly("s7comm.invalid_parameter")
			return
		}
		attr(t, "pi_service", printable(q[7:7+int(q[6])]))
	}
}

// fileName decodes an upload/download file name: "_" type(2) number(5) filesystem.
func fileName(t *protocols.Transaction, name []byte) {
	attr(t, "filename", printable(name))
	if len(name) < 9 || name[0] != '_' {
		return
	}
	typ, ok := codes.BlockTypes[string(name[1:3])]
	if !ok {
		typ = "0x" + printable(name[1:3])
	}
	num := 0
	for _, c := range name[3:8] {
		if c < '0' || c > '9' {
			return
		}
		num = num*10 + int(c-'0')
	}
	t.Targets = append(t.Targets, protocols.Target{Space: "block_" + typ, Address: uint64(num), Count: 1})
	attr(t, "block_type", typ)
	attr(t, "block_number", itoa(num))
	attr(t, "filesystem", printable(name[8:9]))
}

// decodePIService reads a PI service call: 7 bytes, parameter block, service name.
func decodePIService(q []byte, t *protocols.Transaction) {
	if len(q) < 10 {
		t.AddAnomaly("s7comm.invalid_parameter")
		return
	}
	n := int(binary.BigEndian.Uint16(q[8:]))
	if 10+n+1 > len(q) || 10+n+1+int(q[10+n]) > len(q) {
		t.AddAnomaly("s7comm.invalid_parameter")
		return
	}
	params := q[10 : 10+n]
	name := string(q[11+n : 11+n+int(q[10+n])])
	attr(t, "pi_service", printable([]byte(name)))
	if n > 0 {
		attr(t, "pi_parameters", printable(params))
	}
	info, ok := codes.PIServices[name]
	if !ok {
		t.SubcodeName = "unknown"
		return
	}
	t.SubcodeName, t.Op = info.Name, info.Op
	switch name {
	case "P_PROGRAM":
		// Without an argument a (hot/warm) start; "C " asks for a cold start.
		if strings.HasPrefix(strings.TrimSpace(string(params)), "C") {
			t.SubcodeName, t.Op = "plc_cold_start", protocols.OpRestart
		}
	case "_INSE", "_DELE":
		// number of blocks (1), then per block "type(2) number(5) filesystem(1)".
		b := params
		if len(b) >= 2 {
			b = b[2:]
		}
		for len(b) >= 8 {
			fileName(t, append([]byte{'_'}, b[:8]...))
			b = b[8:]
		}
	}
}

// DecodeAck completes t (its job decoded, or not seen) from an ack or
// ack_data PDU: outcome, error, item return codes, negotiated values.
func DecodeAck(p *PDU, t *protocols.Transaction, requestSeen bool) {
	if !requestSeen && p.HasFunction {
		setFunction(t, p.Function)
	}
	t.Outcome = protocols.OutcomeOK
	if p.ErrorClass != 0 || p.ErrorCode != 0 {
		t.Outcome = protocols.OutcomeException
		t.ExceptionCode, t.HasException = int64(p.ErrorClass)<<8|int64(p.ErrorCode), true
	}
	if !p.HasFunction {
		return
	}
	q := p.Param
	switch p.Function {
	case FuncReadVar:
		if len(q) != 2 {
			t.AddAnomaly("s7comm.invalid_parameter")
			if len(q) < 2 {
				return
			}
		}
		dataItems(p.Data, int(q[1]), true, t, func(_ int, rc, _ byte, _ []byte) { itemReturn(t, rc) })
	case FuncWriteVar:
		if len(q) != 2 {
			t.AddAnomaly("s7comm.invalid_parameter")
			if len(q) < 2 {
				return
			}
		}
		if len(p.Data) != int(q[1]) {
			t.AddAnomaly("s7comm.invalid_data")
		}
		for _, rc := range p.Data {
			itemReturn(t, rc)
		}
	case FuncSetupComm:
		if len(q) >= 8 {
			attr(t, "pdu_size_negotiated", itoa(int(binary.BigEndian.Uint16(q[6:]))))
		} else {
			t.AddAnomaly("s7comm.invalid_parameter")
		}
	case FuncStartUpload:
		if len(q) >= 9 && len(q) >= 9+int(q[8]) {
			attr(t, "block_length", printable(q[9:9+int(q[8])]))
		}
	}
}

// itemReturn: an item the PLC refused (object does not exist, address out
// of range, access denied) is the response's outcome, as a Modbus
// exception is, not a malformed PDU; exception bursts watch for probing.
func itemReturn(t *protocols.Transaction, rc byte) {
	if rc == 0xff {
		return
	}
	if t.Outcome == protocols.OutcomeOK {
		t.Outcome = protocols.OutcomeException
		t.ExceptionCode, t.HasException = int64(rc), true
	}
}

// DecodeUserdata fills t from a userdata PDU (request, response or push).
func DecodeUserdata(p *PDU, t *protocols.Transaction, requestSeen bool) {
	if !requestSeen {
		setUserdata(t, p.UDGroup, p.UDSub)
	}
	request := p.IsUserdataRequest()
	if !request {
		t.Outcome = protocols.OutcomeOK
		if p.UDError != 0 {
			t.Outcome = protocols.OutcomeException
			t.ExceptionCode, t.HasException = int64(p.UDError), true
		}
	}
	d := p.Data
	if len(d) < 4 {
		if len(d) != 0 {
			t.AddAnomaly("s7comm.invalid_data")
		}
		return
	}
	rc, n := d[0], int(binary.BigEndian.Uint16(d[2:]))
	body := d[4:]
	if n > len(body) {
		t.AddAnomaly("s7comm.invalid_data")
	} else {
		body = body[:n]
	}
	if !request && rc != 0xff && rc != 0 && t.Outcome == protocols.OutcomeOK {
		t.Outcome = protocols.OutcomeException
		t.ExceptionCode, t.HasException = int64(rc), true
	}
	if p.UDExtended && p.UDSeq != 0 && request {
		attr(t, "continuation", "true") // asks for the next data unit of a response: no body
		return
	}
	switch p.UDGroup {
	case GroupCPU:
		if p.UDSub == SubReadSZL && len(body) >= 4 {
			id, index := binary.BigEndian.Uint16(body), binary.BigEndian.Uint16(body[2:])
			if p.Continuation {
				return
			}
			if t.Attr("szl_id") == "" {
				attr(t, "szl_id", hex16(id))
				attr(t, "szl_index", hex16(index))
			}
			if !request {
				decodeSZL(id, body[4:], t)
			}
		}
	case GroupTime:
		if (p.UDSub == SubSetClock || p.UDSub == SubSetClock2) && request && len(body) >= 10 {
			attr(t, "clock", bcdTime(body[:10]))
		}
		if p.UDSub == SubReadClock && !request && len(body) >= 10 {
			attr(t, "clock", bcdTime(body[:10]))
		}
	case GroupBlock:
		if request && (p.UDSub == 0x02 || p.UDSub == 0x03) && len(body) >= 2 {
			typ, ok := codes.BlockTypes[string(body[:2])]
			if !ok {
				typ = "0x" + printable(body[:2])
			}
			attr(t, "block_type", typ)
			if p.UDSub == 0x03 && len(body) >= 8 {
				fileName(t, append([]byte{'_'}, body[:8]...))
			}
		}
	}
}

// decodeSZL reads the identity lists 0x0011 (module identification) and
// 0x001C (component identification) into detail attributes.
func decodeSZL(id uint16, b []byte, t *protocols.Transaction) {
	if len(b) < 4 {
		return
	}
	size, count := int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:]))
	b = b[4:]
	attr(t, "szl_records", itoa(count))
	if size == 0 {
		return
	}
	if max := len(b) / size; count > max {
		count = max // partial list in this data unit
	}
	for i := 0; i < count; i++ {
		r := b[i*size : (i+1)*size]
		switch id & 0x00ff {
		case 0x11:
			if size < 28 {
				return
			}
			index := binary.BigEndian.Uint16(r)
			switch index {
			case 0x0001:
				attr(t, "order_number", trim(r[2:22]))
				attr(t, "hardware_version", itoa(int(binary.BigEndian.Uint16(r[24:]))))
			case 0x0006:
				attr(t, "hardware_order_number", trim(r[2:22]))
			case 0x0007:
				attr(t, "firmware", "V"+itoa(int(r[25]))+"."+itoa(int(r[26]))+"."+itoa(int(r[27])))
			case 0x0081:
				attr(t, "firmware_extension", trim(r[2:22]))
			}
		case 0x1c:
			if size < 34 {
				return
			}
			text := trim(r[2:34])
			switch binary.BigEndian.Uint16(r) {
			case 1:
				attr(t, "automation_system_name", text)
			case 2:
				attr(t, "module_name", text)
			case 3:
				attr(t, "plant_designation", text)
			case 4:
				attr(t, "copyright", text)
			case 5:
				attr(t, "serial", text)
			case 7:
				attr(t, "module_type_name", text)
			case 8:
				attr(t, "memory_card_serial", text)
			case 0x0b:
				attr(t, "location_designation", text)
			}
		}
	}
}

// trim keeps an identity string: NULs and trailing blanks removed, control bytes as '.'.
func trim(b []byte) string {
	if i := indexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(printable(b))
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func bcd(b byte) int { return int(b>>4)*10 + int(b&15) }

// bcdTime renders the 10-byte S7 time (reserved, year hi, year lo, month,
// day, hour, minute, second, ms/weekday) as an ISO-like string.
func bcdTime(b []byte) string {
	year := 1900 + bcd(b[2]) // the first year byte is unreliable; Step 7 counts 90..89
	if year < 1990 {
		year += 100
	}
	p2 := func(v int) string {
		if v < 10 {
			return "0" + itoa(v)
		}
		return itoa(v)
	}
	return itoa(year) + "-" + p2(bcd(b[3])) + "-" + p2(bcd(b[4])) + "T" + p2(bcd(b[5])) + ":" + p2(bcd(b[6])) + ":" + p2(bcd(b[7]))
}

// printable is the shared sanitiser for strings from the wire (protocols.Printable).
func printable(b []byte) string { return protocols.Printable(b) }
