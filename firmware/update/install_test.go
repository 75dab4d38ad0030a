package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/otwatch/otwatch/firmware/bundle"
	"github.com/otwatch/otwatch/firmware/manifest"
	"github.com/otwatch/otwatch/firmware/slots"
	"github.com/otwatch/otwatch/learning/store"
)

const slotBytes = 256 << 10

type rig struct {
	t       *testing.T
	in      *Installer
	priv    ed25519.PrivateKey
	states  []string
	payload []byte
}

func newRig(t *testing.T) *rig {
	t.Helper()
	dir := t.TempDir()
	kb, err := os.ReadFile("../keys/test-signing.key")
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := manifest.ParsePrivateKey(kb)
	r := &rig{t: t, priv: priv}
	in := &Installer{Dir: filepath.Join(dir, "update"), Spool: filepath.Join(dir, "spool"), Record: filepath.Join(dir, "slots"),
		Roots: [2]string{filepath.Join(dir, "root-a"), filepath.Join(dir, "root-b")}, Running: 0,
		Pub: priv.Public().(ed25519.PublicKey), Arch: "arm64", Epoch: 1000, Version: "v1",
		OnState: func(s, d string) { r.states = append(r.states, s+": "+d) }}
	in.Journal = OpenJournal(filepath.Join(dir, "events.jsonl"), nil)
	os.MkdirAll(in.Dir, 0o755)
	r.payload = bytes.Repeat([]byte("hsqs"), 30000)
	os.WriteFile(in.Roots[0], append(append([]byte(nil), r.payload[:1000]...), make([]byte, slotBytes-1000)...), 0o644)
	os.WriteFile(in.Roots[1], bytes.Repeat([]byte{0xaa}, slotBytes), 0o644)
	rec := slots.Factory("v1", 1000, 1000, sha256.Sum256(r.payload[:1000]))
	f, _ := os.Create(in.Record)
	f.Truncate(2 * slots.CopySize)
	slots.Write(f, &rec, slots.Record{})
	f.Close()
	r.in = in
	return r
}

// bundle writes a bundle of payload with these versions; mutate may change its bytes.
func (r *rig) bundle(version, arch string, epoch string, payload []byte, mutate func(b []byte, payloadAt int64)) []byte {
	dir := r.t.TempDir()
	p := filepath.Join(dir, "root.sqfs")
	os.WriteFile(p, payload, 0o644)
	var out bytes.Buffer
	err := bundle.Create(&out, p, []manifest.Version{{Name: "otwatch", Value: version}, {Name: "arch", Value: arch},
		{Name: "source-date-epoch", Value: epoch}}, nil, r.priv, 1)
	if err != nil {
		r.t.Fatal(err)
	}
	raw := out.Bytes()
	if mutate != nil {
		b, _ := bundle.Open(bytes.NewReader(raw), int64(len(raw)))
		mutate(raw, b.PayloadOffset)
	}
	return raw
}

func (r *rig) upload(raw []byte, meta UploadMeta) {
	r.t.Helper()
	if meta.User == "" {
		meta.User = "admin"
	}
	if _, err := Spool(r.in.Spool, bytes.NewReader(raw), 1<<30, meta, nil); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) files() map[string][]byte {
	out := map[string][]byte{}
	for _, p := range []string{r.in.Record, r.in.Roots[0], r.in.Roots[1]} {
		b, _ := os.ReadFile(p)
		out[p] = b
	}
	return out
}

func (r *rig) events() []Event {
	evs, _ := ReadEvents(r.in.Journal.path, 0)
	return evs
}

func (r *rig) record() slots.Record {
	f, _ := os.Open(r.in.Record)
	defer f.Close()
	rec, err := slots.Read(f)
	if err != nil {
		r.t.Fatal(err)
	}
	return rec
}

