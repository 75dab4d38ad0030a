// Package update is the appliance's update path between the daemon and
// PID 1, and the installation PID 1 does:
//
//   - the daemon (unprivileged, no access to block devices) stores an
//     uploaded bundle in its spool directory as pending.otwb (written to a
//     temporary name, synced, renamed) with pending.json saying who sent it;
//   - PID 1 copies it into its own directory (root's, so the daemon cannot
//     change the bytes between check and write), verifies the signature and
//     the payload's digest, writes the inactive slot, reads it back, flips
//     the boot control record (firmware/slots) and reboots;
//   - every step goes to a journal (events.jsonl, one JSON line each, never
//     rewritten) that the daemon relays to the audit log and, as alerts, to
//     syslog; the current state is in a status file the daemon serves.
//
// This file holds what both sides read and write; install.go what PID 1 does.
package update

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Files and places. The spool directory is the daemon's (beside its
// database: <dir of state.db>/update); Dir is PID 1's.
const (
	PendingName = "pending.otwb" // the uploaded bundle, in the spool directory
	PendingMeta = "pending.json" // UploadMeta, written before the bundle is renamed into place
	SeenName    = "events.seen"  // the daemon's position in the journal, in the spool directory

	Dir         = "/data/update" // PID 1's directory (root, 0755)
	StagedName  = "staged.otwb"  // PID 1's copy of the bundle
	StagedMeta  = "staged.json"  // its UploadMeta
	AttemptName = "staged.tries" // installation attempts of the staged bundle
	TakenName   = "taken"        // which upload was staged (inode, size, time)
	JournalName = "events.jsonl" // the journal
	StatePrefix = "state.db.before-update"

	StatusPath     = "/run/otwatch-update.json"
	TrustedKeyPath = "/etc/otwatch/update.pub" // in the root file system: the key this version trusts
)

// UploadMeta is who uploaded a bundle and how (pending.json).
type UploadMeta struct {
	User           string    `json:"user"`
	Addr           string    `json:"addr,omitempty"`
	Uploaded       time.Time `json:"uploaded"`
	Size           int64     `json:"size"`
	Version        string    `json:"version"` // what the manifest claims (checked by PID 1)
	AllowDowngrade bool      `json:"allow_downgrade,omitempty"`
}

// Steps of the journal.
const (
	StepReceived      = "received"       // PID 1 took over an uploaded bundle
	StepRefused       = "refused"        // not installed: signature, digest, arch, downgrade, size
	StepInstalled     = "installed"      // written into the inactive slot and read back; rebooting into it
	StepTrialBoot     = "trial_boot"     // booting a new slot on trial
	StepTrialFailed   = "trial_failed"   // otwatch did not come up healthy on a trial boot: rebooting
	StepGood          = "good"           // the new slot ran healthy: the update is complete
	StepRolledBack    = "rolled_back"    // a new slot failed every try: back on the previous one
	StepInterrupted   = "interrupted"    // an installation was cut short (power?): it starts over
	StepStateRestored = "state_restored" // the database was newer than this version reads: the copy from before the update is back
	StepSlotRetired   = "slot_retired"   // a slot would not mount and is not tried again
	StepBootRecord    = "boot_record"    // the boot control record was missing or unreadable
)

// Event is one journal line.
type Event struct {
	Seq     int       `json:"seq"`
	TS      time.Time `json:"ts"`
	Step    string    `json:"step"`
	OK      bool      `json:"ok"`
	Version string    `json:"version,omitempty"` // the version the step is about
	From    string    `json:"from,omitempty"`    // the version running when it happened
	Slot    string    `json:"slot,omitempty"`
	User    string    `json:"user,omitempty"` // who uploaded the bundle
	Detail  string    `json:"detail"`
}

// Journal appends events to a file, one JSON line each, synced.
type Journal struct {
	mu   sync.Mutex
	path string
	seq  int
	logf func(format string, args ...any)
}

// OpenJournal opens (creating) the journal at path; sequence numbers go on
// from the last line there.
func OpenJournal(path string, logf func(string, ...any)) *Journal {
	j := &Journal{path: path, logf: logf}
	if evs, err := ReadEvents(path, 0); err == nil && len(evs) > 0 {
		j.seq = evs[len(evs)-1].Seq
	}
	return j
}

