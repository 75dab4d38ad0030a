package s7comm

import "github.com/otwatch/otwatch/protocols"

// szlIdentity maps the SZL 0x0011 (module identification) and 0x001C
// (component identification) records decoded into Attrs to identity fields.
var szlIdentity = protocols.NewIdentityFields(map[string]string{
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
})

// identityS7 returns what an answered SZL read tells about the PLC.
func identityS7(t *protocols.Transaction) []protocols.IdentityFact {
	if t.ResponseFrame == 0 || t.Outcome != protocols.OutcomeOK {
		return nil
	}
	id := t.Attr("szl_id")
	if id == "" {
		return nil
	}
	return protocols.FactsFromAttrs(t, szlIdentity, "szl_"+id, false)
}

// plusServerIdentity: what the PLC tells about itself in the session setup
// (the PAOM version string of CreateObject) or in an explored I&M0 record.
var plusServerIdentity = protocols.NewIdentityFields(map[string]string{
	"order_number":     "order_number",
	"firmware":         "firmware",
	"serial":           "serial",
	"hardware_version": "hardware_version",
})

// plusClientIdentity: what a client tells about itself when it creates its
// session (TIA Portal, WinCC, an HMI panel, a driver).
var plusClientIdentity = protocols.NewIdentityFields(map[string]string{
	"client_application": "application_name",
	"client_host":        "host_name",
})

// identityPlus returns what an S7comm-plus session setup (CreateObject) or an
// explored CPU object tells about the PLC and about its client.
func identityPlus(t *protocols.Transaction) []protocols.IdentityFact {
	var out []protocols.IdentityFact
	if t.ResponseFrame != 0 && t.Outcome == protocols.OutcomeOK {
		out = protocols.FactsFromAttrs(t, plusServerIdentity, t.CodeName, false)
	}
	if t.RequestFrame != 0 && t.Code == PlusCreateObject {
		out = append(out, protocols.FactsFromAttrs(t, plusClientIdentity, t.CodeName, true)...)
	}
	return out
}
