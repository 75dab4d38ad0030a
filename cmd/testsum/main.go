// Command testsum runs `go test -json` and prints what a newcomer needs:
// a line per package as plain `go test` prints it, the output of every
// failed test and every build error, and at the end ONE summary of every
// test that was skipped and why, whether or not the run passed. Plain
// `go test` hides skips in passing packages, so a green run could have
// left half the product untested without anyone seeing it.
//
//	go run ./cmd/testsum [go test flags] [packages]
//
// The exit status is go test's. It needs nothing but Go (make test and
// .ci/run use it on machines where no other tool may be installed).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Print(usage)
		return
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

const usage = `usage: go run ./cmd/testsum [go test flags] [packages]

Runs go test -json with the flags and packages given (default ./...), prints a
line per package, the output of failed tests and build errors, and ends with
one summary of every skipped test and the reason it gave.

example:
  go run ./cmd/testsum -short -count=1 ./...
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"./..."}
	}
	gobin := "go"
	if p := os.Getenv("GO"); p != "" {
		gobin = p
	}
	cmd := exec.Command(gobin, append([]string{"test", "-json"}, args...)...)
	cmd.Stderr = stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(stderr, "testsum: %v\n", err)
		return 2
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "testsum: %v\n", err)
		return 2
	}
	// Ctrl-C reaches go test too (same process group); a TERM sent to us
	// alone is passed on. Either way go test stops and the summary of what
	// ran is still printed.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			if s == syscall.SIGTERM {
				cmd.Process.Signal(s)
			}
		}
	}()
	r := newReport(stdout)
	r.read(pipe)
	err = cmd.Wait()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
		if code < 0 {
			code = 2
		}
	case err != nil:
		fmt.Fprintf(stderr, "testsum: %v\n", err)
		code = 2
	}
	if code == 0 && r.failed > 0 {
		code = 1
	}
	r.summary(time.Since(started))
	return code
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string // build-output and build-fail
}

type testID struct{ pkg, test string }

type skip struct {
	id     testID
	reason string
	where  string // file:line of the t.Skip call
}

// report follows the event stream.
type report struct {
	w       io.Writer
	output  map[testID][]string // output per running test ("" test: the package)
	skips   []skip
	passed  int
	failed  int
	pkgFail []string
}

func newReport(w io.Writer) *report { return &report{w: w, output: map[testID][]string{}} }

func (r *report) read(in io.Reader) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(r.w, sc.Text()) // not an event: show it as it is
			continue
		}
		r.handle(e)
	}
}

func (r *report) handle(e event) {
	id := testID{e.Package, e.Test}
	switch e.Action {
	case "build-output":
		fmt.Fprint(r.w, e.Output)
	case "output":
		r.output[id] = append(r.output[id], e.Output)
	case "pass":
		if e.Test != "" {
			r.passed++
		} else {
			fmt.Fprintf(r.w, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
		}
		delete(r.output, id)
	case "skip":
		if e.Test != "" {
			reason, where := skipReason(r.output[id])
			r.skips = append(r.skips, skip{id, reason, where})
		} else if noTests(r.output[id]) {
			fmt.Fprintf(r.w, "?   \t%s\t[no test files]\n", e.Package)
		}
		delete(r.output, id)
	case "fail":
		if e.Test != "" {
			r.failed++
			// the test's own output, as go test prints a failure
			fmt.Fprint(r.w, strings.Join(r.output[id], ""))
		} else {
			// output outside any test: a panic, a timeout, a TestMain failure
			for _, line := range r.output[id] {
				if t := strings.TrimSpace(line); t != "FAIL" && t != "PASS" && !strings.HasPrefix(t, "FAIL\t") {
					fmt.Fprint(r.w, line)
				}
			}
			fmt.Fprintf(r.w, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
			r.pkgFail = append(r.pkgFail, e.Package)
		}
		delete(r.output, id)
	}
}

func noTests(out []string) bool {
	for _, l := range out {
		if strings.Contains(l, "[no test files]") {
			return true
		}
	}
	return false
}

// skipLine is a t.Skip message as go test prints it: "    file_test.go:42: why".
var skipLine = regexp.MustCompile(`^\s+([\w.-]+\.go:\d+): (.*)$`)

// skipReason is the last message a skipped test logged (its t.Skip
// argument) and where; a bare t.SkipNow gives "no reason given".
func skipReason(out []string) (reason, where string) {
	for i := len(out) - 1; i >= 0; i-- {
		line := strings.TrimRight(out[i], "\n")
		if strings.HasPrefix(strings.TrimSpace(line), "---") || strings.HasPrefix(line, "===") || strings.TrimSpace(line) == "" {
			continue
		}
		if m := skipLine.FindStringSubmatch(line); m != nil {
			return m[2], m[1]
		}
		return strings.TrimSpace(line), ""
	}
	return "no reason given", ""
}

// summary prints the totals and every skip, grouped by reason.
func (r *report) summary(took time.Duration) {
	fmt.Fprintf(r.w, "\n== %d passed, %d failed, %d skipped in %s\n", r.passed, r.failed, len(r.skips), took.Round(time.Second))
	if len(r.pkgFail) > 0 {
		fmt.Fprintf(r.w, "== failed packages: %s\n", strings.Join(r.pkgFail, " "))
	}
	if len(r.skips) == 0 {
		fmt.Fprintln(r.w, "== nothing was skipped")
		return
	}
	byReason := map[string][]skip{}
	for _, s := range r.skips {
		byReason[s.reason] = append(byReason[s.reason], s)
	}
	reasons := make([]string, 0, len(byReason))
	for k := range byReason {
		reasons = append(reasons, k)
	}
	// most common reason first: it is usually one missing tool or -short
	sort.Slice(reasons, func(i, j int) bool {
		a, b := byReason[reasons[i]], byReason[reasons[j]]
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return reasons[i] < reasons[j]
	})
	fmt.Fprintf(r.w, "== skipped, and why (%d):\n", len(r.skips))
	for _, reason := range reasons {
		list := byReason[reason]
		fmt.Fprintf(r.w, "  %s\n", reason)
		sort.Slice(list, func(i, j int) bool {
			if list[i].id.pkg != list[j].id.pkg {
				return list[i].id.pkg < list[j].id.pkg
			}
			return list[i].id.test < list[j].id.test
		})
		for _, s := range list {
			where := ""
			if s.where != "" {
				where = " (" + s.where + ")"
			}
			fmt.Fprintf(r.w, "      %s %s%s\n", shortPkg(s.id.pkg), s.id.test, where)
		}
	}
}

// shortPkg drops the module path: "github.com/otwatch/otwatch/ui" -> "ui".
func shortPkg(p string) string {
	const module = "github.com/otwatch/otwatch/"
	return strings.TrimPrefix(p, module)
}
