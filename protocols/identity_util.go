package protocols

// FactsFromAttrs turns the detail attributes a transaction carries into
// identity facts: fields maps attribute keys to identity field names.
// Protocols use it in their Dissector.Identity.
func FactsFromAttrs(t *Transaction, fields map[string]string, message string, ofClient bool) []IdentityFact {
	var out []IdentityFact
	for _, a := range t.Attrs {
		if field, ok := fields[a.Key]; ok && a.Value != "" {
			out = append(out, IdentityFact{OfClient: ofClient, Field: field, Value: a.Value, Message: message})
		}
	}
	return out
}
