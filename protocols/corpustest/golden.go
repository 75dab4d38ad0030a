package corpustest

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
)

// Golden replays every capture of a package's testdata/ through the real
// pipeline and compares its records — then one line with the pipeline's
// anomaly counts — with testdata/NAME.golden.jsonl, as Zeek
// compares a trace with its baseline. update rewrites the files instead.
func Golden(t *testing.T, update bool) {
	t.Helper()
	captures, err := filepath.Glob(filepath.Join("testdata", "*.pcap"))
	if err != nil || len(captures) == 0 {
		t.Fatalf("no captures in testdata: %v", err)
	}
	for _, path := range captures {
		name := strings.TrimSuffix(filepath.Base(path), ".pcap")
		t.Run(name, func(t *testing.T) {
			txs, stats := Replay(t, path)
			got := append(Records(txs), AnomalyLine(stats.Anomalies)...)
			golden := filepath.Join("testdata", name+".golden.jsonl")
			if update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if bytes.Equal(got, want) {
				return
			}
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
					t.Fatalf("%s line %d differs:\n got: %s\nwant: %s", golden, i+1, g, w)
				}
			}
		})
	}
}

// AnomalyLine renders anomaly counts as one sorted JSON line.
func AnomalyLine(counts map[string]uint64) []byte {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	b := []byte(`{"anomaly_counts":{`)
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = protocols.AppendString(b, n)
		b = append(b, ':')
		b = strconv.AppendUint(b, counts[n], 10)
	}
	return append(b, "}}\n"...)
}
