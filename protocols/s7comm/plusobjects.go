package s7comm

import (
	"strconv"

	"github.com/otwatch/otwatch/protocols"
)

// Requests of S7comm-plus name what they touch in three ways:
//
//   - item addresses (Get/SetMultiVariables on object 0): symbol CRC, access
//     area (0x8a0e0000 | DB number, 80..84 for I/Q/M/C/T, or any object),
//     the number of ids that follow, the sub-area (DB.ValueActual,
//     ControllerArea.ValueActual, or an attribute) and the LIDs. A CRC of 0
//     on a DB or I/Q/M/C/T with LID 3 ("classic blob") is absolute
//     addressing: byte offset, byte count, [bit] — a not-optimized DB or
//     the M area addressed as on an S7-300;
//   - an object and attribute ids (SetVariable, GetVariable, the
//     multi-variable functions on a non-zero object, Get/SetVarSubStreamed);
//   - objects (CreateObject, Explore, BeginSequence).
//
// Targets: {"space": "db3", "id": "14.0.256@ef49945c"} (symbolic),
// {"space": "M", "address": 100, "count": 2} (absolute), {"space":
// "object", "id": "CPUexecUnit.OperatingStateREQ"}, and for program
// operations {"space": "block_ob", "address": 1, "count": 1} as classic
// S7comm names blocks.

// maxPlusItems caps the items decoded per request.
const maxPlusItems = 64

// Access area of DB item addresses (high 16 bits).
const plusAreaDB = 0x8a0e

var plusIQMCT = map[uint32]string{80: "I", 81: "Q", 82: "M", 83: "C", 84: "T"}

// plusBlockSpaces: target spaces of program objects, as classic S7comm
// names them.
var plusBlockSpaces = map[string]string{
	"OB": "block_ob", "DB": "block_db", "FB": "block_fb", "FC": "block_fc", "UDT": "block_udt",
	"S_FB": "block_sfb", "S_FC": "block_sfc", "S_UDT": "block_sudt", "UserConstants": "block_constants",
	"AlarmTextList": "block_alarm_texts", "TextList": "block_texts",
}

// plusClassBlockKinds: block kinds of program classes, for objects created
// with a temporary relation id.
var plusClassBlockKinds = map[uint32]string{
	2574: "DB", 2578: "FB", 2579: "FC", 2610: "OB", 2640: "OB", 2647: "OB", 2651: "OB",
	3932: "UDT", 4272: "DB", 4600: "DB",
}

// header fills the fields every S7comm-plus transaction has.
func (d *plusDecoder) header(p *PlusPDU, t *protocols.Transaction) {
	t.Proto = ProtoS7Plus
	t.Code = int(p.Function)
	t.Subcode, t.HasSubcode = int(p.Opcode), true
	t.SubcodeName = codes.OpcodeNames[p.Opcode]
	t.ID, t.HasID = uint64(p.Seq), true
	if f, ok := codes.PlusFunctions[p.Function]; ok {
		t.CodeName, t.Op = f.Name, f.Op
	} else {
		t.CodeName, t.Op = "unknown", protocols.OpOther
		t.AddAnomaly("s7comm_plus.unknown_function")
	}
	d.attr("version", itoa(int(p.Version)))
	if p.Digest {
		d.attr("integrity", "digest")
	}
}

// DecodePlusRequest fills t from a request (or, for a response whose request
// was not seen, from the response). It uses a decoder of its own; sessions
// keep one and decode without allocating.
func DecodePlusRequest(p *PlusPDU, t *protocols.Transaction) {
	var d plusDecoder
	if p.Opcode == OpcodeRequest {
		d.request(p, t, false)
	} else {
		d.response(p, t, true, false)
	}
}

