package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Roles.
const (
	RoleAdmin  = "admin"  // everything, including operator actions and users
	RoleViewer = "viewer" // read only
)

// Auth policy defaults.
const (
	MinPasswordLen     = 12
	DefaultBcryptCost  = 12
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxSession  = 12 * time.Hour
	DefaultLoginRate   = 10               // login attempts per client address per LoginWindow
	DefaultLoginWindow = time.Minute      // rate window (login and setup)
	DefaultMaxFailures = 5                // consecutive failures of a user name from one address before backoff
	DefaultBackoff     = time.Second      // first backoff, doubled with every further failure
	DefaultLockout     = 15 * time.Minute // longest backoff; how long a guarded name stays guarded
	DefaultGuardFails  = 20               // failures of a user name from all addresses within Lockout that guard it
	DefaultSetupRate   = 5                // setup attempts per client address per LoginWindow
	DefaultSetupTotal  = 20               // setup attempts from all addresses per LoginWindow
	maxSessions        = 10000
	maxKnownAddrs      = 16               // addresses remembered per user (most recent successful logins)
	maxWaiting         = 32               // logins queued for a password check, beyond which unknown addresses are refused
	compareWait        = 20 * time.Second // longest wait for the password check
)

// Auth errors. Login returns ErrBadCredentials for an unknown user and a
// wrong password alike.
var (
	ErrBadCredentials = errors.New("invalid user name or password")
	ErrLocked         = errors.New("this user's password is being guessed: it may log in only from an address it logged in from before")
	ErrBackoff        = errors.New("too many failed logins for this user from this address")
	ErrRateLimited    = errors.New("too many attempts from this address, slow down")
	ErrBusy           = errors.New("too many logins waiting for a password check")
	ErrSetupBusy      = errors.New("too many setup attempts with a wrong token from all addresses")
	ErrSetupDone      = errors.New("setup is done")
	ErrSetupToken     = errors.New("wrong setup token")
	ErrWeakPassword   = fmt.Errorf("password must have at least %d characters", MinPasswordLen)
	ErrUserExists     = errors.New("user exists")
	ErrBadUser        = errors.New("user name: 1 to 64 letters, digits, '.', '-', '_' or '@'")
	ErrBadRole        = errors.New("role: admin or viewer")
)

// ThrottleError refuses an attempt without checking it: Err says why
// (ErrRateLimited, ErrBackoff, ErrBusy, ErrSetupBusy: answered 429;
// ErrLocked: 423), RetryAfter when to try again.
type ThrottleError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *ThrottleError) Error() string {
	return fmt.Sprintf("%v: try again in %s", e.Err, time.Duration(e.RetrySeconds())*time.Second)
}

func (e *ThrottleError) Unwrap() error { return e.Err }

// RetrySeconds is RetryAfter rounded up to whole seconds (at least 1), for a Retry-After header.
func (e *ThrottleError) RetrySeconds() int {
	return max(1, int((e.RetryAfter+time.Second-1)/time.Second))
}

// User is a dashboard account.
type User struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Hash    string    `json:"hash"` // bcrypt
	Created time.Time `json:"created"`
	// Known are the addresses it logged in from (most recent first): they
	// still log in while its name is guarded.
	Known []string `json:"known,omitempty"`
}

// APIToken is a bearer token for automation; only its hash is stored.
type APIToken struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	User     string    `json:"user"`
	Hash     string    `json:"hash"` // sha256 of the token, hex
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// Session is a logged-in browser.
type Session struct {
	ID       string
	User     string
	Role     string
	CSRF     string
	Created  time.Time
	LastSeen time.Time
}

type authFile struct {
	Users    []User          `json:"users"`
	Tokens   []APIToken      `json:"tokens"`
	Sessions []storedSession `json:"sessions,omitempty"`
}

