// Package corpustest gives tests access to the shared corpus of real public
// captures (../shared/corpus) and to tshark, skipping cleanly when either is
// absent, and replays captures through the real pipeline.
package corpustest

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// Locate returns the corpus folder: $OTWATCH_CORPUS, else ../shared/corpus
// beside the repository; "" when it is absent.
func Locate() string {
	dir := os.Getenv("OTWATCH_CORPUS")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		return ""
	}
	return dir
}

// Dir returns the corpus folder, skipping the test when it is absent.
func Dir(t testing.TB) string {
	t.Helper()
	dir := Locate()
	if dir == "" {
		t.Skip("shared corpus not found (set OTWATCH_CORPUS): skipping")
	}
	return dir
}

// Capture is one MANIFEST.tsv row.
type Capture struct {
	Path      string // absolute
	Rel       string // as in the manifest
	Protocols []string
	License   string
	Notes     string
	Row       map[string]string
}

// Has reports whether the capture lists the protocol.
func (c Capture) Has(proto string) bool {
	for _, p := range c.Protocols {
		if strings.SplitN(p, "/", 2)[0] == proto {
			return true
		}
	}
	return false
}

// Captures lists the manifest rows that carry proto ("" for all),
// skipping the test when the corpus is absent.
func Captures(t testing.TB, proto string) []Capture {
	t.Helper()
	out, err := List(Dir(t), proto)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// List reads the manifest of the corpus in dir.
func List(dir, proto string) ([]Capture, error) {
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = '\t', true, -1
	header, err := r.Read()
	if err != nil {
		return nil, err
	}
	var out []Capture
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		row := map[string]string{}
		for i, h := range header {
			if i < len(rec) {
				row[h] = rec[i]
			}
		}
		c := Capture{Path: filepath.Join(dir, row["path"]), Rel: row["path"], Protocols: strings.Split(row["protocols"], ","),
			License: row["license_of_repo"], Notes: row["notes"], Row: row}
		if proto == "" || c.Has(proto) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Tshark returns tshark's path, skipping the test when it is not installed.
func Tshark(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: skipping comparison with Wireshark")
	}
	return path
}

// Fields runs `tshark -r capture -T fields` with the given options and
// fields and returns one row per output line, split on tabs, with one
// column per field.
func Fields(t testing.TB, capturePath string, opts []string, fields ...string) [][]string {
	t.Helper()
	args := append([]string{"-n", "-r", capturePath}, opts...)
	args = append(args, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,")
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(Tshark(t), args...)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("tshark: %v", err)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line != "" {
			r := strings.Split(line, "\t")
			for len(r) < len(fields) { // tshark leaves empty trailing fields out
				r = append(r, "")
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// FieldsOnce is Fields for the packets a reassembling monitor reads once:
// the ones tshark marks as TCP retransmissions (spurious or not) are left
// out, as the oracle does.
func FieldsOnce(t testing.TB, capturePath string, opts []string, fields ...string) [][]string {
	t.Helper()
	n := len(fields)
	rows := Fields(t, capturePath, opts, append(fields[:n:n], "tcp.analysis.retransmission", "tcp.analysis.spurious_retransmission")...)
	out := rows[:0]
	for _, r := range rows {
		if r[n] == "" && r[n+1] == "" {
			out = append(out, r[:n])
		}
	}
	return out
}

// Replay runs captures through a fresh pipeline of the registered
// dissectors and returns the transactions and the pipeline's stats.
func Replay(t testing.TB, paths ...string) ([]protocols.Transaction, pipeline.Stats) {
	t.Helper()
	var out []protocols.Transaction
	p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) { out = append(out, *tx) })
	for _, path := range paths {
		if err := p.ReplayFile(path); err != nil {
			var trunc *capture.TruncatedError
			if !errors.As(err, &trunc) {
				t.Fatalf("replay %s: %v", path, err)
			}
		}
	}
	p.Flush()
	return out, p.Stats
}

// Records renders transactions as JSON lines.
func Records(txs []protocols.Transaction) []byte {
	var b []byte
	for i := range txs {
		b = append(txs[i].AppendJSON(b), '\n')
	}
	return b
}

// Occurrences splits one tshark field of several occurrences ("a,b,c"); nil for "".
func Occurrences(field string) []string {
	if field == "" {
		return nil
	}
	return strings.Split(field, ",")
}

// Int parses a tshark number (decimal or 0x hex), -1 when it is none.
func Int(s string) int {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return -1
	}
	return int(n)
}

// CodeSide is one side of a record as tshark can name it too: frame,
// request or response, code.
type CodeSide struct {
	Frame int
	Dir   string
	Code  int
}

// FrameDir implements Side.
func (c CodeSide) FrameDir() (int, string) { return c.Frame, c.Dir }

// CodeSides gives the request and response sides of the records of one
// proto (encrypted ones left out: tshark cannot read them either).
func CodeSides(txs []protocols.Transaction, proto string) []CodeSide {
	var out []CodeSide
	for i := range txs {
		tx := &txs[i]
		if tx.Proto != proto || tx.Encrypted {
			continue
		}
		if tx.RequestFrame != 0 {
			out = append(out, CodeSide{int(tx.RequestFrame), "request", tx.Code})
		}
		if tx.ResponseFrame != 0 {
			out = append(out, CodeSide{int(tx.ResponseFrame), "response", tx.Code})
		}
	}
	return out
}