// request decodes a request PDU into t; truncated says the body was cut
// by the reassembly cap.
func (d *plusDecoder) request(p *PlusPDU, t *protocols.Transaction, truncated bool) {
	d.begin(t, p.Body, sinkNone)
	d.truncated = truncated
	d.header(p, t)
	r := &d.r
	if len(p.Body) < 5 {
		d.finish()
		return
	}
	d.sessionID = r.U32BE()
	r.U8() // transport flags
	d.attrHex("session_id", d.sessionID)
	d.hook = plusHook
	switch p.Function {
	case PlusGetMultiVariables:
		d.multiVariables(false)
	case PlusSetMultiVariables:
		d.multiVariables(true)
	case PlusSetVariable:
		d.setVariable()
	case PlusGetVariable:
		d.getVariable()
	case PlusCreateObject:
		d.createObject(p.Version)
		if d.facts.createdClass == plusClassServerSession {
			d.clientIdentity()
		}
	case PlusDeleteObject:
		obj := r.U32BE()
		d.facts.object = obj
		d.touch(obj, 0)
		d.nameTarget(obj)
	case PlusGetVarSubStreamed, PlusSetVarSubStreamed:
		d.varSubStreamed(p.Function == PlusSetVarSubStreamed)
	case PlusExplore:
		d.explore()
	case PlusGetLink:
		r.Skip(4)
		if id := r.vlq(); !r.Failed() {
			d.nameTarget(id)
		}
	case PlusBeginSequence:
		d.beginSequence(p.Version)
	case PlusInvoke:
		r.U32BE() // sub-session id
		r.U32BE()
		d.itemValueList()
	}
	if r.Failed() && !d.truncated && !d.named {
		t.AddAnomaly("s7comm_plus.invalid_value")
	}
	d.classify(p)
	d.finish()
}

// touch records that obj (and attribute a) were named.
func (d *plusDecoder) touch(obj, a uint32) {
	f := &d.facts
	if _, _, ok := plusBlock(obj); ok && (a == 0 || plusBodyAttrs[a]) {
		f.blockRel = obj
	}
	if obj == plusObjProgramChange {
		f.blockRel, f.body = obj, true
	}
	if obj != 0 && obj == d.sessionID {
		f.session = true
	}
	plusSeeID(f, a)
}

// plusSeeID records what an attribute id alone tells.
func plusSeeID(f *plusFacts, a uint32) {
	switch {
	case a == 0:
	case plusBodyAttrs[a]:
		f.body = true
	case plusCommandAttrs[a]:
		f.command = a
	case plusSubscriptionAttrs[a]:
		f.subscription = true
	case a == plusAttrSessionResponse:
		f.legitimation = true
	}
}

// plusHook records what attribute values tell: the operating state asked
// for, the protection of a block, the identity of both ends.
func plusHook(d *plusDecoder, id uint32, v *pval) {
	f := &d.facts
	plusSeeID(f, id)
	switch id {
	case plusAttrOperatingStateREQ:
		if x, ok := v.int(); ok {
			f.opState = x
		}
	case plusAttrKnowhowProtected:
		if x, ok := v.int(); ok {
			f.knowhow = int8(x & 1)
		}
	case plusAttrAdditionalMAC:
		f.mac = true
	case plusAttrBlockLanguage:
		if x, ok := v.int(); ok {
			f.language = x
		}
	case plusAttrBlockNumber:
		if x, ok := v.int(); ok {
			f.blockNumber = x
		}
	case plusAttrOperatingState:
		if x, ok := v.int(); ok {
			f.cpuState = x
		}
	case plusAttrPAOMSystem:
		f.paom = v.b
	case plusAttrPAOMProject:
		f.paomProject = v.b
	case plusAttrSessionApplication:
		f.clientApp = v.b
	case plusAttrSessionHost:
		f.clientHost = v.b
	case plusAttrSessionUser:
		f.clientUser = v.b
	case plusAttrSessionClientID:
		f.clientID = v.b
	case plusAttrSessionComment:
		f.comment = v.b
	case plusAttrIuM0DataActual:
		f.ium0 = v.b
	}
}

// multiVariables decodes Get/SetMultiVariables: item addresses (object 0)
// or attribute ids of one object, then for Set the values.
func (d *plusDecoder) multiVariables(set bool) {
	r := &d.r
	obj := r.U32BE()
	count := r.count()
	if obj == 0 {
		r.vlq() // number of fields
		var tg [maxPlusItems]int16
		var abs [maxPlusItems]bool
		for i := 0; i < count && !r.Failed(); i++ {
			n := len(d.t.Targets)
			d.itemAddress()
			if i < len(tg) {
				tg[i] = -1
				if len(d.t.Targets) > n {
					tg[i], abs[i] = int16(n), d.t.Targets[n].Count > 0 // absolute targets have a byte count
				}
			}
		}
		if !set {
			return
		}
		d.sink = sinkWrite
		for i := 0; i < count && !r.Failed(); i++ {
			r.vlq() // item number
			d.ptTarget, d.ptAbs, d.ptElem = -1, false, 0
			if i < len(tg) {
				d.ptTarget, d.ptAbs = int(tg[i]), abs[i]
			}
			if entered, _ := d.value(0); entered {
				d.nested(true)
			}
		}
		d.ptTarget = -1
		return
	}
	// A non-zero object: the session (its settings), a subscription, a
	// link of a watch table.
	d.facts.object = obj
	var ids [maxPlusItems]uint32
	var tg [maxPlusItems]int16
	n := r.count()
	for i := 0; i < n && !r.Failed(); i++ {
		id := r.vlq()
		k := len(d.t.Targets)
		d.touch(obj, id)
		d.objectTarget(obj, id, nil)
		if i < len(ids) {
			ids[i], tg[i] = id, -1
			if len(d.t.Targets) > k {
				tg[i] = int16(k)
			}
		}
	}
	if obj != d.sessionID {
		d.attrName("object", obj)
	}
	if !set {
		return
	}
	d.sink = d.valueSink(obj)
	for i := 0; i < count && !r.Failed(); i++ {
		r.vlq() // item number
		var id uint32
		d.ptTarget, d.ptElem = -1, 0
		if i < n && i < len(ids) {
			id, d.ptTarget = ids[i], int(tg[i])
		}
		if entered, _ := d.value(id); entered {
			d.nested(true)
		}
	}
	d.ptTarget = -1
}

