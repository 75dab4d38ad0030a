package boottest

// The A/B update path on a booted image (arm64 by default,
// OTWATCH_UPDATE_ARCH=armv7 for the other):
//
//   - TestUpdate: v1 boots; v2 is uploaded with `otwatch update` and runs,
//     marked good; a tampered v2 is refused with both slots untouched; a v3
//     whose otwatch exits at start is installed, fails its trial boots and
//     the box comes back on v2 by itself; the database's baseline keys are
//     counted before and after each step; the audit log and the alerts
//     hold every step.
//   - TestPowerCuts: qemu killed at random moments, while booting, running
//     and updating; every boot must come up on a good slot with the
//     database opening cleanly. OTWATCH_POWER_CUTS sets how many (CI runs a
//     few; `make image-powercut` runs 50).
//
// The v2/v3 bundles are made here from the image's own root tree
// (dist/build-ARCH/rootfs): v2 with an otwatch built with another version
// string, v3 with an otwatch that exits at once.

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/firmware/bundle"
	"github.com/otwatch/otwatch/firmware/manifest"
)

type updateRig struct {
	t        *testing.T
	m        machine
	dir      string // dist
	img      string // the test's copy of the image
	sink     *net.UDPConn
	version  string // v1's version (the image's)
	epoch    string
	v2, v3   string // bundle paths
	v2Ver    string
	v3Ver    string
	v4       string // TestSchemaRollback's bundle (this tree's init and otwatch, stopped after 8 s)
	v4Ver    string
	tampered string
	otwatch  string // otwatch for this machine (the client)
	captures []string
}

func updateArch() machine {
	return machines[env("OTWATCH_UPDATE_ARCH", "arm64")]
}

func newUpdateRig(t *testing.T) *updateRig {
	if os.Getenv("OTWATCH_IMAGE_TEST") != "1" {
		t.Skip("set OTWATCH_IMAGE_TEST=1 to boot the images under qemu (after firmware/build-image.sh)")
	}
	m := updateArch()
	r := &updateRig{t: t, m: m, dir: env("OTWATCH_IMAGE_DIR", "../../dist")}
	if _, err := exec.LookPath(m.qemu); err != nil {
		t.Fatalf("%s not installed (Debian: qemu-system-arm)", m.qemu)
	}
	src := filepath.Join(r.dir, "otwatch-"+m.arch+".img")
	mtext, err := os.ReadFile(src + ".manifest")
	if err != nil {
		t.Fatalf("%v: run firmware/build-image.sh (make image) first", err)
	}
	mf, err := manifest.Parse(mtext)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range mf.Versions {
		switch v.Name {
		case "otwatch":
			r.version = v.Value
		case "source-date-epoch":
			r.epoch = v.Value
		}
	}
	corpus := env("OTWATCH_CORPUS", "../../../shared/corpus")
	r.captures = []string{filepath.Join(corpus, "OISF__suricata-verify/tests/modbus/modbus.pcap"),
		filepath.Join(corpus, "cisagov__icsnpp-s7comm/tests/traces/snap7.pcap")}
	for _, c := range r.captures {
		if _, err := os.Stat(c); err != nil {
			t.Skipf("corpus capture missing: %v", err)
		}
	}
	work := t.TempDir()
	r.img = filepath.Join(work, "otwatch.img")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.img, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(r.img, int64(len(b))+128<<20)
	r.sink, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.sink.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := r.sink.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	// the bundles are made once for every test of the run
	if shared.v2 == "" {
		dir, err := os.MkdirTemp("", "otwatch-bundles-")
		if err != nil {
			t.Fatal(err)
		}
		sharedDir = dir
		r.makeBundles(dir)
		shared = *r
	}
	r.v2, r.v3, r.v2Ver, r.v3Ver, r.tampered, r.otwatch = shared.v2, shared.v3, shared.v2Ver, shared.v3Ver, shared.tampered, shared.otwatch
	r.v4, r.v4Ver = shared.v4, shared.v4Ver
	return r
}

