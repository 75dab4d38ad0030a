package ui_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/zones"
	"github.com/otwatch/otwatch/ui"
	"github.com/otwatch/otwatch/ui/fake"
	"github.com/otwatch/otwatch/ui/series"
)

// TestBrowserControlRoom loads every page at a control-room screen's
// 1400×900 and a tablet's 768×1024, saves the pictures (committed under
// testdata/screens: OTWATCH_UI_SCREENSHOTS=testdata/screens), and checks
// what an operator reads from them: alerts newest first, a register's
// values with its learned band as the API has them, traffic on the data's
// own time axis, tables that fit the tablet, assets opened by IP address.
func TestBrowserControlRoom(t *testing.T) {
	if testing.Short() {
		t.Skip("headless Chromium: skipped with -short (make test-full runs it)")
	}
	shots := screenshotDir(t)
	backend := replayed(t) // the demo captures, 2004 ...
	feedSetpoint(backend)  // ... and, the day after, a setpoint written every second, learned, then once far outside
	// the DNP3 outstation and its masters in zones at their Purdue levels
	policy, err := zones.New([]zones.Zone{
		{Name: "substation", Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/29")}, Level: 1},
		{Name: "control-room", Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.8/29")}, Level: 2},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	backend.SetZones(policy)
	srv, base, _ := serveTLS(t, backend)
	if err := srv.Auth().CreateUser("operator", testPassword, ui.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	br := startBrowser(t, shots)
	br.login(base, "operator", 20*time.Second)

	page := func(name string) {
		t.Helper()
		// the page shown is marked, so that the wait is for the new one
		br.eval(fmt.Sprintf(`document.querySelectorAll('.page').forEach(p => p.dataset.old = '1');
			if (location.hash === %[1]q) window.dispatchEvent(new HashChangeEvent('hashchange')); else location.hash = %[1]q; true`, "#/"+name))
		id := strings.SplitN(strings.SplitN(name, "?", 2)[0], "/", 2)[0]
		br.waitFor(name+" page", fmt.Sprintf(`document.querySelector('#page-%s[data-ready]:not([data-old])')`, id), 20*time.Second)
		if errs := br.evalString(`[...document.querySelectorAll('.page p.error')].map(e => e.textContent).join('; ')`); errs != "" {
			t.Errorf("%s page shows errors: %s", name, errs)
		}
	}
	// the registers whose plots are checked: the setpoint, and one the demo capture wrote
	setpointKey := series.PointKey(series.Point{Asset: plc.String(), Proto: "modbus", Unit: "1", Space: "holding_register", Address: 40, Source: series.SourceWrite})
	demoKey := series.PointKey(series.Point{Asset: "127.0.0.1", Proto: "modbus", Unit: "7", Space: "holding_register", Address: 1, Source: series.SourceWrite})
	checkPlot := func(key string, wantBand bool) {
		t.Helper()
		fig := fmt.Sprintf(`document.querySelector('figure.plot[data-key=%q]')`, key)
		if br.evalInt(fig+` ? 1 : 0`) != 1 {
			t.Errorf("no plot of %s", key)
			return
		}
		var api struct {
			Samples []series.Sample `json:"samples"`
			Band    *ui.Band        `json:"band"`
		}
		raw := br.evalString(fmt.Sprintf(`fetch('/api/series/data?max_points=200&key=' + encodeURIComponent(%q)).then(r => r.text())`, key))
		if err := json.Unmarshal([]byte(raw), &api); err != nil {
			t.Fatalf("%s: %v: %s", key, err, raw)
		}
		if n := br.evalInt(fig + `.querySelectorAll('circle.pt').length`); n != len(api.Samples) || n == 0 {
			t.Errorf("%s: %d points drawn, the API returns %d", key, n, len(api.Samples))
		}
		// the points drawn are the API's, in its order
		drawn := br.evalString(fig + `.querySelectorAll('circle.pt').length && [...` + fig + `.querySelectorAll('circle.pt')].map(c => c.dataset.t + '=' + c.dataset.v).join(',')`)
		var want []string
		for _, s := range api.Samples {
			want = append(want, fmt.Sprintf("%d=%v", s.T, s.Last))
		}
		if drawn != strings.Join(want, ",") {
			t.Errorf("%s: drawn %.200s, API %.200s", key, drawn, strings.Join(want, ","))
		}
		if !wantBand {
			return
		}
		if api.Band == nil {
			t.Errorf("%s: the API gives no band", key)
			return
		}
		band := br.evalString(fig + `.querySelector('rect.band') ? ` + fig + `.querySelector('rect.band').dataset.min + '..' + ` + fig + `.querySelector('rect.band').dataset.max : 'none'`)
		if band != fmt.Sprintf("%v..%v", api.Band.Min, api.Band.Max) {
			t.Errorf("%s: band drawn %s, learned %v..%v", key, band, api.Band.Min, api.Band.Max)
		}
		// the band is drawn to the plot's scale: the values inside the
		// learned range are on it, the others off it
		misplaced := br.evalString(`(() => { const f = ` + fig + `, b = f.querySelector('rect.band').getBBox();
			return [...f.querySelectorAll('circle.pt')].filter(c => { const y = +c.getAttribute('cy'), on = y >= b.y - 2 && y <= b.y + b.height + 2;
				return !c.classList.contains('out') && !on; }).map(c => c.dataset.v).join(','); })()`)
		if misplaced != "" {
			t.Errorf("%s: values inside the learned range drawn off the band: %s", key, misplaced)
		}
		outside := 0
		for _, s := range api.Samples {
			if s.Min < api.Band.Min || s.Max > api.Band.Max {
				outside++
			}
		}
		if n := br.evalInt(fig + `.querySelectorAll('circle.pt.out').length`); n != outside {
			t.Errorf("%s: %d points marked outside the learned range, the API has %d", key, n, outside)
		}
	}
	alertsInOrder := func(where, rows string, least int) {
		t.Helper()
		ts := br.evalString(`[...document.querySelectorAll(` + fmt.Sprintf("%q", rows) + `)].map(r => r.dataset.ts).join(',')`)
		list := strings.Split(ts, ",")
		if len(list) < least {
			t.Errorf("%s: %d alerts listed", where, len(list))
			return
		}
		for i := 1; i < len(list); i++ {
			var a, b int64
			fmt.Sscan(list[i-1], &a)
			fmt.Sscan(list[i], &b)
			if b > a {
				t.Errorf("%s: alert %d at %d after alert %d at %d: not newest first", where, i, b, i-1, a)
				return
			}
		}
	}
	noOverflow := func(where string) {
		t.Helper()
		bad := br.evalString(`[...document.querySelectorAll('.page table')].filter(tb => tb.offsetParent !== null).filter(tb => {
			const p = tb.parentElement, r = tb.getBoundingClientRect();
			return tb.scrollWidth > p.clientWidth + 1 || r.right > document.documentElement.clientWidth + 1;
		}).map(tb => (tb.id || tb.className || 'table') + ' ' + tb.scrollWidth + '>' + tb.parentElement.clientWidth).join('; ')`)
		if bad != "" {
			t.Errorf("%s at 768 px: tables overflow their container: %s", where, bad)
		}
	}
	var inv struct {
		Assets []struct {
			ID  string   `json:"id"`
			IPs []string `json:"ips"`
		} `json:"assets"`
	}
	raw, _ := backend.Inventory()
	json.Unmarshal(raw, &inv)
	assetID := map[string]string{}
	for _, a := range inv.Assets {
		for _, ip := range a.IPs {
			assetID[ip] = a.ID
		}
	}

	for _, vp := range []struct{ w, h int }{{1400, 900}, {768, 1024}} {
		br.cdp.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": vp.w, "height": vp.h, "deviceScaleFactor": 1, "mobile": vp.w < 800}, nil)
		size := fmt.Sprintf("%dx%d", vp.w, vp.h)
		for _, p := range []string{"overview", "assets", "asset/" + plc.String(), "asset/127.0.0.1", "asset/10.0.0.3", "map", "alerts", "incidents", "baseline", "patch", "system"} {
			page(p)
			name := strings.NewReplacer("/", "-", ".", "_").Replace(p)
			switch {
			case p == "overview":
				// the alerts histogram on the data's time: distinct labels, the
				// days without alerts between the captures shrunk to a gap
				labels := br.evalString(`[...document.querySelectorAll('#alert-histogram text.xtick')].map(e => e.textContent).join('|')`)
				if l := strings.Split(labels, "|"); len(l) < 2 || len(l) != len(uniq(l)) {
					t.Errorf("%s overview: histogram labels %q", size, labels)
				}
				if n := br.evalInt(`document.querySelectorAll('#alert-histogram g.gap').length`); n == 0 {
					t.Errorf("%s overview: the days without alerts are not shown as a gap", size)
				}
				if h := br.evalString(`document.querySelector('#alert-histogram').parentElement.querySelector('h2').textContent`); strings.Contains(h, "0m") {
					t.Errorf("%s overview: %q", size, h)
				}
			case p == "map":
				// Purdue rows: level 2 above level 1 above the assets in no zone
				time.Sleep(700 * time.Millisecond) // the layout settles
				rows := br.evalString(`[...document.querySelectorAll('svg#map text.level-label')].map(t => t.textContent + '@' + Math.round(+t.getAttribute('y'))).join('|')`)
				if !regexp.MustCompile(`^Purdue level 2@-?\d+\|Purdue level 1@-?\d+\|not in a zone@-?\d+$`).MatchString(rows) {
					t.Errorf("%s map: level rows %q", size, rows)
				}
				order := br.evalString(`(() => { const y = name => { const t = [...document.querySelectorAll('svg#map text.subnet-label')].find(e => e.textContent === name);
					return t ? +t.getAttribute('y') : NaN; };
					const subnets = [...document.querySelectorAll('svg#map text.subnet-label')].filter(e => !e.textContent.startsWith('zone ')).map(e => +e.getAttribute('y'));
					return [y('zone control-room · level 2') < y('zone substation · level 1'), y('zone substation · level 1') < Math.min(...subnets)].join(','); })()`)
				if order != "true,true" {
					t.Errorf("%s map: zones not in Purdue order (level 2 above level 1 above the subnets): %s", size, order)
				}
			case p == "incidents":
				// each incident's steps in time order, each marked on its strip
				bad := br.evalString(`[...document.querySelectorAll('.incident')].filter(inc => {
					const ts = [...inc.querySelectorAll('li.step')].map(li => +li.dataset.ts);
					return ts.some((t, i) => i && t < ts[i - 1]) || ts.length !== inc.querySelectorAll('svg.steps-strip circle.step').length;
				}).map(inc => inc.id).join(', ')`)
				if bad != "" {
					t.Errorf("%s incidents: steps out of order or not marked: %s", size, bad)
				}
				if n := br.evalInt(`document.querySelectorAll('.incident li.step').length`); n == 0 {
					t.Errorf("%s incidents: no steps", size)
				}
				if n := br.evalInt(`Math.max(...[...document.querySelectorAll('.incident ul.narrative')].map(u => u.children.length))`); n < 2 {
					t.Errorf("%s incidents: the narratives are one block (%d lines at most)", size, n)
				}
			case p == "alerts":
				alertsInOrder(size+" alerts page", "tr.alert-row", 20)
				// folded alerts lead with what happened; the count is a badge
				if lead := br.evalString(`[...document.querySelectorAll('tr.alert-row td.message')].map(td => td.textContent).filter(t => /^\d+ more time/.test(t)).join('; ')`); lead != "" {
					t.Errorf("%s alerts: messages led by their repeats: %.200s", size, lead)
				}
				if n := br.evalInt(`document.querySelectorAll('tr.alert-row td.message .badge.fold').length`); n == 0 {
					t.Errorf("%s alerts: no fold count badge", size)
				}
			case strings.HasPrefix(p, "asset/"):
				ip := strings.TrimPrefix(p, "asset/")
				if got := br.evalString(`document.getElementById('page-asset').dataset.asset || ''`); got != assetID[ip] || got == "" {
					t.Errorf("%s: #/asset/%s opened %q, want the asset %q", size, ip, got, assetID[ip])
				}
				// the traffic plot's axis covers the data's time, and little else
				x0, x1 := br.evalInt(`Math.floor(document.getElementById('traffic-plot').dataset.x0 / 1000)`), br.evalInt(`Math.ceil(document.getElementById('traffic-plot').dataset.x1 / 1000)`)
				lo := br.evalInt(`Math.floor(Math.min(...[...document.querySelectorAll('#traffic-plot rect.bar')].map(b => +b.dataset.t)) / 1000)`)
				hi := br.evalInt(`Math.ceil(Math.max(...[...document.querySelectorAll('#traffic-plot rect.bar')].map(b => +b.dataset.t)) / 1000)`)
				if lo < x0 || hi > x1 || lo == 0 || x1-x0 > 2*(hi-lo)+120 {
					t.Errorf("%s %s: traffic axis %d..%d, data %d..%d", size, p, x0, x1, lo, hi)
				}
				if labels := br.evalString(`[...document.querySelectorAll('#traffic-plot text.xtick')].map(e => e.textContent).join('|')`); len(strings.Split(labels, "|")) < 3 {
					t.Errorf("%s %s: time axis labels %q", size, p, labels)
				} else if seen := map[string]bool{}; true {
					for _, l := range strings.Split(labels, "|") {
						if seen[l] {
							t.Errorf("%s %s: time axis repeats the label %q: %s", size, p, l, labels)
						}
						seen[l] = true
					}
				}
				least := 1
				if ip == "10.0.0.3" {
					least = 5 // the DNP3 outstation of the demo
				}
				alertsInOrder(size+" "+p, "#asset-alerts tr.alert-row", least)
				// a warning where the baseline learned engineering operations as normal
				warn, want := br.evalInt(`document.querySelectorAll('.learned-engineering').length`), learnedEngineering(t, backend, ip)
				if (warn > 0) != want {
					t.Errorf("%s %s: engineering warning shown %v, the baseline learned engineering functions %v", size, p, warn > 0, want)
				}
				if ip == "10.0.0.3" && !want {
					t.Errorf("the demo's DNP3 outstation learned no control, stop or restart: the warning is not tested")
				}
				switch ip {
				case plc.String():
					checkPlot(setpointKey, true)
					if n := br.evalInt(`document.querySelectorAll('#asset-values figure.plot[data-key="` + setpointKey + `"] line.alert-mark').length`); n == 0 {
						t.Errorf("%s: no alert marked on the setpoint's plot", size)
					}
					if n := br.evalInt(`document.querySelectorAll('#asset-values circle.pt.out').length`); n == 0 {
						t.Errorf("%s: the write outside the learned range is not shown as such", size)
					}
				case "127.0.0.1":
					checkPlot(demoKey, true)
				}
			}
			if vp.w < 800 {
				noOverflow(p)
			}
			br.fullScreenshot(size + "-" + name)
		}
	}
	// the baseline's value models in words
	page("baseline?asset=10.0.0.3")
	if txt := br.evalString(`[...document.querySelectorAll('td.model')].map(e => e.textContent).join('; ')`); txt == "" || strings.Contains(txt, "{") {
		t.Errorf("baseline models: %q", txt)
	}
	checkBrowserHygiene(t, br, base)
	if os.Getenv("OTWATCH_UI_SCREENSHOTS") != "" {
		t.Logf("screenshots in %s", shots)
	}
}

func uniq(l []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range l {
		m[x] = true
	}
	return m
}

// learnedEngineering says whether the baseline of ip learned a control,
// program, firmware, stop, start or restart function.
func learnedEngineering(t *testing.T, b interface {
	Baseline(string) (json.RawMessage, bool)
}, ip string) bool {
	for _, f := range baselineFunctions(t, b, ip) {
		switch f.Op {
		case "control", "program_download", "program_upload", "firmware_update", "stop", "start", "restart":
			return true
		}
	}
	return false
}

// TestBrowserEmptyStates: a fresh appliance (nothing captured yet) shows
// on every page what is missing and why, never a blank table.
func TestBrowserEmptyStates(t *testing.T) {
	if testing.Short() {
		t.Skip("headless Chromium: skipped with -short (make test-full runs it)")
	}
	shots := screenshotDir(t)
	srv, base, _ := serveTLS(t, fake.New())
	if err := srv.Auth().CreateUser("operator", testPassword, ui.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	br := startBrowser(t, shots)
	br.cdp.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 768, "height": 1024, "deviceScaleFactor": 1, "mobile": true}, nil)
	br.login(base, "operator", 20*time.Second)
	for _, p := range []string{"overview", "assets", "alerts", "incidents", "baseline", "system", "asset/10.1.2.3"} {
		br.eval(fmt.Sprintf(`document.querySelectorAll('.page').forEach(p => p.dataset.old = '1');
			if (location.hash === %[1]q) window.dispatchEvent(new HashChangeEvent('hashchange')); else location.hash = %[1]q; true`, "#/"+p))
		id := strings.SplitN(p, "/", 2)[0]
		br.waitFor(p, fmt.Sprintf(`document.querySelector('#page-%s[data-ready]:not([data-old])')`, id), 20*time.Second)
		blank := br.evalString(`[...document.querySelectorAll('.page table')].filter(tb => tb.offsetParent !== null && !tb.querySelector('td'))
			.map(tb => tb.id || tb.className || tb.closest('.panel')?.querySelector('h2')?.textContent || 'table').join('; ')`)
		if blank != "" {
			t.Errorf("%s: blank tables: %s", p, blank)
		}
		if n := br.evalInt(`document.querySelectorAll('.page .empty').length`); n == 0 && p != "baseline" {
			t.Errorf("%s: nothing says why it is empty", p)
		}
		br.fullScreenshot("empty-768x1024-" + strings.ReplaceAll(strings.ReplaceAll(p, "/", "-"), ".", "_"))
	}
	if txt := br.evalString(`document.querySelector('.page .empty').textContent`); !strings.Contains(txt, "No asset 10.1.2.3") {
		t.Errorf("an unknown asset: %q", txt)
	}
	checkBrowserHygiene(t, br, base)
}
