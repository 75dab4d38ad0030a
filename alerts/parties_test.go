package alerts

import "testing"

// Every alert kind says which hosts it carries, and only kinds are listed.
func TestEveryKindHasParties(t *testing.T) {
	for _, k := range Kinds() {
		p, ok := KindParties(k.Kind)
		if !ok {
			t.Errorf("%s: no Parties entry (parties.go)", k.Kind)
		}
		if p.Destination == "" && (p.DestPort || p.Sometimes) {
			t.Errorf("%s: a destination port or condition without a destination", k.Kind)
		}
	}
	for kind := range parties {
		if _, ok := Kind(kind); !ok {
			t.Errorf("parties.go lists %s, which is not an alert kind", kind)
		}
	}
}
