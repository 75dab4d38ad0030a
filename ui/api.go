package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/learning/baseline"
)

func badRequest(format string, args ...any) error {
	return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf(format, args...))
}

// bindJSON decodes a JSON body strictly: the content type must be JSON (a
// cross-site form cannot send it without a CORS preflight) and unknown
// fields are errors.
func bindJSON(c echo.Context, v any) error {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if mt != "application/json" {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("body: %v", err)
	}
	return nil
}

// ---- first start and login ----

func (s *Server) setPreCSRF(c echo.Context) string {
	tok := randomToken(24)
	c.SetCookie(&http.Cookie{Name: PreCSRFCookie, Value: tok, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: 600})
	return tok
}

func (s *Server) checkPreCSRF(c echo.Context) error {
	ck, err := c.Cookie(PreCSRFCookie)
	h := c.Request().Header.Get(CSRFHeader)
	if err != nil || h == "" || len(h) != len(ck.Value) || h != ck.Value {
		return echo.NewHTTPError(http.StatusForbidden, "missing or wrong CSRF token (reload the page)")
	}
	return nil
}

func (s *Server) getSetup(c echo.Context) error {
	resp := map[string]any{"needed": s.auth.NeedsSetup()}
	if s.auth.NeedsSetup() {
		resp["csrf"] = s.setPreCSRF(c)
	}
	return c.JSON(http.StatusOK, resp)
}

type setupRequest struct {
	Token    string `json:"token"`
	User     string `json:"user"`
	Password string `json:"password"`
}

func (s *Server) postSetup(c echo.Context) error {
	if err := s.checkPreCSRF(c); err != nil {
		return err
	}
	var req setupRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if !s.auth.NeedsSetup() {
		return echo.NewHTTPError(http.StatusForbidden, "setup is done")
	}
	req.User = strings.TrimSpace(req.User)
	err := s.auth.Setup(req.Token, req.User, req.Password, c.RealIP())
	s.record(c, req.User, "setup", req.User, err) // bounded and escaped by the audit log
	switch {
	case throttled(c, err):
		return echo.NewHTTPError(http.StatusTooManyRequests, err.Error())
	case errors.Is(err, ErrSetupToken), errors.Is(err, ErrSetupDone):
		return echo.NewHTTPError(http.StatusForbidden, err.Error())
	case err != nil:
		return badRequest("%v", err)
	}
	return c.JSON(http.StatusCreated, map[string]string{"user": req.User, "role": RoleAdmin})
}

func (s *Server) getLogin(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"csrf": s.setPreCSRF(c), "setup_needed": s.auth.NeedsSetup()})
}

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

type sessionResponse struct {
	User string `json:"user"`
	Role string `json:"role"`
	CSRF string `json:"csrf,omitempty"`
}

