package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Incident groups related alerts: one source acting within a time window.
type Incident struct {
	ID          string    `json:"id"`
	Source      string    `json:"source"`
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
	Assets      []string  `json:"assets"`
	Alerts      []string  `json:"alerts"`
	Kinds       []string  `json:"kinds"` // in order of first appearance
	MaxSeverity int       `json:"max_severity"`
	Score       int       `json:"score"` // 0..100, for triage
	Narrative   string    `json:"narrative"`
	events      []event
}

type event struct {
	ts       time.Time
	kind     string
	severity int
	message  string
}

type incidents struct {
	window time.Duration
	open   map[string]*Incident // by source
	all    []*Incident
}

func newIncidents(window time.Duration) *incidents {
	return &incidents{window: window, open: map[string]*Incident{}}
}

// add files an alert into its source's open incident (or a new one) and returns the incident id.
func (s *incidents) add(a *Alert) string {
	source := a.Asset
	if a.Client != nil && a.Client.IP != "" {
		source = a.Client.IP
	}
	inc := s.open[source]
	if inc == nil || a.TS.Sub(inc.Last) > s.window {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d", source, a.TS.UnixNano())))
		inc = &Incident{ID: "inc-" + hex.EncodeToString(h[:6]), Source: source, First: a.TS}
		s.open[source] = inc
		s.all = append(s.all, inc)
	}
	inc.Last = a.TS
	inc.Alerts = append(inc.Alerts, a.ID)
	if !contains(inc.Kinds, a.Kind) {
		inc.Kinds = append(inc.Kinds, a.Kind)
	}
	for _, asset := range []string{a.Asset, serverIP(a)} {
		if asset != "" && asset != source && !contains(inc.Assets, asset) {
			inc.Assets = append(inc.Assets, asset)
			sort.Strings(inc.Assets)
		}
	}
	if a.Severity > inc.MaxSeverity {
		inc.MaxSeverity = a.Severity
	}
	inc.events = append(inc.events, event{a.TS, a.Kind, a.Severity, a.Message})
	inc.Score = score(inc)
	inc.Narrative = narrative(inc)
	return inc.ID
}

func serverIP(a *Alert) string {
	if a.Server != nil {
		return a.Server.IP
	}
	return ""
}

// score weighs the worst alert most, then breadth: kinds, assets, control commands.
func score(inc *Incident) int {
	s := inc.MaxSeverity * 6
	s += 4 * min(len(inc.Kinds)-1, 5)
	s += 3 * min(len(inc.Assets), 5)
	for _, k := range inc.Kinds {
		if info, ok := Kind(k); ok && info.Always && k != "malformed_pdu" {
			s += 5
		}
	}
	return min(s, 100)
}

func narrative(inc *Incident) string {
	var b strings.Builder
	newHost := contains(inc.Kinds, "new_asset")
	fmt.Fprintf(&b, "%s", inc.Source)
	if newHost {
		b.WriteString(", a host not in the baseline,")
	}
	fmt.Fprintf(&b, " was first seen in this incident at %s.", inc.First.UTC().Format(time.RFC3339))
	// what they did, in order, consecutive repeats of a kind collapsed
	shown := 0
	for i := 0; i < len(inc.events) && shown < 12; i++ {
		ev := inc.events[i]
		n := 1
		for i+1 < len(inc.events) && inc.events[i+1].kind == ev.kind {
			i++
			n++
		}
		fmt.Fprintf(&b, " At %s: %s", ev.ts.UTC().Format("15:04:05"), strings.TrimSuffix(ev.message, "."))
		if n > 1 {
			fmt.Fprintf(&b, " (and %d more %s alerts)", n-1, ev.kind)
		}
		b.WriteString(".")
		shown++
	}
	if len(inc.Assets) > 0 {
		fmt.Fprintf(&b, " Assets involved: %s.", strings.Join(inc.Assets, ", "))
	}
	worst := ""
	for _, ev := range inc.events {
		if ev.severity == inc.MaxSeverity {
			worst = ev.kind
			break
		}
	}
	fmt.Fprintf(&b, " Highest severity %d (%s); %d alerts from %s to %s.", inc.MaxSeverity, worst, len(inc.Alerts),
		inc.First.UTC().Format(time.RFC3339), inc.Last.UTC().Format(time.RFC3339))
	return b.String()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (s *incidents) list() []Incident {
	out := make([]Incident, len(s.all))
	for i, inc := range s.all {
		out[i] = *inc
		out[i].events = nil
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].First.After(out[j].First) })
	return out
}

func (s *incidents) restore(list []Incident) {
	s.open, s.all = map[string]*Incident{}, nil
	sort.SliceStable(list, func(i, j int) bool { return list[i].First.Before(list[j].First) })
	for i := range list {
		inc := list[i]
		// the narrative's events are not kept: it is rebuilt from what follows
		inc.events = []event{{inc.First, firstOr(inc.Kinds), inc.MaxSeverity, "earlier alerts (see " + strings.Join(inc.Alerts, ", ") + ")"}}
		s.all = append(s.all, &inc)
		s.open[inc.Source] = &inc
	}
}

func firstOr(kinds []string) string {
	if len(kinds) > 0 {
		return kinds[0]
	}
	return ""
}
