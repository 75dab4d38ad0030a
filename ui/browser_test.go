package ui_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/zones"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/otwatch/otwatch/ui"
	"github.com/otwatch/otwatch/ui/fake"
)

// screenshotDir is $OTWATCH_UI_SCREENSHOTS (created) or a test temp dir.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("OTWATCH_UI_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// serveTLS runs the dashboard the way the daemon does: HTTPS on a
// loopback port with the self-signed certificate made on first start.
func serveTLS(t *testing.T, b ui.Backend) (*ui.Server, string, string) {
	dir := t.TempDir()
	srv, err := ui.New(ui.Config{StateDir: dir, Addr: "127.0.0.1:0", Version: "browser-test", Logf: t.Logf}, b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx, func(a net.Addr) { addr <- a }) }()
	var base string
	select {
	case a := <-addr:
		base = "https://" + a.String()
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return srv, base, dir
}

// baselineFunctions are the functions the baseline of ip learned (none
// when ip has no baseline).
func baselineFunctions(t *testing.T, b interface {
	Baseline(string) (json.RawMessage, bool)
}, ip string) []baseline.FunctionDoc {
	t.Helper()
	raw, ok := b.Baseline(ip)
	if !ok {
		return nil
	}
	var doc baseline.AssetDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Functions
}

func baselineHas(t *testing.T, b *fake.Backend, a *alerts.Alert) bool {
	for _, f := range baselineFunctions(t, b, a.Server.IP) {
		if f.Client == a.Client.IP && f.Proto == a.Proto && a.Code != nil && int(f.Code) == *a.Code && f.Op == a.Op {
			return true
		}
	}
	return false
}

