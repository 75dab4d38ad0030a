package opcua

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols/corpustest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.jsonl")

// TestGolden replays each capture of testdata through the real pipeline and
// compares the records with testdata/<name>.golden.jsonl (-update rewrites).
func TestGolden(t *testing.T) {
	captures, _ := filepath.Glob(filepath.Join("testdata", "*.pcap"))
	if len(captures) == 0 {
		t.Fatal("no captures in testdata")
	}
	for _, capture := range captures {
		name := strings.TrimSuffix(filepath.Base(capture), ".pcap")
		t.Run(name, func(t *testing.T) {
			txs, _ := corpustest.Replay(t, capture)
			got := corpustest.Records(txs)
			golden := filepath.Join("testdata", name+".golden.jsonl")
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
				for i := 0; i < len(gl) || i < len(wl); i++ {
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
