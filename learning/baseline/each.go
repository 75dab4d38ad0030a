package baseline

import "github.com/otwatch/otwatch/protocols"

// PointRef is one written number of a transaction keyed the way the value
// models key it: the point (space, address, id, bit + 1), the command
// parameter (Field), its wire type and value.
type PointRef struct {
	Space   string
	Address uint64
	ID      string
	Sub     uint8
	Field   string
	Type    protocols.NumType
	V       float64
}

// EachPoint calls fn for each written number of tx, paired with its target
// exactly as Observe pairs them (the dashboard's process-value trends must
// name the same points as the learned value models).
func EachPoint(tx *protocols.Transaction, fn func(PointRef)) {
	eachPoint(tx, func(p pointRef) {
		fn(PointRef{Space: p.space, Address: p.address, ID: p.id, Sub: p.sub, Field: p.field, Type: p.typ, V: p.v})
	})
}
