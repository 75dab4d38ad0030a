package ui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/otwatch/otwatch/protocols"
)

// AuditEntry is one operator action.
type AuditEntry struct {
	TS     time.Time `json:"ts"`
	User   string    `json:"user"`
	Role   string    `json:"role,omitempty"`
	Addr   string    `json:"addr"`
	Action string    `json:"action"`
	Target string    `json:"target,omitempty"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail,omitempty"`
}

// Audit field limits, in bytes of the JSON written: a longer value is cut
// at a character boundary and ends in "…[N bytes cut]". Values are
// escaped first (auditText), so a line is at most MaxAuditLine bytes
// whatever a request carried.
const (
	AuditUserMax   = 96 // user names are at most 64 characters; room for the escapes of a hostile one
	AuditRoleMax   = 16
	AuditAddrMax   = 64
	AuditActionMax = 64
	AuditTargetMax = 1024
	AuditDetailMax = 512
	// MaxAuditLine bounds one line: the fields, the keys, the timestamp.
	MaxAuditLine = AuditUserMax + AuditRoleMax + AuditAddrMax + AuditActionMax + AuditTargetMax + AuditDetailMax + 160
)

// Budget for entries about requests that proved no identity (failed
// logins and setups, refused attempts): they come at an attacker's pace.
// AnonAuditBurst are written, then one per AnonAuditEvery; the rest are
// counted and written as one "audit.suppressed" entry when the budget
// allows again, before the next other entry, or at Close.
const (
	AnonAuditBurst = 30
	AnonAuditEvery = 10 * time.Second
)

// AuditLog appends one JSON line per action to a file opened append-only
// (O_APPEND, 0600): entries are never rewritten.
type AuditLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
	mem  []AuditEntry // when path is ""
	now  func() time.Time

	anon       tokenBucket
	suppressed suppressedCount
}

// suppressedCount is what the unauthenticated budget kept out of the log.
type suppressedCount struct {
	n           int
	first, last time.Time
	actions     map[string]int
	addrs       map[string]bool // up to maxSuppressedAddrs
}

const maxSuppressedAddrs = 1024

