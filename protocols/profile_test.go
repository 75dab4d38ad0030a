package protocols

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// registerClassifying registers a dissector whose record protocols each
// classify every transaction as their class.
func registerClassifying(name string, classes map[string]Class) {
	d := &Dissector{Name: name, Probe: func(Direction, []byte) ProbeResult { return ProbeNo },
		NewSession: func(*Env) Session { return nil }}
	for proto, c := range classes {
		d.Profiles = append(d.Profiles, Profile{Name: proto, Classify: func(*Transaction) Class { return c }})
	}
	Register(d)
}

// TestClassifierAgreesWithClassOf: a classifier that sees protocols
// alternate, one without a profile among them, answers as ClassOf; and a
// protocol registered after it remembered that the name had no profile is
// classified by its new profile.
func TestClassifierAgreesWithClassOf(t *testing.T) {
	registerClassifying("classtest", map[string]Class{"classtest-a": ClassEngineering, "classtest-b": ClassConfigChange})
	var c Classifier
	for _, proto := range []string{"classtest-a", "classtest-a", "classtest-b", "classtest-none", "classtest-a", "classtest-none", "classtest-b"} {
		tx := &Transaction{Proto: proto}
		assert.Equal(t, ClassOf(tx), c.Of(tx), proto)
	}
	assert.Equal(t, ClassEngineering, c.Of(&Transaction{Proto: "classtest-a"}))

	late := &Transaction{Proto: "classtest-late"}
	assert.Equal(t, ClassNone, c.Of(late), "no profile yet")
	registerClassifying("classtest-late", map[string]Class{"classtest-late": ClassListenOnly})
	assert.Equal(t, ClassListenOnly, c.Of(late), "the registration is seen")
}
