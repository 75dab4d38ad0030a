package ui

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

//go:embed static
var staticFiles embed.FS

// Cookie names. The __Host- prefix makes browsers insist on Secure, Path=/
// and no Domain.
const (
	SessionCookie  = "__Host-otwatch_session"
	PreCSRFCookie  = "__Host-otwatch_login" // double-submit token for login and setup
	CSRFHeader     = "X-CSRF-Token"
	maxRequestBody = 4 << 20
	// MaxPublicBody caps the body of a route answered without a session
	// (login, setup, static files): a login is a few hundred bytes.
	MaxPublicBody = 4 << 10
)

// ContentSecurityPolicy is sent with every response: no inline script or
// style, nothing from elsewhere, no framing.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Config configures the dashboard.
type Config struct {
	// StateDir holds users.json, audit.log and the TLS certificate
	// (created 0700). "" keeps users and the audit log in memory (tests).
	StateDir string
	// Addr to listen on (default ":8443").
	Addr string
	// Hosts are extra certificate names/addresses for the self-signed certificate.
	Hosts   []string
	Version string
	Policy  AuthPolicy
	// Logf logs server events (default log.Printf).
	Logf func(format string, args ...any)
}

// Server is the dashboard: an echo app over a Backend.
type Server struct {
	cfg     Config
	backend Backend
	auth    *Auth
	audit   *AuditLog
	echo    *echo.Echo
	public  map[string]bool // "METHOD path" answered without a session
	admin   map[string]bool // "METHOD path" needing the admin role
	started time.Time
}

// New builds the dashboard. On first start (no user yet) SetupToken
// returns the one-time token that creates the admin: print it.
func New(cfg Config, backend Backend) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = ":8443"
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	var usersPath, auditPath string
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return nil, err
		}
		usersPath, auditPath = filepath.Join(cfg.StateDir, "users.json"), filepath.Join(cfg.StateDir, "audit.log")
	}
	auth, err := NewAuth(usersPath, cfg.Policy)
	if err != nil {
		return nil, err
	}
	audit, err := OpenAuditLog(auditPath)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, backend: backend, auth: auth, audit: audit, public: map[string]bool{}, admin: map[string]bool{},
		started: time.Now()}
	s.routes()
	return s, nil
}

// Auth gives the Go API for users and tokens (CreateUser, CreateToken, ...).
func (s *Server) Auth() *Auth { return s.auth }

// SetupToken is the one-time first-start token, "" once an admin exists.
func (s *Server) SetupToken() string { return s.auth.SetupToken() }

// Handler is the whole app (for tests and for embedding in another server).
func (s *Server) Handler() http.Handler { return s.echo }

// Echo exposes the router (the route-table test enumerates its routes).
func (s *Server) Echo() *echo.Echo { return s.echo }

// IsPublic says whether a route answers without a session.
func (s *Server) IsPublic(method, path string) bool { return s.public[method+" "+path] }

// Close releases the audit log.
func (s *Server) Close() error {
	err := s.auth.Persist()
	if cerr := s.audit.Close(); err == nil {
		err = cerr
	}
	return err
}