// valueSink: values written to the session object are session bookkeeping
// (version structures, legitimation), not process values.
func (d *plusDecoder) valueSink(obj uint32) uint8 {
	if obj != 0 && (obj == d.sessionID || obj == plusObjNullSession) {
		return sinkNone
	}
	return sinkWrite
}

// itemAddress reads one item address into a target.
func (d *plusDecoder) itemAddress() {
	r := &d.r
	crc := r.vlq()
	area := r.vlq()
	n := r.count()
	sub := r.vlq()
	var lids [16]uint32
	k := 0
	for i := 1; i < n && !r.Failed(); i++ {
		l := r.vlq()
		if k < len(lids) {
			lids[k] = l
			k++
		}
	}
	if r.Failed() {
		d.t.AddAnomaly("s7comm_plus.invalid_item")
		d.named = true
		return
	}
	d.touch(area, sub)
	if len(d.t.Targets) >= maxPlusItems {
		return
	}
	var space string
	dbNum := -1
	switch {
	case plusBodyAttrs[sub]: // DB.ValueInitial, ControllerArea.ValueInitial: start values are program
		d.objectTarget(area, sub, lids[:k])
		return
	case area>>16 == plusAreaDB: // DB.ValueActual (2550) as a rule
		dbNum = int(area & 0xffff)
	case plusIQMCT[area] != "": // ControllerArea.ValueActual (3736) as a rule
		space = plusIQMCT[area]
	default:
		d.objectTarget(area, sub, lids[:k])
		return
	}
	t := d.t
	if crc == 0 && k >= 3 && lids[0] == 3 {
		// classic blob: absolute byte offset and byte count
		t.Targets = append(t.Targets, protocols.Target{Space: space, Address: uint64(lids[1]), Count: uint64(lids[2])})
	} else {
		off := len(d.arena)
		for i, l := range lids[:k] {
			if i > 0 {
				d.arena = append(d.arena, '.')
			}
			d.arena = strconv.AppendUint(d.arena, uint64(l), 10)
		}
		if k == 0 {
			d.arena = append(d.arena, '-')
		}
		if crc != 0 {
			d.arena = append(d.arena, '@')
			d.arena = appendHex32(d.arena, crc)
			copy(d.arena[len(d.arena)-10:], d.arena[len(d.arena)-8:]) // drop "0x"
			d.arena = d.arena[:len(d.arena)-2]
		}
		t.Targets = append(t.Targets, protocols.Target{Space: space})
		d.ref(refTargetID, len(t.Targets)-1, off)
	}
	if dbNum >= 0 {
		off := len(d.arena)
		d.arena = strconv.AppendInt(append(d.arena, "db"...), int64(dbNum), 10)
		d.ref(refTargetSpace, len(t.Targets)-1, off)
	}
}

// nameTarget adds an object target without attribute ("OB1", "session").
func (d *plusDecoder) nameTarget(obj uint32) {
	if len(d.t.Targets) >= maxPlusItems {
		return
	}
	off := len(d.arena)
	d.arena = d.objectName(d.arena, obj, 0)
	d.t.Targets = append(d.t.Targets, protocols.Target{Space: "object"})
	d.ref(refTargetID, len(d.t.Targets)-1, off)
}

