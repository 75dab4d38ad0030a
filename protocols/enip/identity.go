package enip

import (
	"encoding/binary"
	"strconv"

	"github.com/otwatch/otwatch/protocols"
)

// The Identity object's instance attributes (CIP Vol. 1, §5A-2) as
// ListIdentity's identity item and Get_Attributes_All on class 1 carry
// them: vendor id, device type, product code, revision, status, serial
// number, product name. Kept in the record's detail; Identity turns them
// into inventory facts.

// listIdentity reads a ListIdentity reply: item count, then items of type
// 0x0C (encapsulation version, socket address, then the identity).
func (s *session) listIdentity(t *protocols.Transaction, body []byte) {
	if len(body) < 2 {
		return
	}
	b := body[2:]
	for n := int(binary.LittleEndian.Uint16(body)); n > 0 && len(b) >= 4; n-- {
		typ, size := binary.LittleEndian.Uint16(b), int(binary.LittleEndian.Uint16(b[2:]))
		if len(b) < 4+size {
			t.AddAnomaly("enip.bad_cpf")
			return
		}
		if typ == itemListIdentity && size >= 2+16 {
			s.identityAttrs(t, b[4+2+16:4+size])
		}
		b = b[4+size:]
	}
}

// identityAttrs reads vendor, device type, product code, revision, status,
// serial number and the product name (a SHORT_STRING).
func (s *session) identityAttrs(t *protocols.Transaction, b []byte) {
	if len(b) < 14 {
		return
	}
	vendor, devType, product := binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint16(b[4:])
	t.AddAttr("vendor_id", strconv.Itoa(int(vendor)))
	if name, ok := codes.Vendors[vendor]; ok {
		t.AddAttr("vendor_name", name)
	}
	if name, ok := codes.DeviceTypes[devType]; ok {
		t.AddAttr("device_type", name)
	} else {
		t.AddAttr("device_type", "0x"+strconv.FormatUint(uint64(devType), 16))
	}
	t.AddAttr("product_code", strconv.Itoa(int(product)))
	t.AddAttr("revision", strconv.Itoa(int(b[6]))+"."+strconv.Itoa(int(b[7])))
	serial := binary.LittleEndian.Uint32(b[10:])
	t.AddAttr("serial", "0x"+leftPad(strconv.FormatUint(uint64(serial), 16), 8))
	if len(b) > 14 {
		n := int(b[14])
		if len(b) >= 15+n {
			t.AddAttr("product_name", s.env.Strings.Printable(b[15:15+n]))
		}
	}
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// identityFields maps the detail keys to the inventory's identity fields.
var identityFields = [...]struct{ attr, field string }{
	{"vendor_name", "vendor_name"}, {"vendor_id", "vendor_id"}, {"device_type", "device_type"},
	{"product_code", "product_code"}, {"revision", "firmware"}, {"serial", "serial"}, {"product_name", "product_name"},
}

// identity gives the facts of the device that answered
// ListIdentity or Get_Attributes_All of its Identity object.
func identity(t *protocols.Transaction) []protocols.IdentityFact {
	if t.ResponseFrame == 0 || t.Attr("product_code") == "" {
		return nil
	}
	message := "list_identity"
	if t.Proto == ProtoCIP {
		// Through an Unconnected Send the answer is the routed module's
		// (the controller in a backplane slot behind the adapter).
		message = "get_attributes_all_identity"
		if t.Unit != "" {
			message += " (routed to " + t.Unit + ")"
		}
	}
	var out []protocols.IdentityFact
	for _, f := range identityFields {
		if v := t.Attr(f.attr); v != "" {
			out = append(out, protocols.IdentityFact{Field: f.field, Value: v, Message: message})
		}
	}
	return out
}