// ListenAndServe serves HTTPS on cfg.Addr until ctx ends, generating a
// self-signed certificate in the state directory on first start. ready,
// if not nil, receives the bound address.
func (s *Server) ListenAndServe(ctx context.Context, ready func(addr net.Addr)) error {
	dir := s.cfg.StateDir
	if dir == "" {
		return errors.New("ui: ListenAndServe needs a state directory for the certificate")
	}
	cert, generated, err := EnsureCertificate(dir, s.cfg.Hosts)
	if err != nil {
		return fmt.Errorf("ui: certificate: %w", err)
	}
	if generated {
		s.cfg.Logf("ui: generated a self-signed certificate in %s (replace %s and %s to use your own)", dir, CertFile, KeyFile)
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.echo,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(logWriter(s.cfg.Logf), "ui: ", 0),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if ready != nil {
		ready(ln.Addr())
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
		return nil
	}
}

type logWriter func(format string, args ...any)

func (w logWriter) Write(p []byte) (int, error) {
	w("%s", strings.TrimSpace(string(p)))
	return len(p), nil
}

// identity is who a request acts as.
type identity struct {
	User    string
	Role    string
	Session *Session // nil for a bearer token
}

const identityKey = "otwatch.identity"

func who(c echo.Context) identity {
	id, _ := c.Get(identityKey).(identity)
	return id
}

func (s *Server) routes() {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect() // never trust X-Forwarded-For: the rate limit counts real peers
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.securityHeaders, s.limitBody, s.authenticate)
	s.echo = e

	pub := func(method, path string, h echo.HandlerFunc) {
		s.public[method+" "+path] = true
		e.Add(method, path, h)
	}
	adm := func(method, path string, h echo.HandlerFunc) {
		s.admin[method+" "+path] = true
		e.Add(method, path, h)
	}
	// static single-page app
	pub(http.MethodGet, "/", s.index)
	pub(http.MethodGet, "/static/*", s.static)
	// first start and login (double-submit CSRF)
	pub(http.MethodGet, "/api/setup", s.getSetup)
	pub(http.MethodPost, "/api/setup", s.postSetup)
	pub(http.MethodGet, "/api/login", s.getLogin)
	pub(http.MethodPost, "/api/login", s.postLogin)
	// session
	e.GET("/api/session", s.getSession)
	e.POST("/api/logout", s.postLogout)
	e.GET("/api/openapi.json", s.openAPI)
	// data
	e.GET("/api/inventory", s.getInventory)
	e.GET("/api/alerts", s.getAlerts)
	e.GET("/api/alerts/stats", s.getAlertStats)
	e.GET("/api/alerts/:id", s.getAlert)
	e.GET("/api/alerts/:id/evidence", s.getEvidence)
	adm(http.MethodPost, "/api/alerts/:id/ack", s.postAck)
	adm(http.MethodPost, "/api/alerts/:id/normal", s.postNormal)
	e.GET("/api/kinds", s.getKinds)
	e.GET("/api/incidents", s.getIncidents)
	e.GET("/api/baseline", s.getBaselineExport)
	e.GET("/api/baseline/:asset", s.getBaseline)
	e.POST("/api/baseline/diff", s.postBaselineDiff)
	e.GET("/api/advisories", s.getAdvisories)
	adm(http.MethodPost, "/api/advisories", s.postAdvisories)
	e.GET("/api/series", s.getSeries)
	e.GET("/api/series/data", s.getSeriesData)
	e.GET("/api/health", s.getHealth)
	e.GET("/api/events", s.getEvents)
	// administration
	e.GET("/api/settings", s.getSettings)
	adm(http.MethodPut, "/api/settings", s.putSettings)
	adm(http.MethodGet, "/api/users", s.getUsers)
	adm(http.MethodPost, "/api/users", s.postUser)
	adm(http.MethodDelete, "/api/users/:name", s.deleteUser)
	adm(http.MethodGet, "/api/tokens", s.getTokens)
	adm(http.MethodPost, "/api/tokens", s.postToken)
	adm(http.MethodDelete, "/api/tokens/:id", s.deleteToken)
	adm(http.MethodGet, "/api/audit", s.getAudit)
	// appliance updates (update.go): stored by the daemon, installed by PID 1
	e.GET("/api/system/update", s.getUpdate)
	adm(http.MethodPost, "/api/system/update", s.postUpdate)
}

