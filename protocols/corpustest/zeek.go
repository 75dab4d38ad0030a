package corpustest

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// ZeekLog reads the rows of a Zeek TSV log, as the ICSNPP projects ship
// beside their traces for their btest baselines (most without their
// header lines), split on tabs. The test is skipped when the log is
// absent: the corpus is optional.
func ZeekLog(t testing.TB, path string) [][]string {
	t.Helper()
	_, rows := readZeek(t, path)
	return rows
}

// readZeek returns the names of the #fields line (none in a baseline
// stripped of its header) and the rows.
func readZeek(t testing.TB, path string) (fields []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("ICSNPP baseline absent: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "#fields\t"); ok {
			fields = strings.Split(name, "\t")
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		rows = append(rows, strings.Split(line, "\t"))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return fields, rows
}

// ZeekRecords reads a Zeek TSV log with its #fields line as rows keyed by
// field name.
func ZeekRecords(t testing.TB, path string) []map[string]string {
	t.Helper()
	fields, rows := readZeek(t, path)
	if len(fields) == 0 && len(rows) > 0 {
		t.Fatalf("%s: no #fields line to name the columns", path)
	}
	out := make([]map[string]string, 0, len(rows))
	for _, r := range rows {
		rec := make(map[string]string, len(fields))
		for i, v := range r {
			if i < len(fields) {
				rec[fields[i]] = v
			}
		}
		out = append(out, rec)
	}
	return out
}
