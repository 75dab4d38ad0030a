package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols/lldp"
	"github.com/otwatch/otwatch/protocols/testkit"
	"github.com/otwatch/otwatch/ui"
)

// TestBrowserHostileStrings: a switch announces itself over LLDP with a
// system name full of C0/C1 controls, a right-to-left override, a line
// separator, a left-to-right isolate and a bad byte, and a description
// that is HTML. The inventory page in headless Chromium shows both as text,
// escaped: no raw control or bidi character reaches the page, no element
// comes from the description, no script ran.
func TestBrowserHostileStrings(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	const html = `<img src=x onerror="window.pwned=1"><b>bold</b>`
	lldpdu := testkit.Hex(t, `0207 04 001b1b3434cb 0409 07 706f72742d303033 0602 0014 0a1c `+testkit.HostileHex) // chassis, port, TTL, system name
	lldpdu = append(lldpdu, 0x0c, byte(len(html)))                                                               // system description
	lldpdu = append(append(lldpdu, html...), 0, 0)
	// through the LLDP dissector (its sanitiser), into the inventory the
	// dashboard reads; the fake backend takes LLDP neighbours directly
	in, err := lldp.Parse(lldpdu)
	if err != nil {
		t.Fatal(err)
	}
	backend := replayed(t)
	backend.AddNeighbor(inventory.Neighbor{MAC: "00:1b:1b:34:34:ce", ChassisID: in.ChassisID, PortID: in.PortID,
		SystemName: in.SystemName, SystemDesc: in.SystemDesc, LastSeen: "2026-03-01T08:00:00Z"})
	srv, base, _ := serveTLS(t, backend)
	if err := srv.Auth().CreateUser("admin", testPassword, ui.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	br := startBrowser(t, screenshotDir(t))
	br.login(base, "admin", 15*time.Second)
	br.eval(`location.hash = "#/assets"`)
	br.waitFor("assets page", `document.querySelector('#page-assets[data-ready]')`, 15*time.Second)
	br.waitFor("the neighbor row", `document.querySelector('#neighbors-table .neighbor-row')`, 15*time.Second)
	br.screenshot("hostile-lldp")

	cells := br.evalString(`[...document.querySelectorAll('#neighbors-table .neighbor-row td')].map(td => td.textContent).join('\n')`)
	if !strings.Contains(cells, testkit.HostileShown) {
		t.Errorf("the system name is not shown escaped as %q:\n%q", testkit.HostileShown, cells)
	}
	if !strings.Contains(cells, html) {
		t.Errorf("the HTML description is not shown as text:\n%q", cells)
	}
	body := br.evalString(`document.body.innerText`)
	for _, r := range body {
		if r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r < 0xa0 || r == 0x2028 || r == 0x2029 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0xfffd {
			t.Errorf("the page shows a raw %U", r)
		}
	}
	if n := br.evalInt(`document.querySelectorAll('#neighbors-table img, #neighbors-table b').length`); n != 0 {
		t.Errorf("%d elements made from the description", n)
	}
	if pwned := br.evalString(`String(window.pwned)`); pwned != "undefined" {
		t.Errorf("the description's script ran: window.pwned = %s", pwned)
	}
}
