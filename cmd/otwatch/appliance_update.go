package main

// The daemon's part of appliance updates (firmware/update): it stores an
// uploaded bundle for the appliance's PID 1, serves the installer's state,
// and relays the installer's journal to the audit log and, as alerts, to
// the dashboard and syslog. It never touches a block device.

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/firmware/bundle"
	"github.com/otwatch/otwatch/firmware/manifest"
	"github.com/otwatch/otwatch/firmware/update"
	"github.com/otwatch/otwatch/ui"
)

// Where the appliance's files are; variables so the tests can move them.
var (
	updateStatusPath = update.StatusPath
	updateJournal    = filepath.Join(update.Dir, update.JournalName)
	updateKeyPath    = update.TrustedKeyPath
)

// spoolDir is the daemon's update directory, beside its database.
func (d *daemon) spoolDir() string { return filepath.Join(filepath.Dir(d.cfg.Database.Path), "update") }

func runtimeArch() string {
	if runtime.GOARCH == "arm" {
		return "armv7"
	}
	return runtime.GOARCH
}

var _ ui.UpdateStore = (*dashboardBackend)(nil)

// StoreUpdate checks what can be checked at once (a bundle, signed with the
// key this version trusts, for this architecture) so the operator hears of
// a wrong file now; the payload's digest is checked by PID 1 from its own
// copy, where it counts.
func (b *dashboardBackend) StoreUpdate(r io.Reader, up ui.UpdateUpload) (ui.UpdateAccepted, error) {
	st, err := update.ReadStatus(updateStatusPath)
	if err != nil || st.State == "unsupported" {
		why := "this system is not the otwatch appliance image (no A/B installer)"
		if err == nil {
			why = st.Detail
		}
		return ui.UpdateAccepted{}, &ui.UpdateError{Code: http.StatusNotImplemented, Msg: why}
	}
	switch st.State {
	case "installing", "rebooting":
		return ui.UpdateAccepted{}, &ui.UpdateError{Code: http.StatusConflict, Msg: "an update is being installed: " + st.Detail}
	}
	pub, err := readKey(updateKeyPath)
	if err != nil {
		return ui.UpdateAccepted{}, &ui.UpdateError{Code: http.StatusNotImplemented, Msg: "no trusted update key: " + err.Error()}
	}
	check := func(path string) (update.UploadMeta, error) {
		bd, f, err := bundle.OpenFile(path)
		if err != nil {
			return update.UploadMeta{}, err
		}
		defer f.Close()
		info, err := bd.Verify(pub)
		if err != nil {
			claimed, _ := bd.Describe() // only to name it in the refusal
			if claimed != nil {
				return update.UploadMeta{Version: claimed.Version}, err
			}
			return update.UploadMeta{}, err
		}
		if info.Arch != runtimeArch() {
			return update.UploadMeta{Version: info.Version}, fmt.Errorf("the bundle is for %s, this appliance is %s", info.Arch, runtimeArch())
		}
		return update.UploadMeta{Version: info.Version}, nil
	}
	meta := update.UploadMeta{User: up.User, Addr: up.Addr, Uploaded: time.Now().UTC(), AllowDowngrade: up.AllowDowngrade}
	meta, err = update.Spool(b.d.spoolDir(), r, ui.MaxUpdateBody, meta, check)
	if errors.Is(err, update.ErrBusy) {
		return ui.UpdateAccepted{}, &ui.UpdateError{Code: http.StatusConflict, Msg: err.Error()}
	}
	if err != nil {
		// refused here, before PID 1 saw it: the SIEM hears of it too
		b.d.state.Lock()
		now := time.Now()
		b.d.engine.Raise(finding.Finding{Key: finding.NewKey("appliance_update_failed", "upload", up.User, now.UTC().Format(time.RFC3339Nano)), Time: now,
			Message: fmt.Sprintf("appliance update bundle %s uploaded by %s from %s refused: %v", orNone(meta.Version), up.User, up.Addr, err)})
		b.d.state.Unlock()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ui.UpdateAccepted{}, err
		}
		return ui.UpdateAccepted{Version: meta.Version}, &ui.UpdateError{Code: http.StatusUnprocessableEntity, Msg: err.Error()}
	}
	b.d.log.Printf("update bundle %s (%d bytes) uploaded by %s from %s: stored for the installer", meta.Version, meta.Size, up.User, up.Addr)
	detail := "stored; the appliance verifies it, writes the other slot and reboots into it"
	if st.Trial {
		detail = "stored; it is installed once the running version has been marked good"
	}
	return ui.UpdateAccepted{Version: meta.Version, Arch: runtimeArch(), Size: meta.Size, Detail: detail}, nil
}

func readKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return manifest.ParsePublicKey(b)
}