// setVariable: object, attribute ids (a 0 is followed by a raw length),
// one value.
func (d *plusDecoder) setVariable() {
	r := &d.r
	obj := r.U32BE()
	n := r.count()
	var first uint32
	for i := 0; i < n && !r.Failed(); i++ {
		id := r.vlq()
		if id == 0 {
			r.vlq() // raw value length
			i++
			continue
		}
		if first == 0 {
			first = id
		}
	}
	if r.Failed() {
		return
	}
	d.facts.object = obj
	d.touch(obj, first)
	k := len(d.t.Targets)
	d.objectTarget(obj, first, nil)
	d.sink = d.valueSink(obj)
	if len(d.t.Targets) > k {
		d.ptTarget = k
	}
	if entered, _ := d.value(first); entered {
		d.nested(true)
	}
	d.ptTarget = -1
}

// getVariable: object, attribute ids.
func (d *plusDecoder) getVariable() {
	r := &d.r
	obj := r.U32BE()
	for n := r.count(); n > 0 && !r.Failed(); n-- {
		id := r.vlq()
		d.touch(obj, id)
		d.objectTarget(obj, id, nil)
	}
}

// varSubStreamed: object, then a value holding the attribute ids (an
// address array of UDInt); Set streams the value after the object
// qualifier.
func (d *plusDecoder) varSubStreamed(set bool) {
	r := &d.r
	obj := r.U32BE()
	d.facts.object = obj
	d.sink, d.nids = sinkIDs, 0
	if entered, _ := d.value(0); entered {
		d.nested(true)
	}
	d.sink = sinkNone
	for _, id := range d.ids[:d.nids] {
		d.touch(obj, id)
		d.objectTarget(obj, id, nil)
	}
	if !set || r.Failed() {
		return
	}
	d.skipQualifier()
	r.U16BE()
	d.sink = d.valueSink(obj)
	if entered, _ := d.value(0); entered {
		d.nested(true)
	}
}

// skipQualifier skips an object qualifier (id 1256 and an id-value list).
func (d *plusDecoder) skipQualifier() {
	r := &d.r
	if b := r.Rest(); len(b) > 4 && b[0] == 0 && b[1] == 0 && b[2] == 0x04 && b[3] == 0xe8 {
		r.U32BE()
		d.idValueList(true)
	}
}

// createObject: the id of the parent and a value, 4 reserved bytes, in V2/V3
// sessions an integrity id, then the object tree.
func (d *plusDecoder) createObject(version byte) {
	r := &d.r
	parent := r.U32BE()
	if entered, _ := d.value(0); entered {
		d.nested(true)
	}
	r.Skip(4)
	if (version == PlusV2 || version == PlusV3) && r.peek() != elemStartObject {
		r.vlq()
	}
	d.objHook = plusObjectHook
	d.object()
	f := &d.facts
	if f.createdClass != 0 {
		d.attrClass("class", f.createdClass)
	}
	if parent != 0 {
		d.attrName("parent", parent)
	}
}

// plusObjectHook records the objects a tree holds.
func plusObjectHook(d *plusDecoder, rel, class uint32) {
	f := &d.facts
	if f.createdClass == 0 {
		f.createdClass, f.createdRel = class, rel
	}
	if _, _, ok := plusBlock(rel); ok {
		f.blockRel = rel
	}
	if plusBlockClasses[class] && f.blockClass == 0 {
		f.blockClass = class
		if f.blockRel == 0 {
			f.blockTempRel = rel
		}
	}
	if class == plusClassTransaction {
		f.transaction = true
	}
}

// explore: the explored object, an explore id, three flag bytes, then
// groups of objects and attribute ids to return.
func (d *plusDecoder) explore() {
	r := &d.r
	area := r.U32BE()
	id := r.vlq()
	r.Skip(3)
	for !r.Failed() {
		nobj, nids := r.U8(), r.U8()
		if nobj > 0 {
			if r.U8() == ptStruct {
				r.U32BE()
				d.idValueList(true)
			}
		}
		for i := 0; i < int(nids) && !r.Failed(); i++ {
			plusSeeID(&d.facts, r.vlq())
		}
		if nobj == 0 {
			break
		}
	}
	d.touch(area, 0)
	if id != 0 {
		d.objectTarget(area, id, nil)
	} else {
		d.nameTarget(area)
	}
}

// beginSequence: the transaction type; in V2/V3 a value type and an object
// (value type 1) or a 4-byte id.
func (d *plusDecoder) beginSequence(version byte) {
	r := &d.r
	typ := r.U8()
	d.attrInt("sequence_type", int64(typ))
	if version == PlusV1 {
		return
	}
	if r.U16BE() == 1 {
		if b := r.Rest(); len(b) > 1 && b[1] == elemStartObject {
			r.U8()
		} else {
			r.Skip(2)
		}
		d.objHook = plusObjectHook
		d.object()
		return
	}
	if id := r.U32BE(); !r.Failed() {
		d.nameTarget(id)
	}
}

