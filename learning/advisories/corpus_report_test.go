//go:build allprotocols

// The corpus report: every asset with identity in every corpus capture,
// matched against the whole CISA feed. Opt-in (about two minutes):
//
//	go test -tags allprotocols -run TestCorpusReport ./learning/advisories/
package advisories

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols"
	"github.com/otwatch/otwatch/protocols/capture"
	"github.com/otwatch/otwatch/protocols/corpustest"
	"github.com/otwatch/otwatch/protocols/frame"
	"github.com/otwatch/otwatch/protocols/lldp"
	"github.com/otwatch/otwatch/protocols/pipeline"
)

// corpusRow is one (capture, asset with identity) and what the feed says.
type corpusRow struct {
	capture, asset, identity, result string
}

func (r corpusRow) line() string {
	return fmt.Sprintf("| `%s` | `%s` | %s | %s |", r.capture, r.asset, orDash(r.identity), r.result)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// result is a match in one cell: the affected advisories, else why not.
func result(m AssetMatch) string {
	if len(m.Affected) > 0 {
		ids := make([]string, 0, len(m.Affected))
		cves := map[string]bool{}
		for _, x := range m.Affected {
			ids = append(ids, x.Advisory)
			for _, c := range x.CVEs {
				cves[c.ID] = true
			}
		}
		sort.Strings(ids)
		return fmt.Sprintf("**%d advisories, %d CVEs**: %s", len(ids), len(cves), strings.Join(ids, ", "))
	}
	var why []string
	if len(m.Possible) > 0 {
		why = append(why, fmt.Sprintf("%d possible", len(m.Possible)))
	}
	why = append(why, m.Notes...)
	for _, s := range m.Missing {
		why = append(why, "missing "+s)
	}
	return "no match: " + strings.Join(why, "; ")
}

func corpusRows(t *testing.T, f *Feed) []corpusRow {
	caps := corpustest.Captures(t, "")
	var rows []corpusRow
	for _, c := range caps {
		if d := c.Row["duplicate_of"]; d != "" && d != "-" {
			continue
		}
		inv := inventory.New(inventory.Limits{})
		p := pipeline.New(pipeline.DefaultLimits(), func(tx *protocols.Transaction) { inv.Observe(tx) })
		p.Events = func(e *pipeline.Event) { // as the daemon wires it (cmd/otwatch/monitor.go)
			d := e.Decoded
			switch e.Kind {
			case pipeline.PacketSeen:
				inv.ObservePacket(d, e.Len, e.Time, e.Memo)
			case pipeline.LLDPSeen:
				if in, err := lldp.Parse(d.LLDP); err == nil && d.HasMAC {
					inv.ObserveLLDP(d.SrcMAC, in, e.Frame, e.Time)
				}
			}
		}
		inv.FrameOf = p.Frames
		if err := p.ReplayFile(c.Path); err != nil {
			var trunc *capture.TruncatedError
			if !errors.As(err, &trunc) {
				continue // not a capture the reader takes: no asset
			}
		}
		p.Flush()
		doc := inv.Document()
		for i := range doc.Assets {
			a := &doc.Assets[i]
			if len(a.Identity) == 0 {
				continue
			}
			m := f.Match(a)
			rows = append(rows, corpusRow{capture: c.Rel, asset: a.ID, identity: m.Identity, result: result(m)})
		}
	}
	return rows
}

// TestCorpusReport keeps README.md's corpus table equal to what matching
// does today: every corpus asset with identity, and for the 20 checked by
// hand, the result the README's reasoning was written against.
func TestCorpusReport(t *testing.T) {
	dir := sharedAdvisories()
	if dir == "" {
		t.Skip("../shared/advisories absent")
	}
	files, err := ReadPaths([]string{filepath.Join(dir, "cisa-csaf-ot"), filepath.Join(dir, "cisa-kev")})
	if err != nil {
		t.Fatal(err)
	}
	f := NewFeed()
	plan, err := f.Plan(Read(files, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	f.Commit(plan)
	rows := corpusRows(t, f)
	matched, captures := 0, map[string]bool{}
	devices, matchedDevices := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		captures[r.capture] = true
		devices[r.identity] = true
		if strings.HasPrefix(r.result, "**") {
			matched++
			matchedDevices[r.identity] = true
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d assets with identity in %d captures; %d of them have an affected match (%d distinct identities, %d of them matched).\n\n",
		len(rows), len(captures), matched, len(devices), len(matchedDevices))
	b.WriteString("| capture | asset | identity (what matching reads) | otwatch's result |\n|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(r.line() + "\n")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), b.String()) {
		t.Errorf("README.md's corpus report is not today's; paste:\n%s", b.String())
	}
}
