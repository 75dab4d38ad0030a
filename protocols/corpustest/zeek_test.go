package corpustest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZeekLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	require.NoError(t, os.WriteFile(path, []byte("#separator \\x09\n#fields\tts\tuid\tfunc\n#types\ttime\tstring\tstring\n"+
		"1.5\tC1\tREAD_COILS\n\n2.5\tC2\tWRITE_SINGLE_COIL\textra\n#close\t2020\n"), 0o644))
	assert.Equal(t, [][]string{{"1.5", "C1", "READ_COILS"}, {"2.5", "C2", "WRITE_SINGLE_COIL", "extra"}}, ZeekLog(t, path))
	assert.Equal(t, []map[string]string{{"ts": "1.5", "uid": "C1", "func": "READ_COILS"},
		{"ts": "2.5", "uid": "C2", "func": "WRITE_SINGLE_COIL"}}, ZeekRecords(t, path))

	headerless := filepath.Join(t.TempDir(), "y.log")
	require.NoError(t, os.WriteFile(headerless, []byte("### BTest baseline\nXX\tC1\t0x0a\n"), 0o644))
	assert.Equal(t, [][]string{{"XX", "C1", "0x0a"}}, ZeekLog(t, headerless))
	assert.Panics(t, func() { ZeekRecords(&fatalPanics{t}, headerless) }, "records need the #fields line")
}

func TestZeekLogSkipsWhenAbsent(t *testing.T) {
	skipped := false
	t.Run("absent", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		ZeekLog(t, filepath.Join(t.TempDir(), "none.log"))
	})
	assert.True(t, skipped)
}

// fatalPanics turns Fatalf into a panic, to test a helper's failure.
type fatalPanics struct{ *testing.T }

func (f *fatalPanics) Fatalf(format string, args ...any) { panic(format) }
