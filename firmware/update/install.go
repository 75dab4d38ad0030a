package update

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/otwatch/otwatch/firmware/bundle"
	"github.com/otwatch/otwatch/firmware/manifest"
	"github.com/otwatch/otwatch/firmware/slots"
	"github.com/otwatch/otwatch/learning/store"
)

// MaxAttempts bounds how often one staged bundle is installed again after
// an installation was cut short (a bundle whose installation itself kills
// the box must not loop forever).
const MaxAttempts = 3

// Installer is PID 1's side: it takes uploaded bundles and installs them
// into the slot that is not running. Devices are paths: block devices on
// the appliance, plain files in the tests.
type Installer struct {
	Dir     string    // PID 1's directory (Dir on the appliance)
	Spool   string    // the daemon's spool directory
	Record  string    // the otwatch-slots partition
	Roots   [2]string // otwatch-root-a, otwatch-root-b
	Running int       // the slot booted
	Pub     ed25519.PublicKey
	Arch    string // arm64, armv7
	Epoch   int64  // the running build's SOURCE_DATE_EPOCH
	Version string // the running otwatch version
	Journal *Journal
	// OnState is told the installer's state: installing, refused,
	// rebooting, failed (with a detail for the operator).
	OnState func(state, detail string)
	Tries   uint8 // boots a new slot gets; 0 means slots.DefaultTries
}

func (in *Installer) state(s, detail string) {
	if in.OnState != nil {
		in.OnState(s, detail)
	}
}

// Poll takes a pending upload if there is one and installs a staged
// bundle. reboot is true when a new slot was written and the box must
// boot into it.
func (in *Installer) Poll() (reboot bool) {
	in.take()
	if _, err := os.Stat(filepath.Join(in.Dir, StagedName)); err != nil {
		return false
	}
	return in.install()
}

// take moves the daemon's pending upload into PID 1's directory by
// copying it: the daemon owns the spool file and could still change it
// through an open descriptor, it cannot change root's copy.
func (in *Installer) take() {
	pending := filepath.Join(in.Spool, PendingName)
	fi, err := os.Lstat(pending)
	if err != nil {
		return
	}
	var meta UploadMeta
	if b, err := readSmall(filepath.Join(in.Spool, PendingMeta), 64<<10); err == nil {
		json.Unmarshal(b, &meta)
	}
	drop := func() {
		os.Remove(pending)
		os.Remove(filepath.Join(in.Spool, PendingMeta))
	}
	if !fi.Mode().IsRegular() {
		drop()
		in.refuse(meta, "the uploaded bundle is not a regular file")
		return
	}
	// the upload already taken (a power cut between staging and removing
	// it) is removed, not installed twice
	key := uploadKey(fi)
	if b, err := readSmall(filepath.Join(in.Dir, TakenName), 256); err == nil && string(b) == key {
		drop()
		return
	}
	if _, err := os.Stat(filepath.Join(in.Dir, StagedName)); err == nil {
		return // one at a time: the staged one is installed first
	}
	if err := os.MkdirAll(in.Dir, 0o755); err != nil {
		in.state("failed", err.Error())
		return
	}
	src, err := os.OpenFile(pending, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		drop()
		in.refuse(meta, "opening the upload: "+err.Error())
		return
	}
	staged := filepath.Join(in.Dir, StagedName)
	tmp := staged + ".tmp"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		var n int64
		n, err = io.Copy(dst, io.LimitReader(src, bundle.MaxPayload+bundle.MaxManifest+1<<20))
		if err == nil {
			err = dst.Sync()
		}
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		meta.Size = n
	}
	src.Close()
	if err == nil {
		b, _ := json.Marshal(meta)
		err = writeSynced(filepath.Join(in.Dir, StagedMeta), b, 0o600)
	}
	if err == nil {
		err = writeSynced(filepath.Join(in.Dir, TakenName), []byte(key), 0o600)
	}
	if err == nil {
		os.Remove(filepath.Join(in.Dir, AttemptName))
		err = os.Rename(tmp, staged)
		syncDir(in.Dir)
	}
	if err != nil {
		os.Remove(tmp)
		in.state("failed", "copying the upload: "+err.Error())
		return // the pending file stays: the next poll tries again
	}
	drop()
	in.Journal.Add(Event{Step: StepReceived, OK: true, Version: meta.Version, From: in.Version, User: meta.User,
		Detail: fmt.Sprintf("%d bytes uploaded by %s from %s at %s; verifying", meta.Size, orUnknown(meta.User), orUnknown(meta.Addr),
			meta.Uploaded.UTC().Format(time.RFC3339))})
}

