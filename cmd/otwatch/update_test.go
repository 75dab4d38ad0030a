package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/firmware/bundle"
	"github.com/otwatch/otwatch/firmware/manifest"
	"github.com/otwatch/otwatch/firmware/slots"
	"github.com/otwatch/otwatch/firmware/update"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/ui"
)

// TestUpdatePath: `otwatch update` uploads a bundle to the daemon's
// dashboard API over TLS pinned by fingerprint; the daemon checks its
// signature and stores it; the installer (PID 1's code, on files here)
// installs it; the daemon relays the installer's steps to the audit log
// and as alerts. A bundle signed by another key is refused at upload.
func TestUpdatePath(t *testing.T) {
	dir := t.TempDir()
	kb, err := os.ReadFile("../../firmware/keys/test-signing.key")
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := manifest.ParsePrivateKey(kb)
	pubText, _ := os.ReadFile("../../firmware/keys/test-signing.pub")
	updateKeyPath = filepath.Join(dir, "update.pub")
	os.WriteFile(updateKeyPath, pubText, 0o644)
	updateStatusPath = filepath.Join(dir, "status.json")
	updateJournal = filepath.Join(dir, "root", update.JournalName)
	defer func() {
		updateStatusPath, updateJournal, updateKeyPath = update.StatusPath, filepath.Join(update.Dir, update.JournalName), update.TrustedKeyPath
	}()
	update.WriteStatus(updateStatusPath, update.Status{Running: "a", State: "idle"})

	cfg := config.Default()
	cfg.Database.Path = filepath.Join(dir, "otwatch", "state.db")
	var raised []*alerts.Alert
	d := &daemon{cfg: cfg, log: log.New(io.Discard, "", 0)}
	d.engine = alerts.NewEngine(alerts.Config{}, baseline.New(baseline.Config{}), func(a *alerts.Alert) { raised = append(raised, a) })
	b := &dashboardBackend{d: d, store: ui.NewAlertStore(0)}
	srv, err := ui.New(ui.Config{Logf: func(string, ...any) {}}, b)
	if err != nil {
		t.Fatal(err)
	}
	d.dashboard = srv
	srv.Auth().CreateUser("admin", "correct horse battery", ui.RoleAdmin)
	tok, _, err := srv.Auth().CreateToken("admin", "release-bot")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv.Handler())
	defer ts.Close()
	fp := sha256.Sum256(ts.Certificate().Raw)
	os.Setenv("OTWATCH_TOKEN", tok)
	defer os.Unsetenv("OTWATCH_TOKEN")

	payload := bytes.Repeat([]byte("hsqs"), 20000)
	mk := func(name string, key ed25519.PrivateKey, arch string) string {
		p := filepath.Join(dir, name+".sqfs")
		os.WriteFile(p, payload, 0o644)
		out := filepath.Join(dir, name+".otwb")
		f, _ := os.Create(out)
		defer f.Close()
		if err := bundle.Create(f, p, []manifest.Version{{Name: "otwatch", Value: name}, {Name: "arch", Value: arch},
			{Name: "source-date-epoch", Value: "2000"}}, nil, key, 2000); err != nil {
			t.Fatal(err)
		}
		return out
	}
	var stdout, stderr bytes.Buffer
	run := func(args ...string) int {
		stdout.Reset()
		stderr.Reset()
		return cmdUpdate(append([]string{"--url", ts.URL, "--fingerprint", strings.ToUpper(string(hexColons(fp[:])))}, args...), &stdout, &stderr)
	}
	// a wrong pin: nothing is sent
	if code := cmdUpdate([]string{"--url", ts.URL, "--fingerprint", strings.Repeat("ab", 32), mk("v2", priv, runtimeArch())}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "not the one given with --fingerprint") {
		t.Fatalf("wrong pin: %d %s", code, stderr.String())
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	if code := run(mk("v2-other-key", other, runtimeArch())); code != 1 || !strings.Contains(stderr.String(), "signature") {
		t.Fatalf("other key: %d %s", code, stderr.String())
	}
	if code := run(mk("v2-other-arch", priv, "mips")); code != 1 || !strings.Contains(stderr.String(), "the bundle is for mips") {
		t.Fatalf("other arch: %d %s", code, stderr.String())
	}
	if code := run("--pubkey", "../../firmware/keys/test-signing.pub", mk("v2", priv, runtimeArch())); code != 0 {
		t.Fatalf("upload: %d %s %s", code, stdout.String(), stderr.String())
	}
	spooled := filepath.Join(d.spoolDir(), update.PendingName)
	if fi, err := os.Stat(spooled); err != nil || fi.Size() < int64(len(payload)) {
		t.Fatalf("not spooled: %v", err)
	}
	if code := run(mk("v3", priv, runtimeArch())); code != 1 || !strings.Contains(stderr.String(), "already waiting") {
		t.Fatalf("second upload while one waits: %d %s", code, stderr.String())
	}
	if code := run("--status"); code != 0 || !strings.Contains(stdout.String(), "state idle") {
		t.Fatalf("status: %s %s", stdout.String(), stderr.String())
	}

	// PID 1's side, on files
	roots := [2]string{filepath.Join(dir, "root-a"), filepath.Join(dir, "root-b")}
	for _, r := range roots {
		os.WriteFile(r, make([]byte, 1<<20), 0o644)
	}
	recPath := filepath.Join(dir, "slots")
	rf, _ := os.Create(recPath)
	rf.Truncate(2 * slots.CopySize)
	rec := slots.Factory("v1", 1000, 10, [32]byte{})
	slots.Write(rf, &rec, slots.Record{})
	rf.Close()
	in := &update.Installer{Dir: filepath.Join(dir, "root"), Spool: d.spoolDir(), Record: recPath, Roots: roots, Running: 0,
		Pub: priv.Public().(ed25519.PublicKey), Arch: runtimeArch(), Epoch: 1000, Version: "v1",
		Journal: update.OpenJournal(updateJournal, nil)}
	os.MkdirAll(in.Dir, 0o755)
	if !in.Poll() {
		evs, _ := update.ReadEvents(updateJournal, 0)
		t.Fatalf("not installed: %+v", evs)
	}
	// the two refused uploads were alerted by the daemon itself
	if len(raised) != 2 || raised[0].Kind != "appliance_update_failed" || !strings.Contains(raised[0].Message, "v2-other-key uploaded by admin from 127.0.0.1 refused: bundle: signature") {
		t.Fatalf("alerts for refused uploads %+v", raised)
	}
	raised = nil
	d.updates.relay(d, time.Now())
	if len(raised) != 2 || raised[1].Kind != "appliance_update" || !strings.Contains(raised[1].Message, "v2 uploaded by admin installed on slot b") ||
		raised[0].Kind != "appliance_update" || !strings.Contains(raised[0].Message, "received") {
		t.Fatalf("alerts %+v", raised)
	}
	// the uploads (refused ones too) and the installer's steps are in the audit log
	cl, _ := updateClient(string(hexColons(fp[:])), "", false)
	var audit []ui.AuditEntry
	if err := (&apiClient{base: ts.URL, token: tok, http: cl}).getJSON("/api/audit", &audit); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(audit) - 1; i >= 0; i-- {
		got = append(got, audit[i].User+" "+audit[i].Action+" "+audit[i].Target)
	}
	want := "admin update.upload v2-other-key|admin update.upload v2-other-arch|admin update.upload v2|admin update.upload " +
		"|system update.received v2|system update.installed v2 (slot b)"
	if strings.Join(got, "|") != want {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	// a restart of the daemon does not relay the same steps again
	d.updates = updateRelay{}
	d.updates.relay(d, time.Now())
	if len(raised) != 2 {
		t.Errorf("relayed again after a restart: %d alerts", len(raised))
	}
	if b.UpdateState().Pending {
		t.Error("still pending after the installer took it")
	}
}

func hexColons(b []byte) []byte {
	var out []byte
	const digits = "0123456789abcdef"
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&15])
	}
	return out
}

// TestOlderBinaryRefusesNewerSchema: after a rollback, this (older) build
// meets a database a newer version migrated: it refuses it with a message
// that says so, and leaves the file as it is.
func TestOlderBinaryRefusesNewerSchema(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	s, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	bdb, err := bolt.Open(db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	newer := strconv.Itoa(store.SchemaVersion + 1)
	bdb.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte(newer)) })
	bdb.Close()
	before, _ := os.ReadFile(db)
	var stdout, stderr bytes.Buffer
	code := cmdAlerts([]string{"list", "--db", db}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), `schema "`+newer+`", this build reads`) || !strings.Contains(stderr.String(), "written by an incompatible otwatch version") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Error("the newer database was changed")
	}
}
