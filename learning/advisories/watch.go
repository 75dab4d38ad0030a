package advisories

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/otwatch/otwatch/alerts/finding"
)

// DefaultAlertCVSS is the CVSS base score from which a match alerts
// without being known exploited: 9.0, CVSS v3's "critical".
const DefaultAlertCVSS = 9.0

// Watch raises vulnerable_asset findings: an asset with an affected match
// whose CVE is known exploited (KEV) or at least AlertCVSS, when the asset
// is first seen so or a new such CVE matches it (a new advisory or KEV
// catalog imported, a firmware change, a new asset). It remembers what it
// reported (a learning/store.Component), so a restart repeats nothing.
type Watch struct {
	AlertCVSS float64
	reported  map[string]map[string]bool // asset → CVE ids reported
	maxAssets int
}

// NewWatch returns a watch alerting from DefaultAlertCVSS.
func NewWatch() *Watch {
	return &Watch{AlertCVSS: DefaultAlertCVSS, reported: map[string]map[string]bool{}, maxAssets: 100000}
}

// alerting says whether a CVE alerts by itself.
func (w *Watch) alerting(c CVE) bool { return c.KEV || (c.CVSS > 0 && c.CVSS >= w.AlertCVSS) }

// Check compares a report with what was reported before: a
// vulnerable_asset finding for each asset newly matching alerting CVEs,
// keyed by the inventory's asset id and the set of those CVEs, concerning
// (and aimed at) the asset's first address.
func (w *Watch) Check(r Report) []finding.Finding {
	var out []finding.Finding
	for i := range r.PatchFirst {
		risk := &r.PatchFirst[i]
		done := w.reported[risk.Asset]
		var fresh []CVE
		for _, c := range risk.CVEs {
			if w.alerting(c) && !done[c.ID] {
				fresh = append(fresh, c)
			}
		}
		if len(fresh) == 0 {
			continue
		}
		if done == nil {
			if len(w.reported) >= w.maxAssets {
				continue // bounded: unremembered assets would alert forever
			}
			done = map[string]bool{}
			w.reported[risk.Asset] = done
		}
		ids := make([]string, len(fresh))
		for j, c := range fresh {
			done[c.ID] = true
			ids[j] = c.ID
		}
		sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
		f := finding.Finding{Key: finding.NewKey("vulnerable_asset", risk.Asset, hex.EncodeToString(sum[:6])), Time: r.Generated}
		if len(risk.IPs) > 0 {
			f.Asset = risk.IPs[0]
		}
		f.Dest = &finding.Host{IP: f.Asset}
		f.Frames = evidenceFrames(risk)
		f.Message = message(risk, fresh, w.AlertCVSS)
		out = append(out, f)
	}
	return out
}

func evidenceFrames(r *Risk) []uint64 {
	seen := map[uint64]bool{}
	var out []uint64
	for _, m := range r.Match.Affected {
		for _, e := range m.Evidence {
			if e.Frame != 0 && !seen[e.Frame] {
				seen[e.Frame] = true
				out = append(out, e.Frame)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// message names the asset, what it is, the CVEs (ids, CVSS, KEV, the
// advisory), its rank and the path to it: the syslog line is read alone.
func message(r *Risk, fresh []CVE, alertCVSS float64) string {
	var b strings.Builder
	who := r.Asset
	if len(r.IPs) > 0 {
		who = strings.Join(r.IPs, ",")
	}
	fmt.Fprintf(&b, "vulnerable asset %s", who)
	if r.Identity != "" {
		fmt.Fprintf(&b, " (%s)", r.Identity)
	}
	b.WriteString(": ")
	adv := map[string]string{}
	for _, m := range r.Match.Affected {
		for _, c := range m.CVEs {
			if _, ok := adv[c.ID]; !ok {
				adv[c.ID] = m.Advisory
			}
		}
	}
	const maxListed = 20
	for i, c := range fresh {
		if i == maxListed {
			fmt.Fprintf(&b, " and %d more", len(fresh)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.ID)
		var attrs []string
		if c.KEV {
			attrs = append(attrs, "known exploited (KEV)")
		}
		if c.CVSS > 0 {
			attrs = append(attrs, fmt.Sprintf("CVSS %.1f", c.CVSS))
		}
		attrs = append(attrs, adv[c.ID])
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	fmt.Fprintf(&b, "; patch-first rank %d, risk %d/100", r.Rank, r.Score)
	if len(r.Paths) > 0 {
		p := r.Paths[0]
		if len(p.Hops) == 0 {
			fmt.Fprintf(&b, "; it is itself an entry point (%s)", p.Why)
		} else {
			fmt.Fprintf(&b, "; reachable from %s (%s) in %d hop(s)", strings.Join(p.EntryIPs, ","), p.Why, len(p.Hops))
		}
	}
	if alertCVSS != DefaultAlertCVSS {
		fmt.Fprintf(&b, " [alerting from CVSS %.1f]", alertCVSS)
	}
	return b.String()
}

type watchState struct {
	Version  int                 `json:"version"`
	Reported map[string][]string `json:"reported"`
}

// MarshalState saves what was reported (learning/store.Component).
func (w *Watch) MarshalState() ([]byte, error) {
	st := watchState{Version: 1, Reported: map[string][]string{}}
	for a, set := range w.reported {
		ids := make([]string, 0, len(set))
		for id := range set {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		st.Reported[a] = ids
	}
	return json.Marshal(st)
}

// UnmarshalState restores it; a damaged snapshot changes nothing.
func (w *Watch) UnmarshalState(b []byte) error {
	var st watchState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("vulnerable-asset watch state: %w", err)
	}
	if st.Version != 1 {
		return fmt.Errorf("vulnerable-asset watch state: version %d, this build reads 1", st.Version)
	}
	rep := map[string]map[string]bool{}
	for a, ids := range st.Reported {
		set := map[string]bool{}
		for _, id := range ids {
			if !cveID().MatchString(id) {
				return fmt.Errorf("vulnerable-asset watch state: %q is not a CVE id", id)
			}
			set[id] = true
		}
		rep[a] = set
	}
	w.reported = rep
	return nil
}

// Reported says whether a CVE was reported for an asset.
func (w *Watch) Reported(asset, cve string) bool { return w.reported[asset][cve] }
