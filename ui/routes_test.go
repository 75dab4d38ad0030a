package ui_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/ui"
)

// concrete turns a route pattern into a path that matches it.
func concrete(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "x"
		}
		if p == "*" {
			parts[i] = "app.js"
		}
	}
	return strings.Join(parts, "/")
}

func stateChanging(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// TestRouteTable enumerates every registered route: each one that is not
// public (login, setup, static assets) answers 401 without a session or
// with a bad token, and every state-changing route — public ones included
// — refuses a request without the right CSRF token. Admin routes refuse a viewer.
func TestRouteTable(t *testing.T) {
	srv := newServer(t, replayed(t), "")
	if err := srv.Auth().CreateUser("admin", testPassword, ui.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := srv.Auth().CreateUser("viewer", testPassword, ui.RoleViewer); err != nil {
		t.Fatal(err)
	}
	routes := srv.Echo().Routes()
	if len(routes) < 25 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	admin := newClient(t, srv.Handler())
	if code := admin.login("admin", testPassword); code != http.StatusOK {
		t.Fatalf("admin login: %d", code)
	}
	viewer := newClient(t, srv.Handler())
	if code := viewer.login("viewer", testPassword); code != http.StatusOK {
		t.Fatalf("viewer login: %d", code)
	}
	publicSeen := map[string]bool{}
	for _, r := range routes {
		path := concrete(r.Path)
		name := r.Method + " " + r.Path
		t.Run(name, func(t *testing.T) {
			body := ""
			if stateChanging(r.Method) {
				body = "{}"
			}
			public := srv.IsPublic(r.Method, r.Path)
			if public {
				publicSeen[name] = true
				switch {
				case r.Path == "/" || strings.HasPrefix(r.Path, "/static/"),
					strings.HasPrefix(r.Path, "/api/login"), strings.HasPrefix(r.Path, "/api/setup"):
				default:
					t.Fatalf("route %s is public but is neither login, setup nor a static asset", name)
				}
			} else {
				anon := newClient(t, srv.Handler())
				if rec := anon.do(r.Method, path, body, nil); rec.Code != http.StatusUnauthorized && rec.Code != http.StatusForbidden {
					t.Errorf("without a session: %d, want 401/403", rec.Code)
				}
				forged := newClient(t, srv.Handler())
				forged.cookies[ui.SessionCookie] = "forged-session-id"
				if rec := forged.do(r.Method, path, body, map[string]string{ui.CSRFHeader: "x"}); rec.Code != http.StatusUnauthorized {
					t.Errorf("with a forged session: %d, want 401", rec.Code)
				}
				bad := newClient(t, srv.Handler())
				bad.bearer = "otw_not-a-token"
				if rec := bad.do(r.Method, path, body, nil); rec.Code != http.StatusUnauthorized {
					t.Errorf("with a bad bearer token: %d, want 401", rec.Code)
				}
			}
			if stateChanging(r.Method) {
				// a logged-in admin without the CSRF header, then with a wrong one
				for _, hdr := range []map[string]string{nil, {ui.CSRFHeader: "wrong"}} {
					if rec := admin.do(r.Method, path, body, hdr); rec.Code != http.StatusForbidden {
						t.Errorf("session without valid CSRF token (%v): %d, want 403", hdr, rec.Code)
					}
				}
				// a cross-site request, even with the token
				if rec := admin.do(r.Method, path, body, map[string]string{ui.CSRFHeader: admin.csrf, "Origin": "https://evil.example"}); rec.Code != http.StatusForbidden {
					t.Errorf("cross-origin: %d, want 403", rec.Code)
				}
			}
			if !public && isAdminRoute(r.Path, r.Method) {
				hdr := map[string]string{ui.CSRFHeader: viewer.csrf}
				if rec := viewer.do(r.Method, path, body, hdr); rec.Code != http.StatusForbidden {
					t.Errorf("viewer on an admin route: %d, want 403", rec.Code)
				}
			}
		})
	}
	for _, want := range []string{"GET /", "GET /static/*", "POST /api/login", "POST /api/setup"} {
		if !publicSeen[want] {
			t.Errorf("public route %s not registered", want)
		}
	}
	// the admin's own session still works after all that
	if code := admin.json("GET", "/api/session", "", nil, nil); code != http.StatusOK {
		t.Errorf("admin session: %d", code)
	}
}

// isAdminRoute lists what a viewer may not do: every state change but
// logout, and the administration pages.
func isAdminRoute(path, method string) bool {
	if stateChanging(method) {
		return path != "/api/logout" && path != "/api/baseline/diff"
	}
	return strings.HasPrefix(path, "/api/users") || strings.HasPrefix(path, "/api/tokens") || strings.HasPrefix(path, "/api/audit")
}

func TestSecurityHeaders(t *testing.T) {
	srv := newServer(t, replayed(t), "")
	c := newClient(t, srv.Handler())
	for _, path := range []string{"/", "/static/app.js", "/api/login", "/api/inventory"} {
		rec := c.do("GET", path, "", nil)
		h := rec.Header()
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") ||
			!strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		for k, want := range map[string]string{"Strict-Transport-Security": "max-age=", "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if !strings.Contains(h.Get(k), want) {
				t.Errorf("%s: %s = %q", path, k, h.Get(k))
			}
		}
	}
	// the page carries no inline script or style
	body := c.do("GET", "/", "", nil).Body.String()
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") || strings.Contains(body, "<style") || strings.Contains(body, "onclick") {
		t.Errorf("index.html has inline script or style")
	}
}

