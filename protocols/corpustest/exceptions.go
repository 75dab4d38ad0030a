package corpustest

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/otwatch/otwatch/protocols"
)

// Exceptions is a reviewed list of disagreements with tshark, read from a
// package's testdata/conformance_exceptions.txt: one line per excuse,
// "<capture as in MANIFEST.tsv> <frame|*> <request|response|*> <reason>".
// A conformance test excuses a disagreement only when a line names it, and
// fails on lines that no longer excuse anything (stale reviews).
type Exceptions struct {
	mu    sync.Mutex
	lines map[string][]exceptionLine
	used  map[string]bool
}

type exceptionLine struct{ frame, dir, reason string }

// LoadExceptions reads testdata/conformance_exceptions.txt; every line must give a reason.
func LoadExceptions(t testing.TB) *Exceptions {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "conformance_exceptions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ex := &Exceptions{lines: map[string][]exceptionLine{}, used: map[string]bool{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Fields(line)
		if len(parts) < 4 {
			t.Fatalf("exception line needs a reason: %q", line)
		}
		ex.lines[parts[0]] = append(ex.lines[parts[0]], exceptionLine{parts[1], parts[2], strings.Join(parts[3:], " ")})
	}
	return ex
}

// Excused reports whether a disagreement at (capture, frame, dir) is reviewed.
func (ex *Exceptions) Excused(capture string, frame int, dir string) bool {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for _, e := range ex.lines[capture] {
		if (e.frame == "*" || e.frame == strconv.Itoa(frame)) && (e.dir == "*" || e.dir == dir) {
			ex.used[capture] = true
			return true
		}
	}
	return false
}

// CheckStale fails the test for captures whose lines excused nothing.
func (ex *Exceptions) CheckStale(t testing.TB) {
	t.Helper()
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for capture := range ex.lines {
		if !ex.used[capture] {
			t.Errorf("exception list entry for %s is stale: nothing to excuse any more", capture)
		}
	}
}

// Side is one PDU side as both tshark and otwatch can name it.
type Side interface {
	comparable
	FrameDir() (frame int, dir string)
}

// Compare reports, as test errors, the PDU sides only tshark or only
// otwatch has for one capture, unless a reviewed exception excuses them.
func Compare[S Side](t testing.TB, ex *Exceptions, capture string, want, got []S) {
	t.Helper()
	count := map[S]int{}
	for _, s := range want {
		count[s]++
	}
	var extra, missing []S
	for _, s := range got {
		if count[s] > 0 {
			count[s]--
		} else {
			extra = append(extra, s)
		}
	}
	for s, n := range count {
		for ; n > 0; n-- {
			missing = append(missing, s)
		}
	}
	byFrame := func(xs []S) {
		sort.Slice(xs, func(i, j int) bool { fi, _ := xs[i].FrameDir(); fj, _ := xs[j].FrameDir(); return fi < fj })
	}
	byFrame(missing)
	byFrame(extra)
	for label, xs := range map[string][]S{"tshark only": missing, "otwatch only": extra} {
		for _, s := range xs {
			if frame, dir := s.FrameDir(); !ex.Excused(capture, frame, dir) {
				t.Errorf("%s: %v", label, s)
			}
		}
	}
}

// CompareCorpus is the conformance test of one protocol: for every corpus
// capture of proto, tshark's sides (want) against the sides of our records
// (got, which may look at want), excused only by the package's reviewed
// exceptions; a capture where tshark finds nothing fails, as the test would
// compare nothing.
func CompareCorpus[S Side](t *testing.T, proto string, want func(t *testing.T, path string) []S,
	got func(txs []protocols.Transaction, want []S) []S) {
	t.Helper()
	Tshark(t)
	exceptions := LoadExceptions(t)
	for _, c := range Captures(t, proto) {
		t.Run(c.Rel, func(t *testing.T) {
			w := want(t, c.Path)
			txs, _ := Replay(t, c.Path)
			Compare(t, exceptions, c.Rel, w, got(txs, w))
			if len(w) == 0 {
				t.Errorf("tshark found no %s PDU: the test compares nothing", proto)
			}
		})
	}
	exceptions.CheckStale(t)
}
