package ui_test

// The browser tests drive a real headless Chromium through ui/uitest
// (shared with the daemon test in cmd/otwatch).

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/otwatch/otwatch/ui/uitest"
)

type browser struct {
	b   *uitest.Browser
	cdp cdpCaller
}

type cdpCaller struct{ b *uitest.Browser }

func (c cdpCaller) call(method string, params, out any) error { return c.b.Call(method, params, out) }

func startBrowser(t *testing.T, shots string) *browser {
	b := uitest.Start(t, shots)
	return &browser{b: b, cdp: cdpCaller{b}}
}

func (br *browser) eval(expr string) json.RawMessage           { return br.b.Eval(expr) }
func (br *browser) evalInt(expr string) int                    { return br.b.EvalInt(expr) }
func (br *browser) evalString(expr string) string              { return br.b.EvalString(expr) }
func (br *browser) waitFor(what, cond string, d time.Duration) { br.b.WaitFor(what, cond, d) }
func (br *browser) navigate(u string)                          { br.b.Navigate(u) }
func (br *browser) screenshot(name string)                     { br.b.Screenshot(name) }
func (br *browser) fullScreenshot(name string)                 { br.b.FullScreenshot(name, 3000) } // the whole page, up to 3000 px tall
func (br *browser) consoleErrors() []string                    { return br.b.ConsoleErrors() }
func (br *browser) requested() []string                        { return br.b.Requested() }
func (br *browser) setFiles(selector string, paths []string)   { br.b.SetFiles(selector, paths) }

// login opens the dashboard at base, signs user in with testPassword on
// the login form and waits up to wait for the overview.
func (br *browser) login(base, user string, wait time.Duration) {
	br.navigate(base + "/")
	br.waitFor("login form", `document.getElementById('login-form')`, 20*time.Second)
	br.eval(fmt.Sprintf(`document.getElementById('login-user').value = %q; document.getElementById('login-pass').value = %q;
		document.getElementById('login-submit').click(); true`, user, testPassword))
	br.waitFor("overview", `document.querySelector('#page-overview[data-ready]')`, wait)
}
