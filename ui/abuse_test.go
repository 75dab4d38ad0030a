package ui_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/ui"
	"github.com/otwatch/otwatch/ui/fake"
)

// What a hostile client on the management network can do before and
// after the first setup: fill the disk through the audit log, lock the
// admin out. Each test drives the real handler.

// setupBody is a setup request as JSON.
func setupBody(t *testing.T, token, user, password string) string {
	b, err := json.Marshal(map[string]string{"token": token, "user": user, "password": password})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// 1,000 hostile setup requests (wrong token, a hostile user name as long
// as the body limit allows; every tenth a 4 MiB body) grow the audit log
// by a bounded amount, every line bounded and escaped, and every one
// counted; the installer with the token then sets up with a padded name.
func TestHostileSetupFlood(t *testing.T) {
	dir := t.TempDir()
	srv := newServer(t, replayed(t), dir)
	tok := srv.SetupToken()
	logPath := filepath.Join(dir, "audit.log")
	size := func() int64 {
		st, err := os.Stat(logPath)
		if err != nil {
			return 0
		}
		return st.Size()
	}
	before := size()
	const unit = "\u202eadmin\"\n\\\u2028\x1b[2J" // 18 bytes, 29 in JSON
	hostile := strings.Repeat(unit, 2200/len(unit))
	big := setupBody(t, "wrong", strings.Repeat("A", 4<<20), testPassword)
	codes := map[int]int{}
	start := time.Now()
	const n = 1000
	for i := range n {
		c := newClient(t, srv.Handler())
		c.addr = fmt.Sprintf("10.66.%d.%d:5%04d", i/250, i%250, i)
		var st struct{ CSRF string }
		c.json("GET", "/api/setup", "", nil, &st)
		body := setupBody(t, "wrong", hostile, testPassword)
		if i%10 == 9 {
			body = big
		}
		codes[c.do("POST", "/api/setup", body, map[string]string{ui.CSRFHeader: st.CSRF}).Code]++
	}
	elapsed := time.Since(start)
	if codes[http.StatusRequestEntityTooLarge] != n/10 {
		t.Errorf("4 MiB bodies: %d answered 413, want %d (codes %v)", codes[http.StatusRequestEntityTooLarge], n/10, codes)
	}
	if codes[http.StatusForbidden]+codes[http.StatusTooManyRequests] != n-n/10 {
		t.Errorf("wrong-token requests: codes %v", codes)
	}
	if codes[http.StatusForbidden] > ui.DefaultSetupTotal*(1+int(elapsed/ui.DefaultLoginWindow)) {
		t.Errorf("%d wrong tokens checked: over the total setup rate", codes[http.StatusForbidden])
	}
	grown := size() - before
	bound := int64(ui.AnonAuditBurst+2+int(elapsed/ui.AnonAuditEvery)) * ui.MaxAuditLine
	t.Logf("%d hostile setup requests in %v: codes %v; audit log grew %d bytes (bound %d)", n, elapsed.Round(time.Millisecond), codes, grown, bound)
	if grown > bound {
		t.Errorf("audit log grew %d bytes, bound %d", grown, bound)
	}

	// the installer, from its own address, with the token and a padded name
	c := newClient(t, srv.Handler())
	c.addr = "192.0.2.50:50000"
	var st struct{ CSRF string }
	c.json("GET", "/api/setup", "", nil, &st)
	hdr := map[string]string{ui.CSRFHeader: st.CSRF}
	if rec := c.do("POST", "/api/setup", setupBody(t, tok, "bad name!", testPassword), hdr); rec.Code != http.StatusBadRequest ||
		!strings.Contains(rec.Body.String(), "user name: 1 to 64 letters") {
		t.Errorf("bad user name: %d %s", rec.Code, rec.Body)
	}
	rec := c.do("POST", "/api/setup", setupBody(t, tok, "  admin\t", testPassword), hdr)
	var made struct{ User string }
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &made) != nil || made.User != "admin" {
		t.Fatalf("setup after the flood: %d %s", rec.Code, rec.Body)
	}
	if code := newClient(t, srv.Handler()).login("admin", testPassword); code != http.StatusOK {
		t.Errorf("login as the trimmed name: %d", code)
	}

	// every line bounded, escaped, JSON; every hostile request written or counted
	srv.Close()
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(raw), "\u202e\u2028\x1b") {
		t.Error("the audit log holds raw control or bidi characters")
	}
	written, counted := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if len(line) > ui.MaxAuditLine {
			t.Errorf("audit line of %d bytes", len(line))
		}
		var e ui.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line is not JSON: %v: %.100s", err, line)
		}
		switch {
		case e.Action == "setup" && !e.OK:
			written++
			if e.User != "bad name!" && (!strings.Contains(e.User, `\u202eadmin"\x0a\\u2028\x1b[2J`) || !strings.HasSuffix(e.User, "bytes cut]")) {
				t.Errorf("user name not escaped and cut: %q", e.User)
			}
		case e.Action == "audit.suppressed":
			k, _ := strconv.Atoi(strings.Fields(e.Detail)[0])
			counted += k
		}
	}
	t.Logf("audit: %d hostile setups written, %d counted in summaries", written, counted)
	if written+counted != n-n/10+1 { // + the bad name from the installer
		t.Errorf("%d written + %d counted, want %d", written, counted, n-n/10+1)
	}
}

