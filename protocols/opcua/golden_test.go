package opcua_test

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/opcua"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.jsonl from the current output")

// TestGolden replays each capture of testdata through the real pipeline and
// compares records and anomaly counts with the committed JSON lines.
func TestGolden(t *testing.T) { corpustest.Golden(t, *update) }

// TestIdentityOfEveryTransaction: on every capture of testdata, each
// application description or build information a transaction carries
// comes out of identity (the services identity looks at are all those that
// carry one; the CreateSession requests there carry the client's).
func TestIdentityOfEveryTransaction(t *testing.T) {
	captures, err := filepath.Glob(filepath.Join("testdata", "*.pcap"))
	if err != nil || len(captures) == 0 {
		t.Fatalf("no captures in testdata: %v", err)
	}
	described := map[bool]int{}
	for _, path := range captures {
		txs, _ := corpustest.Replay(t, path)
		for i := range txs {
			opcua.CheckIdentity(t, &txs[i])
			for _, f := range opcua.Dissector.Identity(&txs[i]) {
				described[f.OfClient]++
			}
		}
	}
	assert.NotZero(t, described[true], "a client described itself (CreateSession request)")
	assert.NotZero(t, described[false], "a server was described")
}
