package s7comm

import "github.com/otwatch/otwatch/protocols"

// szlIdentity maps the SZL 0x0011 (module identification) and 0x001C
// (component identification) records decoded into Attrs to identity fields.
var szlIdentity = map[string]string{
	"order_number":           "order_number",
	"hardware_order_number":  "hardware_order_number",
	"hardware_version":       "hardware_version",
	"firmware":               "firmware",
	"firmware_extension":     "firmware_extension",
	"automation_system_name": "automation_system_name",
	"module_name":            "module_name",
	"plant_designation":      "plant_designation",
	"serial":                 "serial",
	"module_type_name":       "module_type_name",
	"memory_card_serial":     "memory_card_serial",
	"copyright":              "copyright",
}

// Identity returns what an answered SZL read tells about the PLC.
func (Dissector) Identity(t *protocols.Transaction) []protocols.IdentityFact {
	if t.ResponseFrame == 0 || t.Outcome != protocols.OutcomeOK {
		return nil
	}
	id := t.Attr("szl_id")
	if id == "" {
		return nil
	}
	return protocols.FactsFromAttrs(t, szlIdentity, "szl_"+id, false)
}