func (s *Server) postLogin(c echo.Context) error {
	if err := s.checkPreCSRF(c); err != nil {
		return err
	}
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	sess, err := s.auth.Login(req.User, req.Password, c.RealIP())
	s.record(c, strings.TrimSpace(req.User), "login", "", err) // bounded and escaped by the audit log
	switch {
	case throttled(c, err) && errors.Is(err, ErrLocked):
		return echo.NewHTTPError(http.StatusLocked, err.Error())
	case throttled(c, err):
		return echo.NewHTTPError(http.StatusTooManyRequests, err.Error())
	case err != nil:
		return echo.NewHTTPError(http.StatusUnauthorized, ErrBadCredentials.Error())
	}
	c.SetCookie(&http.Cookie{Name: PreCSRFCookie, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: sess.ID, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return c.JSON(http.StatusOK, sessionResponse{sess.User, sess.Role, sess.CSRF})
}

// throttled says whether err refused an attempt unchecked, and sets Retry-After.
func throttled(c echo.Context, err error) bool {
	var te *ThrottleError
	if !errors.As(err, &te) {
		return false
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(te.RetrySeconds()))
	return true
}

func (s *Server) getSession(c echo.Context) error {
	id := who(c)
	resp := sessionResponse{User: id.User, Role: id.Role}
	if id.Session != nil {
		resp.CSRF = id.Session.CSRF
	}
	return c.JSON(http.StatusOK, resp)
}

func (s *Server) postLogout(c echo.Context) error {
	id := who(c)
	if id.Session != nil {
		s.auth.Logout(id.Session.ID)
	}
	s.record(c, id.User, "logout", "", nil)
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) openAPI(c echo.Context) error {
	b, err := staticFiles.ReadFile("static/openapi.json")
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/json", b)
}

// ---- data ----

func (s *Server) getInventory(c echo.Context) error {
	b, err := s.backend.Inventory()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/json", b)
}

// ParseAlertQuery reads an AlertQuery from URL parameters (the API's and the UI's).
func ParseAlertQuery(v map[string][]string) (AlertQuery, error) {
	get := func(k string) string {
		if x := v[k]; len(x) > 0 {
			return strings.TrimSpace(x[0])
		}
		return ""
	}
	q := AlertQuery{ID: get("id"), Kind: get("kind"), Asset: get("asset"), Incident: get("incident"), Text: get("text"), State: get("state")}
	if len(q.Text) > 200 {
		return q, fmt.Errorf("text: at most 200 characters")
	}
	switch q.State {
	case "", "open", "acknowledged", "normal":
	default:
		return q, fmt.Errorf("state %q: want open, acknowledged or normal", q.State)
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"severity", &q.MinSeverity}, {"offset", &q.Offset}, {"limit", &q.Limit}} {
		if x := get(p.name); x != "" {
			n, err := strconv.Atoi(x)
			if err != nil || n < 0 {
				return q, fmt.Errorf("%s %q: want a non-negative integer", p.name, x)
			}
			*p.dst = n
		}
	}
	if q.Limit > MaxAlertLimit {
		return q, fmt.Errorf("limit %d: at most %d", q.Limit, MaxAlertLimit)
	}
	err := parseSinceUntil(get, &q.Since, &q.Until) // before q is read: the order of a return's operands is unspecified
	return q, err
}

// parseSinceUntil reads the RFC 3339 parameters since and until, where
// present, into since and until (alerts and series ranges alike).
func parseSinceUntil(get func(string) string, since, until *time.Time) error {
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", since}, {"until", until}} {
		if x := get(p.name); x != "" {
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return fmt.Errorf("%s %q: want RFC 3339 time", p.name, x)
			}
			*p.dst = t
		}
	}
	return nil
}

type alertsResponse struct {
	Total  int           `json:"total"`
	Offset int           `json:"offset"`
	Alerts []AlertRecord `json:"alerts"`
}

func (s *Server) getAlerts(c echo.Context) error {
	q, err := ParseAlertQuery(c.QueryParams())
	if err != nil {
		return badRequest("%v", err)
	}
	recs, total, err := s.backend.Alerts(q)
	if err != nil {
		return err
	}
	if recs == nil {
		recs = []AlertRecord{}
	}
	return c.JSON(http.StatusOK, alertsResponse{total, q.Offset, recs})
}

func (s *Server) getAlertStats(c echo.Context) error {
	var bucket time.Duration
	if x := c.QueryParam("bucket"); x != "" {
		d, err := time.ParseDuration(x)
		if err != nil || d < time.Second {
			return badRequest("bucket %q: want a duration of at least 1s", x)
		}
		bucket = d
	}
	return c.JSON(http.StatusOK, s.backend.AlertStats(bucket))
}

func (s *Server) getAlert(c echo.Context) error {
	recs, _, err := s.backend.Alerts(AlertQuery{ID: c.Param("id"), Limit: 1})
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return echo.NewHTTPError(http.StatusNotFound, "no such alert")
	}
	return c.JSON(http.StatusOK, recs[0])
}

func (s *Server) alertAction(c echo.Context, action string, do func(id, user string) error) error {
	id := c.Param("id")
	user := who(c).User
	err := do(id, user)
	s.record(c, user, action, id, err)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, err.Error())
		}
		return echo.NewHTTPError(http.StatusConflict, err.Error())
	}
	return s.getAlert(c)
}

func (s *Server) postAck(c echo.Context) error {
	return s.alertAction(c, "alert.acknowledge", s.backend.Acknowledge)
}

func (s *Server) postNormal(c echo.Context) error {
	return s.alertAction(c, "alert.mark_normal", s.backend.MarkNormal)
}

