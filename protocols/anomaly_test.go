package protocols

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAnomalies(t *testing.T) {
	list, err := ParseAnomalies("# comment\n\nx.one\tthe first\nx_plus.two_2\tthe second\n")
	require.NoError(t, err)
	assert.Equal(t, []AnomalyInfo{{"x.one", "the first"}, {"x_plus.two_2", "the second"}}, list)

	for text, want := range map[string]string{
		"x.one the first\n":               "line 1: no tab",
		"x.one\tfirst\n\nx.one\tagain\n":  "line 3: x.one listed twice",
		"one\tno prefix\n":                "line 1: \"one\" is not",
		"x.One\tupper case\n":             "is not <protocol>.<name>",
		"x.\tnothing after the prefix\n":  "is not",
		"x.one\t\n":                       "line 1: x.one: empty description",
		"x.one\t the first\n":             "stray spaces",
		"#\nx.one\tok\nx.two\tok\ny.z\n":  "line 4: no tab",
		"x.one\tok\nx.two\tok\nx.o ne\tz": "line 3:",
	} {
		_, err := ParseAnomalies(text)
		if assert.Error(t, err, text) {
			assert.Contains(t, err.Error(), want, text)
		}
	}
}

func TestDeclareAnomalies(t *testing.T) {
	assert.Error(t, DeclareAnomalies("test.listed\tonce\ntest.listed\ttwice\n"))
	require.NoError(t, DeclareAnomalies("test.declared_from_text\tby a list\n"))
	found, fromFolder := false, false
	for _, a := range Anomalies() {
		found = found || a == AnomalyInfo{"test.declared_from_text", "by a list"}
		fromFolder = fromFolder || a.Name == "modbus.invalid_mbap_length"
	}
	assert.True(t, found)
	assert.True(t, fromFolder, "the protocol folders' lists are declared at init")
}
