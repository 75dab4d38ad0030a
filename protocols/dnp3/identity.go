package dnp3

import (
	"strings"

	"github.com/otwatch/otwatch/protocols"
)

// attributeIdentity maps group 0 device attributes to identity fields.
var attributeIdentity = protocols.NewIdentityFields(map[string]string{
	"configuration_id":      "configuration_id",
	"configuration_version": "configuration_version",
	"software_version":      "firmware",
	"hardware_version":      "hardware_version",
	"location":              "location",
	"device_id":             "device_id",
	"device_name":           "device_name",
	"serial":                "serial",
	"dnp3_subset":           "dnp3_subset",
	"product_name":          "product_name",
	"vendor_name":           "vendor_name",
})

// identity returns the g0 device attributes an outstation reported.
func identity(t *protocols.Transaction) []protocols.IdentityFact {
	if t.ResponseFrame == 0 || !mayDescribe(t) {
		return nil
	}
	return protocols.FactsFromAttrs(t, attributeIdentity, "device_attributes", false)
}

// mayDescribe: t has an attribute other than those most transactions carry
// and none describes (every response's IIN, a control's CROB details), so
// that a poll's responses are not looked up attribute by attribute.
func mayDescribe(t *protocols.Transaction) bool {
	for _, a := range t.Attrs {
		if a.Key != "iin" && !strings.HasPrefix(a.Key, "crob.") {
			return true
		}
	}
	return false
}
