package alerts

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// Incident groups related alerts: one source acting within a time window.
// It keeps counts and bounded samples, so a source raising a hundred
// thousand alerts makes one incident of bounded size; the narrative is
// written when the incident is read.
type Incident struct {
	ID         string    `json:"id"`
	Source     string    `json:"source"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	Assets     []string  `json:"assets"`      // up to maxIncidentAssets, sorted
	AssetCount int       `json:"asset_count"` // all of them
	// Alerts are the ids of the first maxIncidentAlerts alerts; AlertCount
	// counts every alert of the incident.
	Alerts      []string `json:"alerts"`
	AlertCount  int      `json:"alert_count"`
	Kinds       []string `json:"kinds"` // in order of first appearance
	MaxSeverity int      `json:"max_severity"`
	Score       int      `json:"score"` // 0..100, for triage
	Narrative   string   `json:"narrative"`
	// Events are a bounded sample of what happened, in order: the first
	// ones, then the first of each kind seen later, and the last ones.
	Events []Event `json:"events,omitempty"`
	// Skipped counts the alerts whose events are not in the sample.
	Skipped int  `json:"events_skipped,omitempty"`
	dirty   bool // the narrative is not up to date
	unsaved bool // changed since its record was written
}

// Event is one step of an incident, for its narrative and timeline.
type Event struct {
	TS       time.Time `json:"ts"`
	Kind     string    `json:"kind"`
	Severity int       `json:"severity"`
	Message  string    `json:"message"`
	Alert    string    `json:"alert"`
}

// Bounds of one incident and of the incident list. An incident closed
// (no alert for the incident window) is kept for incidentRetention of
// packet time after its last alert, and at most maxIncidents are kept
// (the oldest go first).
const (
	maxIncidentAlerts = 100
	maxIncidentAssets = 64
	headEvents        = 20 // first events kept
	tailEvents        = 20 // last events kept
	maxIncidents      = 5000
	incidentRetention = 30 * 24 * time.Hour
)

type incidents struct {
	window time.Duration
	open   map[string]*Incident // by source
	all    []*Incident          // oldest first
	newest time.Time
	// dropped is told the id of each incident dropped (the engine's
	// change notes for its records)
	dropped func(id string)
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
		inc = newIncident(incidentID(source, a.TS), source, a.TS)
		s.open[source] = inc
		s.all = append(s.all, inc)
	}
	if a.TS.After(inc.Last) {
		inc.Last = a.TS
	}
	inc.AlertCount++
	if len(inc.Alerts) < maxIncidentAlerts {
		inc.Alerts = append(inc.Alerts, a.ID)
	}
	newKind := !contains(inc.Kinds, a.Kind)
	if newKind {
		inc.Kinds = append(inc.Kinds, a.Kind)
	}
	for _, asset := range []string{a.Asset, serverIP(a)} {
		if asset == "" || asset == source {
			continue
		}
		i := sort.SearchStrings(inc.Assets, asset)
		if i < len(inc.Assets) && inc.Assets[i] == asset {
			continue
		}
		inc.AssetCount++
		if len(inc.Assets) < maxIncidentAssets {
			inc.Assets = append(inc.Assets, "")
			copy(inc.Assets[i+1:], inc.Assets[i:])
			inc.Assets[i] = asset
		}
	}
	if a.Severity > inc.MaxSeverity {
		inc.MaxSeverity = a.Severity
	}
	inc.addEvent(Event{a.TS, a.Kind, a.Severity, a.Message, a.ID}, newKind)
	inc.Score = score(inc)
	inc.dirty, inc.unsaved = true, true
	if a.TS.After(s.newest) {
		s.newest = a.TS
	}
	s.expire()
	return inc.ID
}

// incidentParts is a new incident with room for its first alerts, kinds
// and events, allocated as one: a flood opens thousands of incidents of a
// few alerts, and each list grew by allocations of its own. (Its first
// alert fills each; the assets may stay none, written as null, so they
// start nil.)
type incidentParts struct {
	inc    Incident
	alerts [4]string
	kinds  [2]string
	events [4]Event
}

func newIncident(id, source string, first time.Time) *Incident {
	p := &incidentParts{inc: Incident{ID: id, Source: source, First: first}}
	p.inc.Alerts, p.inc.Kinds, p.inc.Events = p.alerts[:0], p.kinds[:0], p.events[:0]
	return &p.inc
}

// addEvent keeps the first headEvents events, every event of a kind not
// seen before, and a sliding window of the last tailEvents.
func (inc *Incident) addEvent(ev Event, newKind bool) {
	head := min(len(inc.Events), headEvents)
	switch {
	case len(inc.Events) < headEvents:
		inc.Events = append(inc.Events, ev)
		return
	case newKind && len(inc.Events) < headEvents+tailEvents+len(kinds):
		inc.Events = append(inc.Events, ev)
		return
	}
	// the tail: drop the oldest event after the head that is not the first of its kind
	if len(inc.Events) >= headEvents+tailEvents {
		for i := head; i < len(inc.Events); i++ {
			if !firstOfKind(inc.Events[:i], inc.Events[i].Kind) {
				inc.Events = append(inc.Events[:i], inc.Events[i+1:]...)
				inc.Skipped++
				break
			}
		}
	}
	inc.Events = append(inc.Events, ev)
}

func firstOfKind(before []Event, kind string) bool {
	for _, e := range before {
		if e.Kind == kind {
			return false
		}
	}
	return true
}

// expire drops closed incidents older than the retention, and the oldest
// beyond maxIncidents.
func (s *incidents) expire() {
	cut := 0
	for cut < len(s.all) && (len(s.all)-cut > maxIncidents || s.newest.Sub(s.all[cut].Last) > incidentRetention) {
		if s.open[s.all[cut].Source] == s.all[cut] {
			delete(s.open, s.all[cut].Source)
		}
		if s.dropped != nil {
			s.dropped(s.all[cut].ID)
		}
		cut++
	}
	if cut > 0 {
		s.all = append(s.all[:0:0], s.all[cut:]...)
	}
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
	s += 3 * min(inc.AssetCount, 5)
	for _, k := range inc.Kinds {
		if info, ok := Kind(k); ok && info.Always && k != "malformed_pdu" {
			s += 5
		}
	}
	return min(s, 100)
}

func narrative(inc *Incident) string {
	// appended, not printed: a flood's checkpoint tells a thousand of these
	b := make([]byte, 0, 256)
	b = append(b, inc.Source...)
	if contains(inc.Kinds, "new_asset") || contains(inc.Kinds, "new_host") {
		b = append(b, ", a host not in the baseline,"...)
	}
	b = inc.First.UTC().AppendFormat(append(b, " was first seen in this incident at "...), time.RFC3339)
	b = append(b, '.')
	// what they did, in order, consecutive repeats of a kind collapsed
	shown := 0
	for i := 0; i < len(inc.Events) && shown < 12; i++ {
		ev := inc.Events[i]
		n := 1
		for i+1 < len(inc.Events) && inc.Events[i+1].Kind == ev.Kind {
			i++
			n++
		}
		b = ev.TS.UTC().AppendFormat(append(b, "\nAt "...), "15:04:05")
		b = append(append(b, ": "...), strings.TrimSuffix(ev.Message, ".")...)
		if n > 1 {
			b = strconv.AppendInt(append(b, " (and "...), int64(n-1), 10)
			b = append(append(append(b, " more "...), ev.Kind...), " alerts)"...)
		}
		b = append(b, '.')
		shown++
	}
	if inc.Skipped > 0 {
		b = strconv.AppendInt(append(b, "\n("...), int64(inc.Skipped), 10)
		b = append(b, " more alerts in between are listed on the alerts page.)"...)
	}
	if len(inc.Assets) > 0 {
		b = append(b, "\nAssets involved: "...)
		for i, a := range inc.Assets {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, a...)
		}
		if inc.AssetCount > len(inc.Assets) {
			b = append(strconv.AppendInt(append(b, " and "...), int64(inc.AssetCount-len(inc.Assets)), 10), " more"...)
		}
		b = append(b, '.')
	}
	worst := ""
	for _, ev := range inc.Events {
		if ev.Severity == inc.MaxSeverity {
			worst = ev.Kind
			break
		}
	}
	alerts := " alerts "
	if inc.AlertCount == 1 {
		alerts = " alert "
	}
	b = strconv.AppendInt(append(b, "\nHighest severity "...), int64(inc.MaxSeverity), 10)
	b = strconv.AppendInt(append(append(append(b, " ("...), worst...), "); "...), int64(inc.AlertCount), 10)
	b = append(b, alerts...)
	first, last := inc.First.UTC(), inc.Last.UTC()
	if first.Unix() == last.Unix() { // the same in RFC 3339
		b = first.AppendFormat(append(b, "at "...), time.RFC3339) // not "from T to T"
	} else {
		b = first.AppendFormat(append(b, "from "...), time.RFC3339)
		b = last.AppendFormat(append(b, " to "...), time.RFC3339)
	}
	return string(append(b, '.'))
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// list returns the incidents, newest first, their narratives written.
func (s *incidents) list() []Incident {
	out := make([]Incident, len(s.all))
	for i, inc := range s.all {
		inc.tell()
		out[i] = *inc
		out[i].Alerts = append([]string(nil), inc.Alerts...)
		out[i].Assets = append([]string(nil), inc.Assets...)
		out[i].Kinds = append([]string(nil), inc.Kinds...)
		out[i].Events = append([]Event(nil), inc.Events...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].First.After(out[j].First) })
	return out
}

// tell writes the incident's narrative if it changed since.
func (inc *Incident) tell() {
	if inc.dirty || inc.Narrative == "" {
		inc.Narrative, inc.dirty = narrative(inc), false
	}
}

func (s *incidents) restore(list []Incident) {
	s.open, s.all = map[string]*Incident{}, nil
	sort.SliceStable(list, func(i, j int) bool { return list[i].First.Before(list[j].First) })
	for i := range list {
		inc := list[i]
		if inc.AlertCount < len(inc.Alerts) { // written before counts were kept
			inc.AlertCount = len(inc.Alerts)
		}
		if inc.AssetCount < len(inc.Assets) {
			inc.AssetCount = len(inc.Assets)
		}
		if len(inc.Events) == 0 && inc.AlertCount > 0 { // written before events were kept
			inc.Events = []Event{{inc.First, firstOr(inc.Kinds), inc.MaxSeverity, "earlier alerts", firstOr(inc.Alerts)}}
		}
		s.all = append(s.all, &inc)
		s.open[inc.Source] = &inc
		if inc.Last.After(s.newest) {
			s.newest = inc.Last
		}
	}
	s.expire()
}

func firstOr(xs []string) string {
	if len(xs) > 0 {
		return xs[0]
	}
	return ""
}
