package pipeline_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/pipeline"
	"github.com/otwatch/otwatch/protocols/testkit"
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
		sameRecords(t, c.Rel, "recycled", fresh, recycled)
		assert.Equal(t, freshStats, recycledStats, c.Rel)
		n += bytes.Count(fresh, []byte("\n"))
	}
	t.Logf("%d records alike", n)
	require.NotZero(t, n)
}

// sameRecords fails at the first record that differs between two replays.
func sameRecords(t *testing.T, capture, how string, fresh, other []byte) {
	if bytes.Equal(fresh, other) {
		return
	}
	a, b := bytes.Split(fresh, []byte("\n")), bytes.Split(other, []byte("\n"))
	for i := 0; i < len(a) && i < len(b); i++ {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("%s: record %d\nfresh %s\n%s %s", capture, i+1, a[i], how, b[i])
		}
	}
	t.Fatalf("%s: %d records fresh, %d %s", capture, len(a), len(b), how)
}

// freshSession hides a session's Reuse: the pipeline makes a new session
// for every flow.
type freshSession struct{ protocols.Session }

func (s freshSession) Wants(dir protocols.Direction) int { return wants(s.Session, dir) }

// countedSession counts the times the pipeline reuses it, by protocol.
type countedSession struct {
	protocols.Reuser
	name   string
	reused map[string]int
}

func (s *countedSession) Reuse(env *protocols.Env) { s.reused[s.name]++; s.Reuser.Reuse(env) }

func (s *countedSession) Wants(dir protocols.Direction) int { return wants(s.Reuser, dir) }

func wants(s protocols.Session, dir protocols.Direction) int {
	if w, ok := s.(protocols.Wanter); ok {
		return w.Wants(dir)
	}
	return 0
}

// wrapped returns copies of the registered dissectors whose sessions are
// fresh ones, or counted ones when reused is not nil.
func wrapped(reused map[string]int) []*protocols.Dissector {
	var out []*protocols.Dissector
	for _, d := range protocols.Dissectors() {
		w, newSession := *d, d.NewSession
		w.NewSession = func(env *protocols.Env) protocols.Session {
			s := newSession(env)
			if r, ok := s.(protocols.Reuser); ok && reused != nil {
				return &countedSession{r, d.Name, reused}
			}
			return freshSession{s}
		}
		out = append(out, &w)
	}
	return out
}

// TestReusedSessionsChangeNothing replays every corpus capture with a new
// session for every flow and with closed flows' sessions reused: a Reuse
// that left anything of the flow before would change a record.
func TestReusedSessionsChangeNothing(t *testing.T) {
	replay := func(path string, dissectors []*protocols.Dissector) []byte {
		var out []byte
		p := pipeline.NewWith(pipeline.DefaultLimits(), dissectors, func(tx *protocols.Transaction) { out = append(tx.AppendJSON(out), '\n') })
		if err := p.ReplayFile(path); err != nil {
			var trunc *capture.TruncatedError
			require.True(t, errors.As(err, &trunc), "replay %s: %v", path, err)
		}
		p.Flush()
		return out
	}
	reused := map[string]int{}
	for _, c := range corpustest.Captures(t, "") {
		sameRecords(t, c.Rel, "reused", replay(c.Path, wrapped(nil)), replay(c.Path, wrapped(reused)))
	}
	t.Logf("sessions reused: %v", reused)
	for _, d := range protocols.Dissectors() {
		if _, ok := d.NewSession(&protocols.Env{}).(protocols.Reuser); ok {
			assert.NotZero(t, reused[d.Name], "no corpus capture reuses a %s session", d.Name)
		}
	}
	require.NotEmpty(t, reused)
}

// fuzzSeeds reads the first []byte argument of each committed seed of a
// fuzz target.
func fuzzSeeds(t *testing.T, dir string) [][]byte {
	entries, _ := os.ReadDir(dir)
	var out [][]byte
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		for _, line := range strings.Split(string(b), "\n") {
			if lit, ok := strings.CutPrefix(line, "[]byte("); ok {
				v, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
				require.NoError(t, err, "%s/%s", dir, e.Name())
				out = append(out, []byte(v))
				break
			}
		}
	}
	return out
}

// TestReuseIsNew feeds each session fuzzer's committed seeds (odd states:
// partial messages, gaps, resynchronisation) to a new session, and to one
// that first took the same bytes, was closed and then reused: records and
// anomalies must be the same.
func TestReuseIsNew(t *testing.T) {
	run := func(s protocols.Session, script []byte) (detached bool) {
		frame, detached := testkit.ReplayScript(t, s, script, testkit.Packet, func() {})
		if !detached {
			s.Close(testkit.Packet(frame + 1))
		}
		return detached
	}
	checked := map[string]int{}
	for _, d := range protocols.Dissectors() {
		if _, ok := d.NewSession(&protocols.Env{}).(protocols.Reuser); !ok {
			continue
		}
		port := uint16(0)
		if len(d.Ports) > 0 {
			port = d.Ports[0]
		}
		for _, script := range fuzzSeeds(t, filepath.Join("..", d.Name, "testdata", "fuzz", "FuzzSession")) {
			fresh := testkit.NewRecorder(protocols.TCP, port)
			run(d.NewSession(&fresh.Env), script)

			before := testkit.NewRecorder(protocols.TCP, port)
			s := d.NewSession(&before.Env)
			if run(s, script) {
				continue // a detached session is dropped, never reused
			}
			again := testkit.NewRecorder(protocols.TCP, port)
			s.(protocols.Reuser).Reuse(&again.Env)
			run(s, script)
			require.Equal(t, fresh.Txs, again.Txs, "%s: records of a reused session", d.Name)
			require.Equal(t, fresh.Anomalies, again.Anomalies, "%s: anomalies of a reused session", d.Name)
			checked[d.Name]++
		}
	}
	t.Logf("seeds checked: %v", checked)
	require.GreaterOrEqual(t, len(checked), 5)
}
