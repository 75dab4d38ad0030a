package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/ui"
	"github.com/otwatch/otwatch/ui/fake"
)

func adminClient(t testing.TB, srv *ui.Server) *client {
	if err := srv.Auth().CreateUser("admin", testPassword, ui.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv.Handler())
	if code := c.login("admin", testPassword); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	return c
}

func TestAlertsAPI(t *testing.T) {
	b := replayed(t)
	srv := newServer(t, b, "")
	c := adminClient(t, srv)
	var all struct {
		Total  int
		Alerts []ui.AlertRecord
	}
	if code := c.json("GET", "/api/alerts?limit=1000", "", nil, &all); code != 200 || all.Total == 0 || len(all.Alerts) != all.Total {
		t.Fatalf("alerts: %d total %d len %d", code, all.Total, len(all.Alerts))
	}
	for i := 1; i < len(all.Alerts); i++ {
		if all.Alerts[i].Alert.TS.After(all.Alerts[i-1].Alert.TS) && all.Alerts[i].Alert.Kind != "cyclic_stopped" {
			// newest first by arrival; engine order follows packet time
			break
		}
	}
	var hi struct {
		Total  int
		Alerts []ui.AlertRecord
	}
	c.json("GET", "/api/alerts?severity=9&limit=1000", "", nil, &hi)
	for _, r := range hi.Alerts {
		if r.Alert.Severity < 9 {
			t.Errorf("severity filter let %d through", r.Alert.Severity)
		}
	}
	if hi.Total == 0 || hi.Total >= all.Total {
		t.Errorf("severity filter: %d of %d", hi.Total, all.Total)
	}
	for _, bad := range []string{"severity=x", "limit=5000", "since=yesterday", "state=maybe", "offset=-1"} {
		if code := c.json("GET", "/api/alerts?"+bad, "", nil, nil); code != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, code)
		}
	}
	// paging
	var p1, p2 struct{ Alerts []ui.AlertRecord }
	c.json("GET", "/api/alerts?limit=5", "", nil, &p1)
	c.json("GET", "/api/alerts?limit=5&offset=5", "", nil, &p2)
	if len(p1.Alerts) != 5 || len(p2.Alerts) != 5 || p1.Alerts[0].Alert.ID != all.Alerts[0].Alert.ID || p2.Alerts[0].Alert.ID != all.Alerts[5].Alert.ID {
		t.Error("paging")
	}
	// acknowledge and mark normal, 404 for unknown ids
	first, err := b.FirstAlert("new_function", "write_to_unseen_target")
	if err != nil {
		t.Fatal(err)
	}
	id := first.ID
	hdr := map[string]string{ui.CSRFHeader: c.csrf}
	var rec ui.AlertRecord
	if code := c.json("POST", "/api/alerts/"+id+"/ack", "", hdr, &rec); code != 200 || rec.Acknowledged == nil || rec.Acknowledged.User != "admin" {
		t.Fatalf("ack: %d %+v", code, rec)
	}
	if code := c.json("POST", "/api/alerts/nope/ack", "", hdr, nil); code != http.StatusNotFound {
		t.Errorf("unknown ack: %d", code)
	}
	if code := c.json("POST", "/api/alerts/"+id+"/normal", "", hdr, &rec); code != 200 || rec.MarkedNormal == nil {
		t.Fatalf("normal: %d", code)
	}
	var open struct{ Total int }
	c.json("GET", "/api/alerts?state=open", "", nil, &open)
	if open.Total != all.Total-1 {
		t.Errorf("open after one mark: %d of %d", open.Total, all.Total)
	}
	// stats, incidents, kinds, health, baseline, inventory, openapi
	var st ui.AlertStats
	c.json("GET", "/api/alerts/stats", "", nil, &st)
	if st.Total != all.Total || st.Open != all.Total-1 || len(st.Histogram) == 0 {
		t.Errorf("stats %+v", st)
	}
	for _, path := range []string{"/api/incidents", "/api/kinds", "/api/health", "/api/baseline", "/api/inventory", "/api/openapi.json", "/api/users", "/api/tokens", "/api/audit"} {
		r := c.do("GET", path, "", nil)
		if r.Code != 200 || !json.Valid(r.Body.Bytes()) {
			t.Errorf("%s: %d", path, r.Code)
		}
	}
	// audit entries for the actions
	var audit []ui.AuditEntry
	c.json("GET", "/api/audit", "", nil, &audit)
	seen := map[string]bool{}
	for _, e := range audit {
		seen[e.Action] = true
	}
	for _, want := range []string{"login", "alert.acknowledge", "alert.mark_normal"} {
		if !seen[want] {
			t.Errorf("audit lacks %s", want)
		}
	}
}

