package protocols

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type testTables struct {
	Functions map[int]Code
	Groups    map[byte]Code
	Named     [4]string
	Services  map[string]Code
	Status    map[uint16]string
	Ops       [8]Code
}

const goodCodes = `# a comment

Functions	1	read_coils	read
Functions	0x10	write_multiple_registers	write
Groups	0xff	all	other
Named	3	third
Services	_N_START	start	start
Status	0x0102	busy
Ops	7	restart	restart
`

func TestLoadCodes(t *testing.T) {
	c, err := LoadCodes[testTables](goodCodes)
	require.NoError(t, err)
	assert.Equal(t, map[int]Code{1: {"read_coils", OpRead}, 16: {"write_multiple_registers", OpWrite}}, c.Functions)
	assert.Equal(t, Code{"all", OpOther}, c.Groups[0xFF])
	assert.Equal(t, [4]string{3: "third"}, c.Named)
	assert.Equal(t, Code{"start", OpStart}, c.Services["_N_START"])
	assert.Equal(t, "busy", c.Status[0x102])
	assert.Equal(t, Code{"restart", OpRestart}, c.Ops[7])
}

func TestLoadCodesRefusesBadEntries(t *testing.T) {
	rest := "Groups\t1\tg\tread\nNamed\t0\tn\nServices\tx\ts\tread\nStatus\t1\ts\nOps\t0\to\tread\n"
	for bad, want := range map[string]string{
		"Functions\t1\tread_coils\tread\nFunctions\t0x01\tagain\tread\n": "line 2: Functions: code 0x01 listed twice",
		"Functions\t1\tread_coils\n":                                     "line 1: Functions: 3 columns",
		"Functions\t1 read_coils read\n":                                 "line 1: 2 columns",
		"Functions\t1\tread_coils\tsmash\n":                              "unknown op \"smash\"",
		"Functions\tone\tread_coils\tread\n":                             "code \"one\" does not fit int",
		"Functions\t1\t\tread\n":                                         "empty name",
		"Functions\t1\tf\tread\nGroups\t256\tg\tread\n":                  "line 2: Groups: code \"256\" does not fit uint8",
		"Functions\t1\tf\tread\nGroups\t-1\tg\tread\n":                   "does not fit uint8",
		"Functions\t1\tf\tread\nNamed\t4\tn\n":                           "line 2: Named: code \"4\" is not a number below 4",
		"Functions\t1\tf\tread\nNamed\t1\tn\nNamed\t0x1\tm\n":            "line 3: Named: code 0x1 listed twice",
		"Functions\t1\tf\tread\nNamed\t1\tn\tread\n":                     "a table of names wants",
		"Functions\t1\tf\tread\nNonesuch\t1\tn\n":                        "no table \"Nonesuch\"",
	} {
		_, err := LoadCodes[testTables](bad + rest)
		if assert.Error(t, err, bad) {
			assert.Contains(t, err.Error(), want, bad)
		}
	}
	_, err := LoadCodes[testTables](rest)
	assert.EqualError(t, err, "table Functions has no entry")
	assert.Panics(t, func() { MustLoadCodes[testTables](rest) })
	_, err = LoadCodes[struct{ Bad map[int]int }]("Bad\t1\tx\n")
	assert.Error(t, err, "a table of ints is neither names nor codes")
	_, err = LoadCodes[int]("")
	assert.Error(t, err)
}