// shared holds the bundles made by the first test that needed them;
// TestMain removes sharedDir.
var (
	shared    updateRig
	sharedDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// makeBundles builds v2 (another otwatch version string), v3 (an otwatch
// that exits at once) and a tampered v2 (one payload byte flipped).
func (r *updateRig) makeBundles(work string) {
	t := r.t
	tree := filepath.Join(r.dir, "build-"+r.m.arch, "rootfs")
	if _, err := os.Stat(filepath.Join(tree, "usr/bin/otwatch")); err != nil {
		t.Fatalf("the image's root tree %s is missing (made by firmware/build-image.sh): %v", tree, err)
	}
	if _, err := exec.LookPath("mksquashfs"); err != nil {
		t.Fatal("mksquashfs missing (Debian: squashfs-tools)")
	}
	kb, err := os.ReadFile("../keys/test-signing.key")
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := manifest.ParsePrivateKey(kb)
	goarch, goarm := map[string][2]string{"arm64": {"arm64", ""}, "armv7": {"arm", "7"}}[r.m.arch][0], map[string]string{"armv7": "7"}[r.m.arch]
	build := func(out, version, goos, goarch, goarm string) {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", out, "../../cmd/otwatch")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOARM="+goarm)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
	}
	mk := func(name, version string, otwatch func(dst string)) string {
		root := filepath.Join(work, name)
		if b, err := exec.Command("cp", "-a", tree, root).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, b)
		}
		os.Remove(filepath.Join(root, "usr/bin/otwatch"))
		otwatch(filepath.Join(root, "usr/bin/otwatch"))
		os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("NAME=otwatch\nID=otwatch\nVERSION_ID="+version+"\n"), 0o644)
		sq := filepath.Join(work, name+".sqfs")
		if b, err := exec.Command("mksquashfs", root, sq, "-comp", "xz", "-all-root", "-no-xattrs", "-noappend", "-quiet", "-no-progress").CombinedOutput(); err != nil {
			t.Fatalf("mksquashfs: %v %s", err, b)
		}
		out := filepath.Join(work, name+".otwb")
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ep, _ := strconv.ParseInt(r.epoch, 10, 64)
		if err := bundle.Create(f, sq, []manifest.Version{{Name: "otwatch", Value: version}, {Name: "arch", Value: r.m.arch},
			{Name: "source-date-epoch", Value: r.epoch}}, map[string]string{"rootfs": root}, priv, ep); err != nil {
			t.Fatal(err)
		}
		return out
	}
	r.v2Ver, r.v3Ver = r.version+"-v2", r.version+"-v3-broken"
	r.v2 = mk("v2", r.v2Ver, func(dst string) { build(dst, r.v2Ver, "linux", goarch, goarm) })
	r.v3 = mk("v3", r.v3Ver, func(dst string) {
		os.WriteFile(dst, []byte("#!/bin/sh\necho 'otwatch "+r.v3Ver+": this build exits at start (rollback test)' >&2\nexit 1\n"), 0o755)
	})
	if os.Getenv("OTWATCH_SCHEMA_ROLLBACK_TEST") == "1" {
		r.v4Ver = r.version + "-v4-migrates-then-fails"
		r.v4 = mk("v4", r.v4Ver, func(dst string) {
			// this tree's init and otwatch, as a release would ship them
			root := filepath.Dir(filepath.Dir(filepath.Dir(dst)))
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.buildEpoch="+r.epoch+" -X main.version="+r.v4Ver,
				"-o", filepath.Join(root, "sbin/init"), "../init")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOARM="+goarm)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build init: %v\n%s", err, b)
			}
			build(dst+".real", r.v4Ver, "linux", goarch, goarm)
			os.WriteFile(dst, []byte("#!/bin/sh\n# this tree's otwatch (it migrates the database) for 8 s, then a failure\n"+
				"/bin/busybox timeout 8 /usr/bin/otwatch.real \"$@\"\necho 'otwatch "+r.v4Ver+": stopped on purpose (schema rollback test)' >&2\nexit 1\n"), 0o755)
		})
	}
	raw, _ := os.ReadFile(r.v2)
	b, err := bundle.Open(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	raw[b.PayloadOffset+b.PayloadSize/2] ^= 0x01
	r.tampered = filepath.Join(work, "v2-tampered.otwb")
	os.WriteFile(r.tampered, raw, 0o644)
	r.otwatch = filepath.Join(work, "otwatch-host")
	build(r.otwatch, "test-client", "linux", "amd64", "")
	if out, err := exec.Command("go", "env", "GOHOSTARCH").Output(); err == nil && strings.TrimSpace(string(out)) != "amd64" {
		build(r.otwatch, "test-client", "linux", strings.TrimSpace(string(out)), "")
	}
}