func TestOpenAPICoversRoutes(t *testing.T) {
	srv := newServer(t, fake.New(), "")
	c := adminClient(t, srv)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if code := c.json("GET", "/api/openapi.json", "", nil, &doc); code != 200 || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %d %q", code, doc.OpenAPI)
	}
	for _, r := range srv.Echo().Routes() {
		if !strings.HasPrefix(r.Path, "/api/") {
			continue
		}
		p := r.Path
		parts := strings.Split(p, "/")
		for i, x := range parts {
			if strings.HasPrefix(x, ":") {
				parts[i] = "{" + x[1:] + "}"
			}
		}
		p = strings.Join(parts, "/")
		ops, ok := doc.Paths[p]
		if !ok {
			t.Errorf("%s %s missing from openapi.json", r.Method, p)
			continue
		}
		if _, ok := ops[strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s: method missing from openapi.json", r.Method, p)
		}
	}
}

func TestBearerToken(t *testing.T) {
	b := replayed(t)
	srv := newServer(t, b, "")
	c := adminClient(t, srv)
	var tok struct{ Token string }
	if code := c.json("POST", "/api/tokens", `{"name":"automation"}`, map[string]string{ui.CSRFHeader: c.csrf}, &tok); code != http.StatusCreated {
		t.Fatalf("create token: %d", code)
	}
	bot := newClient(t, srv.Handler())
	bot.bearer = tok.Token
	if code := bot.json("GET", "/api/inventory", "", nil, nil); code != 200 {
		t.Errorf("bearer GET: %d", code)
	}
	recs, _, _ := b.Alerts(ui.AlertQuery{Limit: 1})
	// a bearer token needs no CSRF token (no ambient cookie to ride on)
	if code := bot.json("POST", "/api/alerts/"+recs[0].Alert.ID+"/ack", "", nil, nil); code != 200 {
		t.Errorf("bearer POST: %d", code)
	}
	// a viewer's token cannot act
	srv.Auth().CreateUser("reader", testPassword, ui.RoleViewer)
	vt, _, _ := srv.Auth().CreateToken("reader", "ro")
	ro := newClient(t, srv.Handler())
	ro.bearer = vt
	if code := ro.json("POST", "/api/alerts/"+recs[0].Alert.ID+"/normal", "", nil, nil); code != http.StatusForbidden {
		t.Errorf("viewer token POST: %d", code)
	}
	if code := ro.json("GET", "/api/alerts", "", nil, nil); code != 200 {
		t.Errorf("viewer token GET: %d", code)
	}
}

func TestBaselineDiff(t *testing.T) {
	b := replayed(t)
	srv := newServer(t, b, "")
	c := adminClient(t, srv)
	cur, _ := b.BaselineExport()
	hdr := map[string]string{ui.CSRFHeader: c.csrf}
	var out struct{ Changes []string }
	if code := c.json("POST", "/api/baseline/diff", string(cur), hdr, &out); code != 200 || len(out.Changes) != 0 {
		t.Fatalf("self diff: %d %v", code, out.Changes)
	}
	empty := `{"version":1,"network":{"start":"0001-01-01T00:00:00Z","last_new_host":"0001-01-01T00:00:00Z","hosts":[]},"assets":[]}`
	if code := c.json("POST", "/api/baseline/diff", empty, hdr, &out); code != 200 || len(out.Changes) == 0 {
		t.Fatalf("diff against empty: %d %d", code, len(out.Changes))
	}
	if code := c.json("POST", "/api/baseline/diff", `{"version":1,"bogus":true}`, hdr, nil); code != http.StatusBadRequest {
		t.Errorf("bad document: %d", code)
	}
}

