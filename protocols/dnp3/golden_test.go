package dnp3_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols/corpustest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.jsonl from the current output")

// TestGolden replays each capture of testdata through the real pipeline and
// compares the records with the committed JSON lines.
func TestGolden(t *testing.T) {
	captures, err := filepath.Glob(filepath.Join("testdata", "*.pcap"))
	if err != nil || len(captures) == 0 {
		t.Fatalf("no captures in testdata: %v", err)
	}
	for _, path := range captures {
		t.Run(filepath.Base(path), func(t *testing.T) {
			txs, _ := corpustest.Replay(t, path)
			got := corpustest.Records(txs)
			golden := strings.TrimSuffix(path, ".pcap") + ".golden.jsonl"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
				for i := 0; i < max(len(gl), len(wl)); i++ {
					var g, w string
					if i < len(gl) {
						g = gl[i]
					}
					if i < len(wl) {
						w = wl[i]
					}
					if g != w {
						t.Fatalf("line %d differs:\n got  %s\n want %s", i+1, g, w)
					}
				}
			}
		})
	}
}
