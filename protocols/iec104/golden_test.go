package iec104_test

import (
	"flag"
	"testing"

	"github.com/otwatch/otwatch/protocols/corpustest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.jsonl from the current output")

// TestGolden replays each capture of testdata through the real pipeline and
// compares records and anomaly counts with the committed JSON lines.
func TestGolden(t *testing.T) { corpustest.Golden(t, *update) }
