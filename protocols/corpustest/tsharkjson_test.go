package corpustest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTsharkLayers(t *testing.T) {
	whole := "[\n  {\n    \"_source\": {\"layers\": {\"frame\": {\"frame.number\": \"1\"}}}\n  },\n" +
		"  {\n    \"_source\": {\"layers\": {\"frame\": {\"frame.number\": \"2\"}}}\n  }\n]\n"
	layers, err := TsharkLayers([]byte(whole))
	require.NoError(t, err)
	require.Len(t, layers, 2)
	assert.Equal(t, map[string]any{"frame.number": "2"}, layers[1]["frame"])

	cut := whole[:len(whole)-30] // inside the second packet
	layers, err = TsharkLayers([]byte(cut))
	require.NoError(t, err, "closed after the last whole packet")
	require.Len(t, layers, 1)
	assert.Equal(t, map[string]any{"frame.number": "1"}, layers[0]["frame"])

	layers, err = TsharkLayers(nil)
	assert.NoError(t, err)
	assert.Empty(t, layers)
	_, err = TsharkLayers([]byte("[{"))
	assert.Error(t, err)
}

func TestTsharkJSONCaches(t *testing.T) {
	tshark := Tshark(t)
	caps := Captures(t, "modbus")
	if len(caps) == 0 {
		t.Skip("no modbus capture")
	}
	a, err := TsharkJSON(tshark, caps[0].Path, "-T", "json", "-c", "3")
	require.NoError(t, err)
	b, err := TsharkJSON(tshark, caps[0].Path, "-T", "json", "-c", "3")
	require.NoError(t, err)
	assert.Equal(t, a, b)
	layers, err := TsharkLayers(a)
	require.NoError(t, err)
	assert.Len(t, layers, 3)
	_, err = TsharkJSON(tshark, caps[0].Path+".absent", "-T", "json")
	assert.Error(t, err)
}

func TestAsList(t *testing.T) {
	assert.Nil(t, AsList(nil))
	assert.Equal(t, []any{"a"}, AsList("a"))
	assert.Equal(t, []any{"a", "b"}, AsList([]any{"a", "b"}))
	assert.Equal(t, []any{map[string]any{}}, AsList(map[string]any{}))
}