// UpdateState is the installer's status file, and whether an upload waits.
func (b *dashboardBackend) UpdateState() ui.UpdateState {
	st, err := update.ReadStatus(updateStatusPath)
	if err != nil {
		return ui.UpdateState{Reason: "this system is not the otwatch appliance image (no A/B installer)"}
	}
	u := ui.UpdateState{Supported: st.State != "unsupported", State: st.State, Detail: st.Detail, Running: st.Running, Trial: st.Trial}
	if !u.Supported {
		u.Reason = st.Detail
	}
	if _, err := os.Lstat(filepath.Join(b.d.spoolDir(), update.PendingName)); err == nil {
		u.Pending = true
	}
	for _, s := range st.Slots {
		u.Slots = append(u.Slots, ui.UpdateSlot{Name: s.Name, Version: s.Version, State: s.State, Tries: s.Tries, Running: s.Running})
	}
	if st.Last != nil {
		u.Last = &ui.UpdateStep{TS: st.Last.TS, Step: st.Last.Step, OK: st.Last.OK, Version: st.Last.Version, Detail: st.Last.Detail}
	}
	return u
}

// runningSlot is the slot the appliance booted, "" elsewhere (for /api/health).
func runningSlot() string {
	st, err := update.ReadStatus(updateStatusPath)
	if err != nil {
		return ""
	}
	return st.Running
}

// The kind of alert each journal step becomes: every step reaches the
// SIEM, the ones that did not go as asked with the higher severity.
var updateAlertKinds = map[string]string{
	update.StepReceived:      "appliance_update",
	update.StepTrialBoot:     "appliance_update",
	update.StepInstalled:     "appliance_update",
	update.StepGood:          "appliance_update",
	update.StepRefused:       "appliance_update_failed",
	update.StepTrialFailed:   "appliance_update_failed",
	update.StepRolledBack:    "appliance_update_failed",
	update.StepInterrupted:   "appliance_update_failed",
	update.StepStateRestored: "appliance_update_failed",
	update.StepSlotRetired:   "appliance_update_failed",
	update.StepBootRecord:    "appliance_update_failed",
}

// updateRelay passes the installer's new journal lines on: each to the
// audit log, the significant ones as alerts (dashboard, syslog). Its
// position is kept in the spool directory so a restart does not repeat
// them.
type updateRelay struct {
	last time.Time // looked at most every 5 s
	size int64     // the journal's size then
}

// relay runs on the capture goroutine, under d.state (from tick).
func (r *updateRelay) relay(d *daemon, now time.Time) {
	if now.Sub(r.last) < 5*time.Second {
		return
	}
	r.last = now
	st, err := os.Stat(updateJournal)
	if err != nil || st.Size() == r.size {
		return
	}
	r.size = st.Size()
	seenPath := filepath.Join(d.spoolDir(), update.SeenName)
	seen := 0
	if b, err := os.ReadFile(seenPath); err == nil {
		seen, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	evs, err := update.ReadEvents(updateJournal, seen)
	if err != nil || len(evs) == 0 {
		return
	}
	for _, e := range evs {
		msg := updateMessage(e)
		if d.dashboard != nil {
			if err := d.dashboard.Audit(ui.AuditEntry{TS: e.TS, User: "system", Addr: "installer", Action: "update." + e.Step,
				Target: strings.TrimSpace(e.Version + " " + slotName(e.Slot)), OK: e.OK || updateAlertKinds[e.Step] != "appliance_update_failed",
				Detail: e.Detail}); err != nil {
				d.log.Printf("audit log: %v", err)
			}
		}
		if kind := updateAlertKinds[e.Step]; kind != "" {
			d.engine.Raise(finding.Finding{Key: finding.NewKey(kind, "update", strconv.Itoa(e.Seq)), Time: now, Message: msg})
		}
		seen = e.Seq
	}
	os.MkdirAll(d.spoolDir(), 0o750)
	if err := os.WriteFile(seenPath, []byte(strconv.Itoa(seen)+"\n"), 0o640); err != nil {
		d.log.Printf("update journal position: %v", err)
	}
}

func slotName(s string) string {
	if s == "" {
		return ""
	}
	return "(slot " + s + ")"
}

// updateMessage is the alert text of a journal step.
func updateMessage(e update.Event) string {
	by := ""
	if e.User != "" {
		by = " uploaded by " + e.User
	}
	switch e.Step {
	case update.StepInstalled:
		return fmt.Sprintf("appliance update: %s%s installed on slot %s, replacing %s; rebooting into it: %s", e.Version, by, e.Slot, e.From, e.Detail)
	case update.StepGood:
		return fmt.Sprintf("appliance updated to %s: %s", e.Version, e.Detail)
	case update.StepRefused:
		return fmt.Sprintf("appliance update %s%s refused: %s", e.Version, by, e.Detail)
	case update.StepRolledBack:
		return fmt.Sprintf("appliance rolled back: %s", e.Detail)
	case update.StepTrialFailed:
		return fmt.Sprintf("appliance update %s failed a trial boot: %s", e.Version, e.Detail)
	}
	return fmt.Sprintf("appliance update (%s): %s", strings.ReplaceAll(e.Step, "_", " "), e.Detail)
}