// Add stamps, numbers, writes and logs an event; it returns it as written.
func (j *Journal) Add(e Event) Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Seq = j.seq
	if e.TS.IsZero() {
		e.TS = time.Now().UTC()
	}
	if j.logf != nil {
		slot := ""
		if e.Slot != "" {
			slot = " slot " + e.Slot
		}
		j.logf("update %s%s %s: %s", e.Step, slot, e.Version, e.Detail)
	}
	b, _ := json.Marshal(e)
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		if j.logf != nil {
			j.logf("update journal: %v", err)
		}
		return e
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err == nil {
		f.Sync()
	}
	return e
}

// ReadEvents returns the journal's events with a sequence number above
// after. A torn last line (power cut while writing) is skipped.
func ReadEvents(path string, after int) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e Event
		if json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &e) != nil || e.Seq <= after {
			continue
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// SlotStatus is one slot as the status file shows it.
type SlotStatus struct {
	Name     string `json:"name"` // a, b
	Version  string `json:"version,omitempty"`
	State    string `json:"state"` // good, trial, empty, retired
	Tries    int    `json:"tries_left,omitempty"`
	Priority int    `json:"priority"`
	Running  bool   `json:"running,omitempty"`
}

// Status is what PID 1 says about updates (the status file).
type Status struct {
	Running string       `json:"running"` // the slot booted
	Trial   bool         `json:"trial"`   // that slot is not marked good yet
	Slots   []SlotStatus `json:"slots"`
	// State: idle, installing, rebooting, trial (proving itself), refused
	// (the last bundle was refused), failed.
	State   string    `json:"state"`
	Detail  string    `json:"detail,omitempty"`
	Last    *Event    `json:"last_event,omitempty"`
	Updated time.Time `json:"updated"`
}

// WriteStatus replaces the status file atomically.
func WriteStatus(path string, s Status) error {
	s.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadStatus reads the status file; os.ErrNotExist when the system is not
// the appliance (no PID 1 of ours installs updates).
func ReadStatus(path string) (Status, error) {
	var s Status
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ErrBusy is returned by Spool while an installation is under way.
var ErrBusy = errors.New("an update is already waiting to be installed")

// Spool stores an uploaded bundle for PID 1 (the daemon's side): the bytes
// are written to a temporary file and synced, then the metadata, then the
// bundle is renamed to PendingName — PID 1 never sees half a file. check,
// if not nil, is run on the complete temporary file before it is renamed;
// its error refuses the upload. The temporary file is removed on failure.
func Spool(dir string, r io.Reader, max int64, meta UploadMeta, check func(path string) (UploadMeta, error)) (UploadMeta, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return meta, err
	}
	pending := filepath.Join(dir, PendingName)
	if _, err := os.Lstat(pending); err == nil {
		return meta, ErrBusy
	}
	f, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return meta, err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, io.LimitReader(r, max+1))
	if err == nil && n > max {
		err = fmt.Errorf("the bundle is larger than %d MiB", max>>20)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return meta, err
	}
	meta.Size = n
	if check != nil {
		m, err := check(tmp)
		if err != nil {
			meta.Version = m.Version // what the file claims, for the refusal's record
			return meta, err
		}
		m.User, m.Addr, m.Uploaded, m.Size, m.AllowDowngrade = meta.User, meta.Addr, meta.Uploaded, n, meta.AllowDowngrade
		meta = m
	}
	b, _ := json.Marshal(meta)
	if err := writeSynced(filepath.Join(dir, PendingMeta), b, 0o640); err != nil {
		return meta, err
	}
	if err := os.Rename(tmp, pending); err != nil {
		return meta, err
	}
	syncDir(dir)
	ok = true
	return meta, nil
}

// writeSynced replaces path with data through a temporary file it creates
// itself (O_EXCL: PID 1 also writes into the daemon's directory, where a
// planted symbolic link must not redirect a root write).
func writeSynced(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
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

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