func (s *Server) getKinds(c echo.Context) error {
	type kind struct {
		Kind     string   `json:"kind"`
		Severity int      `json:"severity"`
		Mitre    []string `json:"mitre,omitempty"`
		Doc      string   `json:"doc"`
	}
	var out []kind
	for _, k := range alerts.Kinds() {
		out = append(out, kind{k.Kind, k.Severity, k.Mitre, k.Doc})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) getIncidents(c echo.Context) error {
	inc := s.backend.Incidents()
	if inc == nil {
		inc = []alerts.Incident{}
	}
	return c.JSON(http.StatusOK, inc)
}

func (s *Server) getBaselineExport(c echo.Context) error {
	b, err := s.backend.BaselineExport()
	if err != nil {
		return err
	}
	if c.QueryParam("download") != "" {
		s.record(c, "", "baseline.export", "", nil)
		c.Response().Header().Set("Content-Disposition", `attachment; filename="otwatch-baseline.json"`)
	}
	return c.Blob(http.StatusOK, "application/json", b)
}

func (s *Server) getBaseline(c echo.Context) error {
	b, ok := s.backend.Baseline(c.Param("asset"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no baseline for this asset")
	}
	return c.Blob(http.StatusOK, "application/json", b)
}

// postBaselineDiff compares an uploaded baseline document with the current one.
func (s *Server) postBaselineDiff(c echo.Context) error {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if mt != "application/json" {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return badRequest("body: %v", err)
	}
	other, err := baseline.DecodeDocument(body)
	if err != nil {
		return badRequest("uploaded document: %v", err)
	}
	curRaw, err := s.backend.BaselineExport()
	if err != nil {
		return err
	}
	cur, err := baseline.DecodeDocument(curRaw)
	if err != nil {
		return err
	}
	changes := baseline.Diff(other, cur)
	if changes == nil {
		changes = []string{}
	}
	s.record(c, "", "baseline.diff", "", nil)
	return c.JSON(http.StatusOK, map[string]any{"changes": changes})
}

func (s *Server) getHealth(c echo.Context) error {
	h := s.backend.Health()
	if s.cfg.Version != "" {
		h.Version = s.cfg.Version
	}
	if h.Started.IsZero() {
		h.Started = s.started
	}
	h.UptimeSecond = int64(time.Since(h.Started) / time.Second)
	if h.Interfaces == nil {
		h.Interfaces = []Interface{}
	}
	return c.JSON(http.StatusOK, h)
}

// getEvents streams live updates as server-sent events until the client
// leaves, the server stops or the session ends.
func (s *Server) getEvents(c echo.Context) error {
	events, cancel := s.backend.Subscribe()
	defer cancel()
	w := c.Response()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 5000\n\n")
	w.Flush()
	id := who(c)
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			data := ev.Data
			if len(data) == 0 {
				data = json.RawMessage("null")
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", sseName(ev.Type), compactJSON(data))
			w.Flush()
		case <-ping.C:
			if id.Session != nil {
				if _, ok := s.auth.Session(id.Session.ID); !ok {
					return nil
				}
			}
			fmt.Fprint(w, ": ping\n\n")
			w.Flush()
		}
	}
}

func sseName(t string) string {
	var b strings.Builder
	for _, r := range t {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "message"
	}
	return b.String()
}

// compactJSON keeps an event on one data line.
func compactJSON(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return []byte("null")
	}
	return out.Bytes()
}

// ---- administration ----

func (s *Server) getUsers(c echo.Context) error { return c.JSON(http.StatusOK, s.auth.Users()) }

type userRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

func (s *Server) postUser(c echo.Context) error {
	var req userRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	req.User = strings.TrimSpace(req.User)
	err := s.auth.CreateUser(req.User, req.Password, req.Role)
	s.record(c, "", "user.create", req.User+" ("+req.Role+")", err)
	if err != nil {
		if errors.Is(err, ErrUserExists) {
			return echo.NewHTTPError(http.StatusConflict, err.Error())
		}
		return badRequest("%v", err)
	}
	return c.JSON(http.StatusCreated, map[string]string{"user": req.User, "role": req.Role})
}

func (s *Server) deleteUser(c echo.Context) error {
	name := c.Param("name")
	err := s.auth.DeleteUser(name)
	s.record(c, "", "user.delete", name, err)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, err.Error())
		}
		return echo.NewHTTPError(http.StatusConflict, err.Error())
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getTokens(c echo.Context) error { return c.JSON(http.StatusOK, s.auth.Tokens()) }

