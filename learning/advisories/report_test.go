package advisories

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// sharedAdvisories is ../shared/advisories beside the repository, "" when absent.
func sharedAdvisories() string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "advisories")
	if _, err := os.Stat(filepath.Join(dir, "cisa-csaf-ot")); err != nil {
		return ""
	}
	return dir
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func pct(n, of int) string { return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of)) }

// feedReport is README.md's report over the whole CISA feed: what was read,
// how many product entries there are and how many of their versions the
// parser understands, by form.
func feedReport(t testing.TB, dir string) string {
	files, err := ReadPaths([]string{filepath.Join(dir, "cisa-csaf-ot"), filepath.Join(dir, "cisa-kev")})
	if err != nil {
		t.Fatal(err)
	}
	im := Read(files, Options{})
	csafFiles, kevFiles := 0, 0
	for name := range files {
		switch {
		case strings.HasPrefix(name, "cisa-csaf-ot/") && strings.HasSuffix(name, ".json"):
			csafFiles++
		case strings.HasSuffix(name, ".json"):
			kevFiles++
		}
	}
	cves, kev := map[string]bool{}, map[string]bool{}
	vulns := 0
	type count struct{ rng, ver, none int }
	forms := map[string]*count{}
	var entries, understood, rng, rngOK, ver, verOK int
	for _, a := range im.Advisories {
		for _, v := range a.Vulns {
			vulns++
			cves[v.CVE] = true
			if _, ok := im.KEV.Entries[v.CVE]; ok {
				kev[v.CVE] = true
			}
		}
		for _, p := range a.Products {
			entries++
			form := p.Range.Form
			c := forms[form]
			if c == nil {
				c = &count{}
				forms[form] = c
			}
			ok := p.Range.Parsed()
			if ok {
				understood++
			}
			switch p.Branch {
			case "product_version":
				c.ver++
				ver++
				if ok {
					verOK++
				}
			case "product_version_range":
				c.rng++
				rng++
				if ok {
					rngOK++
				}
			default:
				c.none++
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| what | count |\n|---|---|\n")
	fmt.Fprintf(&b, "| JSON files in `cisa-csaf-ot/` | %s |\n", thousands(csafFiles))
	fmt.Fprintf(&b, "| CSAF advisories read | %s |\n", thousands(len(im.Advisories)))
	fmt.Fprintf(&b, "| ROLIE feed index, skipped (not an advisory) | %d |\n", len(im.Skipped))
	fmt.Fprintf(&b, "| refused as malformed | %d |\n", len(im.Problems))
	fmt.Fprintf(&b, "| KEV catalog (`cisa-kev/`, %d file) | %s, %s entries |\n", kevFiles, im.KEV.Version, thousands(len(im.KEV.Entries)))
	fmt.Fprintf(&b, "| vulnerabilities (CVE entries) | %s, %s distinct CVEs, %d of them in the KEV catalog |\n", thousands(vulns), thousands(len(cves)), len(kev))
	fmt.Fprintf(&b, "| product entries (leaves of the product trees) | %s |\n", thousands(entries))
	fmt.Fprintf(&b, "| … with a `product_version_range` | %s, understood %s (%s) |\n", thousands(rng), thousands(rngOK), pct(rngOK, rng))
	fmt.Fprintf(&b, "| … with a `product_version` | %s, understood %s (%s) |\n", thousands(ver), thousands(verOK), pct(verOK, ver))
	fmt.Fprintf(&b, "| … with no version in the tree | %d |\n", entries-rng-ver)
	fmt.Fprintf(&b, "| versions understood in all | %s of %s (%s) |\n", thousands(understood), thousands(entries), pct(understood, entries))
	b.WriteString("\n| form of the version | `product_version_range` | `product_version` or none | understood |\n|---|---|---|---|\n")
	names := make([]string, 0, len(forms))
	for f := range forms {
		names = append(names, f)
	}
	sort.Slice(names, func(i, j int) bool {
		a, c := forms[names[i]], forms[names[j]]
		if a.rng+a.ver+a.none != c.rng+c.ver+c.none {
			return a.rng+a.ver+a.none > c.rng+c.ver+c.none
		}
		return names[i] < names[j]
	})
	for _, f := range names {
		c := forms[f]
		yes := "yes"
		if strings.HasPrefix(f, "unparsed") {
			yes = "no"
		}
		label := f
		if !strings.HasPrefix(f, "unparsed") && f != "all" && f != "exact" && !strings.Contains(f, "set") && !strings.Contains(f, "exact") {
			label = "`" + f + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", label, thousands(c.rng), thousands(c.ver+c.none), yes)
	}
	return b.String()
}

// TestFeedReport keeps README.md's report over the 2,380 files of
// ../shared/advisories equal to what the parser does today.
func TestFeedReport(t *testing.T) {
	dir := sharedAdvisories()
	if dir == "" {
		t.Skip("../shared/advisories absent")
	}
	got := feedReport(t, dir)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), got) {
		t.Errorf("README.md's feed report is not today's; paste:\n%s", got)
	}
}