// classify turns what the walk saw into the operation: CPU commands, program
// transfer, session settings, subscriptions.
func (d *plusDecoder) classify(p *PlusPDU) {
	t, f := d.t, &d.facts
	if f.knowhow >= 0 {
		d.attr("knowhow_protected", strconv.FormatBool(f.knowhow == 1))
	}
	if f.mac {
		d.attr("block_mac", "true")
	}
	if name, ok := plusBlockLanguages[f.language]; ok && f.language >= 0 {
		d.attr("block_language", name)
	}
	switch p.Function {
	case PlusSetVariable, PlusSetMultiVariables, PlusSetVarSubStreamed:
		switch {
		case f.command == plusAttrOperatingStateREQ && f.opState >= 0:
			state, ok := plusOperatingStateREQ[f.opState]
			switch f.opState {
			case 1:
				t.Op = protocols.OpStop
			case 3, 4:
				t.Op = protocols.OpStart
			case 2:
				t.Op = protocols.OpRestart
			default:
				t.Op = protocols.OpControl
			}
			if ok {
				d.attr("cpu_command", state)
			} else {
				d.attrInt("cpu_command", f.opState)
			}
		case f.command != 0:
			t.Op = protocols.OpControl
			d.attrName("cpu_command", f.command)
		case f.blockRel != 0 && f.body:
			t.Op = protocols.OpProgramDownload
			d.blockTarget()
		case f.legitimation:
			t.Op = protocols.OpSession
			d.attr("legitimation", "true")
		case f.session:
			t.Op = protocols.OpSession
		case f.subscription:
			t.Op = protocols.OpRead // re-arms cyclic reads; writes nothing to the process
			d.attr("subscription", "true")
		}
	case PlusGetVariable, PlusGetMultiVariables, PlusGetVarSubStreamed, PlusExplore, PlusGetLink:
		if f.blockRel != 0 && f.body {
			t.Op = protocols.OpProgramUpload
			d.blockTarget()
		}
	case PlusCreateObject:
		switch {
		case f.blockClass != 0 || f.blockRel != 0 && f.blockRel != plusObjProgramChange:
			t.Op = protocols.OpProgramDownload
			d.blockTarget()
		case f.createdClass == plusClassSubscription:
			t.Op = protocols.OpRead
			d.attr("subscription", "true")
		}
	case PlusDeleteObject:
		if f.blockRel != 0 {
			t.Op = protocols.OpProgramDownload // deleting a block changes the program
			d.attr("block_deleted", "true")
			d.blockTarget()
		}
	case PlusBeginSequence:
		if f.transaction || f.blockClass != 0 {
			d.attr("download_sequence", "begin")
		}
	}
}

// blockTarget adds the classic-S7comm style block target ("block_ob" 1) of
// the program object the PDU touched.
func (d *plusDecoder) blockTarget() {
	f := &d.facts
	kind, num, ok := plusBlock(f.blockRel)
	if !ok {
		kind, ok = plusClassBlockKinds[f.blockClass]
		num = uint32(f.blockNumber)
		if !ok || f.blockNumber < 0 {
			if f.blockClass != 0 {
				d.attrClass("block_class", f.blockClass)
			}
			return
		}
	}
	space := plusBlockSpaces[kind]
	if space == "" || len(d.t.Targets) >= maxPlusItems {
		return
	}
	d.t.Targets = append(d.t.Targets, protocols.Target{Space: space, Address: uint64(num), Count: 1})
	off := len(d.arena)
	d.arena = strconv.AppendUint(append(d.arena, kind...), uint64(num), 10)
	d.t.Attrs = append(d.t.Attrs, protocols.Attr{Key: "block"})
	d.ref(refAttr, len(d.t.Attrs)-1, off)
}

// plusWritesSession: a SetMultiVariables request whose target object is the
// session object itself (object id == session id): the ServerSessionVersion
// write every S7-1200/1500 session makes right after CreateObject.
func plusWritesSession(p *PlusPDU) bool {
	// session id (4), transport flags (1), object id (4)
	if p.Function != PlusSetMultiVariables || len(p.Body) < 9 {
		return false
	}
	return be32(p.Body) == be32(p.Body[5:])
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
