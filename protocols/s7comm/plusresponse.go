package s7comm

import (
	"bytes"

	"github.com/otwatch/otwatch/protocols"
)

// Responses of S7comm-plus start with the transport flags and a return
// value: a 64-bit VLQ whose low 16 bits are a signed error code (negative
// is an error, positive a message such as "partial error"), bit 62 says
// an error object follows. Then, per function: the values read
// (GetMultiVariables: item number and value pairs, then item number and
// return value pairs for the items that failed; GetVariable and
// GetVarSubStreamed: one value), the ids of created objects and, in the
// session setup (protocol version 1), the server session object with the
// CPU's identity (CreateObject), explored object trees (Explore).

// plusReturn splits a return value.
func plusReturn(rv uint64) (code int64, extension bool) {
	return int64(int16(uint16(rv))), rv&(1<<62) != 0
}

// response decodes a response PDU into t, the request's transaction; with
// header (a response whose request was not seen) it fills the header
// fields too.
func (d *plusDecoder) response(p *PlusPDU, t *protocols.Transaction, header, truncated bool) {
	d.begin(t, p.Body, sinkRead)
	d.truncated = truncated
	if header {
		d.header(p, t)
	}
	d.decodeResponse(p)
	d.finish()
}

// decodeResponse is response without begin/finish (shared with the session).
func (d *plusDecoder) decodeResponse(p *PlusPDU) {
	r := &d.r
	t := d.t
	d.hook = plusHook
	if r.Len() == 0 {
		return
	}
	r.U8() // transport flags
	code, ext := plusReturn(r.vlq64())
	if r.Failed() {
		t.AddAnomaly("s7comm_plus.invalid_value")
		return
	}
	d.outcome(code)
	switch p.Function {
	case PlusGetMultiVariables:
		d.itemValueList()
		d.errorList()
	case PlusSetMultiVariables:
		d.errorList()
	case PlusGetVariable:
		if entered, _ := d.value(0); entered {
			d.nested(true)
		}
	case PlusGetVarSubStreamed:
		r.U8()
		if entered, _ := d.value(0); entered {
			d.nested(true)
		}
	case PlusCreateObject:
		d.sink = sinkNone
		n := int(r.U8())
		for i := 0; i < n && !r.Failed(); i++ {
			id := r.vlq()
			if i == 0 {
				d.createdID = id
				if !r.Failed() {
					d.attrHex("object_id", id)
				}
			}
		}
		if p.Version == PlusV1 && r.peek() == elemStartObject {
			d.objHook = plusObjectHook
			d.object()
		}
	case PlusDeleteObject:
		r.U32BE()
		if ext {
			d.sink = sinkNone
			d.object()
		}
	case PlusExplore:
		d.sink = sinkNone
		r.U32BE()
		if nb := r.peek(); p.Version == PlusV3 || p.Version == PlusV2 && nb != elemStartObject && nb != 0 {
			r.vlq()
		}
		if r.peek() == elemStartObject {
			d.objHook = plusObjectHook
			d.object()
		}
	case PlusInvoke:
		r.vlq64()
		r.vlq64()
		if r.peek() != 1 {
			r.vlq64()
		}
		d.itemValueList()
	}
	if r.Failed() && !d.truncated {
		t.AddAnomaly("s7comm_plus.invalid_value")
	}
	d.identity()
	if d.facts.cpuState >= 0 {
		d.attrInt("cpu_state", d.facts.cpuState)
	}
}

// outcome sets the transaction's outcome from a return code.
func (d *plusDecoder) outcome(code int64) {
	t := d.t
	if code < 0 {
		t.Outcome, t.ExceptionCode, t.HasException = protocols.OutcomeException, code, true
		if name, ok := plusErrorNames[code]; ok {
			d.attr("error", name)
		} else {
			d.attrInt("error", code)
		}
		return
	}
	t.Outcome = protocols.OutcomeOK
	if name, ok := plusMessageNames[code]; ok {
		d.attr("return_code", name)
	} else if code > 0 {
		d.attrInt("return_code", code)
	}
}

// errorList reads "item number, return value" pairs until item 0: the
// items of a multi-variable request that failed.
func (d *plusDecoder) errorList() {
	r := &d.r
	t := d.t
	for !r.Failed() {
		item := r.vlq()
		if item == 0 || r.Failed() {
			return
		}
		code, _ := plusReturn(r.vlq64())
		if r.Failed() {
			return
		}
		t.AddAnomaly("s7comm_plus.item_error")
		if t.Outcome != protocols.OutcomeException {
			t.Outcome, t.ExceptionCode, t.HasException = protocols.OutcomeException, code, true
			d.attrInt("failed_item", int64(item))
			if name, ok := plusErrorNames[code]; ok {
				d.attr("error", name)
			}
		}
	}
}

// identity turns what the session setup told into detail fields the
// Identifier reads: the CPU's order number and firmware from the PAOM
// version string ("1;6ES7 214-1HE30-0XB0 ;V2.2"), the I&M0 record when
// explored, the client's application, host and user.
func (d *plusDecoder) identity() {
	f := &d.facts
	paom := f.paom
	if len(bytes.TrimSpace(paom)) == 0 {
		paom = f.paomProject
	}
	if order, fw := plusParsePAOM(paom); order != nil {
		d.attrBytes("order_number", order)
		if fw != nil {
			d.attrBytes("firmware", fw)
		}
	}
	if im := f.ium0; len(im) >= 56 {
		d.attrBytes("order_number", bytes.TrimSpace(im[2:22]))
		d.attrBytes("serial", bytes.TrimSpace(im[22:38]))
		hw := uint16(im[38])<<8 | uint16(im[39])
		d.attrInt("hardware_version", int64(hw))
		off := len(d.arena)
		d.arena = append(d.arena, im[40])
		for i, c := range im[41:44] {
			if i > 0 {
				d.arena = append(d.arena, '.')
			}
			d.arena = appendUint(d.arena, uint64(c))
		}
		d.t.Attrs = append(d.t.Attrs, protocols.Attr{Key: "firmware"})
		d.ref(refAttr, len(d.t.Attrs)-1, off)
	}
}

// clientIdentity records the client's self-description of a session setup.
func (d *plusDecoder) clientIdentity() {
	f := &d.facts
	for _, kv := range [...]struct {
		key string
		b   []byte
	}{{"client_application", f.clientApp}, {"client_host", f.clientHost}, {"client_user", f.clientUser},
		{"client_id", f.clientID}, {"client_comment", f.comment}} {
		if len(bytes.TrimSpace(kv.b)) > 0 {
			d.attrBytes(kv.key, bytes.TrimSpace(kv.b))
		}
	}
}

// plusParsePAOM finds the order number (a Siemens article number "6ES7 ..."
// or "6AG1 ...") and the firmware ("V2.2") in a PAOM version string of
// ';'-separated fields.
func plusParsePAOM(s []byte) (order, fw []byte) {
	for len(s) > 0 {
		field := s
		if i := bytes.IndexByte(s, ';'); i >= 0 {
			field, s = s[:i], s[i+1:]
		} else {
			s = nil
		}
		field = bytes.TrimSpace(field)
		switch {
		case len(field) >= 10 && field[0] == '6' && (field[1] == 'E' || field[1] == 'A'):
			order = field
		case len(field) >= 2 && (field[0] == 'V' || field[0] == 'S') && field[1] >= '0' && field[1] <= '9':
			fw = field
		}
	}
	return order, fw
}

func appendUint(b []byte, v uint64) []byte {
	if v >= 10 {
		b = appendUint(b, v/10)
	}
	return append(b, byte('0'+v%10))
}
