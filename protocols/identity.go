package protocols

// IdentityFact is one fact about a device learned from a transaction's
// payload: its order number, firmware, vendor, application URI, ...
type IdentityFact struct {
	// OfClient: the fact describes the client (an OPC UA client's
	// application description); otherwise the server.
	OfClient bool
	// Field is a stable snake_case name: vendor_name, product_code,
	// product_name, model_name, order_number, firmware, serial,
	// module_name, plant_designation, application_uri, product_uri,
	// application_name, software_version, build_number, manufacturer_name, ...
	Field string
	Value string
	// Message names what carried it, e.g. "read_device_identification", "szl_0x0011".
	Message string
}

// IdentityOf returns the identity facts a transaction carries, if its
// protocol's dissector knows how to find them (Dissector.Identity).
func IdentityOf(t *Transaction) []IdentityFact {
	if d := Lookup(t.Proto); d != nil && d.Identity != nil {
		return d.Identity(t)
	}
	return nil
}
