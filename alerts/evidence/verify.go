package evidence

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Problem kinds reported by Verify.
const (
	EntryUnreadable = "entry_unreadable" // a log line is not a custody entry
	EntryAltered    = "entry_altered"    // an entry's content does not match its hash
	EntryMissing    = "entry_missing"    // sequence numbers skipped: entries removed
	EntryReordered  = "entry_reordered"  // an entry out of sequence (moved or duplicated)
	ChainBroken     = "chain_broken"     // an entry's prev is not the previous entry's hash
	LogTruncated    = "log_truncated"    // the head names a later entry than the log's last
	HeadMismatch    = "head_mismatch"    // the head file disagrees with the log
	FileAltered     = "file_altered"     // an evidence file's SHA-256 differs from its entry
	FileRemoved     = "file_removed"     // an evidence file is gone without a retention entry
	FileUnlogged    = "file_unlogged"    // an evidence file that no entry names
	FileReappeared  = "file_reappeared"  // a file the retention policy removed is present again
)

// Problem is one finding of Verify, naming the entry and/or file.
type Problem struct {
	Kind   string
	Line   int    // custody.log line, 0 when not about a line
	Seq    uint64 // entry sequence number, 0 when unknown
	File   string
	Detail string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Kind)
	if p.Line > 0 {
		fmt.Fprintf(&b, " %s line %d", LogName, p.Line)
	}
	if p.Seq > 0 {
		fmt.Fprintf(&b, " (entry %d)", p.Seq)
	}
	if p.File != "" {
		fmt.Fprintf(&b, " file %s", p.File)
	}
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	return b.String()
}

// Verify checks an evidence directory against its custody log: every entry
// readable, in sequence and chained to the previous one, the head file
// naming the last entry, and every evidence file present with its recorded
// SHA-256 (unless the retention policy removed it), and no unlogged file.
// An empty problem list means the directory is intact. The error is for an
// unreadable directory or log.
func Verify(dir string) ([]Problem, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	_, lines, err := readLog(dir)
	if err != nil {
		return nil, err
	}
	var probs []Problem
	add := func(p Problem) { probs = append(probs, p) }
	live := map[string]Entry{} // evidence file -> its entry
	retired := map[string]bool{}
	var lastSeq uint64
	lastHash := genesis
	for _, rl := range lines {
		if rl.entry == nil {
			add(Problem{Kind: EntryUnreadable, Line: rl.no, Detail: rl.err.Error()})
			continue
		}
		e := *rl.entry
		switch {
		case e.Seq == lastSeq+1:
		case e.Seq > lastSeq+1:
			add(Problem{Kind: EntryMissing, Line: rl.no, Seq: e.Seq,
				Detail: fmt.Sprintf("entries %d..%d are missing", lastSeq+1, e.Seq-1)})
		default:
			add(Problem{Kind: EntryReordered, Line: rl.no, Seq: e.Seq, File: e.File,
				Detail: fmt.Sprintf("entry %d follows entry %d", e.Seq, lastSeq)})
		}
		if got := e.computeHash(); got != e.Hash {
			add(Problem{Kind: EntryAltered, Line: rl.no, Seq: e.Seq, File: e.File,
				Detail: "content does not match the entry's hash"})
		} else if e.Prev != lastHash && e.Seq == lastSeq+1 {
			add(Problem{Kind: ChainBroken, Line: rl.no, Seq: e.Seq, File: e.File,
				Detail: "prev is not the hash of the entry before"})
		}
		if e.Seq > lastSeq {
			lastSeq = e.Seq
		}
		lastHash = e.Hash
		switch e.Action {
		case ActionEvidence:
			live[e.File] = e
			delete(retired, e.File)
		case ActionRetention:
			delete(live, e.File)
			retired[e.File] = true
		}
	}
	if seq, hash, ok := readHead(dir); ok {
		switch {
		case seq > lastSeq:
			add(Problem{Kind: LogTruncated, Seq: seq, Detail: fmt.Sprintf("the head names entry %d, the log ends at %d", seq, lastSeq)})
		case seq != lastSeq || hash != lastHash:
			add(Problem{Kind: HeadMismatch, Seq: lastSeq, Detail: fmt.Sprintf("the head names entry %d %s", seq, short(hash))})
		}
	} else if len(lines) > 0 {
		add(Problem{Kind: HeadMismatch, Detail: HeadName + " missing or unreadable"})
	}
	names := make([]string, 0, len(live))
	for n := range live {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := live[n]
		sum, err := fileSHA256(filepath.Join(dir, n))
		switch {
		case os.IsNotExist(err):
			add(Problem{Kind: FileRemoved, Seq: e.Seq, File: n, Detail: "logged as written, not as removed"})
		case err != nil:
			add(Problem{Kind: FileAltered, Seq: e.Seq, File: n, Detail: err.Error()})
		case sum != e.SHA256:
			add(Problem{Kind: FileAltered, Seq: e.Seq, File: n, Detail: fmt.Sprintf("sha256 %s, logged %s", short(sum), short(e.SHA256))})
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return probs, err
	}
	for _, de := range ents {
		n := de.Name()
		if !strings.HasSuffix(n, ".pcapng") {
			continue
		}
		if _, ok := live[n]; ok {
			continue
		}
		if retired[n] {
			add(Problem{Kind: FileReappeared, File: n, Detail: "removed by retention, present again"})
		} else {
			add(Problem{Kind: FileUnlogged, File: n, Detail: "no custody entry names it"})
		}
	}
	return probs, nil
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
