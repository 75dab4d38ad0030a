package modbus_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols/corpustest"
)

var update = flag.Bool("update", false, "rewrite the golden records")

// TestGolden replays each capture in testdata through the real pipeline and
// compares its records with the committed *.golden.jsonl.
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
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
				for i := 0; i < len(gl) && i < len(wl); i++ {
					if gl[i] != wl[i] {
						t.Fatalf("line %d differs:\n got %s\nwant %s", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("got %d lines, want %d", len(gl), len(wl))
			}
		})
	}
}
