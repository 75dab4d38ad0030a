package main

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/otwatch/otwatch/learning/advisories"
	"github.com/otwatch/otwatch/ui"
)

var _ ui.AdvisorySource = (*dashboardBackend)(nil)

// Advisories is the ranking the capture goroutine made at most
// vulnCheckEvery ago (it ranks under the state lock, which capture needs
// too), else a fresh one.
func (b *dashboardBackend) Advisories() (json.RawMessage, error) {
	b.d.state.Lock()
	r := b.d.mon.vulns.report
	if r == nil || time.Since(r.Generated) > 2*vulnCheckEvery {
		fresh := b.d.mon.assess(time.Now())
		r = &fresh
	}
	b.d.state.Unlock()
	return json.Marshal(r)
}

// advisoryImports serialises the dashboard's imports.
var advisoryImports sync.Mutex

// ImportAdvisories reads an uploaded bundle without the state lock (the
// capture goes on), writes it to the database, then applies it and looks
// for newly vulnerable assets at once.
func (b *dashboardBackend) ImportAdvisories(files map[string][]byte, user string) (ui.AdvisoryImport, error) {
	advisoryImports.Lock()
	defer advisoryImports.Unlock()
	im := advisories.Read(files, advisories.Options{Keyring: b.d.mon.vulns.keyring, Now: time.Now()})
	b.d.state.Lock()
	plan, err := b.d.mon.vulns.feed.Plan(im)
	b.d.state.Unlock()
	if err != nil {
		return ui.AdvisoryImport{}, err
	}
	if err := plan.Write(b.d.db); err != nil {
		return ui.AdvisoryImport{}, err
	}
	b.d.state.Lock()
	b.d.mon.vulns.feed.Commit(plan)
	b.d.mon.checkVulns(time.Now())
	b.d.state.Unlock()
	b.d.log.Printf("operator %s imported advisories: %s; %s", user, im.Summary(), plan)
	res := ui.AdvisoryImport{Summary: im.Summary(), Changes: plan.String(), Digest: im.Digest, Problems: []ui.AdvisoryProblem{}}
	for _, p := range im.Problems {
		res.Problems = append(res.Problems, ui.AdvisoryProblem{File: p.File, Error: p.Err})
	}
	return res, nil
}