// session is a logged-in dashboard client of one boot.
type session struct {
	t     *testing.T
	base  string
	c     *http.Client
	csrf  string
	token string // an admin API token, for otwatch update
}

func dashClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the appliance's self-signed certificate (pinned by otwatch update below)
}

func (s *session) call(method, path string, body io.Reader, ctype string) (int, []byte) {
	req, _ := http.NewRequest(method, s.base+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if s.csrf != "" {
		req.Header.Set("X-CSRF-Token", s.csrf)
	}
	resp, err := s.c.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (s *session) getJSON(path string, out any) int {
	code, b := s.call("GET", path, nil, "")
	if code == 200 {
		json.Unmarshal(b, out)
	}
	return code
}

const testUser, testPass = "admin", "boot-test-password-1"

// login waits for the dashboard, creates the admin with the setup token
// (first boot) and logs in.
func (v *vm) login(setupToken string) *session {
	s := &session{t: v.t, base: "https://" + v.dash, c: dashClient()}
	for i := 0; ; i++ {
		resp, err := s.c.Get(s.base + "/api/login")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 120 {
			v.t.Fatalf("dashboard not answering: %v", err)
		}
		time.Sleep(time.Second)
	}
	pre := func(path string) {
		var m map[string]any
		s.getJSON(path, &m)
		s.csrf, _ = m["csrf"].(string)
	}
	if setupToken != "" {
		pre("/api/setup")
		b, _ := json.Marshal(map[string]string{"token": setupToken, "user": testUser, "password": testPass})
		if code, raw := s.call("POST", "/api/setup", bytes.NewReader(b), "application/json"); code != 201 {
			v.t.Fatalf("setup: %d %s", code, raw)
		}
	}
	pre("/api/login")
	b, _ := json.Marshal(map[string]string{"user": testUser, "password": testPass})
	code, raw := s.call("POST", "/api/login", bytes.NewReader(b), "application/json")
	if code != 200 {
		v.t.Fatalf("login: %d %s", code, raw)
	}
	var sess map[string]any
	json.Unmarshal(raw, &sess)
	s.csrf, _ = sess["csrf"].(string)
	return s
}

func (s *session) newToken() string {
	code, raw := s.call("POST", "/api/tokens", strings.NewReader(`{"name":"update-test-`+strconv.FormatInt(time.Now().UnixNano(), 36)+`"}`), "application/json")
	if code != 201 {
		s.t.Fatalf("token: %d %s", code, raw)
	}
	var tok struct{ Token string }
	json.Unmarshal(raw, &tok)
	return tok.Token
}

type updState struct {
	Supported bool   `json:"supported"`
	State     string `json:"state"`
	Detail    string `json:"detail"`
	Running   string `json:"running"`
	Trial     bool   `json:"trial"`
	Slots     []struct {
		Name, Version, State string
		Running              bool
	} `json:"slots"`
	Last *struct{ Step, Version, Detail string } `json:"last_step"`
}

type health struct {
	Version string `json:"version"`
	Slot    string `json:"slot"`
}

// waitFor polls the dashboard (through reboots) until ok says yes.
func (r *updateRig) waitFor(v *vm, what string, timeout time.Duration, ok func(h health, u updState) bool) (health, updState) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		s := &session{t: r.t, base: "https://" + v.dash, c: dashClient()}
		if v.sess != nil {
			s = v.sess
		}
		var h health
		var u updState
		if s.getJSON("/api/health", &h) == 200 && s.getJSON("/api/system/update", &u) == 200 && ok(h, u) {
			return h, u
		}
		if s.getJSON("/api/health", &h) == 401 && v.sess != nil { // a reboot: sessions survive, but be safe
			v.sess = v.login("")
		}
		time.Sleep(2 * time.Second)
	}
	r.t.Fatalf("%s: not within %s; console tail:\n%s", what, timeout, tail(v.console.String(), 60))
	return health{}, updState{}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// partitions returns the image's GPT partitions by name: offset and size in bytes.
func partitions(t *testing.T, img string) map[string][2]int64 {
	out, err := exec.Command("sfdisk", "-J", img).Output()
	if err != nil {
		t.Fatalf("sfdisk -J: %v", err)
	}
	var doc struct {
		Partitiontable struct {
			Sectorsize int64 `json:"sectorsize"`
			Partitions []struct {
				Start, Size int64
				Name        string
			}
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	ss := doc.Partitiontable.Sectorsize
	if ss == 0 {
		ss = 512
	}
	m := map[string][2]int64{}
	for _, p := range doc.Partitiontable.Partitions {
		m[p.Name] = [2]int64{p.Start * ss, p.Size * ss}
	}
	return m
}

func regionSum(t *testing.T, img string, r [2]int64) [32]byte {
	s, _, err := manifest.HashFile(img, r[0], r[1])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (r *updateRig) upload(v *vm, s *session, file string, wait bool) (int, string) {
	args := []string{"update", "--url", "https://" + v.dash, "--fingerprint", v.fingerprint()}
	if wait {
		args = append(args, "--wait", "8m")
	}
	cmd := exec.Command(r.otwatch, append(args, file)...)
	cmd.Env = append(os.Environ(), "OTWATCH_TOKEN="+s.token)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return code, string(out)
}

// fingerprint is the SHA-256 of the dashboard's certificate (what an
// operator pins with otwatch update --fingerprint).
func (v *vm) fingerprint() string {
	conn, err := tls.Dial("tcp", v.dash, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		v.t.Fatal(err)
	}
	defer conn.Close()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw)
	return fmt.Sprintf("%x", sum)
}

func (v *vm) baselineKeys() float64 {
	k, _ := metric(v.get("/metrics"), "otwatch_baseline_keys")
	return k
}

func TestUpdate(t *testing.T) {
	r := newUpdateRig(t)
	t.Logf("bundles: v1 %s (the image), v2 %s, v3 %s", r.version, r.v2Ver, r.v3Ver)
	for _, b := range []string{r.v2, r.v3} {
		if fi, err := os.Stat(b); err == nil {
			t.Logf("%s: %d bytes", filepath.Base(b), fi.Size())
		}
	}
	parts := partitions(t, r.img)
	v := startVM(t, r.m, r.dir, r.img, r.sink, true)
	took := v.waitHealthy(4 * time.Minute)
	t.Logf("v1 healthy after %s", took.Round(100*time.Millisecond))
	tok := tokenRE.FindStringSubmatch(v.console.String())
	if tok == nil {
		t.Fatal("no setup token on the console")
	}
	v.sess = v.login(tok[1])
	v.sess.token = v.sess.newToken()
	rp := v.replay(r.captures)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if p, _ := metric(v.get("/metrics"), "otwatch_packets_total"); int(p) >= rp.frames*9/10 && v.baselineKeys() > 0 {
			break
		}
		time.Sleep(time.Second)
	}
	keys := v.baselineKeys()
	if keys == 0 {
		t.Fatal("no baseline keys learned from the replay")
	}
	h, u := r.waitFor(v, "v1 state", 30*time.Second, func(h health, u updState) bool { return u.Supported })
	if h.Version != r.version || h.Slot != "a" || u.Running != "a" || u.Trial {
		t.Fatalf("v1: health %+v, update %+v", h, u)
	}
	t.Logf("v1 on slot a, %v baseline keys", keys)

	// ---- v2 through otwatch update, until it runs and is marked good ----
	begin := time.Now()
	code, out := r.upload(v, v.sess, r.v2, true)
	if code != 0 {
		t.Fatalf("otwatch update v2: exit %d\n%s\nconsole:\n%s", code, out, tail(v.console.String(), 80))
	}
	t.Logf("otwatch update v2 (upload, install, reboot, 60 s trial, marked good) took %s:\n%s", time.Since(begin).Round(time.Second), out)
	h, u = r.waitFor(v, "v2 good", time.Minute, func(h health, u updState) bool { return h.Version == r.v2Ver && !u.Trial })
	if h.Slot != "b" || u.Running != "b" || len(u.Slots) != 2 || u.Slots[0].State != "good" || u.Slots[1].State != "good" || u.Slots[1].Version != r.v2Ver {
		t.Fatalf("after v2: health %+v, update %+v", h, u)
	}
	if k := v.baselineKeys(); k != keys {
		t.Errorf("baseline keys %v before the update, %v after", keys, k)
	}
	con := v.console.String()
	for _, want := range []string{"update installed: reboot", "state database copied to /data/update before the update",
		"slot b (" + r.v2Ver + ", on trial, 2 tries left after this boot) chosen", "opens cleanly", "update good slot b " + r.v2Ver} {
		if !strings.Contains(con, want) {
			t.Errorf("console lacks %q", want)
		}
	}

	// ---- a tampered bundle: refused by the installer, both slots as they were ----
	before := map[string][32]byte{}
	for _, n := range []string{"otwatch-slots", "otwatch-root-a", "otwatch-root-b"} {
		before[n] = regionSum(t, r.img, parts[n])
	}
	code, out = r.upload(v, v.sess, r.tampered, false)
	if code != 0 { // the signature holds: the daemon stores it, PID 1 checks the digest
		t.Fatalf("tampered upload: exit %d %s", code, out)
	}
	_, u = r.waitFor(v, "tampered refused", time.Minute, func(h health, u updState) bool { return u.State == "refused" })
	if !strings.Contains(u.Detail, "tampered") {
		t.Errorf("refusal: %+v", u)
	}
	time.Sleep(2 * time.Second)
	for n, sum := range before {
		if regionSum(t, r.img, parts[n]) != sum {
			t.Errorf("%s changed by a refused bundle", n)
		}
	}
	if h := r.health(v); h.Version != r.v2Ver {
		t.Errorf("after the tampered bundle: running %s", h.Version)
	}
	t.Logf("tampered bundle refused: %s; slots, record unchanged", u.Detail)

	// ---- v3 exits at start: three trial boots, then back on v2 by itself ----
	begin = time.Now()
	if code, out = r.upload(v, v.sess, r.v3, false); code != 0 {
		t.Fatalf("v3 upload: %d %s", code, out)
	}
	h, u = r.waitFor(v, "rolled back to v2", 10*time.Minute, func(h health, u updState) bool {
		return h.Version == r.v2Ver && u.State == "rolled_back"
	})
	t.Logf("v3 installed, failed its trial boots and the box came back on v2 by itself in %s", time.Since(begin).Round(time.Second))
	con = v.console.String()
	if n := strings.Count(con, "slot a ("+r.v3Ver+", on trial"); n != 3 {
		t.Errorf("v3 trial boots: %d, want 3", n)
	}
	if !strings.Contains(con, "this build exits at start") || !strings.Contains(con, "update rolled_back slot a "+r.v3Ver) {
		t.Errorf("console lacks v3's failure or the rollback")
	}
	if u.Running != "b" || u.Slots[0].State != "retired" || u.Slots[1].State != "good" {
		t.Errorf("after the rollback: %+v", u)
	}
	if k := v.baselineKeys(); k != keys {
		t.Errorf("baseline keys %v before, %v after the rollback", keys, k)
	}

	// ---- the audit log and the alerts hold every step ----
	v.sess = v.login("")
	var audit []struct {
		User, Action, Target, Detail string
		OK                           bool
	}
	v.sess.getJSON("/api/audit?limit=200", &audit)
	actions := map[string]int{}
	for _, e := range audit {
		actions[e.Action]++
	}
	for act, n := range map[string]int{"update.upload": 3, "update.received": 3, "update.installed": 2, "update.good": 1, "update.refused": 1,
		"update.trial_boot": 4, "update.trial_failed": 3, "update.rolled_back": 1} {
		if actions[act] < n {
			t.Errorf("audit log: %d %s, want %d (%v)", actions[act], act, n, actions)
		}
	}
	var alerts struct {
		Alerts []struct {
			Alert struct{ Kind, Message string }
		}
	}
	v.sess.getJSON("/api/alerts?limit=100", &alerts)
	kinds := map[string]int{}
	for _, a := range alerts.Alerts {
		kinds[a.Alert.Kind]++
	}
	// received ×3, installed ×2, trial boots ×4, good; refused, trial failed ×3, rolled back
	if kinds["appliance_update"] < 10 || kinds["appliance_update_failed"] < 5 {
		t.Errorf("alerts: %v", kinds)
	}
	t.Logf("audit log: %v; alerts: appliance_update %d, appliance_update_failed %d", actions, kinds["appliance_update"], kinds["appliance_update_failed"])
	v.powerOff(90 * time.Second)
}

func (r *updateRig) health(v *vm) health {
	var h health
	v.sess.getJSON("/api/health", &h)
	return h
}

var cleanRE = regexp.MustCompile(`state database \S+ opens cleanly`)

// TestPowerCuts kills qemu at random moments — while booting, running,
// installing an update, rebooting and proving it — and checks that every
// boot comes up on a good slot (or a complete one on trial), otwatch
// healthy, the database opening cleanly with its baseline keys.
func TestPowerCuts(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("OTWATCH_POWER_CUTS"))
	if n <= 0 {
		t.Skip("set OTWATCH_POWER_CUTS=N (and OTWATCH_IMAGE_TEST=1) to cut the power N times")
	}
	r := newUpdateRig(t)
	seed := time.Now().UnixNano()
	if s := os.Getenv("OTWATCH_POWER_CUT_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d (OTWATCH_POWER_CUT_SEED repeats this run)", seed)
	// first boot: admin, token, learn the replay, clean power-off
	v := startVM(t, r.m, r.dir, r.img, r.sink, true)
	v.waitHealthy(4 * time.Minute)
	tok := tokenRE.FindStringSubmatch(v.console.String())
	if tok == nil {
		t.Fatal("no setup token")
	}
	v.sess = v.login(tok[1])
	token := v.sess.newToken()
	rp := v.replay(r.captures)
	for i := 0; i < 60 && v.baselineKeys() == 0; i++ {
		time.Sleep(time.Second)
	}
	_ = rp
	v.powerOff(90 * time.Second)
	var keys float64
	versions := map[string]bool{r.version: true, r.v2Ver: true}
	var stats struct{ boots, updatesCut, trialsCut, bootsCut, good, trial int }
	slotsSeen := map[string]int{}
	for i := 1; i <= n; i++ {
		v := startVM(t, r.m, r.dir, r.img, r.sink, true)
		took := v.waitHealthy(5 * time.Minute)
		stats.boots++
		v.sess = v.login("")
		v.sess.token = token
		h, u := r.waitFor(v, "update state", time.Minute, func(h health, u updState) bool { return u.Supported && u.Running != "" })
		con := v.console.String()
		if !cleanRE.MatchString(con) {
			t.Errorf("cut %d: the database did not open cleanly:\n%s", i, tail(con, 40))
		}
		if !versions[h.Version] {
			t.Errorf("cut %d: running %q, not a complete version", i, h.Version)
		}
		var running string
		for _, s := range u.Slots {
			if s.Running {
				running = s.State
			}
		}
		if running != "good" && running != "trial" {
			t.Errorf("cut %d: the running slot is %q", i, running)
		}
		if running == "good" {
			stats.good++
		} else {
			stats.trial++
		}
		slotsSeen[u.Running+" "+h.Version]++
		k := v.baselineKeys()
		if i == 1 {
			keys = k
			if keys == 0 {
				t.Fatal("no baseline keys after the first boot")
			}
		} else if k != keys {
			t.Errorf("cut %d: %v baseline keys, %v before", i, k, keys)
		}
		// what to cut: an update in flight (half the time, when none is on trial) or a running box
		var wait time.Duration
		if !u.Trial && rng.Intn(2) == 0 {
			if code, out := r.upload(v, v.sess, r.v2, false); code != 0 {
				t.Errorf("cut %d: upload: %d %s", i, code, out)
			}
			wait = time.Duration(rng.Int63n(int64(45 * time.Second)))
			stats.updatesCut++
		} else {
			wait = time.Duration(rng.Int63n(int64(20 * time.Second)))
			if u.Trial {
				stats.trialsCut++
			} else {
				stats.bootsCut++
			}
		}
		time.Sleep(wait)
		v.cmd.Process.Kill() // the power cut: no shutdown, no sync
		<-v.done
		t.Logf("cut %d: came up on slot %s (%s, %s) in %s; power cut %s later", i, u.Running, h.Version, running,
			took.Round(100*time.Millisecond), wait.Round(100*time.Millisecond))
	}
	// one more boot: the last cut, too, left a box that comes up
	v = startVM(t, r.m, r.dir, r.img, r.sink, true)
	v.waitHealthy(5 * time.Minute)
	stats.boots++
	v.sess = v.login("")
	if h := r.health(v); !versions[h.Version] || !cleanRE.MatchString(v.console.String()) {
		t.Errorf("after the last cut: running %q, database clean: %v", h.Version, cleanRE.MatchString(v.console.String()))
	}
	v.powerOff(90 * time.Second)
	t.Logf("%d power cuts: %d during an update (install, reboot or trial), %d while a new version was on trial, %d on a running box; "+
		"every one of the %d boots (after the clean power-off, then after each cut) came up healthy on a complete version (%d on a good slot, %d on trial), database clean, %v baseline keys kept; slot and version per boot: %v",
		n, stats.updatesCut, stats.trialsCut, stats.bootsCut, stats.boots, stats.good, stats.trial, keys, slotsSeen)
}

// TestSchemaRollback: a newer version migrates the database to its schema
// and is then rolled back; the older version refuses the newer database by
// name and its init restores the copy taken before the update, with the
// baseline keys it had. It needs an image whose otwatch reads an older
// schema than this tree's (build the image from such a commit, then run
// this from the newer tree with OTWATCH_SCHEMA_ROLLBACK_TEST=1).
func TestSchemaRollback(t *testing.T) {
	if os.Getenv("OTWATCH_SCHEMA_ROLLBACK_TEST") != "1" {
		t.Skip("set OTWATCH_SCHEMA_ROLLBACK_TEST=1 with an image of an older schema than this tree's")
	}
	r := newUpdateRig(t)
	v := startVM(t, r.m, r.dir, r.img, r.sink, true)
	v.waitHealthy(4 * time.Minute)
	tok := tokenRE.FindStringSubmatch(v.console.String())
	if tok == nil {
		t.Fatal("no setup token on the console")
	}
	v.sess = v.login(tok[1])
	v.sess.token = v.sess.newToken()
	v.replay(r.captures)
	for i := 0; i < 60 && v.baselineKeys() == 0; i++ {
		time.Sleep(time.Second)
	}
	keys := v.baselineKeys()
	t.Logf("v1 %s: %v baseline keys", r.version, keys)
	begin := time.Now()
	if code, out := r.upload(v, v.sess, r.v4, false); code != 0 {
		t.Fatalf("v4 upload: %d %s", code, out)
	}
	h, u := r.waitFor(v, "back on v1", 15*time.Minute, func(h health, u updState) bool { return h.Version == r.version && u.State == "rolled_back" })
	t.Logf("v4 migrated the database, failed its trial boots, v1 came back in %s", time.Since(begin).Round(time.Second))
	con := v.console.String()
	mig := regexp.MustCompile(`state database \S+ opens cleanly \(schema (\d+)\)`).FindAllStringSubmatch(con, -1)
	restored := regexp.MustCompile(`update state_restored\s+[^:]*: ([^\n]*)`).FindStringSubmatch(con)
	if restored == nil || !strings.Contains(restored[1], "this build reads") || !strings.Contains(restored[1], "incompatible") {
		t.Fatalf("no state_restored step on the console:\n%s", tail(con, 60))
	}
	t.Logf("schemas opened cleanly on the way: %v; v1's init: %s", mig, restored[1])
	if k := v.baselineKeys(); k != keys {
		t.Errorf("baseline keys %v before the update, %v after the rollback and restore", keys, k)
	}
	if h.Slot != "a" || u.Slots[1].State != "retired" {
		t.Errorf("after the rollback: %+v %+v", h, u)
	}
	v.sess = v.login("")
	var audit []struct{ Action string }
	v.sess.getJSON("/api/audit?limit=200", &audit)
	found := false
	for _, e := range audit {
		found = found || e.Action == "update.state_restored"
	}
	if !found {
		t.Error("no update.state_restored in the audit log")
	}
	v.powerOff(90 * time.Second)
}
