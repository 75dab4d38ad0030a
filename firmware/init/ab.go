//go:build linux

package main

// A/B: stage 1 chooses the root slot (firmware/slots), stage 2 proves a
// new slot healthy or reboots out of it, installs uploaded bundles
// (firmware/update) and reports every step.

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/firmware/manifest"
	"github.com/otwatch/otwatch/firmware/slots"
	"github.com/otwatch/otwatch/firmware/update"
)

// Environment stage 1 hands to stage 2.
const (
	envSlot  = "OTWATCH_SLOT"  // a or b; absent: not an A/B boot
	envTrial = "OTWATCH_TRIAL" // 1 when the slot is on trial
	envNotes = "OTWATCH_BOOT_NOTES"
)

// Trial: a new slot is marked good once otwatch has run this long without
// exiting and answers /healthz with its capture loop ticking; it is given
// up (reboot: stage 1 tries it again while it has tries, else falls back)
// when otwatch exits this often first, or after trialTimeout.
const (
	healthyFor    = 60 * time.Second
	trialMaxExits = 3
	trialTimeout  = 10 * time.Minute
	pollInterval  = 2 * time.Second
)

// chooseRoot is stage 1's slot choice: it mounts the chosen root on
// /newroot and returns the environment for stage 2.
func chooseRoot(cmd Cmdline) []string {
	if cmd.RootLabel != "" { // otwatch.root=: the operator chose
		mountRootOrDie(cmd.RootLabel)
		return nil
	}
	recDev := waitPartition(slots.PartLabel, 15*time.Second)
	if recDev == "" {
		logf("no partition named %s: an image without A/B slots; booting %s", slots.PartLabel, rootLabel)
		mountRootOrDie(rootLabel)
		return nil
	}
	f, err := os.OpenFile(recDev, os.O_RDWR, 0)
	if err != nil {
		fatal("boot control %s: %v", recDev, err)
	}
	defer f.Close()
	var notes []string
	rec, err := slots.Read(f)
	if err != nil {
		// Never guess a new slot on trial: slot a is what the image was
		// flashed with; if it does not mount either, b is tried.
		notes = append(notes, fmt.Sprintf("%v: a new record says slot a, then b", err))
		logf("boot control: %v: booting slot a (then b)", err)
		rec = slots.Record{Slots: [2]slots.Slot{{Priority: 2, Good: true}, {Priority: 1, Good: true}}}
		if err := slots.Write(f, &rec, slots.Record{}); err != nil {
			logf("boot control: %v", err)
		}
	}
	for attempt := 0; attempt < 2; attempt++ {
		i, ok := rec.Choose()
		if !ok {
			i = lastResort(rec)
			notes = append(notes, fmt.Sprintf("no bootable slot (%s): trying slot %s anyway", rec, slots.Names[i]))
			logf("no bootable slot in %s: trying slot %s anyway", rec, slots.Names[i])
		}
		prev := rec
		trial := rec.StartBoot(i)
		if rec != prev {
			if err := slots.Write(f, &rec, prev); err != nil {
				logf("boot control: %v", err)
			}
		}
		how := "good"
		if trial {
			how = fmt.Sprintf("on trial, %d tries left after this boot", rec.Slots[i].Tries)
		}
		logf("slot %s (%s, %s) chosen; %s", slots.Names[i], orDash(rec.Slots[i].Version), how, rec)
		dev := waitPartition(slots.Label(i), 15*time.Second)
		err := fmt.Errorf("no partition named %s", slots.Label(i))
		if dev != "" {
			err = mountRoot(dev)
		}
		if err == nil {
			env := []string{envSlot + "=" + slots.Names[i]}
			if trial {
				env = append(env, envTrial+"=1")
			}
			if len(notes) > 0 {
				env = append(env, envNotes+"="+strings.Join(notes, " | "))
			}
			return env
		}
		notes = append(notes, fmt.Sprintf("slot %s would not mount (%v): retired", slots.Names[i], err))
		logf("slot %s: %v: not booting it again", slots.Names[i], err)
		prev = rec
		rec.Retire(i)
		slots.Write(f, &rec, prev)
	}
	fatal("neither root slot mounts (%s)", rec)
	return nil
}

