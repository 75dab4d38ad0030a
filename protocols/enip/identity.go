package enip

import (
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
	c := protocols.NewCursor(body)
	for n := c.U16LE(); n > 0 && c.Len() >= 4; n-- {
		typ, item := cpfItem(&c)
		if c.Failed() {
			t.AddAnomaly("enip.bad_cpf")
			return
		}
		if typ == itemListIdentity && len(item) >= 2+16 {
			s.identityAttrs(t, item[2+16:])
		}
	}
}

// identityAttrs reads vendor, device type, product code, revision, status,
// serial number and the product name (a SHORT_STRING).
func (s *session) identityAttrs(t *protocols.Transaction, b []byte) {
	c := protocols.NewCursor(b)
	vendor, devType, product := c.U16LE(), c.U16LE(), c.U16LE()
	major, minor := c.U8(), c.U8()
	c.Skip(2) // status
	serial := c.U32LE()
	if c.Failed() {
		return
	}
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
	t.AddAttr("revision", strconv.Itoa(int(major))+"."+strconv.Itoa(int(minor)))
	t.AddAttr("serial", "0x"+leftPad(strconv.FormatUint(uint64(serial), 16), 8))
	if name := c.Take(int(c.U8())); !c.Failed() { // a SHORT_STRING, when present
		t.AddAttr("product_name", s.env.Strings.Printable(name))
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
