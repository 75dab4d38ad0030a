package s7comm_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/corpustest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.jsonl from the current output")

// TestGolden replays each capture in testdata through the real pipeline and
// compares its transaction records, plus a last line counting the
// anomalies that belong to no transaction, with testdata/NAME.golden.jsonl.
func TestGolden(t *testing.T) {
	caps, err := filepath.Glob(filepath.Join("testdata", "*.pcap"))
	if err != nil || len(caps) == 0 {
		t.Fatalf("no captures in testdata: %v", err)
	}
	for _, path := range caps {
		name := strings.TrimSuffix(filepath.Base(path), ".pcap")
		t.Run(name, func(t *testing.T) {
			txs, stats := corpustest.Replay(t, path)
			got := corpustest.Records(txs)
			got = append(got, anomalyLine(stats.Anomalies)...)
			golden := filepath.Join("testdata", name+".golden.jsonl")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run Golden -update to create it)", err)
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
						t.Fatalf("%s line %d differs:\n got: %s\nwant: %s", golden, i+1, g, w)
					}
				}
			}
		})
	}
}

// anomalyLine renders the pipeline's anomaly counts as one sorted JSON line.
func anomalyLine(counts map[string]uint64) []byte {
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