func TestEventsStream(t *testing.T) {
	b := replayed(t)
	srv := newServer(t, b, "")
	c := adminClient(t, srv)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/events", nil)
	req.AddCookie(&http.Cookie{Name: ui.SessionCookie, Value: c.cookies[ui.SessionCookie]})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		b.Tick()
	}()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "event: counters" {
			sc.Scan()
			if !strings.HasPrefix(sc.Text(), "data: {") {
				t.Fatalf("data line %q", sc.Text())
			}
			return
		}
	}
	t.Fatal("no counters event")
}

func TestAlertStorePaging(t *testing.T) {
	s := ui.NewAlertStore(100)
	b := fake.New()
	b.Synthetic(10, 250, 1)
	recs, total, _ := b.Alerts(ui.AlertQuery{Limit: 1000})
	if total != 250 || len(recs) != 250 {
		t.Fatalf("synthetic: %d", total)
	}
	for i := len(recs) - 1; i >= 0; i-- {
		s.Add(recs[i].Alert)
	}
	if s.Len() != 100 {
		t.Fatalf("store keeps %d, cap 100", s.Len())
	}
	got, n := s.Query(ui.AlertQuery{Limit: 1000})
	if n != 100 || got[0].Alert.ID != recs[0].Alert.ID {
		t.Errorf("newest kept: %d %s", n, got[0].Alert.ID)
	}
	if _, ok := s.Get(recs[249].Alert.ID); ok {
		t.Error("oldest not evicted")
	}
}

func TestUnknownRoutes(t *testing.T) {
	srv := newServer(t, fake.New(), "")
	anon := newClient(t, srv.Handler())
	for _, p := range []string{"/api/nope", "/static/../server.go", "/static/index.html", "/etc/passwd"} {
		if r := anon.do("GET", p, "", nil); r.Code != http.StatusUnauthorized && r.Code != http.StatusNotFound {
			t.Errorf("anonymous %s: %d", p, r.Code)
		}
	}
	c := adminClient(t, srv)
	if r := c.do("GET", "/api/nope", "", nil); r.Code != http.StatusNotFound {
		t.Errorf("unknown API route: %d", r.Code)
	}
	if r := c.do("GET", "/static/app.js", "", nil); r.Code != 200 || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("app.js: %d %s", r.Code, r.Header().Get("Content-Type"))
	}
}

func TestValidateSettingsMaintenance(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		set  ui.Settings
		err  string
	}{
		{"no window", ui.Settings{Mode: "auto"}, ""},
		{"two hours, with a reason", ui.Settings{Mode: "auto", MaintenanceUntil: now.Add(2 * time.Hour), MaintenanceReason: "swap CPU"}, ""},
		{"a window in the past ends it", ui.Settings{Mode: "auto", MaintenanceUntil: now.Add(-time.Hour)}, ""},
		{"no reason", ui.Settings{Mode: "auto", MaintenanceUntil: now.Add(time.Hour), MaintenanceReason: "  "}, "maintenance_reason: say what work is planned"},
		{"too long", ui.Settings{Mode: "auto", MaintenanceUntil: now.Add(8 * 24 * time.Hour), MaintenanceReason: "x"}, "maintenance_until: at most 168h0m0s ahead"},
		{"reason too long", ui.Settings{Mode: "auto", MaintenanceUntil: now.Add(time.Hour), MaintenanceReason: strings.Repeat("x", 201)}, "at most 200 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ui.ValidateSettings(tc.set)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
	// the same window declared again keeps who declared it; a new one names the new user
	cur := ui.MaintenanceOf(ui.Settings{MaintenanceUntil: now.Add(time.Hour), MaintenanceReason: "swap CPU"}, "alice", alerts.Maintenance{})
	if cur.By != "alice" {
		t.Fatalf("%+v", cur)
	}
	if again := ui.MaintenanceOf(ui.Settings{MaintenanceUntil: cur.Until, MaintenanceReason: "swap CPU"}, "bob", cur); again.By != "alice" {
		t.Errorf("unchanged window re-attributed: %+v", again)
	}
	if ended := ui.MaintenanceOf(ui.Settings{}, "bob", cur); !ended.Until.IsZero() {
		t.Errorf("not ended: %+v", ended)
	}
}