// An attacker failing from another address is slowed (429, Retry-After);
// the admin keeps logging in from its usual address, also once many
// addresses have guarded the name (then a new address gets 423); API
// tokens keep working.
func TestLockoutFromAnotherAddress(t *testing.T) {
	srv := newServer(t, replayed(t), "")
	if err := srv.Auth().CreateUser("admin", testPassword, ui.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	tok, _, err := srv.Auth().CreateToken("admin", "siem")
	if err != nil {
		t.Fatal(err)
	}
	admin := func() int { return newClient(t, srv.Handler()).login("admin", testPassword) } // 192.0.2.10
	if code := admin(); code != http.StatusOK {
		t.Fatal(code)
	}
	attacker := newClient(t, srv.Handler())
	attacker.addr = "203.0.113.66:40000"
	var codes []int
	for range ui.DefaultMaxFailures + 2 {
		codes = append(codes, attacker.login("admin", "wrong password guess"))
		if code := admin(); code != http.StatusOK {
			t.Fatalf("admin from the usual address while attacked: %d", code)
		}
	}
	want := fmt.Sprint(append(slicesRepeat(http.StatusUnauthorized, ui.DefaultMaxFailures), http.StatusTooManyRequests, http.StatusTooManyRequests))
	if fmt.Sprint(codes) != want {
		t.Errorf("attacker got %v, want %s", codes, want)
	}
	var pre struct{ CSRF string }
	attacker.json("GET", "/api/login", "", nil, &pre)
	rec := attacker.do("POST", "/api/login", `{"user":"admin","password":"`+testPassword+`"}`, map[string]string{ui.CSRFHeader: pre.CSRF})
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "try again in") {
		t.Errorf("slowed attacker, even with the right password: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	// many addresses: the name is guarded
	for i := range ui.DefaultGuardFails {
		c := newClient(t, srv.Handler())
		c.addr = fmt.Sprintf("198.51.100.%d:40000", i+1)
		c.login("admin", "wrong password guess")
	}
	stranger := newClient(t, srv.Handler())
	stranger.addr = "198.51.100.200:40000"
	stranger.json("GET", "/api/login", "", nil, &pre)
	rec = stranger.do("POST", "/api/login", `{"user":"admin","password":"`+testPassword+`"}`, map[string]string{ui.CSRFHeader: pre.CSRF})
	if rec.Code != http.StatusLocked || rec.Header().Get("Retry-After") == "" {
		t.Errorf("right password from a new address while guarded: %d %s", rec.Code, rec.Body)
	}
	if code := admin(); code != http.StatusOK {
		t.Errorf("admin from the usual address while guarded: %d", code)
	}
	bot := newClient(t, srv.Handler())
	bot.addr = "198.51.100.201:40000"
	bot.bearer = tok
	if code := bot.json("GET", "/api/inventory", "", nil, nil); code != http.StatusOK {
		t.Errorf("API token while the name is guarded: %d", code)
	}
}

func slicesRepeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Public routes take small bodies; a session's routes read nothing
// before the session is checked.
func TestPublicBodyLimit(t *testing.T) {
	srv := newServer(t, replayed(t), "")
	if err := srv.Auth().CreateUser("admin", testPassword, ui.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv.Handler())
	var pre struct{ CSRF string }
	c.json("GET", "/api/login", "", nil, &pre)
	hdr := map[string]string{ui.CSRFHeader: pre.CSRF}
	pad := strings.Repeat("x", ui.MaxPublicBody)
	for _, path := range []string{"/api/login", "/api/setup"} {
		if rec := c.do("POST", path, `{"user":"`+pad+`"}`, hdr); rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with %d bytes: %d", path, len(pad), rec.Code)
		}
	}
	if code := c.login("admin", testPassword); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	// an operator's request may be larger
	body := `{"functions":[],"pad":"` + strings.Repeat("x", 64<<10) + `"}`
	if rec := c.do("POST", "/api/baseline/diff", body, map[string]string{ui.CSRFHeader: c.csrf}); rec.Code == http.StatusRequestEntityTooLarge {
		t.Errorf("64 KiB baseline diff refused: %d", rec.Code)
	}
	anon := newClient(t, srv.Handler())
	if rec := anon.do("POST", "/api/baseline/diff", strings.Repeat("x", 2<<20), nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("2 MiB without a session: %d", rec.Code)
	}
}

// The dashboard speaks TLS 1.2 or later only: an older client is refused
// in the handshake.
func TestTLSAtLeast12(t *testing.T) {
	_, base, _ := serveTLS(t, fake.New())
	addr := strings.TrimPrefix(base, "https://")
	for _, tc := range []struct {
		version uint16
		ok      bool
	}{{tls.VersionTLS10, false}, {tls.VersionTLS11, false}, {tls.VersionTLS12, true}, {tls.VersionTLS13, true}} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tc.version, MaxVersion: tc.version})
		if err == nil {
			conn.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: handshake error %v", tls.VersionName(tc.version), err)
		}
	}
}