// uploadKey names one upload file: inode, size, modification time.
func uploadKey(fi os.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprintf("%d %d %d", ino, fi.Size(), fi.ModTime().UnixNano())
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

func readSmall(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

func (in *Installer) stagedMeta() UploadMeta {
	var meta UploadMeta
	if b, err := readSmall(filepath.Join(in.Dir, StagedMeta), 64<<10); err == nil {
		json.Unmarshal(b, &meta)
	}
	return meta
}

func (in *Installer) clearStaged() {
	for _, n := range []string{StagedName, StagedMeta, AttemptName} {
		os.Remove(filepath.Join(in.Dir, n))
	}
	syncDir(in.Dir)
}

func (in *Installer) refuse(meta UploadMeta, why string) {
	in.Journal.Add(Event{Step: StepRefused, Version: meta.Version, From: in.Version, User: meta.User,
		Detail: why + "; nothing was written: both slots are as they were"})
	in.state("refused", why)
}

// install verifies the staged bundle completely before the inactive slot
// is touched, then writes it, reads it back and flips the record.
func (in *Installer) install() (reboot bool) {
	meta := in.stagedMeta()
	attempts := 1
	if b, err := readSmall(filepath.Join(in.Dir, AttemptName), 64); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			attempts = n + 1
		}
	}
	if attempts > MaxAttempts {
		in.clearStaged()
		in.Journal.Add(Event{Step: StepRefused, Version: meta.Version, From: in.Version, User: meta.User,
			Detail: fmt.Sprintf("the installation was cut short %d times; giving up (upload the bundle again to retry)", MaxAttempts)})
		in.state("failed", "installation cut short too often")
		return false
	}
	writeSynced(filepath.Join(in.Dir, AttemptName), []byte(strconv.Itoa(attempts)+"\n"), 0o600)
	if attempts > 1 {
		in.Journal.Add(Event{Step: StepInterrupted, Version: meta.Version, From: in.Version, User: meta.User,
			Detail: fmt.Sprintf("an installation of this bundle was cut short (power loss or reset); starting over, attempt %d of %d", attempts, MaxAttempts)})
	}
	in.state("installing", "verifying "+meta.Version)
	refuse := func(why string) bool {
		in.clearStaged()
		in.refuse(meta, why)
		return false
	}
	b, f, err := bundle.OpenFile(filepath.Join(in.Dir, StagedName))
	if err != nil {
		return refuse(err.Error())
	}
	defer f.Close()
	info, err := b.Verify(in.Pub)
	if err != nil {
		return refuse(err.Error())
	}
	meta.Version = info.Version
	if info.Arch != in.Arch {
		return refuse(fmt.Sprintf("the bundle is for %s, this appliance is %s", info.Arch, in.Arch))
	}
	if info.Epoch < in.Epoch && !meta.AllowDowngrade {
		return refuse(fmt.Sprintf("%s was built %s, before the running %s (%s): a downgrade must be asked for explicitly (allow_downgrade)",
			info.Version, time.Unix(info.Epoch, 0).UTC().Format(time.RFC3339), in.Version, time.Unix(in.Epoch, 0).UTC().Format(time.RFC3339)))
	}
	target := slots.Other(in.Running)
	room, err := deviceSize(in.Roots[target])
	if err != nil {
		return refuse(fmt.Sprintf("slot %s: %v", slots.Names[target], err))
	}
	if info.Size > room {
		return refuse(fmt.Sprintf("the root file system is %d bytes, slot %s holds %d", info.Size, slots.Names[target], room))
	}
	// the payload's digest, from root's own copy, before any write
	if err := bundle.PayloadSum(b.Payload(), nil, info); err != nil {
		return refuse(err.Error())
	}
	recDev, err := os.OpenFile(in.Record, os.O_RDWR, 0)
	if err != nil {
		return refuse("boot control partition: " + err.Error())
	}
	defer recDev.Close()
	rec, err := slots.Read(recDev)
	if err != nil {
		return refuse("boot control record: " + err.Error())
	}
	prev := rec
	rec.BeginInstall(target)
	if err := slots.Write(recDev, &rec, prev); err != nil {
		return refuse(err.Error())
	}
	in.state("installing", fmt.Sprintf("writing %s into slot %s", info.Version, slots.Names[target]))
	if err := writeSlot(in.Roots[target], b, info); err != nil {
		// the slot stays at priority 0: never booted
		return refuse(fmt.Sprintf("writing slot %s: %v", slots.Names[target], err))
	}
	sum, _, err := manifest.HashFile(in.Roots[target], 0, info.Size)
	if err != nil || sum != info.SHA256 {
		return refuse(fmt.Sprintf("slot %s read back differs from what was written (%v): the storage may be failing", slots.Names[target], err))
	}
	prev = rec
	rec.FinishInstall(target, slots.Slot{Version: info.Version, Epoch: info.Epoch, Size: info.Size, SHA256: info.SHA256}, in.tries())
	if err := slots.Write(recDev, &rec, prev); err != nil {
		return refuse(err.Error())
	}
	in.clearStaged()
	in.Journal.Add(Event{Step: StepInstalled, OK: true, Version: info.Version, From: in.Version, Slot: slots.Names[target], User: meta.User,
		Detail: fmt.Sprintf("signature and SHA-256 %s… checked; %d bytes written into slot %s and read back; rebooting into it on trial (%d boots to come up healthy, else back to %s)",
			hex.EncodeToString(info.SHA256[:6]), info.Size, slots.Names[target], in.tries(), in.Version)})
	in.state("rebooting", "into "+info.Version+" on slot "+slots.Names[target])
	return true
}

