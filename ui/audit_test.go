package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/otwatch/otwatch/protocols"
)

func TestAuditTextEscapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"Jürgen Müller", "Jürgen Müller"},
		{"a\nb\r\tc", `a\x0ab\x0d\x09c`},
		{"csi\u009b31m", `csi\u009b31m`},                 // C1: a CSI on UTF-8 terminals
		{"admin\u202egnp.exe", `admin\u202egnp.exe`},     // right-to-left override
		{"x\u2066y\u2069\u200e", `x\u2066y\u2069\u200e`}, // isolates, LRM
		{"line\u2028para\u2029", `line\u2028para\u2029`}, // separators
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},           // invalid bytes
		{`back\slash`, `back\slash`},
		{`"quoted" <b>&`, `"quoted" <b>&`},                     // JSON escapes quotes; no HTML escaping needed in a log
		{"tag\U000E0041", `tag\U000e0041`},                     // invisible tag character
		{"nbsp\u00a0zwsp\u200b", `nbsp\u00a0zwsp\u200b`},       // look like spaces, are not
		{strings.Repeat("a", 90), strings.Repeat("a", 90)},     // under the limit
		{strings.Repeat("a", 300), strings.Repeat("a", 96-32)}, // cut (see below)
	} {
		got := auditText(tc.in, 96)
		if len(tc.in) == 300 {
			if !strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, "…[236 bytes cut]") {
				t.Errorf("cut: %q", got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("auditText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// checkAuditText is the invariant of auditText: the product's one
// sanitiser's text (protocols.PrintableString) or a prefix of it marked
// as cut, valid UTF-8, printable, JSON at most limit bytes.
func checkAuditText(t *testing.T, in string, limit int) {
	got := auditText(in, limit)
	clean := protocols.PrintableString(in)
	if i := strings.LastIndex(got, "…["); i >= 0 && strings.HasSuffix(got, " bytes cut]") {
		if !strings.HasPrefix(clean, got[:i]) {
			t.Fatalf("cut %q is not a prefix of %q", got, clean)
		}
	} else if got != clean {
		t.Fatalf("auditText(%q) = %q, the sanitiser says %q", in, got, clean)
	}
	if !utf8.ValidString(got) {
		t.Fatalf("invalid UTF-8 from %q", in)
	}
	for _, r := range got {
		if r != ' ' && !unicode.IsPrint(r) {
			t.Fatalf("unprintable %U from %q", r, in)
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(got)
	if n := b.Len() - 3; n > max(limit, 64) { // quotes and newline
		t.Fatalf("%d JSON bytes over %d from %q", n, limit, in)
	}
}

func FuzzAuditText(f *testing.F) {
	for _, s := range []string{"", "alice", "a\u202eb", "\xff\xfe", `\\\"`, strings.Repeat("\u2028", 40), strings.Repeat(`"`, 200),
		strings.Repeat("é", 70), "\U0010ffff"} {
		f.Add(s, 96)
	}
	f.Fuzz(func(t *testing.T, in string, limit int) {
		checkAuditText(t, in, limit%2048)
	})
}

// One entry whose every field came from a 4 MiB hostile request is still
// one valid line of at most MaxAuditLine bytes.
func TestAuditLineBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	huge := func(unit string) string { return strings.Repeat(unit, (4<<20)/len(unit)) }
	for _, unit := range []string{"A", "\u202e", "\n", `"`, `\`, "\xff", "\U000E0041"} {
		l.Record(AuditEntry{User: huge(unit), Role: huge(unit), Addr: huge(unit), Action: "setup", Target: huge(unit), Detail: huge(unit)})
	}
	l.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d lines, want 7", len(lines))
	}
	for _, line := range lines {
		if len(line) > MaxAuditLine {
			t.Errorf("line of %d bytes, bound %d: %.80s", len(line), MaxAuditLine, line)
		}
		var e AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Errorf("line is not JSON: %v", err)
		}
		if !strings.Contains(e.User, "bytes cut]") || !strings.Contains(e.Target, "bytes cut]") {
			t.Errorf("cut without saying so: %.120q", e.User)
		}
	}
	t.Logf("7 entries with 4 MiB fields: %d bytes, longest line bound %d", len(b), MaxAuditLine)
}

// Failed unauthenticated entries beyond the budget are counted, never
// lost: the summary says how many, of what, from how many addresses.
func TestAuditUnauthenticatedBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l.now = clk.now
	for i := range 1000 {
		l.RecordUnauthenticated(AuditEntry{User: "mallory", Addr: fmt.Sprintf("10.9.%d.%d", i/250, i%250), Action: "login", Detail: "invalid user name or password"})
	}
	got, _ := l.Tail(2000)
	if len(got) != AnonAuditBurst {
		t.Fatalf("%d entries written, want the burst of %d", len(got), AnonAuditBurst)
	}
	// an operator's entry first writes the summary
	clk.advance(time.Second)
	l.Record(AuditEntry{User: "alice", Action: "login", OK: true})
	got, _ = l.Tail(2)
	if got[0].Action != "login" || got[1].Action != "audit.suppressed" ||
		!strings.Contains(got[1].Detail, "970 unauthenticated entries not written") || !strings.Contains(got[1].Detail, "from 970 addresses: login 970") {
		t.Fatalf("summary: %+v", got)
	}
	// the budget refills at one entry per AnonAuditEvery
	for range 100 {
		clk.advance(time.Second)
		l.RecordUnauthenticated(AuditEntry{User: "mallory", Addr: "10.9.9.9", Action: "setup"})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _ = OpenAuditLog(path)
	all, _ := l.Tail(5000)
	written, suppressed := 0, 0
	for _, e := range all {
		switch e.Action {
		case "setup":
			written++
		case "audit.suppressed":
			var n int
			fmt.Sscanf(e.Detail, "%d", &n)
			if strings.Contains(e.Detail, "setup") {
				suppressed += n
			}
		}
	}
	if written+suppressed != 100 || written > 100/int(AnonAuditEvery/time.Second)+1 {
		t.Errorf("of 100 setup entries: %d written, %d counted in summaries", written, suppressed)
	}
	l.Close()
}

// Tail reads past a line longer than any this log writes (an older
// version wrote a request's 4 MiB user name).
func TestAuditTailSkipsLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, _ := OpenAuditLog(path)
	l.Record(AuditEntry{User: "alice", Action: "before", OK: true})
	l.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	fmt.Fprintf(f, `{"user":"%s","action":"setup"}`+"\n", strings.Repeat("A", 3<<20))
	f.Close()
	l, _ = OpenAuditLog(path)
	l.Record(AuditEntry{User: "alice", Action: "after", OK: true})
	got, err := l.Tail(10)
	l.Close()
	if err != nil || len(got) != 2 || got[0].Action != "after" || got[1].Action != "before" {
		t.Fatalf("tail %+v %v", got, err)
	}
}
