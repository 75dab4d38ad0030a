package main

import (
	"bytes"
	"strings"
	"testing"
)

// A stream as go test -json writes it (Go 1.26): a passing package with a
// skipped test and a skipped subtest, a failing package, a package without
// tests, and a build failure.
const stream = `{"Action":"start","Package":"github.com/otwatch/otwatch/ui"}
{"Action":"run","Package":"github.com/otwatch/otwatch/ui","Test":"TestBrowser"}
{"Action":"output","Package":"github.com/otwatch/otwatch/ui","Test":"TestBrowser","Output":"=== RUN   TestBrowser\n"}
{"Action":"output","Package":"github.com/otwatch/otwatch/ui","Test":"TestBrowser","Output":"    cdp_test.go:288: chromium not installed (apt-get install -y chromium): skipping the browser test\n"}
{"Action":"output","Package":"github.com/otwatch/otwatch/ui","Test":"TestBrowser","Output":"--- SKIP: TestBrowser (0.00s)\n"}
{"Action":"skip","Package":"github.com/otwatch/otwatch/ui","Test":"TestBrowser","Elapsed":0}
{"Action":"run","Package":"github.com/otwatch/otwatch/ui","Test":"TestAPI"}
{"Action":"output","Package":"github.com/otwatch/otwatch/ui","Test":"TestAPI","Output":"=== RUN   TestAPI\n"}
{"Action":"run","Package":"github.com/otwatch/otwatch/ui","Test":"TestAPI/tshark"}
{"Action":"output","Package":"github.com/otwatch/otwatch/ui","Test":"TestAPI/tshark","Output":"    api_test.go:10: some log\n"}
{"Action":"output","Package":"github.com/otwatch/otwatch/ui","Test":"TestAPI/tshark","Output":"    api_test.go:12: tshark not installed: the evidence is not opened in Wireshark\n"}
{"Action":"output","Package":"github.com/otwatch/otwatch/ui","Test":"TestAPI/tshark","Output":"    --- SKIP: TestAPI/tshark (0.00s)\n"}
{"Action":"skip","Package":"github.com/otwatch/otwatch/ui","Test":"TestAPI/tshark","Elapsed":0}
{"Action":"pass","Package":"github.com/otwatch/otwatch/ui","Test":"TestAPI","Elapsed":0.1}
{"Action":"pass","Package":"github.com/otwatch/otwatch/ui","Elapsed":0.2}
{"Action":"run","Package":"github.com/otwatch/otwatch/alerts","Test":"TestEngine"}
{"Action":"output","Package":"github.com/otwatch/otwatch/alerts","Test":"TestEngine","Output":"=== RUN   TestEngine\n"}
{"Action":"output","Package":"github.com/otwatch/otwatch/alerts","Test":"TestEngine","Output":"    engine_test.go:5: want 3 alerts, got 2\n"}
{"Action":"output","Package":"github.com/otwatch/otwatch/alerts","Test":"TestEngine","Output":"--- FAIL: TestEngine (0.01s)\n"}
{"Action":"fail","Package":"github.com/otwatch/otwatch/alerts","Test":"TestEngine","Elapsed":0.01}
{"Action":"run","Package":"github.com/otwatch/otwatch/alerts","Test":"TestCorpus"}
{"Action":"output","Package":"github.com/otwatch/otwatch/alerts","Test":"TestCorpus","Output":"    corpustest.go:42: shared corpus not found (set OTWATCH_CORPUS): skipping\n"}
{"Action":"skip","Package":"github.com/otwatch/otwatch/alerts","Test":"TestCorpus","Elapsed":0}
{"Action":"output","Package":"github.com/otwatch/otwatch/alerts","Output":"FAIL\n"}
{"Action":"fail","Package":"github.com/otwatch/otwatch/alerts","Elapsed":0.3}
{"Action":"run","Package":"github.com/otwatch/otwatch/protocols/modbus","Test":"TestGolden"}
{"Action":"output","Package":"github.com/otwatch/otwatch/protocols/modbus","Test":"TestGolden","Output":"    corpustest.go:42: shared corpus not found (set OTWATCH_CORPUS): skipping\n"}
{"Action":"skip","Package":"github.com/otwatch/otwatch/protocols/modbus","Test":"TestGolden","Elapsed":0}
{"Action":"pass","Package":"github.com/otwatch/otwatch/protocols/modbus","Elapsed":0.2}
{"Action":"output","Package":"github.com/otwatch/otwatch/protocols/all","Output":"?   \tgithub.com/otwatch/otwatch/protocols/all\t[no test files]\n"}
{"Action":"skip","Package":"github.com/otwatch/otwatch/protocols/all","Elapsed":0}
{"ImportPath":"github.com/otwatch/otwatch/learning/zones","Action":"build-output","Output":"learning/zones/zones.go:3:1: syntax error\n"}
{"ImportPath":"github.com/otwatch/otwatch/learning/zones","Action":"build-fail"}
`

