package evidence

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Custody log file names inside the evidence directory.
const (
	LogName  = "custody.log"  // append-only, one JSON entry per line
	HeadName = "custody.head" // "seq hash" of the last entry, rewritten atomically
)

// Custody actions.
const (
	ActionOpen       = "open"       // a recorder started on the directory
	ActionEvidence   = "evidence"   // an evidence file was written
	ActionRetention  = "retention"  // an evidence file was removed by the retention policy
	ActionNoEvidence = "no_packets" // an alert had no packets left to keep
)

// Entry is one custody log entry. Hash = SHA-256 over the entry's JSON with
// Hash empty; Prev is the previous entry's Hash (64 zeros for the first),
// so changing, removing or reordering any entry breaks the chain.
type Entry struct {
	Seq    uint64 `json:"seq"`
	Time   string `json:"time"`   // when, RFC 3339 UTC
	Who    string `json:"who"`    // which program, host and process
	Action string `json:"action"` // what
	File   string `json:"file,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Alert  string `json:"alert,omitempty"`
	Detail string `json:"detail,omitempty"`
	Prev   string `json:"prev"`
	Hash   string `json:"hash,omitempty"`
}

var genesis = strings.Repeat("0", 64)

// computeHash is the entry's hash (its Hash field ignored).
func (e Entry) computeHash() string {
	e.Hash = ""
	b, _ := json.Marshal(e)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// custody appends to the log of one directory.
type custody struct {
	dir      string
	who      string
	lastSeq  uint64
	lastHash string
}

// openCustody reads the existing log to continue its chain and returns the
// entries read (for the recorder's retention bookkeeping).
func openCustody(dir, who string) (*custody, []Entry, error) {
	c := &custody{dir: dir, who: who, lastHash: genesis}
	entries, _, err := readLog(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if e.Seq > c.lastSeq {
			c.lastSeq, c.lastHash = e.Seq, e.Hash
		}
	}
	return c, entries, nil
}

// append writes one entry, synced, then the head file.
func (c *custody) append(e Entry) (Entry, error) {
	e.Seq = c.lastSeq + 1
	e.Time = time.Now().UTC().Format(time.RFC3339Nano)
	e.Who = c.who
	e.Prev = c.lastHash
	e.Hash = e.computeHash()
	line, err := json.Marshal(e)
	if err != nil {
		return e, err
	}
	f, err := os.OpenFile(filepath.Join(c.dir, LogName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return e, err
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return e, fmt.Errorf("custody log: %w", err)
	}
	c.lastSeq, c.lastHash = e.Seq, e.Hash
	head := fmt.Sprintf("%d %s\n", e.Seq, e.Hash)
	if err := writeAtomic(filepath.Join(c.dir, HeadName), []byte(head)); err != nil {
		return e, fmt.Errorf("custody head: %w", err)
	}
	return e, nil
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// rawLine is one line of the log as read.
type rawLine struct {
	no    int
	text  string
	entry *Entry // nil when unreadable
	err   error
}

// readLog reads every line of the log (a missing log is empty).
func readLog(dir string) ([]Entry, []rawLine, error) {
	f, err := os.Open(filepath.Join(dir, LogName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var entries []Entry
	var lines []rawLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		rl := rawLine{no: n, text: sc.Text()}
		var e Entry
		dec := json.NewDecoder(strings.NewReader(rl.text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			rl.err = err
		} else if dec.More() || dec.InputOffset() != int64(len(strings.TrimRight(rl.text, " "))) {
			rl.err = errors.New("text after the entry")
		} else {
			rl.entry = &e
			entries = append(entries, e)
		}
		lines = append(lines, rl)
	}
	return entries, lines, sc.Err()
}

// readHead reads custody.head; ok is false when it is missing or unreadable.
func readHead(dir string) (seq uint64, hash string, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, HeadName))
	if err != nil {
		return 0, "", false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, "", false
	}
	seq, err = strconv.ParseUint(f[0], 10, 64)
	return seq, f[1], err == nil
}