type tokenRequest struct {
	Name string `json:"name"`
	User string `json:"user,omitempty"` // default: the caller
}

func (s *Server) postToken(c echo.Context) error {
	var req tokenRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.User == "" {
		req.User = who(c).User
	}
	tok, info, err := s.auth.CreateToken(req.User, req.Name)
	s.record(c, "", "token.create", req.Name+" for "+req.User, err)
	if err != nil {
		return badRequest("%v", err)
	}
	info.Hash = ""
	return c.JSON(http.StatusCreated, map[string]any{"token": tok, "info": info})
}

func (s *Server) deleteToken(c echo.Context) error {
	id := c.Param("id")
	err := s.auth.RevokeToken(id)
	s.record(c, "", "token.revoke", id, err)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, err.Error())
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getAudit(c echo.Context) error {
	n := 200
	if x := c.QueryParam("limit"); x != "" {
		v, err := strconv.Atoi(x)
		if err != nil || v <= 0 || v > 10000 {
			return badRequest("limit %q: 1..10000", x)
		}
		n = v
	}
	entries, err := s.audit.Tail(n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, entries)
}

func (s *Server) getEvidence(c echo.Context) error {
	src, ok := s.backend.(EvidenceSource)
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "this backend keeps no evidence")
	}
	id := c.Param("id")
	pcap, err := src.Evidence(id)
	s.record(c, "", "alert.evidence", id, err)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, err.Error())
		}
		return err
	}
	name := "otwatch-alert-" + sseName(id) + ".pcap"
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	return c.Blob(http.StatusOK, "application/vnd.tcpdump.pcap", pcap)
}

func (s *Server) settingsStore() (SettingsStore, error) {
	st, ok := s.backend.(SettingsStore)
	if !ok {
		return nil, echo.NewHTTPError(http.StatusNotFound, "settings are not editable here")
	}
	return st, nil
}

func (s *Server) getSettings(c echo.Context) error {
	st, err := s.settingsStore()
	if err != nil {
		return err
	}
	set := st.Settings()
	if set.Syslog == nil {
		set.Syslog = []string{}
	}
	return c.JSON(http.StatusOK, set)
}

// ValidateSettings checks settings before they reach the backend.
func ValidateSettings(set Settings) error {
	switch set.Mode {
	case "auto", "learn", "detect":
	default:
		return fmt.Errorf("mode %q: want auto, learn or detect", set.Mode)
	}
	if len(set.Syslog) > 8 {
		return fmt.Errorf("syslog: at most 8 destinations")
	}
	if until := set.MaintenanceUntil; !until.IsZero() && until.After(time.Now()) {
		switch {
		case until.After(time.Now().Add(MaxMaintenance)):
			return fmt.Errorf("maintenance_until: at most %s ahead", MaxMaintenance)
		case strings.TrimSpace(set.MaintenanceReason) == "":
			return fmt.Errorf("maintenance_reason: say what work is planned")
		case len(set.MaintenanceReason) > 200:
			return fmt.Errorf("maintenance_reason: at most 200 characters")
		}
	}
	for i, d := range set.Syslog {
		u, err := url.Parse(d)
		if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp" && u.Scheme != "tls") || u.Port() == "" || u.Hostname() == "" ||
			u.Path != "" || u.User != nil || u.RawQuery != "" {
			return fmt.Errorf("syslog[%d] %q: want udp://host:port, tcp://host:port or tls://host:port", i, d)
		}
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("syslog[%d] %q: bad port", i, d)
		}
	}
	return nil
}

func (s *Server) putSettings(c echo.Context) error {
	st, err := s.settingsStore()
	if err != nil {
		return err
	}
	var set Settings
	if err := bindJSON(c, &set); err != nil {
		return err
	}
	if err := ValidateSettings(set); err != nil {
		s.record(c, "", "settings.update", "", err)
		return badRequest("%v", err)
	}
	err = st.SetSettings(set, who(c).User)
	b, _ := json.Marshal(set)
	s.record(c, "", "settings.update", string(b), err)
	if err != nil {
		return badRequest("%v", err)
	}
	return s.getSettings(c)
}