func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		code = he.Code
		msg = fmt.Sprint(he.Message)
	case errors.Is(err, ErrNotFound):
		code, msg = http.StatusNotFound, err.Error()
	default:
		s.cfg.Logf("ui: %s %s: %v", c.Request().Method, c.Request().URL.Path, err)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(code)
		return
	}
	c.JSON(code, map[string]string{"error": msg})
}

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), usb=(), serial=()")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if strings.HasPrefix(c.Request().URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// limitBody caps request bodies: MaxPublicBody on public routes, 4 MiB
// on the others (which read nothing before the session is checked).
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		limit := int64(maxRequestBody)
		if s.public[r.Method+" "+c.Path()] {
			limit = MaxPublicBody
		}
		if c.Path() == "/api/system/update" && r.Method == http.MethodPost {
			limit = MaxUpdateBody
		}
		if r.ContentLength > limit {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", limit))
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		return next(c)
	}
}

func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// sameOrigin rejects a cross-site request: an Origin header, when sent,
// must name this host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin" ||
			r.Header.Get("Sec-Fetch-Site") == "none"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// authenticate admits public routes, then requires a session cookie (plus
// the CSRF header on state changes) or a bearer API token, then the admin
// role where needed.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		route := r.Method + " " + c.Path()
		if stateChanging(r.Method) && !sameOrigin(r) {
			return echo.NewHTTPError(http.StatusForbidden, "cross-origin request refused")
		}
		if s.public[route] {
			return next(c)
		}
		var id identity
		if authz := r.Header.Get("Authorization"); authz != "" {
			tok, ok := strings.CutPrefix(authz, "Bearer ")
			user, role, valid := s.auth.TokenUser(strings.TrimSpace(tok))
			if !ok || !valid {
				return echo.NewHTTPError(http.StatusUnauthorized, "invalid API token")
			}
			id = identity{User: user, Role: role}
		} else {
			ck, err := r.Cookie(SessionCookie)
			if err != nil {
				return echo.NewHTTPError(http.StatusUnauthorized, "login required")
			}
			sess, ok := s.auth.Session(ck.Value)
			if !ok {
				return echo.NewHTTPError(http.StatusUnauthorized, "session expired, login again")
			}
			if stateChanging(r.Method) && subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(sess.CSRF)) != 1 {
				return echo.NewHTTPError(http.StatusForbidden, "missing or wrong CSRF token")
			}
			id = identity{User: sess.User, Role: sess.Role, Session: &sess}
		}
		if s.admin[route] && id.Role != RoleAdmin {
			return echo.NewHTTPError(http.StatusForbidden, "admin role required")
		}
		if c.Path() == "" { // no route matched: do not reveal more than a 404
			return echo.NewHTTPError(http.StatusNotFound, "not found")
		}
		c.Set(identityKey, id)
		return next(c)
	}
}

// record writes an audit entry for the request. A failure of a request
// that proved no identity (login, setup) goes through the audit log's
// budget for those: they come at an attacker's pace.
func (s *Server) record(c echo.Context, user, action, target string, err error) {
	e := AuditEntry{TS: time.Now(), User: user, Addr: c.RealIP(), Action: action, Target: target, OK: err == nil}
	id := who(c)
	if id.User != "" {
		e.User, e.Role = id.User, id.Role
	}
	rec := s.audit.Record
	if err != nil {
		e.Detail = err.Error()
		if id.User == "" {
			rec = s.audit.RecordUnauthenticated
		}
	}
	if werr := rec(e); werr != nil {
		s.cfg.Logf("ui: audit log: %v", werr)
	}
}

func (s *Server) index(c echo.Context) error {
	b, err := staticFiles.ReadFile("static/index.html")
	if err != nil {
		return err
	}
	return c.HTMLBlob(http.StatusOK, b)
}

func (s *Server) static(c echo.Context) error {
	name := c.Param("*")
	if name == "" || strings.Contains(name, "..") {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	b, err := fs.ReadFile(staticFiles, "static/"+name)
	if err != nil || name == "index.html" {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	ct := "application/octet-stream"
	switch {
	case strings.HasSuffix(name, ".js"):
		ct = "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".css"):
		ct = "text/css; charset=utf-8"
	case strings.HasSuffix(name, ".svg"):
		ct = "image/svg+xml"
	case strings.HasSuffix(name, ".json"):
		ct = "application/json"
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, ct, b)
}
