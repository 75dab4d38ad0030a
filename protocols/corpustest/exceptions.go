package corpustest

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
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
