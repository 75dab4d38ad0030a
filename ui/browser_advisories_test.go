package ui_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/learning/zones"
	"github.com/otwatch/otwatch/ui"
)

// TestBrowserPatchFirst: an admin uploads real CISA advisories, their hash
// file, the KEV excerpt and a broken file on the "Patch first" page; the
// broken one is refused and named, the rest ranks the real S7-300 of the
// replayed snap7.pcap with its CVEs, evidence frames and the path from the
// office zone; the map rings it and draws the path; the audit log holds
// the bundle's digest.
func TestBrowserPatchFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	shots := screenshotDir(t)
	backend := replayed(t)
	policy, err := zones.New([]zones.Zone{
		{Name: "cell", Networks: []netip.Prefix{netip.MustParsePrefix("134.217.61.211/32")}, Level: 1},
		{Name: "office", Networks: []netip.Prefix{netip.MustParsePrefix("134.217.61.131/32")}, Level: 4},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	backend.SetZones(policy)
	srv, base, stateDir := serveTLS(t, backend)
	if err := srv.Auth().CreateUser("admin", testPassword, ui.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	br := startBrowser(t, shots)
	page := func(name string) {
		t.Helper()
		br.eval(fmt.Sprintf(`location.hash = %q`, "#/"+name))
		id := strings.SplitN(name, "/", 2)[0]
		br.waitFor(name+" page", fmt.Sprintf(`document.querySelector('#page-%s[data-ready]')`, id), 15*time.Second)
	}
	br.login(base, "admin", 15*time.Second)

	// before any import: the page says so
	page("patch")
	if txt := br.evalString(`document.getElementById('page-patch').innerText`); !strings.Contains(txt, "no advisories imported") {
		t.Errorf("empty feed not explained: %s", txt)
	}

	// the upload: real advisories, one with its .sha256, the KEV excerpt, and a truncated document
	src := "../learning/advisories/testdata/"
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"icsa-19-283-02.json", "icsa-20-070-02.json", "icsa-23-348-15.json"} {
		b, err := os.ReadFile(src + "csaf/" + name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		paths = append(paths, p)
		if name == "icsa-19-283-02.json" {
			sum := sha256.Sum256(b)
			os.WriteFile(p+".sha256", []byte(hex.EncodeToString(sum[:])+"  "+name+"\n"), 0o644)
			paths = append(paths, p+".sha256")
		}
	}
	kev, _ := filepath.Abs(src + "kev-excerpt.json")
	paths = append(paths, kev)
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte(`{"document": {"csaf_version": "2.0", "title": `), 0o644)
	paths = append(paths, broken)
	br.setFiles("#adv-files", paths)
	br.screenshot("20-advisories-chosen")
	br.eval(`document.getElementById('adv-import').click(); true`)
	br.waitFor("import result", `document.querySelector('#adv-result .import-summary')`, 20*time.Second)
	summary := br.evalString(`document.querySelector('#adv-result').innerText`)
	for _, want := range []string{"3 CSAF advisories", "KEV catalog 2025.08.25 (2 entries)", "1 of 5 documents verified by hash", "bundle sha256 ",
		"3 advisories added", "broken.json: not valid JSON"} {
		if !strings.Contains(summary, want) {
			t.Errorf("import result lacks %q:\n%s", want, summary)
		}
	}
	br.screenshot("21-advisories-imported")
	br.eval(`document.getElementById('adv-reload').click(); true`)
	br.waitFor("ranking", `document.querySelector('#patch-table .patch-row')`, 15*time.Second)

	// the real CPU 315-2 PN/DP of snap7.pcap, with its CVEs, evidence and path
	row := `document.querySelector('#patch-table .patch-row[data-asset="ip:134.217.61.211"]')`
	br.waitFor("the S7-300", row, 5*time.Second)
	if cves := br.evalString(row + `.querySelector('.cves').innerText`); !strings.Contains(cves, "CVE-2019-10936 7.5") {
		t.Errorf("CVEs: %s", cves)
	}
	if path := br.evalString(row + `.lastElementChild.innerText`); !strings.Contains(path, "134.217.61.131") || !strings.Contains(path, "s7comm") {
		t.Errorf("path: %s", path)
	}
	br.eval(row + `.click(); true`)
	detail := `document.querySelector('.patch-detail[data-asset="ip:134.217.61.211"]')`
	br.waitFor("detail", detail+` && `+detail+`.offsetParent !== null`, 5*time.Second)
	text := br.evalString(detail + `.innerText`)
	for _, want := range []string{"ICSA-19-283-02", "order_number = 6ES7 315-2EH14-0AB0 (s7comm, szl_0x0011, frame ", // the fake numbers the replayed captures' frames as one stream
		"firmware = V3.2.7", "vers:all/<V3.2.17", "zone office is at level 4", "from zone office into zone cell", "a controller (plc)"} {
		if !strings.Contains(text, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
	br.screenshot("22-patch-first")

	// the map rings the vulnerable asset and draws the path to it
	page("map")
	br.waitFor("map marks", `document.getElementById('map').dataset.vulns`, 10*time.Second)
	if n := br.evalInt(`+document.getElementById('map').dataset.vulns`); n < 1 {
		t.Errorf("vulnerable nodes on the map: %d", n)
	}
	if n := br.evalInt(`document.querySelectorAll('#map line.edge.attack').length`); n != 1 {
		t.Errorf("attack path edges on the map: %d", n)
	}
	if n := br.evalInt(`document.querySelectorAll('#map circle.node.vuln').length`); n < 1 {
		t.Errorf("ringed nodes: %d", n)
	}
	br.screenshot("23-map-attack-path")

	// the asset page shows its vulnerabilities
	page("asset/" + "ip%3A134.217.61.211")
	if txt := br.evalString(`(document.getElementById('asset-vulns') || {}).innerText || ''`); !strings.Contains(txt, "#1 to patch") && !strings.Contains(txt, "to patch") {
		t.Errorf("asset page: %q", txt)
	}

	b, err := os.ReadFile(filepath.Join(stateDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"action":"advisories.import"`) || !strings.Contains(string(b), "bundle sha256 ") ||
		!strings.Contains(string(b), "icsa-19-283-02.json.sha256 matches") && !strings.Contains(string(b), "1 of 5 documents verified by hash") {
		t.Errorf("audit log: %s", b)
	}
	checkBrowserHygiene(t, br, base)
}