func TestInstall(t *testing.T) {
	r := newRig(t)
	r.upload(r.bundle("v2", "arm64", "2000", r.payload, nil), UploadMeta{Addr: "192.0.2.7"})
	if !r.in.Poll() {
		t.Fatalf("no reboot asked; states %v events %+v", r.states, r.events())
	}
	rec := r.record()
	b := rec.Slots[1]
	if b.Version != "v2" || b.Priority != 2 || b.Tries != slots.DefaultTries || b.Good || b.Size != int64(len(r.payload)) {
		t.Fatalf("slot b: %+v", b)
	}
	if s, _ := rec.Choose(); s != 1 || !rec.Slots[0].Good || rec.Slots[0].Priority != 1 {
		t.Fatalf("record %s", rec)
	}
	got, _ := os.ReadFile(r.in.Roots[1])
	if !bytes.Equal(got[:len(r.payload)], r.payload) {
		t.Fatal("slot b does not hold the payload")
	}
	evs := r.events()
	if len(evs) != 2 || evs[0].Step != StepReceived || evs[1].Step != StepInstalled || evs[1].Slot != "b" || evs[1].User != "admin" ||
		evs[1].Version != "v2" || evs[1].From != "v1" || evs[0].Seq != 1 || evs[1].Seq != 2 {
		t.Fatalf("events %+v", evs)
	}
	if !strings.Contains(evs[0].Detail, "192.0.2.7") {
		t.Errorf("received: %s", evs[0].Detail)
	}
	for _, p := range []string{filepath.Join(r.in.Spool, PendingName), filepath.Join(r.in.Dir, StagedName)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
	// a reopened journal goes on numbering
	j := OpenJournal(r.in.Journal.path, nil)
	if e := j.Add(Event{Step: StepGood}); e.Seq != 3 {
		t.Errorf("seq after reopen %d", e.Seq)
	}
}

func TestRefusedLeavesSlotsUntouched(t *testing.T) {
	cases := []struct {
		name, version, arch, epoch string
		payload                    func(r *rig) []byte
		mutate                     func(b []byte, at int64)
		meta                       UploadMeta
		want                       string
	}{
		{name: "payload byte flipped", version: "v2", arch: "arm64", epoch: "2000",
			mutate: func(b []byte, at int64) { b[at+5000] ^= 1 }, want: "tampered"},
		{name: "manifest changed", version: "v2", arch: "arm64", epoch: "2000",
			mutate: func(b []byte, at int64) { i := bytes.Index(b, []byte("otwatch v2")); b[i+9] = '3' }, want: "signature"},
		{name: "other arch", version: "v2", arch: "armv7", epoch: "2000", want: "for armv7"},
		{name: "downgrade", version: "v0", arch: "arm64", epoch: "500", want: "downgrade must be asked for"},
		{name: "too large", version: "v2", arch: "arm64", epoch: "2000",
			payload: func(r *rig) []byte { return make([]byte, slotBytes+1) }, want: "holds"},
		{name: "not a bundle", want: "not a bundle"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			before := r.files()
			var raw []byte
			if c.version == "" {
				raw = bytes.Repeat([]byte("junk"), 1000)
			} else {
				p := r.payload
				if c.payload != nil {
					p = c.payload(r)
				}
				raw = r.bundle(c.version, c.arch, c.epoch, p, c.mutate)
			}
			r.upload(raw, c.meta)
			if r.in.Poll() {
				t.Fatal("reboot asked for a refused bundle")
			}
			after := r.files()
			for p, b := range before {
				if !bytes.Equal(after[p], b) {
					t.Errorf("%s changed", filepath.Base(p))
				}
			}
			evs := r.events()
			last := evs[len(evs)-1]
			if last.Step != StepRefused || last.OK || !strings.Contains(last.Detail, c.want) || !strings.Contains(last.Detail, "both slots are as they were") {
				t.Errorf("last event %+v", last)
			}
			if _, err := os.Stat(filepath.Join(r.in.Dir, StagedName)); err == nil {
				t.Error("refused bundle kept")
			}
			if !strings.HasPrefix(r.states[len(r.states)-1], "refused: ") {
				t.Errorf("states %v", r.states)
			}
		})
	}
	// the downgrade, asked for
	r := newRig(t)
	r.upload(r.bundle("v0", "arm64", "500", r.payload, nil), UploadMeta{AllowDowngrade: true})
	if !r.in.Poll() || r.record().Slots[1].Version != "v0" {
		t.Errorf("explicit downgrade refused: %+v", r.events())
	}
}

func TestInterruptedInstallStartsOver(t *testing.T) {
	r := newRig(t)
	raw := r.bundle("v2", "arm64", "2000", r.payload, nil)
	// as if power failed after PID 1 staged the bundle and began once
	os.WriteFile(filepath.Join(r.in.Dir, StagedName), raw, 0o600)
	os.WriteFile(filepath.Join(r.in.Dir, AttemptName), []byte("1\n"), 0o600)
	if !r.in.Poll() {
		t.Fatalf("not installed: %+v", r.events())
	}
	evs := r.events()
	if evs[0].Step != StepInterrupted || !strings.Contains(evs[0].Detail, "attempt 2 of 3") || evs[1].Step != StepInstalled {
		t.Fatalf("events %+v", evs)
	}
	// a bundle whose installation keeps being cut short is given up
	r = newRig(t)
	os.WriteFile(filepath.Join(r.in.Dir, StagedName), raw, 0o600)
	os.WriteFile(filepath.Join(r.in.Dir, AttemptName), []byte("3\n"), 0o600)
	before := r.files()
	if r.in.Poll() {
		t.Fatal("installed after 3 cut-short attempts")
	}
	if !bytes.Equal(before[r.in.Roots[1]], r.files()[r.in.Roots[1]]) {
		t.Error("slot b written")
	}
	if evs := r.events(); evs[0].Step != StepRefused || !strings.Contains(evs[0].Detail, "giving up") {
		t.Errorf("events %+v", evs)
	}
}

