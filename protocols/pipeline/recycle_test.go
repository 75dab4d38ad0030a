package pipeline_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replayRecords replays one capture and returns its records as JSON lines,
// encoded inside the sink (what a recycling pipeline allows), and the stats.
func replayRecords(t *testing.T, path string, recycle bool) ([]byte, pipeline.Stats) {
	var out []byte
	p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) { out = append(tx.AppendJSON(out), '\n') })
	p.RecycleTransactions = recycle
	if err := p.ReplayFile(path); err != nil {
		var trunc *capture.TruncatedError
		require.True(t, errors.As(err, &trunc), "replay %s: %v", path, err)
	}
	p.Flush()
	return out, p.Stats
}

// TestRecycledTransactionsChangeNothing replays every corpus capture with
// and without recycling: a session that touched a transaction after
// emitting it, or a pool that handed one out twice, would change a record.
func TestRecycledTransactionsChangeNothing(t *testing.T) {
	n := 0
	for _, c := range corpustest.Captures(t, "") {
		fresh, freshStats := replayRecords(t, c.Path, false)
		recycled, recycledStats := replayRecords(t, c.Path, true)
		if !bytes.Equal(fresh, recycled) {
			a, b := bytes.Split(fresh, []byte("\n")), bytes.Split(recycled, []byte("\n"))
			for i := 0; i < len(a) && i < len(b); i++ {
				if !bytes.Equal(a[i], b[i]) {
					t.Fatalf("%s: record %d\nfresh    %s\nrecycled %s", c.Rel, i+1, a[i], b[i])
				}
			}
			t.Fatalf("%s: %d records fresh, %d recycled", c.Rel, len(a), len(b))
		}
		assert.Equal(t, freshStats, recycledStats, c.Rel)
		n += bytes.Count(fresh, []byte("\n"))
	}
	t.Logf("%d records alike", n)
	require.NotZero(t, n)
}
