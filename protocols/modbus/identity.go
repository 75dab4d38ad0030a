package modbus

import "github.com/otwatch/otwatch/protocols"

// identityFields maps device identification objects (function 43/14) to
// inventory identity fields.
var identityFields = protocols.NewIdentityFields(map[string]string{
	"vendor_name":           "vendor_name",
	"product_code":          "product_code",
	"major_minor_revision":  "firmware",
	"vendor_url":            "vendor_url",
	"product_name":          "product_name",
	"model_name":            "model_name",
	"user_application_name": "application_name",
})

// identity returns the device identification objects of a 43/14 response.
func identity(t *protocols.Transaction) []protocols.IdentityFact {
	if t.Code != EncapsulatedInterface || t.Subcode != MEIReadDeviceIdentification || t.ResponseFrame == 0 ||
		t.Outcome != protocols.OutcomeOK {
		return nil
	}
	return protocols.FactsFromAttrs(t, identityFields, "read_device_identification", false)
}