// TestBrowser drives the dashboard in headless Chromium: first-start
// setup, login, assets with identities, the network map, acknowledging
// an alert and marking it normal (the baseline then holds its key),
// every page, logout; no console error and no request leaving localhost.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("headless Chromium: skipped with -short (make test-full runs it)")
	}
	shots := screenshotDir(t)
	backend := replayed(t)
	// the DNP3 outstation and SCADA master in zones of the plant's own drawing
	policy, err := zones.New([]zones.Zone{
		{Name: "substation", Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/29")}, Level: 1},
		{Name: "control-room", Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.8/29")}, Level: 2},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	backend.SetZones(policy)
	backend.AddNeighbor(inventory.Neighbor{MAC: "00:1b:1b:34:34:ce", Vendor: "Siemens AG", ChassisID: "00:1b:1b:34:34:cb", PortID: "port-003",
		SystemDesc: "Siemens AG SIMATIC S7 MULTIPORT SCALANCE X 200 FAM", Capabilities: []string{"bridge"}, LastSeen: "2016-12-15T09:49:19.432677000Z"})
	srv, base, stateDir := serveTLS(t, backend)
	br := startBrowser(t, shots)
	t.Logf("screenshots in %s", shots)
	const ready = `document.querySelector('.page[data-ready]')`
	page := func(name string) {
		t.Helper()
		br.eval(fmt.Sprintf(`location.hash = %q`, "#/"+name))
		id := strings.SplitN(strings.SplitN(name, "?", 2)[0], "/", 2)[0]
		br.waitFor(name+" page", fmt.Sprintf(`document.querySelector('#page-%s[data-ready]')`, id), 15*time.Second)
		if errs := br.evalString(`[...document.querySelectorAll('.page p.error')].map(e => e.textContent).join('; ')`); errs != "" {
			t.Errorf("%s page shows errors: %s", name, errs)
		}
	}

	// first start: the setup form, with the token the caller printed
	br.navigate(base + "/")
	br.waitFor("setup form", `document.getElementById('setup-form')`, 20*time.Second)
	br.eval(fmt.Sprintf(`document.getElementById('setup-token').value = %q;
		document.getElementById('setup-user').value = 'bad name!';
		document.getElementById('setup-pass').value = %q;
		document.getElementById('setup-pass2').value = %q; document.getElementById('setup-submit').click(); true`, srv.SetupToken(), testPassword, testPassword))
	br.waitFor("setup refuses a bad user name", `document.getElementById('setup-error').textContent.includes('user name: 1 to 64')`, 10*time.Second)
	br.eval(fmt.Sprintf(`document.getElementById('setup-token').value = %q;
		document.getElementById('setup-user').value = 'admin';
		document.getElementById('setup-pass').value = %q;
		document.getElementById('setup-pass2').value = %q; true`, srv.SetupToken(), testPassword, testPassword))
	br.screenshot("01-setup")
	br.eval(`document.getElementById('setup-submit').click(); true`)
	br.waitFor("login form", `document.getElementById('login-form')`, 15*time.Second)
	if srv.SetupToken() != "" {
		t.Fatal("setup token still valid after setup")
	}

	// a wrong password first, then the right one
	br.eval(fmt.Sprintf(`document.getElementById('login-user').value = 'admin';
		document.getElementById('login-pass').value = 'not the password'; document.getElementById('login-submit').click(); true`))
	br.waitFor("login error", `document.getElementById('login-error').textContent.length > 0`, 10*time.Second)
	br.screenshot("02-login")
	br.eval(fmt.Sprintf(`document.getElementById('login-pass').value = %q; document.getElementById('login-submit').click(); true`, testPassword))
	br.waitFor("overview", `document.querySelector('#page-overview[data-ready]')`, 15*time.Second)
	if n := br.evalInt(`document.querySelectorAll('#overview-cards .card').length`); n < 5 {
		t.Errorf("overview: %d cards", n)
	}
	if n := br.evalInt(`document.querySelectorAll('svg.chart rect.bar').length`); n == 0 {
		t.Error("overview: no alert histogram bars")
	}
	br.screenshot("03-overview")

	// assets of the replayed captures, with identities
	var inv struct {
		Assets []struct {
			ID       string                     `json:"id"`
			Identity map[string]json.RawMessage `json:"identity"`
		} `json:"assets"`
		Links []json.RawMessage `json:"links"`
	}
	raw, _ := backend.Inventory()
	json.Unmarshal(raw, &inv)
	withIdentity := ""
	for _, a := range inv.Assets {
		if len(a.Identity) > 0 && withIdentity == "" {
			withIdentity = a.ID
		}
	}
	if withIdentity == "" {
		t.Fatal("the replayed captures gave no identity")
	}
	page("assets")
	if n := br.evalInt(`document.querySelectorAll('tr.asset-row').length`); n != len(inv.Assets) {
		t.Errorf("assets table: %d rows, inventory has %d", n, len(inv.Assets))
	}
	if n := br.evalInt(`[...document.querySelectorAll('tr.asset-row td.identity')].filter(td => td.textContent.trim() !== '').length`); n == 0 {
		t.Error("assets table shows no identity")
	}
	if txt := br.evalString(`(document.getElementById('neighbors-table') || {}).textContent || ''`); !strings.Contains(txt, "SCALANCE X 200") {
		t.Errorf("assets page: the LLDP-only devices are missing: %q", txt)
	}
	br.screenshot("04-assets")
	// sorting and filtering
	br.eval(`document.querySelector('th[data-key="alerts"]').click(); true`)
	br.eval(`const s = document.getElementById('asset-search'); s.value = 'plc'; s.dispatchEvent(new Event('input')); true`)
	br.waitFor("filtered assets", `document.querySelectorAll('tr.asset-row').length < `+fmt.Sprint(len(inv.Assets)), 5*time.Second)
	page("asset/" + url.PathEscape(withIdentity))
	if n := br.evalInt(`document.querySelectorAll('#identity-table tr').length`); n < 2 {
		t.Errorf("asset page: identity table has %d rows", n)
	}
	if txt := br.evalString(`document.getElementById('identity-table').textContent`); !strings.Contains(txt, "frame") {
		t.Errorf("asset page: identity without provenance: %q", txt)
	}
	if txt := br.evalString(`document.getElementById('asset-services').textContent`); !strings.Contains(txt, "tcp/") {
		t.Errorf("asset page: the services it answered on are missing: %q", txt)
	}
	br.screenshot("05-asset")

	// the network map renders a node per asset and the links
	page("map")
	nodes := br.evalInt(`document.querySelectorAll('svg#map circle.node').length`)
	edges := br.evalInt(`document.querySelectorAll('svg#map line.edge').length`)
	if nodes != len(inv.Assets) || edges == 0 {
		t.Errorf("map: %d nodes (want %d), %d edges", nodes, len(inv.Assets), edges)
	}
	if n := br.evalInt(`document.querySelectorAll('svg#map rect.subnet').length`); n == 0 {
		t.Error("map: no subnet groups")
	}
	for _, label := range []string{"zone substation · level 1", "zone control-room · level 2", "192.168.1.0/24"} {
		if n := br.evalInt(fmt.Sprintf(`[...document.querySelectorAll('svg#map text.subnet-label')].filter(e => e.textContent === %q).length`, label)); n != 1 {
			t.Errorf("map: %d groups labelled %q (zones first, subnets for the rest)", n, label)
		}
	}
	if n := br.evalInt(`document.querySelectorAll('svg#map line.edge.write').length`); n == 0 {
		t.Error("map: no write link highlighted")
	}
	time.Sleep(500 * time.Millisecond) // let the layout settle for the picture
	br.eval(`document.querySelector('svg#map circle.node').dispatchEvent(new MouseEvent('click', {bubbles: true})); true`)
	br.waitFor("map side panel", `document.querySelector('#map-side h2')`, 5*time.Second)
	br.screenshot("06-map")

	// acknowledge an alert, then mark it normal: its key joins the baseline
	al, err := backend.FirstAlert("new_function", "write_to_unseen_target", "new_link")
	if err != nil {
		t.Fatal(err)
	}
	if baselineHas(t, backend, al) && al.Kind == "new_function" {
		t.Fatalf("baseline already has the function of alert %s", al.ID)
	}
	page("alerts")
	if n := br.evalInt(`document.querySelectorAll('tr.alert-row').length`); n == 0 {
		t.Fatal("alerts page lists nothing")
	}
	br.screenshot("07-alerts")
	page("alerts?id=" + al.ID)
	row := fmt.Sprintf(`document.querySelector('tr.alert-row[data-id=%q]')`, al.ID)
	br.waitFor("the alert row", row, 5*time.Second)
	br.eval(row + `.querySelector('button.ack').click(); true`)
	br.waitFor("acknowledged", row+` && `+row+`.dataset.state === 'acknowledged'`, 10*time.Second)
	br.eval(row + `.querySelector('button.normal').click(); true`)
	br.waitFor("marked normal", row+` && `+row+`.dataset.state === 'normal'`, 10*time.Second)
	br.eval(row + `.click(); true`) // open the details
	br.screenshot("08-alert-marked-normal")
	// the evidence pcap downloads and opens in tshark
	b64 := br.evalString(`fetch(document.querySelector('tr.detail a.evidence').getAttribute('href')).then(r => {
		if (!r.ok || r.headers.get('Content-Type') !== 'application/vnd.tcpdump.pcap') throw new Error('evidence ' + r.status);
		return r.arrayBuffer(); }).then(buf => { const u = new Uint8Array(buf); let s = '';
		for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]); return btoa(s); })`)
	pcap, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(pcap) < 24 {
		t.Fatalf("evidence: %d bytes, %v", len(pcap), err)
	}
	evidence := filepath.Join(shots, "evidence-"+al.ID+".pcap")
	if err := os.WriteFile(evidence, pcap, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("evidence in tshark", func(t *testing.T) {
		tshark, err := exec.LookPath("tshark")
		if err != nil {
			t.Skip("tshark not installed: the downloaded evidence is not opened in Wireshark's reader")
		}
		out, err := exec.Command(tshark, "-r", evidence, "-T", "fields", "-e", "frame.number", "-e", "ip.dst").CombinedOutput()
		lines := strings.Fields(strings.TrimSpace(string(out)))
		if err != nil || len(lines) == 0 || !strings.Contains(string(out), al.Server.IP) {
			t.Errorf("tshark on the evidence: %v: %s", err, out)
		}
	})
	if !baselineHas(t, backend, al) {
		t.Errorf("after mark normal, the baseline of %s lacks %s %s code %d from %s", al.Server.IP, al.Proto, al.Op, *al.Code, al.Client.IP)
	}
	// and the browser sees it through the API too
	apiHas := br.evalString(fmt.Sprintf(`fetch('/api/baseline/' + %q).then(r => r.json()).then(d =>
		String(d.functions.some(f => f.client === %q && f.proto === %q && f.code === %d)))`, al.Server.IP, al.Client.IP, al.Proto, *al.Code))
	if apiHas != "true" {
		t.Errorf("baseline API lacks the marked function: %s", apiHas)
	}
	// filters
	page("alerts?severity=9")
	if n := br.evalInt(`[...document.querySelectorAll('tr.alert-row .sev')].filter(e => +e.textContent < 9).length`); n != 0 {
		t.Errorf("severity filter shows %d lower alerts", n)
	}

	page("incidents")
	if n := br.evalInt(`document.querySelectorAll('.incident .narrative').length`); n == 0 {
		t.Error("no incident narrative")
	}
	br.screenshot("09-incidents")
	page("baseline")
	br.screenshot("10-baseline")
	page("baseline?asset=" + url.QueryEscape(al.Server.IP))
	if n := br.evalInt(`document.querySelectorAll('#baseline-functions tr').length`); n < 2 {
		t.Errorf("baseline page: %d function rows", n)
	}
	br.screenshot("11-baseline-asset")
	page("system")
	if txt := br.evalString(`document.getElementById('system-info').textContent`); !strings.Contains(txt, "browser-test") {
		t.Errorf("system page lacks the version: %q", txt)
	}
	if h := backend.Health(); h.Detection == nil || h.Detection.Detecting == 0 {
		t.Errorf("the replayed backend detects on no asset: %+v", h.Detection)
	} else if txt := br.evalString(`document.getElementById('detection-state').textContent`); txt != fmt.Sprintf("%d assets detecting, 0 learning", h.Detection.Detecting) {
		t.Errorf("system page detection state: %q", txt)
	}
	if n := br.evalInt(`document.querySelectorAll('#audit-table tr').length`); n < 4 {
		t.Errorf("audit table: %d rows", n)
	}
	// settings: learning mode and a syslog destination
	br.eval(`document.getElementById('set-mode').value = 'learn';
		document.getElementById('set-syslog').value = 'udp://127.0.0.1:514';
		document.getElementById('settings-save').click(); true`)
	br.waitFor("settings saved", `document.getElementById('settings-msg').textContent === 'Saved.'`, 10*time.Second)
	if set := backend.Settings(); set.Mode != "learn" || len(set.Syslog) != 1 {
		t.Errorf("settings not applied: %+v", set)
	}
	// a maintenance window: declared in the form, shown, and in force in the backend
	br.eval(`document.getElementById('set-maint-hours').value = '2';
		document.getElementById('set-maint-reason').value = 'replace CPU in cell 3';
		document.getElementById('settings-save').click(); true`)
	br.waitFor("maintenance declared", `document.getElementById('maint-state').textContent.startsWith('Maintenance window until')`, 10*time.Second)
	page("overview")
	if txt := br.evalString(`(document.getElementById('maint-banner') || {}).textContent || ''`); !strings.Contains(txt, "replace CPU in cell 3") {
		t.Errorf("overview: no maintenance banner: %q", txt)
	}
	page("system")
	if set := backend.Settings(); set.MaintenanceReason != "replace CPU in cell 3" || set.MaintenanceBy != "admin" ||
		set.MaintenanceUntil.Before(time.Now().Add(time.Hour)) {
		t.Errorf("maintenance window not applied: %+v", set)
	}
	br.eval(`document.getElementById('set-maint-hours').value = '0';
		document.getElementById('settings-save').click(); true`)
	br.waitFor("maintenance ended", `document.getElementById('maint-state').textContent === 'No maintenance window.'`, 10*time.Second)
	br.eval(`document.getElementById('set-syslog').value = 'http://evil.example/x';
		document.getElementById('settings-save').click(); true`)
	br.waitFor("settings refused", `document.getElementById('settings-msg').className === 'error'`, 10*time.Second)
	br.screenshot("12-system")

	// a tablet: the menu collapses, pages still render
	br.cdp.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 768, "height": 1024, "deviceScaleFactor": 1, "mobile": true}, nil)
	page("assets")
	br.screenshot("13-tablet-assets")
	br.cdp.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": false}, nil)

	// an attacker on other addresses: the first is slowed down, then
	// enough addresses guard the name; the admin's browser, on the address
	// it logged in from, keeps working and logs in again after a logout
	attackerCodes := map[int]int{}
	for i := range ui.DefaultGuardFails/ui.DefaultMaxFailures + 1 {
		src := fmt.Sprintf("127.0.0.%d", 2+i)
		for range ui.DefaultMaxFailures + 1 {
			code, retry := loginFrom(t, base, stateDir, src, "admin", "a wrong guess")
			attackerCodes[code]++
			if code == http.StatusTooManyRequests && retry == "" {
				t.Errorf("429 without Retry-After")
			}
		}
	}
	if code, _ := loginFrom(t, base, stateDir, "127.0.0.40", "admin", testPassword); code != http.StatusLocked {
		t.Errorf("the right password from a new address while guarded: %d", code)
	}
	t.Logf("attackers on other addresses got %v", attackerCodes)
	// the admin's own typo at the first login counts towards the guard too
	// (how many are slowed down (429) before the guard depends on the
	// time a password check takes here; TestLockoutFromAnotherAddress counts them)
	if attackerCodes[http.StatusUnauthorized] != ui.DefaultGuardFails-1 || attackerCodes[http.StatusLocked] == 0 ||
		attackerCodes[http.StatusUnauthorized]+attackerCodes[http.StatusTooManyRequests]+attackerCodes[http.StatusLocked] != (ui.DefaultMaxFailures+1)*(ui.DefaultGuardFails/ui.DefaultMaxFailures+1) {
		t.Errorf("attackers got %v: want %d checked guesses, the rest slowed down or locked out", attackerCodes, ui.DefaultGuardFails-1)
	}
	page("system")
	br.waitFor("audit shows the attack", `document.getElementById('audit-table').textContent.includes('127.0.0.3')`, 10*time.Second)
	br.eval(`document.getElementById('audit-table').scrollIntoView(); true`)
	br.screenshot("13b-audit-under-attack")

	// logout
	page("overview")
	br.eval(`document.getElementById('logout').click(); true`)
	br.waitFor("login after logout", `document.getElementById('login-form')`, 10*time.Second)
	if code := br.evalInt(`fetch('/api/inventory').then(r => r.status)`); code != 401 {
		t.Errorf("after logout the API answers %d", code)
	}
	br.screenshot("14-logged-out")
	br.eval(fmt.Sprintf(`document.getElementById('login-user').value = 'admin'; document.getElementById('login-pass').value = %q;
		document.getElementById('login-submit').click(); true`, testPassword))
	br.waitFor("overview after logging in again while guarded", `document.querySelector('#page-overview[data-ready]')`, 15*time.Second)
	br.screenshot("15-login-while-attacked")

	// the audit log recorded the operator actions
	b, err := os.ReadFile(stateDir + "/audit.log")
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{`"setup"`, `"login"`, `"alert.acknowledge"`, `"alert.mark_normal"`, `"alert.evidence"`, `"settings.update"`, `"logout"`} {
		if !strings.Contains(string(b), `"action":`+action) {
			t.Errorf("audit log lacks %s", action)
		}
	}
	checkBrowserHygiene(t, br, base)
}

// loginFrom logs in over HTTPS from a source address of the loopback
// network (another machine, to the server): the status and Retry-After.
func loginFrom(t *testing.T, base, stateDir, src, user, password string) (int, string) {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(stateDir, ui.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(base + "/api/login")
	if err != nil {
		t.Fatal(err)
	}
	var pre struct{ CSRF string }
	json.NewDecoder(resp.Body).Decode(&pre)
	resp.Body.Close()
	body, _ := json.Marshal(map[string]string{"user": user, "password": password})
	req, _ := http.NewRequest("POST", base+"/api/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ui.CSRFHeader, pre.CSRF)
	for _, ck := range resp.Cookies() {
		req.AddCookie(ck)
	}
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func checkBrowserHygiene(t *testing.T, br *browser, base string) {
	t.Helper()
	for _, e := range br.consoleErrors() {
		t.Errorf("browser console: %s", e)
	}
	bu, _ := url.Parse(base)
	reqs := br.requested()
	if len(reqs) == 0 {
		t.Error("no request recorded")
	}
	for _, r := range reqs {
		u, err := url.Parse(r)
		if err != nil {
			t.Errorf("request to %q", r)
			continue
		}
		switch u.Scheme {
		case "data", "about", "blob":
			continue
		}
		if u.Host != bu.Host {
			t.Errorf("request left the app: %s", r)
		}
	}
}

// TestBrowserLoad checks that the pages render within a second with
// 1,000 assets and 10,000 alerts, with the admin made through the Go API.
func TestBrowserLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("headless Chromium: skipped with -short (make test-full runs it)")
	}
	shots := screenshotDir(t)
	backend := fake.New()
	backend.Synthetic(1000, 10000, 7)
	srv, base, _ := serveTLS(t, backend)
	if err := srv.Auth().CreateUser("ops", testPassword, ui.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	br := startBrowser(t, shots)
	br.login(base, "ops", 20*time.Second)
	// 99 of the 990 synthetic PLCs still learn: the overview says so
	if txt := br.evalString(`(document.getElementById('learning-banner') || {}).textContent || ''`); !strings.HasPrefix(txt, "99 of 990 assets still learning until ") {
		t.Errorf("overview: learning banner %q", txt)
	}
	for _, p := range []string{"alerts", "assets", "alerts?severity=8&state=open", "incidents", "overview", "map"} {
		id := strings.SplitN(p, "?", 2)[0]
		start := time.Now()
		br.eval(fmt.Sprintf(`location.hash = %q`, "#/"+p))
		br.waitFor(p, fmt.Sprintf(`document.querySelector('#page-%s[data-ready]')`, id), 20*time.Second)
		took := time.Since(start)
		t.Logf("%-30s %v", p, took)
		limit := time.Second
		if id == "map" {
			limit = 3 * time.Second // 1,000 nodes: the layout keeps refining after the first frame
		}
		if took > limit { // a speed target, reported (timings are the machine's): never a failure
			t.Logf("TARGET MISSED: %s rendered in %v, target under %v", p, took, limit)
		}
		if id == "map" {
			time.Sleep(2 * time.Second) // the picture after the layout settles
		}
		br.screenshot("load-" + id)
	}
	if n := br.evalInt(`document.querySelectorAll('tr.asset-row').length`); n != 0 {
		t.Log("(map page replaced the assets page)")
	}
	checkBrowserHygiene(t, br, base)
}