// lastResort is the slot to try when the record allows none: one that was
// good once, else a.
func lastResort(r slots.Record) int {
	for i, s := range r.Slots {
		if s.Good && s.Version != "" {
			return i
		}
	}
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mountRootOrDie(label string) {
	dev := waitPartition(label, 15*time.Second)
	if dev == "" {
		fatal("no partition named %s: is the image written to this disk?", label)
	}
	if err := mountRoot(dev); err != nil {
		fatal("root %s: %v", dev, err)
	}
}

// mountRoot mounts dev read-only on /newroot (squashfs, or ext4) and checks
// it holds an init.
func mountRoot(dev string) error {
	var err error
	for _, fs := range []string{"squashfs", "ext4"} {
		if err = doMount(rootMount(dev, fs)); err == nil {
			break
		}
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat("/newroot/sbin/init"); err != nil {
		unmount("/newroot")
		return fmt.Errorf("no /sbin/init: %v", err)
	}
	return nil
}

// ---- stage 2 ----

// updates is stage 2's A/B state.
type updates struct {
	a       *appliance
	running int // -1: not an A/B boot
	trial   bool
	recDev  string
	journal *update.Journal
	inst    *update.Installer
	status  update.Status
}

func buildArch() string {
	if runtime.GOARCH == "arm" {
		return "armv7"
	}
	return runtime.GOARCH
}

// startUpdates runs once /data is mounted: journal, rollback report, the
// database check, the status file, then the trial watch and the installer.
func (a *appliance) startUpdates(version string, epoch int64, dbPath, healthAddr string) {
	u := &updates{a: a, running: -1}
	a.upd = u
	os.MkdirAll(update.Dir, 0o755)
	u.journal = update.OpenJournal(filepath.Join(update.Dir, update.JournalName), logf)
	// the daemon's spool: a real directory, never a link it planted to make
	// PID 1 hand it another directory
	spool := filepath.Join(filepath.Dir(dbPath), "update")
	if fi, err := os.Lstat(spool); err == nil && !fi.IsDir() {
		os.Remove(spool)
	}
	os.MkdirAll(spool, 0o750)
	os.Lchown(spool, otwatchUID, otwatchUID)
	if i, ok := slots.Index(os.Getenv(envSlot)); ok {
		u.running = i
		u.trial = os.Getenv(envTrial) == "1"
		u.recDev = waitPartition(slots.PartLabel, 5*time.Second)
	}
	for _, n := range strings.Split(os.Getenv(envNotes), " | ") {
		if n != "" {
			step := update.StepBootRecord
			if strings.Contains(n, "would not mount") {
				step = update.StepSlotRetired
			}
			u.journal.Add(update.Event{Step: step, Version: version, Detail: n})
		}
	}
	logf("%s", update.CheckState(dbPath, update.Dir, u.journal, version, otwatchUID))
	if u.running < 0 || u.recDev == "" {
		u.setState("unsupported", "this image has no A/B root slots: updates need a re-flash")
		return
	}
	rec, err := u.record()
	if err != nil {
		u.setState("failed", err.Error())
		return
	}
	r, o := u.running, slots.Other(u.running)
	if rec.FailedTrial(o, r) {
		failed := rec.Slots[o]
		u.journal.Add(update.Event{Step: update.StepRolledBack, Version: failed.Version, From: rec.Slots[r].Version, Slot: slots.Names[o],
			Detail: fmt.Sprintf("%s on slot %s did not come up healthy in %d trial boots; back on %s (slot %s), the version that ran before",
				failed.Version, slots.Names[o], slots.DefaultTries, orDash(rec.Slots[r].Version), slots.Names[r])})
		prev := rec
		rec.Retire(o)
		u.writeRecord(&rec, prev)
		u.setState("rolled_back", failed.Version+" failed its trial boots; running "+rec.Slots[r].Version)
	}
	if u.trial {
		u.journal.Add(update.Event{Step: update.StepTrialBoot, OK: true, Version: rec.Slots[r].Version, Slot: slots.Names[r],
			Detail: fmt.Sprintf("booted %s from slot %s on trial (%d boots left after this one): marked good once otwatch runs healthy for %s",
				rec.Slots[r].Version, slots.Names[r], rec.Slots[r].Tries, healthyFor)})
	}
	pub, err := readPublicKey(update.TrustedKeyPath)
	if err != nil {
		u.setState("unsupported", fmt.Sprintf("no trusted update key (%v)", err))
		return
	}
	u.inst = &update.Installer{Dir: update.Dir, Spool: spool, Record: u.recDev, Running: r, Pub: pub, Arch: buildArch(),
		Epoch: epoch, Version: version, Journal: u.journal, OnState: u.setState}
	for i := range u.inst.Roots {
		u.inst.Roots[i] = waitPartition(slots.Label(i), 5*time.Second)
	}
	if u.trial {
		u.setState("trial", fmt.Sprintf("%s on slot %s proves itself: healthy for %s", rec.Slots[r].Version, slots.Names[r], healthyFor))
		go u.watchTrial(healthAddr)
	} else if u.status.State == "" {
		u.setState("idle", "")
	}
	go u.installLoop()
}

func readPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return manifest.ParsePublicKey(b)
}

func (u *updates) record() (slots.Record, error) {
	f, err := os.Open(u.recDev)
	if err != nil {
		return slots.Record{}, err
	}
	defer f.Close()
	return slots.Read(f)
}

func (u *updates) writeRecord(rec *slots.Record, prev slots.Record) {
	f, err := os.OpenFile(u.recDev, os.O_RDWR, 0)
	if err != nil {
		logf("boot control: %v", err)
		return
	}
	defer f.Close()
	if err := slots.Write(f, rec, prev); err != nil {
		logf("boot control: %v", err)
	}
}

// setState updates and writes the status file (what the daemon serves).
func (u *updates) setState(state, detail string) {
	u.a.mu.Lock()
	defer u.a.mu.Unlock()
	u.status.State, u.status.Detail = state, detail
	u.status.Running, u.status.Trial, u.status.Slots = "", u.trial, nil
	if u.running >= 0 {
		u.status.Running = slots.Names[u.running]
		if rec, err := u.record(); err == nil {
			for i, s := range rec.Slots {
				st := update.SlotStatus{Name: slots.Names[i], Version: s.Version, Priority: int(s.Priority), Running: i == u.running}
				switch {
				case s.Priority == 0 && s.Version != "":
					st.State = "retired"
				case s.Priority == 0:
					st.State = "empty"
				case s.Good:
					st.State = "good"
				default:
					st.State, st.Tries = "trial", int(s.Tries)
				}
				u.status.Slots = append(u.status.Slots, st)
			}
		}
	}
	if evs, err := update.ReadEvents(filepath.Join(update.Dir, update.JournalName), 0); err == nil && len(evs) > 0 {
		last := evs[len(evs)-1]
		u.status.Last = &last
	}
	if err := update.WriteStatus(update.StatusPath, u.status); err != nil {
		logf("update status: %v", err)
	}
}

// installLoop installs uploaded bundles, but never while the running slot
// is on trial: the other slot is then the fallback and must stay as it is.
func (u *updates) installLoop() {
	for {
		time.Sleep(pollInterval)
		u.a.mu.Lock()
		stop, trial := u.a.stopping, u.trial
		u.a.mu.Unlock()
		if stop {
			return
		}
		if trial {
			continue
		}
		if u.inst.Poll() {
			u.a.requestReboot("update installed", true)
			return
		}
	}
}

// watchTrial marks the running slot good once otwatch has run healthy for
// healthyFor, or reboots out of it.
func (u *updates) watchTrial(healthAddr string) {
	deadline := time.Now().Add(trialTimeout)
	for {
		time.Sleep(pollInterval)
		a := u.a
		a.mu.Lock()
		stop, started, exits := a.stopping, a.otwatchStarted, a.otwatchExits
		a.mu.Unlock()
		if stop {
			return
		}
		up := time.Since(started)
		if !started.IsZero() && up >= healthyFor {
			if ok, why := healthy(healthAddr); ok {
				rec, err := u.record()
				if err != nil {
					logf("boot control: %v", err)
					continue
				}
				prev := rec
				rec.MarkGood(u.running)
				u.writeRecord(&rec, prev)
				a.mu.Lock()
				u.trial = false
				a.mu.Unlock()
				s := rec.Slots[u.running]
				u.journal.Add(update.Event{Step: update.StepGood, OK: true, Version: s.Version, Slot: slots.Names[u.running],
					Detail: fmt.Sprintf("otwatch %s ran healthy for %s (%s): slot %s marked good, the update is complete; slot %s (%s) stays as the fallback",
						s.Version, up.Round(time.Second), why, slots.Names[u.running], slots.Names[slots.Other(u.running)],
						orDash(rec.Slots[slots.Other(u.running)].Version))})
				u.setState("idle", "")
				return
			} else if a.cmd.Debug {
				logf("trial: %s", why)
			}
		}
		var failed string
		switch {
		case exits >= trialMaxExits:
			failed = fmt.Sprintf("otwatch exited %d times without running healthy for %s", exits, healthyFor)
		case time.Now().After(deadline):
			failed = fmt.Sprintf("otwatch was not healthy within %s", trialTimeout)
		}
		if failed != "" {
			rec, _ := u.record()
			s := rec.Slots[u.running]
			u.journal.Add(update.Event{Step: update.StepTrialFailed, Version: s.Version, Slot: slots.Names[u.running],
				Detail: fmt.Sprintf("%s; rebooting (%d trial boots left, then back to %s)", failed, s.Tries, orDash(rec.Slots[slots.Other(u.running)].Version))})
			u.setState("trial_failed", failed)
			u.a.requestReboot("trial failed", false)
			return
		}
	}
}

// healthy asks otwatch's /healthz: an answer whose capture loop ticks. A
// silent or unplugged monitor port ("degraded") is not the software's
// fault and does not fail a trial.
func healthy(addr string) (bool, string) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if strings.Contains(string(b), "not ticking") || !strings.Contains(string(b), `"status"`) {
		return false, fmt.Sprintf("/healthz %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return true, fmt.Sprintf("/healthz %d", resp.StatusCode)
}

// healthAddr is where otwatch's /healthz answers on this box.
func healthAddr(cfg *config.Config) string {
	listen := config.DefaultListen
	if cfg != nil && cfg.Management.Listen != "" {
		listen = cfg.Management.Listen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "127.0.0.1:9180"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
