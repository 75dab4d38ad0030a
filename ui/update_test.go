package ui_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/ui"
	"github.com/otwatch/otwatch/ui/fake"
)

// updatable is the offline backend plus a bundle store that keeps what it
// is given and refuses what does not start like a bundle.
type updatable struct {
	*fake.Backend
	got   []byte
	up    ui.UpdateUpload
	state ui.UpdateState
}

func (u *updatable) StoreUpdate(r io.Reader, up ui.UpdateUpload) (ui.UpdateAccepted, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return ui.UpdateAccepted{}, err
	}
	if !bytes.HasPrefix(b, []byte("manifest")) {
		return ui.UpdateAccepted{}, &ui.UpdateError{Code: http.StatusUnprocessableEntity, Msg: "bundle: not a bundle"}
	}
	u.got, u.up = b, up
	return ui.UpdateAccepted{Version: "v2", Arch: "arm64", Size: int64(len(b))}, nil
}

func (u *updatable) UpdateState() ui.UpdateState { return u.state }

func TestUpdateUpload(t *testing.T) {
	b := &updatable{Backend: fake.New(), state: ui.UpdateState{Supported: true, State: "idle", Running: "a"}}
	srv := newServer(t, b, "")
	admin := adminClient(t, srv)
	if err := srv.Auth().CreateUser("viewer", testPassword, ui.RoleViewer); err != nil {
		t.Fatal(err)
	}
	viewer := newClient(t, srv.Handler())
	viewer.login("viewer", testPassword)
	csrf := func(c *client) map[string]string {
		return map[string]string{ui.CSRFHeader: c.csrf, "Content-Type": "application/octet-stream"}
	}
	// 6 MiB: more than any other request may carry
	bundle := "manifest" + strings.Repeat("x", 6<<20)
	if rec := viewer.do("POST", "/api/system/update", bundle, csrf(viewer)); rec.Code != http.StatusForbidden {
		t.Fatalf("viewer upload: %d", rec.Code)
	}
	if rec := admin.do("POST", "/api/system/update", bundle, nil); rec.Code != http.StatusForbidden {
		t.Fatalf("upload without CSRF token: %d", rec.Code)
	}
	rec := admin.do("POST", "/api/system/update?allow_downgrade=1", bundle, csrf(admin))
	if rec.Code != http.StatusAccepted || !strings.Contains(rec.Body.String(), `"version":"v2"`) {
		t.Fatalf("upload: %d %s", rec.Code, rec.Body)
	}
	if len(b.got) != len(bundle) || b.up.User != "admin" || !b.up.AllowDowngrade {
		t.Fatalf("stored %d bytes, %+v", len(b.got), b.up)
	}
	if rec := admin.do("POST", "/api/system/update", "junk", csrf(admin)); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "not a bundle") {
		t.Fatalf("junk: %d %s", rec.Code, rec.Body)
	}
	// the body limit of other routes still holds
	if rec := admin.do("PUT", "/api/settings", `{"mode":"auto","x":"`+strings.Repeat("x", 5<<20)+`"}`, csrf(admin)); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("5 MiB settings: %d", rec.Code)
	}
	// both uploads are in the audit log, with the result
	var audit []ui.AuditEntry
	admin.json("GET", "/api/audit", "", nil, &audit)
	var seen []string
	for _, e := range audit {
		if e.Action == "update.upload" {
			seen = append(seen, e.Target+"|"+map[bool]string{true: "ok", false: e.Detail}[e.OK])
		}
	}
	if strings.Join(seen, ",") != "|bundle: not a bundle,v2 (downgrade allowed)|ok" {
		t.Errorf("audit: %v", seen)
	}
	var st ui.UpdateState
	if code := viewer.json("GET", "/api/system/update", "", nil, &st); code != 200 || !st.Supported || st.Running != "a" || st.Slots == nil {
		t.Errorf("state: %d %+v", code, st)
	}
	// entries from the installer, through the daemon
	srv.Audit(ui.AuditEntry{User: "system", Action: "update.installed", Target: "v2", OK: true})
	admin.json("GET", "/api/audit?limit=1", "", nil, &audit)
	if len(audit) != 1 || audit[0].Action != "update.installed" {
		t.Errorf("system audit entry: %+v", audit)
	}
}

func TestUpdateNotSupported(t *testing.T) {
	srv := newServer(t, fake.New(), "")
	c := adminClient(t, srv)
	if rec := c.do("POST", "/api/system/update", "manifest", map[string]string{ui.CSRFHeader: c.csrf}); rec.Code != http.StatusNotImplemented {
		t.Errorf("upload: %d", rec.Code)
	}
	var st ui.UpdateState
	if code := c.json("GET", "/api/system/update", "", nil, &st); code != http.StatusOK || st.Supported || st.Reason == "" {
		t.Errorf("state: %d %+v", code, st)
	}
}

// TestBrowserUpdate: the system page shows the slots, and an admin uploads
// a bundle with the form (the file sent as it is, after a confirmation).
func TestBrowserUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	shots := screenshotDir(t)
	b := &updatable{Backend: fake.New(), state: ui.UpdateState{Supported: true, State: "idle", Running: "a",
		Slots: []ui.UpdateSlot{{Name: "a", Version: "v1.4.0", State: "good", Running: true}, {Name: "b", State: "empty"}}}}
	srv, base, _ := serveTLS(t, b)
	if err := srv.Auth().CreateUser("ops", testPassword, ui.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	br := startBrowser(t, shots)
	br.login(base, "ops", 20*time.Second)
	br.eval(`location.hash = '#/system'`)
	br.waitFor("slots table", `document.getElementById('slots-table')`, 15*time.Second)
	if got := br.evalString(`document.getElementById('slots-table').textContent`); !strings.Contains(got, "av1.4.0goodrunning") || !strings.Contains(got, "b—empty") {
		t.Errorf("slots table: %q", got)
	}
	br.eval(`window.confirm = () => true;
		const dt = new DataTransfer();
		dt.items.add(new File(['manifest and the rest of a bundle'], 'otwatch-arm64.otwb'));
		document.getElementById('update-file').files = dt.files;
		document.getElementById('update-upload').click(); true`)
	br.waitFor("upload stored", `document.getElementById('update-msg').textContent.includes('Stored v2 for arm64')`, 15*time.Second)
	br.eval(`document.getElementById('slots-table').scrollIntoView(); true`)
	br.screenshot("system-update")
	if string(b.got) != "manifest and the rest of a bundle" || b.up.User != "ops" || b.up.AllowDowngrade {
		t.Errorf("stored %q, %+v", b.got, b.up)
	}
	if errs := br.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
