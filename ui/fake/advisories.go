package fake

import (
	"encoding/json"
	"net/netip"

	"github.com/otwatch/otwatch/learning/advisories"
	inv "github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/ui"
)

var _ ui.AdvisorySource = (*Backend)(nil)

// Advisories implements ui.AdvisorySource: the real ranking
// (learning/advisories) over the fake's inventory document.
func (b *Backend) Advisories() (json.RawMessage, error) {
	raw, err := b.Inventory()
	if err != nil {
		return nil, err
	}
	var doc inv.Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.feed == nil {
		b.feed = advisories.NewFeed()
	}
	o := advisories.Observed{Doc: doc, Zoned: b.inv.zones != nil}
	if p := b.inv.zones; p != nil {
		o.ZoneOf = func(ip netip.Addr) (string, int, bool) {
			z, ok := p.ZoneOf(ip)
			return z.Name, z.Level, ok
		}
	}
	return json.Marshal(b.feed.Assess(o, b.now))
}

// ImportAdvisories implements ui.AdvisorySource, in memory.
func (b *Backend) ImportAdvisories(files map[string][]byte, user string) (ui.AdvisoryImport, error) {
	im := advisories.Read(files, advisories.Options{})
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.feed == nil {
		b.feed = advisories.NewFeed()
	}
	plan, err := b.feed.Plan(im)
	if err != nil {
		return ui.AdvisoryImport{}, err
	}
	b.feed.Commit(plan)
	return importResult(im, plan), nil
}

func importResult(im *advisories.Import, plan *advisories.Plan) ui.AdvisoryImport {
	r := ui.AdvisoryImport{Summary: im.Summary(), Changes: plan.String(), Digest: im.Digest, Problems: []ui.AdvisoryProblem{}}
	for _, p := range im.Problems {
		r.Problems = append(r.Problems, ui.AdvisoryProblem{File: p.File, Error: p.Err})
	}
	return r
}
