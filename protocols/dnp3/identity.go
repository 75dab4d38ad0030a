package dnp3

import "github.com/otwatch/otwatch/protocols"

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
	if t.ResponseFrame == 0 {
		return nil
	}
	return protocols.FactsFromAttrs(t, attributeIdentity, "device_attributes", false)
}
