package protocols

// IdentityFields maps attribute keys to identity field names, for
// FactsFromAttrs. Most of a transaction's attributes describe nothing (a
// security policy, an attribute id, an IIN) and most transactions are
// asked, so a key first goes through a one-word filter of the keys' lengths
// and end octets: a key it rules out is not hashed for the map.
type IdentityFields struct {
	fields map[string]string
	filter uint64
}

// NewIdentityFields makes the IdentityFields of a key -> field map.
func NewIdentityFields(fields map[string]string) IdentityFields {
	f := IdentityFields{fields: fields}
	for k := range fields {
		f.filter |= keyBit(k)
	}
	return f
}

// keyBit is a key's bit of the filter.
func keyBit(k string) uint64 {
	if k == "" {
		return 1
	}
	return 1 << ((uint(len(k))*7 + uint(k[0])*3 + uint(k[len(k)-1])) & 63)
}

// Field is the identity field of an attribute key.
func (f IdentityFields) Field(key string) (string, bool) {
	if f.filter&keyBit(key) == 0 {
		return "", false
	}
	field, ok := f.fields[key]
	return field, ok
}

// FactsFromAttrs turns the detail attributes a transaction carries into
// identity facts: fields maps attribute keys to identity field names.
// Protocols use it in their Dissector.Identity.
func FactsFromAttrs(t *Transaction, fields IdentityFields, message string, ofClient bool) []IdentityFact {
	var out []IdentityFact
	for _, a := range t.Attrs {
		if field, ok := fields.Field(a.Key); ok && a.Value != "" {
			out = append(out, IdentityFact{OfClient: ofClient, Field: field, Value: a.Value, Message: message})
		}
	}
	return out
}