// OpenAuditLog opens (creating) the log at path; "" keeps it in memory.
func OpenAuditLog(path string) (*AuditLog, error) {
	l := &AuditLog{path: path, now: time.Now, anon: newTokenBucket(AnonAuditBurst, AnonAuditEvery)}
	if path == "" {
		return l, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	l.f = f
	return l, nil
}

// Record appends an entry; a write failure is returned (and the caller logs it).
func (l *AuditLog) Record(e AuditEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.flushSuppressed()
	if werr := l.write(e); werr != nil {
		err = werr
	}
	return err
}

// RecordUnauthenticated appends an entry about a request that proved no
// identity, within the AnonAuditBurst/AnonAuditEvery budget; beyond it
// the entry is only counted.
func (l *AuditLog) RecordUnauthenticated(e AuditEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.anon.take(now) {
		sc := &l.suppressed
		if sc.n == 0 {
			sc.first, sc.actions, sc.addrs = now, map[string]int{}, map[string]bool{}
		}
		sc.n++
		sc.last = now
		sc.actions[auditText(e.Action, AuditActionMax)]++
		if len(sc.addrs) < maxSuppressedAddrs {
			sc.addrs[auditText(e.Addr, AuditAddrMax)] = true
		}
		return nil
	}
	err := l.flushSuppressed() // the summary rides on this token: it is one entry more per burst at most
	if werr := l.write(e); werr != nil {
		err = werr
	}
	return err
}

// flushSuppressed writes the count of entries kept out; callers hold l.mu.
func (l *AuditLog) flushSuppressed() error {
	sc := l.suppressed
	if sc.n == 0 {
		return nil
	}
	l.suppressed = suppressedCount{}
	acts := make([]string, 0, len(sc.actions))
	for a, n := range sc.actions {
		acts = append(acts, fmt.Sprintf("%s %d", a, n))
	}
	sort.Strings(acts)
	addrs := fmt.Sprint(len(sc.addrs))
	if len(sc.addrs) >= maxSuppressedAddrs {
		addrs = "at least " + addrs
	}
	return l.write(AuditEntry{TS: l.now(), Action: "audit.suppressed",
		Detail: fmt.Sprintf("%d unauthenticated entries not written (over the budget of %d, then 1 per %s) between %s and %s, from %s addresses: %s",
			sc.n, AnonAuditBurst, AnonAuditEvery, sc.first.UTC().Format(time.RFC3339), sc.last.UTC().Format(time.RFC3339), addrs,
			strings.Join(acts, ", "))})
}

// write bounds and appends one entry; callers hold l.mu.
func (l *AuditLog) write(e AuditEntry) error {
	if e.TS.IsZero() {
		e.TS = l.now()
	}
	e.TS = e.TS.UTC()
	e.User = auditText(e.User, AuditUserMax)
	e.Role = auditText(e.Role, AuditRoleMax)
	e.Addr = auditText(e.Addr, AuditAddrMax)
	e.Action = auditText(e.Action, AuditActionMax)
	e.Target = auditText(e.Target, AuditTargetMax)
	e.Detail = auditText(e.Detail, AuditDetailMax)
	if l.f == nil {
		l.mem = append(l.mem, e)
		if len(l.mem) > 10000 {
			l.mem = l.mem[len(l.mem)-10000:]
		}
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // auditText counts '<' as one byte; the log is never HTML
	if err := enc.Encode(e); err != nil {
		return err
	}
	if _, err := l.f.Write(buf.Bytes()); err != nil {
		return err
	}
	return l.f.Sync()
}

// auditText makes a request's string safe to log and bounded. It escapes
// with protocols.PrintableString, the sanitiser of every string from the
// wire, so the audit log shows hostile text as the dashboard and syslog
// do: C0/C1 controls, line and paragraph separators, bidi overrides and
// isolates, other format characters and invalid bytes become escapes
// (\x1b, \u202e, \xff) and no entry can forge a line or hide what it says.
// The result's JSON encoding is at most limit bytes: longer text is cut at
// a character boundary and ends in "…[N bytes cut]", N counted in the
// original string. It reads s only up to the cut.
func auditText(s string, limit int) string {
	const mark = 32 // room for "…[N bytes cut]"
	limit = max(limit, 2*mark)
	var b strings.Builder
	size := 0          // JSON bytes of b
	keep, from := 0, 0 // the longest prefix of b within limit-mark, and where it ends in s
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		piece := protocols.PrintableString(s[i : i+n])                             // rune by rune: the sanitiser keeps no state between runes
		cost := len(piece) + strings.Count(piece, `"`) + strings.Count(piece, `\`) // JSON escapes both
		if size+cost > limit {
			return b.String()[:keep] + fmt.Sprintf("…[%d bytes cut]", len(s)-from)
		}
		b.WriteString(piece)
		size += cost
		i += n
		if size <= limit-mark {
			keep, from = b.Len(), i
		}
	}
	return b.String()
}

// Tail returns the last n entries, newest first.
func (l *AuditLog) Tail(n int) ([]AuditEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []AuditEntry
	if l.f == nil {
		all = append(all, l.mem...)
	} else {
		f, err := os.Open(l.path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		// read at most the last 4 MiB
		if st, err := f.Stat(); err == nil && st.Size() > 4<<20 {
			f.Seek(st.Size()-4<<20, io.SeekStart)
		}
		rd := bufio.NewReaderSize(f, 64<<10)
		for {
			line, err := rd.ReadSlice('\n')
			if err == bufio.ErrBufferFull { // longer than any line this log writes (an older version's): skip it
				for err == bufio.ErrBufferFull {
					_, err = rd.ReadSlice('\n')
				}
				line = nil
			}
			var e AuditEntry
			if len(line) > 0 && json.Unmarshal(bytes.TrimSpace(line), &e) == nil {
				all = append(all, e)
			}
			if err != nil {
				break
			}
		}
	}
	out := make([]AuditEntry, 0, n)
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, all[i])
	}
	return out, nil
}

// Close closes the file.
func (l *AuditLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.flushSuppressed()
	if l.f != nil {
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