func TestReportPrintsFailuresAndEverySkip(t *testing.T) {
	var out bytes.Buffer
	r := newReport(&out)
	r.read(strings.NewReader(stream))
	r.summary(0)
	got := out.String()
	for _, want := range []string{
		"ok  \tgithub.com/otwatch/otwatch/ui\t0.200s\n",
		"    engine_test.go:5: want 3 alerts, got 2\n--- FAIL: TestEngine (0.01s)\n", // a failure's output, whole
		"FAIL\tgithub.com/otwatch/otwatch/alerts\t0.300s\n",
		"?   \tgithub.com/otwatch/otwatch/protocols/all\t[no test files]\n",
		"learning/zones/zones.go:3:1: syntax error\n",
		"== 1 passed, 1 failed, 4 skipped in 0s\n",
		"== failed packages: github.com/otwatch/otwatch/alerts\n",
		"== skipped, and why (4):\n" +
			"  shared corpus not found (set OTWATCH_CORPUS): skipping\n" +
			"      alerts TestCorpus (corpustest.go:42)\n" +
			"      protocols/modbus TestGolden (corpustest.go:42)\n",
		"  tshark not installed: the evidence is not opened in Wireshark\n      ui TestAPI/tshark (api_test.go:12)\n",
		"  chromium not installed (apt-get install -y chromium): skipping the browser test\n      ui TestBrowser (cdp_test.go:288)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "some log") {
		t.Errorf("a passing test's log was printed:\n%s", got)
	}
}

func TestReportWithNothingSkipped(t *testing.T) {
	var out bytes.Buffer
	r := newReport(&out)
	r.read(strings.NewReader(`{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0}
{"Action":"pass","Package":"p","Elapsed":0}
`))
	r.summary(0)
	if !strings.Contains(out.String(), "== 1 passed, 0 failed, 0 skipped") || !strings.Contains(out.String(), "== nothing was skipped") {
		t.Errorf("%s", out.String())
	}
}

func TestSkipReasonWithoutMessage(t *testing.T) {
	if r, w := skipReason([]string{"=== RUN   TestX\n", "--- SKIP: TestX (0.00s)\n"}); r != "no reason given" || w != "" {
		t.Errorf("%q %q", r, w)
	}
}

// The real thing: go test -json on a small package kept under testdata.
func TestRunGoTest(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-count=1", "./testdata/sample"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"ok  \tgithub.com/otwatch/otwatch/cmd/testsum/testdata/sample\t",
		"== 2 passed, 0 failed, 2 skipped in ",
		"  frobnicator not installed: the frob part is skipped\n      cmd/testsum/testdata/sample TestSkips (sample_test.go:10)\n",
		"  widget absent\n      cmd/testsum/testdata/sample TestPart/tool (sample_test.go:13)\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q:\n%s", want, out.String())
		}
	}
}