// storedSession is a session as the file keeps it: by the hash of its
// cookie, so the file never holds a usable session.
type storedSession struct {
	Hash     string    `json:"hash"` // sha256 of the cookie value, hex
	User     string    `json:"user"`
	Role     string    `json:"role"`
	CSRF     string    `json:"csrf"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
}

// AuthPolicy tunes Auth; zero values take the defaults.
type AuthPolicy struct {
	BcryptCost    int
	IdleTimeout   time.Duration
	MaxSession    time.Duration
	LoginRate     int
	LoginWindow   time.Duration
	MaxFailures   int
	Backoff       time.Duration
	Lockout       time.Duration
	GuardFailures int
	SetupRate     int
	SetupTotal    int
}

func (p AuthPolicy) withDefaults() AuthPolicy {
	if p.BcryptCost == 0 {
		p.BcryptCost = DefaultBcryptCost
	}
	if p.IdleTimeout <= 0 {
		p.IdleTimeout = DefaultIdleTimeout
	}
	if p.MaxSession <= 0 {
		p.MaxSession = DefaultMaxSession
	}
	if p.LoginRate <= 0 {
		p.LoginRate = DefaultLoginRate
	}
	if p.LoginWindow <= 0 {
		p.LoginWindow = DefaultLoginWindow
	}
	if p.MaxFailures <= 0 {
		p.MaxFailures = DefaultMaxFailures
	}
	if p.Backoff <= 0 {
		p.Backoff = DefaultBackoff
	}
	if p.Lockout <= 0 {
		p.Lockout = DefaultLockout
	}
	if p.GuardFailures <= 0 {
		p.GuardFailures = DefaultGuardFails
	}
	if p.SetupRate <= 0 {
		p.SetupRate = DefaultSetupRate
	}
	if p.SetupTotal <= 0 {
		p.SetupTotal = DefaultSetupTotal
	}
	return p
}

// Auth holds users, API tokens and sessions. All three persist in a 0600
// file (sessions and tokens by hash), so an appliance reboot does not log
// its operators out.
type Auth struct {
	mu        sync.Mutex
	policy    AuthPolicy
	path      string // "" keeps everything in memory
	file      authFile
	sessions  map[string]*Session  // by the hash of the cookie value
	tokens    map[string]*APIToken // by hash
	byIP      keyedWindows         // login attempts per client address
	pairs     map[pairKey]*pairState
	guards    map[string]*userGuard // by user name, known or not
	setupByIP keyedWindows
	setupAll  slidingWindow
	slot      chan struct{} // one password check at a time: a login flood takes one core at most
	waiting   int           // logins waiting for slot
	compare   func(hash, password []byte) error
	dummy     []byte // hash compared for unknown users, so timing does not reveal them
	setup     string // one-time setup token while no user exists
	now       func() time.Time
}

// NewAuth loads (or starts) the user file at path ("" for memory only).
func NewAuth(path string, policy AuthPolicy) (*Auth, error) {
	a := &Auth{policy: policy.withDefaults(), path: path, sessions: map[string]*Session{}, tokens: map[string]*APIToken{},
		byIP: keyedWindows{}, pairs: map[pairKey]*pairState{}, guards: map[string]*userGuard{}, setupByIP: keyedWindows{},
		slot: make(chan struct{}, 1), compare: bcrypt.CompareHashAndPassword, now: time.Now}
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			if err := json.Unmarshal(b, &a.file); err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
		}
	}
	for i := range a.file.Tokens {
		a.tokens[a.file.Tokens[i].Hash] = &a.file.Tokens[i]
	}
	for _, st := range a.file.Sessions { // ended ones are dropped when next looked at
		a.sessions[st.Hash] = &Session{User: st.User, Role: st.Role, CSRF: st.CSRF, Created: st.Created, LastSeen: st.LastSeen}
	}
	var err error
	a.dummy, err = bcrypt.GenerateFromPassword([]byte("otwatch-dummy-password"), a.policy.BcryptCost)
	if err != nil {
		return nil, err
	}
	if len(a.file.Users) == 0 {
		a.setup = randomToken(24)
	}
	return a, nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// save writes the user file atomically; callers hold a.mu.
func (a *Auth) save() error {
	if a.path == "" {
		return nil
	}
	a.file.Sessions = a.file.Sessions[:0]
	for h, s := range a.sessions {
		a.file.Sessions = append(a.file.Sessions, storedSession{Hash: h, User: s.User, Role: s.Role, CSRF: s.CSRF,
			Created: s.Created, LastSeen: s.LastSeen})
	}
	sort.Slice(a.file.Sessions, func(i, j int) bool { return a.file.Sessions[i].Hash < a.file.Sessions[j].Hash })
	b, err := json.MarshalIndent(a.file, "", "  ")
	if err != nil {
		return err
	}
	tmp := a.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, a.path)
}

// SetupToken is the one-time token that creates the first admin, "" once a user exists.
func (a *Auth) SetupToken() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.setup
}

// NeedsSetup says whether no user exists yet.
func (a *Auth) NeedsSetup() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.file.Users) == 0
}

// Setup creates the first admin with the one-time setup token. addr is
// the client address: attempts are limited per address (SetupRate per
// LoginWindow), and those with a wrong token also from all addresses
// together (SetupTotal), so a flood from many addresses does not keep
// the installer with the token out. A refused attempt is a
// *ThrottleError. The name is trimmed, then must be a valid user name
// (ErrBadUser).
func (a *Auth) Setup(token, name, password, addr string) error {
	now, key := a.now(), normAddr(addr)
	a.mu.Lock()
	if a.setup == "" || len(a.file.Users) > 0 {
		a.mu.Unlock()
		return ErrSetupDone
	}
	if ok, wait := a.setupByIP.allow(key, now, a.policy.LoginWindow, a.policy.SetupRate); !ok {
		a.mu.Unlock()
		return &ThrottleError{ErrRateLimited, wait}
	}
	right := subtle.ConstantTimeCompare([]byte(token), []byte(a.setup)) == 1
	if !right {
		ok, wait := a.setupAll.allow(now, a.policy.LoginWindow, a.policy.SetupTotal)
		a.mu.Unlock()
		if !ok {
			return &ThrottleError{ErrSetupBusy, wait}
		}
		return ErrSetupToken
	}
	a.mu.Unlock()
	return a.createUser(name, password, RoleAdmin, true)
}

// NormalizeUserName trims a user name and checks it: 1 to 64 letters,
// digits, '.', '-', '_' or '@' (else ErrBadUser).
func NormalizeUserName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !validName(name) {
		return "", ErrBadUser
	}
	return name, nil
}

func validName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_@", r)) {
			return false
		}
	}
	return true
}

// CreateUser adds a user (the Go API behind `otwatch user add`); the
// name is trimmed (NormalizeUserName).
func (a *Auth) CreateUser(name, password, role string) error {
	return a.createUser(name, password, role, false)
}

// createUser adds a user; first makes it the setup's: it fails once any
// user exists (two setups racing with the token make one admin).
func (a *Auth) createUser(name, password, role string, first bool) error {
	name, err := NormalizeUserName(name)
	if err != nil {
		return err
	}
	if role != RoleAdmin && role != RoleViewer {
		return ErrBadRole
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return ErrWeakPassword
	}
	if len(password) > 72 { // bcrypt's limit
		return errors.New("password: at most 72 bytes")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), a.policy.BcryptCost)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if first && (a.setup == "" || len(a.file.Users) > 0) {
		return ErrSetupDone
	}
	for _, u := range a.file.Users {
		if u.Name == name {
			return ErrUserExists
		}
	}
	a.file.Users = append(a.file.Users, User{Name: name, Role: role, Hash: string(hash), Created: a.now().UTC()})
	a.setup = ""
	return a.save()
}

// SetPassword replaces a user's password and ends their sessions.
func (a *Auth) SetPassword(name, password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return ErrWeakPassword
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), a.policy.BcryptCost)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.file.Users {
		if a.file.Users[i].Name == name {
			a.file.Users[i].Hash = string(hash)
			a.dropSessions(name)
			return a.save()
		}
	}
	return fmt.Errorf("user %s: %w", name, ErrNotFound)
}

// DeleteUser removes a user, their sessions and tokens. The last admin cannot be removed.
func (a *Auth) DeleteUser(name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	idx, admins := -1, 0
	for i, u := range a.file.Users {
		if u.Name == name {
			idx = i
		}
		if u.Role == RoleAdmin {
			admins++
		}
	}
	if idx < 0 {
		return fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	if a.file.Users[idx].Role == RoleAdmin && admins == 1 {
		return errors.New("the last admin cannot be removed")
	}
	a.file.Users = append(a.file.Users[:idx], a.file.Users[idx+1:]...)
	a.dropSessions(name)
	kept := a.file.Tokens[:0]
	for _, t := range a.file.Tokens {
		if t.User != name {
			kept = append(kept, t)
		}
	}
	a.file.Tokens = kept
	a.reindexTokens()
	return a.save()
}

func (a *Auth) dropSessions(user string) {
	for id, s := range a.sessions {
		if s.User == user {
			delete(a.sessions, id)
		}
	}
}

func (a *Auth) reindexTokens() {
	a.tokens = map[string]*APIToken{}
	for i := range a.file.Tokens {
		a.tokens[a.file.Tokens[i].Hash] = &a.file.Tokens[i]
	}
}

// UserInfo is a user without the hash.
type UserInfo struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
}

// Users lists the users.
func (a *Auth) Users() []UserInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]UserInfo, 0, len(a.file.Users))
	for _, u := range a.file.Users {
		out = append(out, UserInfo{u.Name, u.Role, u.Created})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (a *Auth) user(name string) (User, bool) {
	for _, u := range a.file.Users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

func (a *Auth) userIndex(name string) int {
	for i := range a.file.Users {
		if a.file.Users[i].Name == name {
			return i
		}
	}
	return -1
}

// knownAddr says whether a user has logged in from an address; callers hold a.mu.
func (a *Auth) knownAddr(name, addr string) bool {
	if i := a.userIndex(name); i >= 0 {
		return slices.Contains(a.file.Users[i].Known, addr)
	}
	return false
}

// refuse applies the backoff of (name, addr) and the guard of name: a
// refused attempt is not checked; callers hold a.mu.
func (a *Auth) refuse(name, addr string, now time.Time) error {
	if p := a.pairs[pairKey{name, addr}]; p != nil && now.Before(p.until) {
		return &ThrottleError{ErrBackoff, p.until.Sub(now)}
	}
	g := a.guard(name, now, false)
	if (g == nil || g.guarded(now, a.policy)) && !a.knownAddr(name, addr) {
		if g != nil {
			g.until = now.Add(a.policy.Lockout) // an attack that goes on keeps the guard up
		}
		return &ThrottleError{ErrLocked, a.policy.Lockout}
	}
	return nil
}

// guard returns the guard of a name, nil when the table is full of live
// guards and name is not in it (then the name counts as guarded); add
// makes an entry. Callers hold a.mu.
func (a *Auth) guard(name string, now time.Time, add bool) *userGuard {
	if g := a.guards[name]; g != nil {
		return g
	}
	if len(a.guards) >= maxTracked {
		for k, g := range a.guards {
			if g.idle(now, a.policy) {
				delete(a.guards, k)
			}
		}
		if len(a.guards) >= maxTracked {
			return nil
		}
	}
	g := &userGuard{}
	if add {
		a.guards[name] = g
	}
	return g
}

// fail counts a failed password check; callers hold a.mu.
func (a *Auth) fail(name, addr string, now time.Time) {
	k := pairKey{name, addr}
	p := a.pairs[k]
	if p == nil {
		if len(a.pairs) >= maxTracked {
			a.prunePairs(now)
		}
		p = &pairState{}
		a.pairs[k] = p
	}
	p.fails++
	p.last = now
	p.until = now.Add(a.policy.backoff(p.fails))
	if g := a.guard(name, now, true); g != nil {
		if len(g.fails) >= a.policy.GuardFailures {
			g.fails = append(g.fails[:0], g.fails[len(g.fails)-a.policy.GuardFailures+1:]...)
		}
		g.fails = append(g.fails, now)
	}
}

// prunePairs forgets pairs quiet for pairMemory, else the quietest one:
// that resets one pair's backoff, and the guard still bounds the guesses.
func (a *Auth) prunePairs(now time.Time) {
	var oldest pairKey
	var at time.Time
	for k, p := range a.pairs {
		if now.Sub(p.last) >= pairMemory {
			delete(a.pairs, k)
		} else if at.IsZero() || p.last.Before(at) {
			oldest, at = k, p.last
		}
	}
	if len(a.pairs) >= maxTracked {
		delete(a.pairs, oldest)
	}
}

// Login checks a password and opens a session. addr is the client
// address (the peer's, never a header's). Throttling, documented in
// README.md, never checks a refused attempt (a *ThrottleError):
//   - LoginRate attempts per address per LoginWindow (ErrRateLimited);
//   - after MaxFailures consecutive failures of a name from one address,
//     that pair waits Backoff, doubled per further failure up to Lockout
//     (ErrBackoff): an attacker elsewhere does not slow the user down;
//   - GuardFailures failures of a name from all addresses within Lockout
//     guard it: only addresses it logged in from before are checked
//     (ErrLocked for the others) until Lockout passes with no failure
//     and no refused attempt. The right password from its usual address
//     still logs in; API tokens are never affected.
//
// Unknown names are counted like known ones, so neither the answers nor
// their timing reveal which users exist. One password check runs at a
// time; when maxWaiting are queued, addresses unknown for the name are
// refused (ErrBusy).
func (a *Auth) Login(name, password, addr string) (*Session, error) {
	name, addr = strings.TrimSpace(name), normAddr(addr)
	now := a.now()
	a.mu.Lock()
	if ok, wait := a.byIP.allow(addr, now, a.policy.LoginWindow, a.policy.LoginRate); !ok {
		a.mu.Unlock()
		return nil, &ThrottleError{ErrRateLimited, wait}
	}
	if !validName(name) { // no user can have it: nothing to check or count
		a.mu.Unlock()
		return nil, ErrBadCredentials
	}
	if err := a.refuse(name, addr, now); err != nil {
		a.mu.Unlock()
		return nil, err
	}
	if a.waiting >= maxWaiting && !a.knownAddr(name, addr) {
		a.mu.Unlock()
		return nil, &ThrottleError{ErrBusy, a.policy.Backoff}
	}
	a.waiting++
	a.mu.Unlock()
	timer := time.NewTimer(compareWait)
	select {
	case a.slot <- struct{}{}:
		timer.Stop()
	case <-timer.C:
		a.mu.Lock()
		a.waiting--
		a.mu.Unlock()
		return nil, &ThrottleError{ErrBusy, a.policy.Backoff}
	}
	defer func() { <-a.slot }()
	// the checks run one at a time: the state seen here holds until the result is counted
	a.mu.Lock()
	a.waiting--
	now = a.now()
	if err := a.refuse(name, addr, now); err != nil { // e.g. guarded while this one waited
		a.mu.Unlock()
		return nil, err
	}
	u, known := a.user(name)
	hash := a.dummy
	if known {
		hash = []byte(u.Hash)
	}
	a.mu.Unlock()
	err := a.compare(hash, []byte(password))
	a.mu.Lock()
	defer a.mu.Unlock()
	i := a.userIndex(name)
	if err != nil || !known || i < 0 {
		a.fail(name, addr, a.now()) // the backoff runs from the answer
		return nil, ErrBadCredentials
	}
	delete(a.pairs, pairKey{name, addr})
	kn := a.file.Users[i].Known
	if j := slices.Index(kn, addr); j >= 0 {
		kn = slices.Delete(kn, j, j+1)
	}
	a.file.Users[i].Known = append([]string{addr}, kn[:min(len(kn), maxKnownAddrs-1)]...)
	a.expire(now)
	if len(a.sessions) >= maxSessions {
		return nil, errors.New("too many sessions")
	}
	id := randomToken(32)
	s := &Session{User: u.Name, Role: u.Role, CSRF: randomToken(32), Created: now, LastSeen: now}
	a.sessions[tokenHash(id)] = s
	if err := a.save(); err != nil {
		delete(a.sessions, tokenHash(id))
		return nil, err
	}
	out := *s
	out.ID = id
	return &out, nil
}

// expire drops ended sessions; callers hold a.mu.
func (a *Auth) expire(now time.Time) {
	for id, s := range a.sessions {
		if a.ended(s, now) {
			delete(a.sessions, id)
		}
	}
}

func (a *Auth) ended(s *Session, now time.Time) bool {
	return now.Sub(s.LastSeen) > a.policy.IdleTimeout || now.Sub(s.Created) >= a.policy.MaxSession
}

// Session returns a live session by id and refreshes its idle timer.
func (a *Auth) Session(id string) (Session, bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	h := tokenHash(id)
	s, ok := a.sessions[h]
	if !ok {
		return Session{}, false
	}
	if a.ended(s, now) {
		delete(a.sessions, h)
		return Session{}, false
	}
	if _, still := a.user(s.User); !still {
		delete(a.sessions, h)
		return Session{}, false
	}
	s.LastSeen = now // kept in memory; written with the next change or at Persist
	out := *s
	out.ID = id
	return out, true
}

// Logout ends a session.
func (a *Auth) Logout(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, tokenHash(id))
	a.save() // a failed write leaves a session the idle timeout ends; logging out must not fail
}

// Persist writes the sessions' idle timers (at shutdown).
func (a *Auth) Persist() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expire(a.now())
	return a.save()
}

// CreateToken makes an API token for a user; the token is shown once.
func (a *Auth) CreateToken(user, name string) (token string, info APIToken, err error) {
	if name == "" || len(name) > 64 {
		return "", APIToken{}, errors.New("token name: 1 to 64 characters")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.user(user); !ok {
		return "", APIToken{}, fmt.Errorf("user %s: %w", user, ErrNotFound)
	}
	token = "otw_" + randomToken(32)
	info = APIToken{ID: randomToken(6), Name: name, User: user, Hash: tokenHash(token), Created: a.now().UTC()}
	a.file.Tokens = append(a.file.Tokens, info)
	a.reindexTokens()
	return token, info, a.save()
}

// Tokens lists API tokens (without hashes).
func (a *Auth) Tokens() []APIToken {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]APIToken, 0, len(a.file.Tokens))
	for _, t := range a.file.Tokens {
		t.Hash = ""
		out = append(out, t)
	}
	return out
}

// RevokeToken deletes an API token by id.
func (a *Auth) RevokeToken(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, t := range a.file.Tokens {
		if t.ID == id {
			a.file.Tokens = append(a.file.Tokens[:i], a.file.Tokens[i+1:]...)
			a.reindexTokens()
			return a.save()
		}
	}
	return fmt.Errorf("token %s: %w", id, ErrNotFound)
}

// TokenUser authenticates a bearer token: the user and role it acts as.
func (a *Auth) TokenUser(token string) (user, role string, ok bool) {
	if !strings.HasPrefix(token, "otw_") {
		return "", "", false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t, found := a.tokens[tokenHash(token)]
	if !found {
		return "", "", false
	}
	u, exists := a.user(t.User)
	if !exists {
		return "", "", false
	}
	t.LastUsed = a.now().UTC()
	return u.Name, u.Role, true
}

// AddUser adds a user to the users file of a state directory: the Go API
// behind a CLI such as `otwatch user add`. Run it while the daemon is
// stopped (the daemon reads the file at start), or use the Users page.
func AddUser(stateDir, name, password, role string) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	a, err := NewAuth(filepath.Join(stateDir, "users.json"), AuthPolicy{})
	if err != nil {
		return err
	}
	return a.CreateUser(name, password, role)
}