func TestSpool(t *testing.T) {
	dir := t.TempDir()
	refuse := func(string) (UploadMeta, error) { return UploadMeta{}, errors.New("bad signature") }
	if _, err := Spool(dir, strings.NewReader("x"), 100, UploadMeta{User: "a"}, refuse); err == nil {
		t.Fatal("check error ignored")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
	if _, err := Spool(dir, strings.NewReader(strings.Repeat("x", 101)), 100, UploadMeta{}, nil); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Fatalf("over the limit: %v", err)
	}
	ok := func(string) (UploadMeta, error) { return UploadMeta{Version: "v2"}, nil }
	m, err := Spool(dir, strings.NewReader("bundle"), 100, UploadMeta{User: "a", Uploaded: time.Now()}, ok)
	if err != nil || m.Version != "v2" || m.User != "a" || m.Size != 6 {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := Spool(dir, strings.NewReader("bundle"), 100, UploadMeta{}, ok); !errors.Is(err, ErrBusy) {
		t.Fatalf("second upload: %v", err)
	}
}

// TestCheckState: an older version finds a database of a newer schema (the
// version that wrote it was rolled back): it is set aside and the copy
// from before the update comes back; without a copy it is left for otwatch
// to refuse, clearly.
func TestCheckState(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	j := OpenJournal(filepath.Join(dir, "events.jsonl"), nil)
	if got := CheckState(db, dir, j, "v1", os.Getuid()); got != "no state database yet" {
		t.Fatal(got)
	}
	s, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := CheckState(db, dir, j, "v1", os.Getuid()); !strings.Contains(got, "opens cleanly") {
		t.Fatal(got)
	}
	if err := SnapshotState(db, dir); err != nil {
		t.Fatal(err)
	}
	// the newer version migrates it
	bdb, err := bolt.Open(db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	bdb.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("99")) })
	bdb.Close()
	if _, err := store.Open(db); !errors.Is(err, store.ErrSchema) || !strings.Contains(err.Error(), `schema "99", this build reads 1`) {
		t.Fatalf("older binary on a newer schema: %v", err)
	}
	got := CheckState(db, dir, j, "v1", os.Getuid())
	if !strings.Contains(got, "restored") {
		t.Fatal(got)
	}
	if s, err := store.Open(db); err != nil {
		t.Fatalf("restored database: %v", err)
	} else {
		s.Close()
	}
	kept, _ := filepath.Glob(db + ".newer-schema-*")
	if len(kept) != 1 {
		t.Errorf("newer file not kept: %v", kept)
	}
	evs, _ := ReadEvents(j.path, 0)
	if len(evs) != 1 || evs[0].Step != StepStateRestored || !strings.Contains(evs[0].Detail, "incompatible") {
		t.Errorf("events %+v", evs)
	}
	// no snapshot: left alone for otwatch to refuse
	os.Remove(filepath.Join(dir, StatePrefix))
	bdb, _ = bolt.Open(db, 0o600, nil)
	bdb.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("99")) })
	bdb.Close()
	if got := CheckState(db, dir, j, "v1", os.Getuid()); !strings.Contains(got, "no copy from before an update") {
		t.Error(got)
	}
}

// TestNoFollowInTheDaemonsDirectory: PID 1 works as root in directories the
// unprivileged daemon owns; links planted there redirect nothing.
func TestNoFollowInTheDaemonsDirectory(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("root's file"), 0o600)
	db := filepath.Join(dir, "state.db")
	os.Symlink(victim, db)
	j := OpenJournal(filepath.Join(dir, "events.jsonl"), nil)
	if got := CheckState(db, dir, j, "v1", os.Getuid()); !strings.Contains(got, "not a regular file") {
		t.Errorf("CheckState on a link: %s", got)
	}
	if err := SnapshotState(db, dir); err == nil {
		t.Error("SnapshotState followed a link")
	}
	// a planted temporary name does not redirect a write
	target := filepath.Join(dir, "meta")
	os.Symlink(victim, target+".tmp")
	if err := writeSynced(target, []byte("meta"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root's file" {
		t.Errorf("victim overwritten: %q", b)
	}
}

// TestUploadTakenOnce: power fails after PID 1 staged an upload but before
// it removed the daemon's file; the same upload is not installed again.
func TestUploadTakenOnce(t *testing.T) {
	r := newRig(t)
	r.upload(r.bundle("v2", "arm64", "2000", r.payload, nil), UploadMeta{})
	pending := filepath.Join(r.in.Spool, PendingName)
	fi, err := os.Stat(pending)
	if err != nil {
		t.Fatal(err)
	}
	// as if the power failed right after staging: the daemon's file is still there
	os.Link(pending, pending+".kept")
	r.in.take()
	os.Rename(pending+".kept", pending)
	os.Remove(filepath.Join(r.in.Dir, StagedName)) // (installed since)
	if fi2, err := os.Stat(pending); err != nil || uploadKey(fi2) != uploadKey(fi) {
		t.Fatalf("setup: %v", err)
	}
	r.in.take()
	if _, err := os.Stat(pending); err == nil {
		t.Error("the upload already taken is still there")
	}
	if _, err := os.Stat(filepath.Join(r.in.Dir, StagedName)); err == nil {
		t.Error("the upload already taken was staged again")
	}
	// a new upload is taken
	r.upload(r.bundle("v3", "arm64", "2000", r.payload, nil), UploadMeta{})
	r.in.take()
	if _, err := os.Stat(filepath.Join(r.in.Dir, StagedName)); err != nil {
		t.Error("a new upload was not taken")
	}
}
