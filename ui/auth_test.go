package ui

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const pw = "correct horse battery staple"

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newTestAuth(t *testing.T, path string) (*Auth, *clock) {
	t.Helper()
	a, err := NewAuth(path, AuthPolicy{BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a.now = c.now
	return a, c
}

func TestPasswordHashing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	a, _ := newTestAuth(t, path)
	if err := a.CreateUser("alice", "short", RoleAdmin); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("weak password: %v", err)
	}
	if err := a.CreateUser("bad name!", pw, RoleAdmin); !errors.Is(err, ErrBadUser) {
		t.Errorf("bad name: %v", err)
	}
	if err := a.CreateUser("alice", pw, "root"); !errors.Is(err, ErrBadRole) {
		t.Errorf("bad role: %v", err)
	}
	if err := a.CreateUser("alice", pw, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateUser("alice", pw, RoleViewer); !errors.Is(err, ErrUserExists) {
		t.Errorf("duplicate: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), pw) {
		t.Fatal("the password is stored in clear")
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v", st.Mode().Perm())
	}
	u, _ := a.user("alice")
	if cost, err := bcrypt.Cost([]byte(u.Hash)); err != nil || cost != bcrypt.MinCost {
		t.Errorf("hash is not bcrypt at the configured cost: %v %v", cost, err)
	}
	if _, err := a.Login("alice", pw, "10.0.0.1"); err != nil {
		t.Errorf("login: %v", err)
	}
	if _, err := a.Login("alice", pw+"x", "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := a.Login("nobody", pw, "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("unknown user: %v (must look like a wrong password)", err)
	}
	// default cost is at least 12
	if DefaultBcryptCost < 12 {
		t.Errorf("default bcrypt cost %d", DefaultBcryptCost)
	}
	// reload from disk
	a2, _ := newTestAuth(t, path)
	if _, err := a2.Login("alice", pw, "10.0.0.2"); err != nil {
		t.Errorf("login after reload: %v", err)
	}
	if a2.SetupToken() != "" {
		t.Error("setup token with a user present")
	}
}

// loginErr is the error a login ends in, nil on success.
func loginErr(a *Auth, name, password, addr string) error {
	_, err := a.Login(name, password, addr)
	return err
}

// An attacker failing from another address slows only itself: the admin
// logs in from its usual address throughout, and the attacker's checked
// guesses back off exponentially.
func TestBackoffPerAddress(t *testing.T) {
	a, clk := newTestAuth(t, "")
	if err := a.CreateUser("alice", pw, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := loginErr(a, "alice", pw, "10.0.0.1"); err != nil { // her workstation
		t.Fatal(err)
	}
	// the attacker tries every 2 s for an hour (staying under the per-address rate)
	checked, refused := 0, 0
	var lastWait time.Duration
	for elapsed := time.Duration(0); elapsed < time.Hour; elapsed += 2 * time.Second {
		clk.advance(2 * time.Second)
		err := loginErr(a, "alice", "guess "+elapsed.String(), "10.6.6.6")
		var te *ThrottleError
		switch {
		case errors.Is(err, ErrBadCredentials):
			checked++
		case errors.As(err, &te) && (errors.Is(err, ErrBackoff) || errors.Is(err, ErrRateLimited)):
			refused++
			if te.RetryAfter > DefaultLockout {
				t.Fatalf("backoff %v over the cap", te.RetryAfter)
			}
			lastWait = max(lastWait, te.RetryAfter)
		default:
			t.Fatalf("attacker at %v: %v", elapsed, err)
		}
		if elapsed%(10*time.Minute) == 0 {
			if err := loginErr(a, "alice", pw, "10.0.0.1"); err != nil {
				t.Fatalf("alice from her usual address at %v: %v", elapsed, err)
			}
		}
	}
	// 5 free, then waits of 1 s, 2 s, 4 s ... 512 s, then 15 min: 18 in the first hour
	t.Logf("attacker: %d guesses checked, %d refused in an hour; longest wait %v", checked, refused, lastWait)
	if checked < DefaultMaxFailures || checked > 20 {
		t.Errorf("attacker had %d guesses checked in an hour, want 5..20", checked)
	}
	if lastWait < DefaultLockout/2 {
		t.Errorf("the backoff grew only to %v", lastWait)
	}
	// fewer than GuardFailures: a new address with the right password is let in
	if err := loginErr(a, "alice", pw, "10.0.0.77"); err != nil {
		t.Errorf("alice from a new address: %v", err)
	}
	// success resets only that pair; the attacker's pair stays slowed
	clk.advance(DefaultLoginWindow)
	if err := loginErr(a, "alice", pw, "10.6.6.6"); !errors.Is(err, ErrBackoff) {
		t.Errorf("attacker's pair after alice's success: %v", err)
	}
}

func TestBackoffSteps(t *testing.T) {
	p := AuthPolicy{}.withDefaults()
	for n, want := range map[int]time.Duration{1: 0, 4: 0, 5: time.Second, 6: 2 * time.Second, 10: 32 * time.Second,
		14: 512 * time.Second, 15: DefaultLockout, 1000: DefaultLockout} {
		if got := p.backoff(n); got != want {
			t.Errorf("backoff after %d failures: %v, want %v", n, got, want)
		}
	}
}

// Failures from many addresses guard the name: only addresses it logged
// in from before are checked. The right password from elsewhere gets
// ErrLocked until the attack has been quiet for Lockout; API tokens
// never notice.
func TestGuardFromManyAddresses(t *testing.T) {
	a, clk := newTestAuth(t, "")
	if err := a.CreateUser("alice", pw, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.CreateToken("alice", "siem")
	if err != nil {
		t.Fatal(err)
	}
	if err := loginErr(a, "alice", pw, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	attack := func(name string, n int) (checked, locked int) {
		for i := range n {
			clk.advance(time.Second)
			switch err := loginErr(a, name, "guess", fmt.Sprintf("10.9.%d.%d", i/200, i%200)); {
			case errors.Is(err, ErrBadCredentials):
				checked++
			case errors.Is(err, ErrLocked):
				locked++
			default:
				t.Fatalf("attack on %s: %v", name, err)
			}
		}
		return checked, locked
	}
	// one guess from each of 500 addresses
	checked, locked := attack("alice", 500)
	if checked != DefaultGuardFails || locked != 500-DefaultGuardFails {
		t.Errorf("guard: %d checked, %d locked; want %d checked", checked, locked, DefaultGuardFails)
	}
	if err := loginErr(a, "alice", pw, "10.0.0.1"); err != nil {
		t.Errorf("alice from her usual address while guarded: %v", err)
	}
	var te *ThrottleError
	if err := loginErr(a, "alice", pw, "10.0.0.2"); !errors.As(err, &te) || !errors.Is(err, ErrLocked) || te.RetryAfter <= 0 {
		t.Errorf("the right password from a new address while guarded: %v", err)
	}
	if u, _, ok := a.TokenUser(tok); !ok || u != "alice" {
		t.Error("API token refused while the name is guarded")
	}
	// the attack goes on slowly: the guard stays up
	for range 10 {
		clk.advance(DefaultLockout - time.Minute)
		if err := loginErr(a, "alice", "guess", "10.8.0.1"); !errors.Is(err, ErrLocked) {
			t.Fatalf("a slow attack lifted the guard: %v", err)
		}
	}
	// quiet for Lockout: a new address logs in again
	clk.advance(DefaultLockout)
	if err := loginErr(a, "alice", pw, "10.0.0.2"); err != nil {
		t.Errorf("after the attack: %v", err)
	}
	if u, _ := a.user("alice"); len(u.Known) != 2 || u.Known[0] != "10.0.0.2" || u.Known[1] != "10.0.0.1" {
		t.Errorf("known addresses %v", u.Known)
	}
	// an unknown name guards the same way: the answers do not tell which users exist
	if checked, locked := attack("mallory", 500); checked != DefaultGuardFails || locked != 500-DefaultGuardFails {
		t.Errorf("unknown name: %d checked, %d locked", checked, locked)
	}
}

// Known addresses persist, are bounded and most recent first; addresses
// are compared in one form (an IPv4-mapped IPv6 address is the IPv4 one).
func TestKnownAddresses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	a, clk := newTestAuth(t, path)
	if err := a.CreateUser("alice", pw, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	for i := range maxKnownAddrs + 5 {
		clk.advance(time.Minute)
		if err := loginErr(a, "alice", pw, fmt.Sprintf("10.1.0.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(time.Minute)
	if err := loginErr(a, "alice", pw, "::ffff:10.1.0.20"); err != nil {
		t.Fatal(err)
	}
	b, _ := newTestAuth(t, path)
	u, _ := b.user("alice")
	if len(u.Known) != maxKnownAddrs || u.Known[0] != "10.1.0.20" || u.Known[1] != "10.1.0.19" || slices.Contains(u.Known, "10.1.0.0") {
		t.Errorf("known addresses after a restart: %v", u.Known)
	}
	for _, info := range b.Users() {
		if info.Name != "alice" {
			t.Errorf("users %+v", info)
		}
	}
}

// A full guard table treats names it cannot track as guarded, so filling
// it does not lift the guard of a name an attacker works on.
func TestGuardTableFull(t *testing.T) {
	a, clk := newTestAuth(t, "")
	if err := a.CreateUser("alice", pw, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := loginErr(a, "alice", pw, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	now := clk.now()
	a.mu.Lock()
	for i := range maxTracked {
		a.fail(fmt.Sprintf("junk%d", i), "10.9.9.9", now)
	}
	tracked, pairs := len(a.guards), len(a.pairs)
	a.mu.Unlock()
	if tracked != maxTracked || pairs != maxTracked {
		t.Fatalf("%d guards, %d pairs", tracked, pairs)
	}
	if err := loginErr(a, "alice", pw, "10.0.0.2"); !errors.Is(err, ErrLocked) {
		t.Errorf("an untracked name from a new address with the table full: %v", err)
	}
	if err := loginErr(a, "alice", pw, "10.0.0.1"); err != nil {
		t.Errorf("an untracked name from its usual address with the table full: %v", err)
	}
	// once the junk is quiet for Lockout, the table makes room
	clk.advance(DefaultLockout)
	if err := loginErr(a, "alice", pw, "10.0.0.2"); err != nil {
		t.Errorf("after the junk went quiet: %v", err)
	}
	a.mu.Lock()
	a.fail("one-more", "10.9.9.8", clk.now())
	if len(a.pairs) > maxTracked {
		t.Errorf("pairs grew to %d", len(a.pairs))
	}
	a.mu.Unlock()
}

// One password check runs at a time, so a login flood takes at most one
// core from capture; with maxWaiting queued, unknown addresses are
// refused and the user's usual address still queues.
func TestOnePasswordCheckAtATime(t *testing.T) {
	a, _ := newTestAuth(t, "")
	if err := a.CreateUser("alice", pw, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := loginErr(a, "alice", pw, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var running, most atomic.Int32
	a.compare = func(hash, password []byte) error {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		running.Add(-1)
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	var wg sync.WaitGroup
	for i := range maxWaiting + 1 { // one checking, maxWaiting queued
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Login(fmt.Sprintf("user%d", i), "guess", fmt.Sprintf("10.7.0.%d", i))
		}()
	}
	waitUntil(t, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.waiting == maxWaiting })
	if err := loginErr(a, "alice", pw, "10.0.0.99"); !errors.Is(err, ErrBusy) {
		t.Errorf("an unknown address with the queue full: %v", err)
	}
	var aliceErr error
	wg.Add(1)
	go func() { defer wg.Done(); aliceErr = loginErr(a, "alice", pw, "10.0.0.1") }()
	waitUntil(t, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.waiting == maxWaiting+1 })
	close(release)
	wg.Wait()
	if aliceErr != nil {
		t.Errorf("alice from her usual address behind a full queue: %v", aliceErr)
	}
	if most.Load() != 1 {
		t.Errorf("%d password checks ran at once", most.Load())
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

func TestLoginRateLimit(t *testing.T) {
	a, clk := newTestAuth(t, "")
	if err := a.CreateUser("alice", pw, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < DefaultLoginRate; i++ {
		// different user names: the lockout does not trigger, the address limit does
		a.Login("user"+string(rune('a'+i)), "x", "10.0.0.1")
	}
	if _, err := a.Login("alice", pw, "10.0.0.1"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("over the rate: %v", err)
	}
	if _, err := a.Login("alice", pw, "10.0.0.2"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	clk.advance(DefaultLoginWindow)
	if _, err := a.Login("alice", pw, "10.0.0.1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	a, clk := newTestAuth(t, "")
	if err := a.CreateUser("alice", pw, RoleViewer); err != nil {
		t.Fatal(err)
	}
	s, err := a.Login("alice", pw, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ID) < 40 || len(s.CSRF) < 40 || s.ID == s.CSRF {
		t.Fatalf("weak session tokens %q %q", s.ID, s.CSRF)
	}
	got, ok := a.Session(s.ID)
	if !ok || got.Role != RoleViewer || got.User != "alice" {
		t.Fatalf("session: %+v %v", got, ok)
	}
	// activity keeps it alive up to the absolute limit
	for d := time.Duration(0); d < DefaultMaxSession-DefaultIdleTimeout; d += DefaultIdleTimeout / 2 {
		clk.advance(DefaultIdleTimeout / 2)
		if _, ok := a.Session(s.ID); !ok {
			t.Fatalf("active session expired after %v", d)
		}
	}
	clk.advance(DefaultIdleTimeout)
	if _, ok := a.Session(s.ID); ok {
		t.Fatal("session outlived the absolute limit")
	}
	// idle timeout
	s2, _ := a.Login("alice", pw, "10.0.0.1")
	clk.advance(DefaultIdleTimeout + time.Second)
	if _, ok := a.Session(s2.ID); ok {
		t.Fatal("idle session still valid")
	}
	// logout and deleted users end sessions
	s3, _ := a.Login("alice", pw, "10.0.0.1")
	a.Logout(s3.ID)
	if _, ok := a.Session(s3.ID); ok {
		t.Fatal("session valid after logout")
	}
	if err := a.CreateUser("root", pw, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	s4, _ := a.Login("alice", pw, "10.0.0.1")
	if err := a.DeleteUser("alice"); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Session(s4.ID); ok {
		t.Fatal("session of a deleted user")
	}
	if err := a.DeleteUser("root"); err == nil {
		t.Fatal("deleted the last admin")
	}
}

// A restart (appliance reboot, daemon upgrade) keeps operators logged in;
// the file holds only hashes of the session cookies.
func TestSessionsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	a, clk := newTestAuth(t, path)
	if err := a.CreateUser("alice", pw, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	s, err := a.Login("alice", pw, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	gone, _ := a.Login("alice", pw, "10.0.0.1")
	a.Logout(gone.ID)
	clk.advance(time.Minute)
	a.Session(s.ID) // activity
	if err := a.Persist(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), s.ID) || !strings.Contains(string(raw), tokenHash(s.ID)) {
		t.Fatal("the file must hold the session's hash, never its cookie")
	}

	// the idle timer kept its last activity across the restart
	idle, clkIdle := newTestAuth(t, path)
	clkIdle.t = clk.t.Add(DefaultIdleTimeout + time.Second)
	if _, ok := idle.Session(s.ID); ok {
		t.Fatal("idle session still valid after the restart")
	}
	restarted, clk2 := newTestAuth(t, path)
	clk2.t = clk.t.Add(time.Minute)
	got, ok := restarted.Session(s.ID)
	if !ok || got.User != "alice" || got.CSRF != s.CSRF || got.ID != s.ID {
		t.Fatalf("after a restart: %+v %v", got, ok)
	}
	if _, ok := restarted.Session(gone.ID); ok {
		t.Fatal("a logged-out session came back")
	}
	// a password change ends sessions, also for the next start
	s2, _ := restarted.Login("alice", pw, "10.0.0.1")
	if err := restarted.SetPassword("alice", pw+"!"); err != nil {
		t.Fatal(err)
	}
	again, _ := newTestAuth(t, path)
	if _, ok := again.Session(s2.ID); ok {
		t.Fatal("a session survived the password change and a restart")
	}
}

func TestAPITokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	a, _ := newTestAuth(t, path)
	if err := a.CreateUser("bot", pw, RoleViewer); err != nil {
		t.Fatal(err)
	}
	tok, info, err := a.CreateToken("bot", "grafana")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "otw_") || len(tok) < 40 {
		t.Fatalf("token %q", tok)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), tok) || strings.Contains(string(b), strings.TrimPrefix(tok, "otw_")) {
		t.Fatal("token stored in clear")
	}
	if u, role, ok := a.TokenUser(tok); !ok || u != "bot" || role != RoleViewer {
		t.Fatalf("token user %q %q %v", u, role, ok)
	}
	for _, bad := range []string{"", "otw_", tok + "x", strings.TrimPrefix(tok, "otw_"), info.Hash} {
		if _, _, ok := a.TokenUser(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
	for _, listed := range a.Tokens() {
		if listed.Hash != "" {
			t.Error("Tokens lists hashes")
		}
	}
	a2, _ := newTestAuth(t, path)
	if _, _, ok := a2.TokenUser(tok); !ok {
		t.Fatal("token lost on reload")
	}
	if err := a2.RevokeToken(info.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := a2.TokenUser(tok); ok {
		t.Fatal("revoked token accepted")
	}
}

func TestSetupToken(t *testing.T) {
	a, _ := newTestAuth(t, "")
	tok := a.SetupToken()
	if len(tok) < 24 || !a.NeedsSetup() {
		t.Fatalf("setup token %q", tok)
	}
	if err := a.Setup("wrong", "admin", pw, "10.0.0.1"); err == nil {
		t.Fatal("wrong setup token accepted")
	}
	if err := a.Setup(tok, "admin", pw, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if a.NeedsSetup() || a.SetupToken() != "" {
		t.Fatal("setup still open")
	}
	if err := a.Setup(tok, "admin2", pw, "10.0.0.1"); err == nil {
		t.Fatal("setup token reused")
	}
	if u, _ := a.user("admin"); u.Role != RoleAdmin {
		t.Fatalf("setup made a %q", u.Role)
	}
}

// Setup trims the user name, refuses a bad one, and is rate limited per
// address and over all addresses; a refused attempt is not checked.
func TestSetupTrimAndRateLimit(t *testing.T) {
	a, clk := newTestAuth(t, "")
	tok := a.SetupToken()
	for _, bad := range []string{"", "   ", "bad name", "a/b", strings.Repeat("a", 65), "ad\u202emin", "ad\nmin", "adm\x00in", "\xffadmin"} {
		clk.advance(DefaultLoginWindow) // each from a fresh window
		if err := a.Setup(tok, bad, pw, "10.0.0.1"); !errors.Is(err, ErrBadUser) {
			t.Errorf("setup with user %q: %v", bad, err)
		}
	}
	// per address
	clk.advance(DefaultLoginWindow)
	for i := range DefaultSetupRate {
		if err := a.Setup("wrong", "admin", pw, "10.0.0.1"); !errors.Is(err, ErrSetupToken) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	var te *ThrottleError
	if err := a.Setup(tok, "admin", pw, "10.0.0.1"); !errors.As(err, &te) || !errors.Is(err, ErrRateLimited) || te.RetryAfter <= 0 || te.RetryAfter > DefaultLoginWindow {
		t.Fatalf("over the per-address rate: %v", err)
	}
	// over all addresses
	for i := DefaultSetupRate; i < DefaultSetupTotal; i++ {
		if err := a.Setup("wrong", "admin", pw, fmt.Sprintf("10.0.1.%d", i)); !errors.Is(err, ErrSetupToken) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if err := a.Setup("wrong", "admin", pw, "10.0.2.1"); !errors.Is(err, ErrSetupBusy) {
		t.Fatalf("over the total rate: %v", err)
	}
	if !a.NeedsSetup() {
		t.Fatal("a refused setup made a user")
	}
	// the installer with the token is not kept out by the others
	if err := a.Setup(tok, " \tadmin \n", pw, "10.0.3.1"); err != nil {
		t.Fatalf("setup with a padded name: %v", err)
	}
	if _, ok := a.user("admin"); !ok {
		t.Fatalf("users %+v", a.Users())
	}
	if err := a.Setup(tok, "admin2", pw, "10.0.0.1"); !errors.Is(err, ErrSetupDone) {
		t.Errorf("setup after setup: %v", err)
	}
}

func TestAuditLogAppendOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Record(AuditEntry{User: "alice", Action: "login", OK: true})
	l.Close()
	l, _ = OpenAuditLog(path) // reopen: appends, never truncates
	l.Record(AuditEntry{User: "alice", Action: "alert.acknowledge", Target: "abc", OK: true})
	got, err := l.Tail(10)
	if err != nil || len(got) != 2 || got[0].Action != "alert.acknowledge" || got[1].Action != "login" {
		t.Fatalf("tail %+v %v", got, err)
	}
	l.Close()
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v", st.Mode().Perm())
	}
}

func TestCertificate(t *testing.T) {
	dir := t.TempDir()
	c1, gen, err := EnsureCertificate(dir, []string{"otwatch.plant", "192.0.2.5"})
	if err != nil || !gen {
		t.Fatalf("generate: %v %v", gen, err)
	}
	if _, ok := c1.PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Errorf("key is %T, want ECDSA", c1.PrivateKey)
	}
	st, _ := os.Stat(filepath.Join(dir, KeyFile))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", st.Mode().Perm())
	}
	c2, gen, err := EnsureCertificate(dir, nil)
	if err != nil || gen {
		t.Fatalf("reload: %v %v", gen, err)
	}
	if string(c1.Certificate[0]) != string(c2.Certificate[0]) {
		t.Error("certificate regenerated instead of reused")
	}
	// a damaged operator certificate is an error, never silently replaced
	os.WriteFile(filepath.Join(dir, CertFile), []byte("garbage"), 0o644)
	if _, _, err := EnsureCertificate(dir, nil); err == nil {
		t.Error("damaged certificate accepted")
	}
}

func TestAddUserOffline(t *testing.T) {
	dir := t.TempDir()
	if err := AddUser(dir, "admin", pw, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	a, _ := newTestAuth(t, filepath.Join(dir, "users.json"))
	if a.NeedsSetup() {
		t.Fatal("setup still needed after AddUser")
	}
	if _, err := a.Login("admin", pw, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
}
