package opcua

import (
	"fmt"
	"testing"

	"github.com/otwatch/otwatch/protocols"
)

// CheckIdentity: each application description or build information
// attribute the decoder set comes out of identity as a fact (the services
// identity looks at are the ones whose decoding sets them).
func CheckIdentity(t *testing.T, tx *protocols.Transaction) {
	t.Helper()
	answered := *tx
	answered.ResponseFrame = 1
	facts := map[string]string{}
	for _, f := range identity(&answered) {
		facts[fmt.Sprint(f.OfClient, f.Field)] = f.Value
	}
	for _, a := range tx.Attrs {
		field, _ := clientIdentity.Field(a.Key)
		ofClient := true
		if field == "" && tx.Outcome == protocols.OutcomeOK {
			field, _ = serverIdentity.Field(a.Key)
			ofClient = false
		}
		if field != "" && a.Value != "" && facts[fmt.Sprint(ofClient, field)] != a.Value {
			t.Errorf("attr %s = %q is not an identity fact of %s: %v", a.Key, a.Value, tx.CodeName, facts)
		}
	}
}