func (in *Installer) tries() uint8 {
	if in.Tries == 0 {
		return slots.DefaultTries
	}
	return in.Tries
}

func writeSlot(dev string, b *bundle.Bundle, info *bundle.Info) error {
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := bundle.PayloadSum(b.Payload(), f, info); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func deviceSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Seek(0, io.SeekEnd)
}

// SnapshotState copies the database (otwatch stopped) before the box
// reboots into a new version: if that version migrates it to a schema the
// previous one cannot read and is then rolled back, the copy is restored.
func SnapshotState(db, dir string) error {
	src, err := os.OpenFile(db, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	defer src.Close()
	tmp := filepath.Join(dir, StatePrefix+".tmp")
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	err = os.Rename(tmp, filepath.Join(dir, StatePrefix))
	syncDir(dir)
	return err
}

// CheckState opens the database the way otwatch will (learning/store, of
// this build's schema) and closes it again. A database of a newer schema
// (written by a version that was then rolled back) is replaced by the
// snapshot taken before that update, when there is one; the newer file is
// kept beside it. uid is given the restored file. It returns what it
// found, for the console.
func CheckState(db, dir string, j *Journal, version string, uid int) string {
	fi, err := os.Lstat(db)
	if err != nil {
		return "no state database yet"
	}
	if !fi.Mode().IsRegular() {
		// the daemon's directory: root opens no link planted there
		return fmt.Sprintf("state database %s is not a regular file (%s): not opened", db, fi.Mode().Type())
	}
	s, err := store.Open(db)
	if err == nil {
		s.Close()
		return "state database " + db + " opens cleanly (schema " + strconv.Itoa(store.SchemaVersion) + ")"
	}
	if !errors.Is(err, store.ErrSchema) {
		return fmt.Sprintf("state database: %v (otwatch will report it)", err)
	}
	snap := filepath.Join(dir, StatePrefix)
	if _, serr := os.Stat(snap); serr != nil {
		return fmt.Sprintf("state database: %v; no copy from before an update to go back to (otwatch will refuse it)", err)
	}
	if s2, serr := store.Open(snap); serr != nil {
		return fmt.Sprintf("state database: %v; the copy from before the update is not readable either: %v", err, serr)
	} else {
		s2.Close()
	}
	newer := db + ".newer-schema-" + time.Now().UTC().Format("20060102T150405Z")
	if rerr := os.Rename(db, newer); rerr != nil {
		return fmt.Sprintf("state database: %v; keeping it aside failed: %v", err, rerr)
	}
	if cerr := copyFile(snap, db, 0o600); cerr != nil {
		os.Rename(newer, db)
		return fmt.Sprintf("state database: restoring the copy failed: %v", cerr)
	}
	os.Lchown(db, uid, uid)
	os.Lchown(newer, uid, uid)
	j.Add(Event{Step: StepStateRestored, OK: true, Version: version,
		Detail: fmt.Sprintf("%v; restored the copy taken before the update (what was learned since is lost); the newer file is kept as %s", err, filepath.Base(newer))})
	return "state database restored from the copy taken before the update"
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeSynced(dst, b, mode)
}