func TestLoginCookieAttributes(t *testing.T) {
	srv := newServer(t, replayed(t), "")
	if err := srv.Auth().CreateUser("admin", testPassword, ui.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv.Handler())
	var pre struct{ CSRF string }
	c.json("GET", "/api/login", "", nil, &pre)
	rec := c.do("POST", "/api/login", `{"user":"admin","password":"`+testPassword+`"}`, map[string]string{ui.CSRFHeader: pre.CSRF})
	if rec.Code != 200 {
		t.Fatalf("login %d %s", rec.Code, rec.Body)
	}
	var sess struct{ CSRF string }
	if err := json.Unmarshal(rec.Body.Bytes(), &sess); err != nil || sess.CSRF == "" {
		t.Fatalf("login response %s", rec.Body)
	}
	c.csrf = sess.CSRF
	found := false
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == ui.SessionCookie {
			found = true
			if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
				t.Errorf("session cookie attributes: %+v", ck)
			}
		}
	}
	if !found {
		t.Fatal("no session cookie")
	}
	// logout ends the session server-side
	hdr := map[string]string{ui.CSRFHeader: c.csrf}
	if rec := c.do("POST", "/api/logout", "", hdr); rec.Code != http.StatusNoContent {
		t.Fatalf("logout: %d", rec.Code)
	}
	if code := c.json("GET", "/api/session", "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("after logout: %d", code)
	}
}

func TestFirstStartSetup(t *testing.T) {
	dir := t.TempDir()
	srv := newServer(t, replayed(t), dir)
	tok := srv.SetupToken()
	if tok == "" {
		t.Fatal("no setup token on first start")
	}
	c := newClient(t, srv.Handler())
	// nothing works before setup, and there is no default password
	if code := c.login("admin", "admin"); code != http.StatusUnauthorized {
		t.Errorf("default login: %d", code)
	}
	var st struct {
		Needed bool
		CSRF   string
	}
	c.json("GET", "/api/setup", "", nil, &st)
	if !st.Needed || st.CSRF == "" {
		t.Fatalf("setup state %+v", st)
	}
	hdr := map[string]string{ui.CSRFHeader: st.CSRF}
	if rec := c.do("POST", "/api/setup", `{"token":"wrong","user":"admin","password":"`+testPassword+`"}`, hdr); rec.Code != http.StatusForbidden {
		t.Errorf("wrong token: %d", rec.Code)
	}
	if rec := c.do("POST", "/api/setup", `{"token":"`+tok+`","user":"admin","password":"short"}`, hdr); rec.Code != http.StatusBadRequest {
		t.Errorf("weak password: %d", rec.Code)
	}
	if rec := c.do("POST", "/api/setup", `{"token":"`+tok+`","user":"admin","password":"`+testPassword+`"}`, hdr); rec.Code != http.StatusCreated {
		t.Fatalf("setup: %d %s", rec.Code, rec.Body)
	}
	if srv.SetupToken() != "" {
		t.Error("setup token still valid")
	}
	if rec := c.do("POST", "/api/setup", `{"token":"`+tok+`","user":"admin2","password":"`+testPassword+`"}`, hdr); rec.Code != http.StatusForbidden {
		t.Errorf("second setup: %d", rec.Code)
	}
	if code := c.login("admin", testPassword); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	// a restart keeps the user and needs no setup
	srv2 := newServer(t, replayed(t), dir)
	if srv2.SetupToken() != "" {
		t.Error("setup token after restart")
	}
	c2 := newClient(t, srv2.Handler())
	if code := c2.login("admin", testPassword); code != http.StatusOK {
		t.Errorf("login after restart: %d", code)
	}
}
