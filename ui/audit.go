package ui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"sync"
	"time"
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

// AuditLog appends one JSON line per action to a file opened append-only
// (O_APPEND, 0600): entries are never rewritten.
type AuditLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
	mem  []AuditEntry // when path is ""
}

// OpenAuditLog opens (creating) the log at path; "" keeps it in memory.
func OpenAuditLog(path string) (*AuditLog, error) {
	l := &AuditLog{path: path}
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
	if e.TS.IsZero() {
		e.TS = time.Now()
	}
	e.TS = e.TS.UTC()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		l.mem = append(l.mem, e)
		if len(l.mem) > 10000 {
			l.mem = l.mem[len(l.mem)-10000:]
		}
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return err
	}
	return l.f.Sync()
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
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e AuditEntry
			if json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &e) == nil {
				all = append(all, e)
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
	if l.f != nil {
		return l.f.Close()
	}
	return nil
}
