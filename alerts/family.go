package alerts

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
)

// A family is the alerts of one kind from one source on one asset. Its
// first familyAlone distinct deviations within the fold window alert one
// by one; past them, one alert says the source keeps deviating and counts
// the rest, which are summed up (how many, which target ranges) when the
// window ends. An HMI writing 40,000 registers never written before is
// then six alerts and a summary, not 40,000 alerts: nothing is dropped,
// and the capture path never drowns in its own alerts. The summary keeps
// the request and response frames of the first familyFrames/2 deviations
// it counts as evidence (4 KiB): one that came among a hundred benign
// ones (a plant whose learning missed a few points) keeps its frames.
const (
	familyAlone  = 5
	maxFamilies  = 10000
	maxSpans     = 16
	familyFrames = 512
)

type family struct {
	key                 string // Key(kind, asset, source)
	kind, asset, source string
	start               time.Time // first alert of the window
	alerted             int       // distinct keys alerted one by one in the window
	agg                 *Alert    // the alert counting the rest, once past familyAlone
	aggKey              string
	count               uint64 // deviations counted into agg
	first, last         time.Time
	frames              []uint64
	spans               []span
	unaddressed         uint64
}

// span is the addresses of one target space counted in a family.
type span struct {
	space  string
	lo, hi uint64
	n      uint64
}

// countInFamily files a new alert of key into its family and reports
// whether it was counted into the family's alert rather than raised.
func (e *Engine) countInFamily(fd *finding.Finding) bool {
	now, kind, asset, tx := fd.Time, fd.Kind(), fd.Asset, fd.Tx
	source := ""
	switch {
	case fd.Source != nil:
		source = fd.Source.IP
	case tx != nil && tx.Client.IP.IsValid():
		source = e.addrs.Text(tx.Client.IP)
	}
	e.keyBuf = finding.NewKey(kind, asset, source).AppendTo(e.keyBuf[:0])
	f := e.families[string(e.keyBuf)] // the key made a string only for a new family
	if f != nil && now.Sub(f.start) >= e.cfg.FoldWindow {
		e.closeFamily(f)
		f = nil
	}
	if f == nil {
		if len(e.families) >= maxFamilies {
			e.forgetFamilies()
		}
		fk := string(e.keyBuf)
		f = &family{key: fk, kind: kind, asset: asset, source: source, start: now}
		e.families[fk] = f
		e.famOrder = append(e.famOrder, fk)
	}
	if f.alerted < familyAlone {
		f.alerted++
		return false
	}
	f.count++
	if f.first.IsZero() {
		f.first = now
	}
	f.last = now
	if tx != nil {
		f.frames = addFrames(f.frames, familyFrames, tx.RequestFrame, tx.ResponseFrame)
	}
	f.addTarget(fd)
	if f.agg != nil {
		f.agg.Repeats++
		e.ps.recentChanged(f.agg.rseq)
		e.Folded++
		return true
	}
	// the first deviation past the threshold raises the family's alert
	agg := finding.Finding{Key: finding.NewKey(kind, "family", asset, source), Time: now, Asset: asset, Tx: tx,
		Source: fd.Source, Dest: fd.Dest, Frames: fd.Frames, Learning: fd.Learning}
	f.aggKey = agg.Key.String()
	agg.Message = fmt.Sprintf("%s keeps raising %s on %s: more than %d distinct within %s; the rest are counted in this alert and summed up when they stop. This one: %s",
		sourceName(source), kind, assetName(asset), familyAlone, e.cfg.FoldWindow, fd.Message)
	e.raise(&agg, f.aggKey, e.regs[f.aggKey], true)
	f.agg = e.regs[f.aggKey].last
	return true
}

func assetName(asset string) string {
	if asset == "" {
		return "the network"
	}
	return asset
}

// addTarget counts a deviation's address into its space's span.
func (f *family) addTarget(o *finding.Finding) {
	if !o.HasAddress {
		f.unaddressed++
		return
	}
	for i := range f.spans {
		s := &f.spans[i]
		if s.space == o.Space {
			s.lo, s.hi, s.n = min(s.lo, o.Address), max(s.hi, o.Address), s.n+1
			return
		}
	}
	if len(f.spans) < maxSpans {
		f.spans = append(f.spans, span{o.Space, o.Address, o.Address, 1})
		return
	}
	f.unaddressed++
}

// summary says which targets a family counted: "holding_register
// 1005–40999", with counts per space when there are several.
func (f *family) summary() string {
	var parts []string
	sort.Slice(f.spans, func(i, j int) bool { return f.spans[i].space < f.spans[j].space })
	for _, s := range f.spans {
		p := fmt.Sprintf("%s %d", s.space, s.lo)
		if s.lo != s.hi {
			p = fmt.Sprintf("%s %d–%d", s.space, s.lo, s.hi)
		}
		if len(f.spans) > 1 || f.unaddressed > 0 {
			p += fmt.Sprintf(" (%s)", formatCount(s.n))
		}
		parts = append(parts, p)
	}
	if f.unaddressed > 0 && len(parts) > 0 {
		parts = append(parts, fmt.Sprintf("%s without an address", formatCount(f.unaddressed)))
	}
	return strings.Join(parts, ", ")
}

// closeFamily reports what the family counted past its alert, as a
// summary alert, and forgets it.
func (e *Engine) closeFamily(f *family) {
	delete(e.families, f.key)
	if f.agg == nil || f.count <= 1 {
		return // nothing counted beyond the family's own alert
	}
	s := *f.agg
	s.ID = alertID(f.kind, f.aggKey, f.last, f.count)
	s.TS = f.last
	s.Frames = append([]uint64(nil), f.frames...)
	s.Repeats = f.count - 1
	s.Message = fmt.Sprintf("%s %s deviations from %s on %s %s were counted in one alert, not raised one by one",
		formatCount(f.count), f.kind, sourceName(f.source), assetName(f.asset), during(f.first, f.last))
	if what := f.summary(); what != "" {
		s.Message += ": " + what
	}
	s.Incident = e.incidents.add(&s)
	e.remember(&s)
	e.Raised[s.Kind]++ // an alert record like any: the counts agree with what was written
	if e.sink != nil {
		e.sink(&s)
	}
}

func sourceName(source string) string {
	if source == "" {
		return "one source"
	}
	return source
}

// expireFamilies closes the families whose window ended at now (every
// family when all is set), oldest first, and those that start a whole
// window after now (the clock was reset; a family's start a little after
// now is only a transaction answered late).
func (e *Engine) expireFamilies(now time.Time, all bool) {
	kept := e.famOrder[:0]
	for _, fk := range e.famOrder {
		f := e.families[fk]
		if f == nil {
			continue
		}
		if all || now.Sub(f.start) >= e.cfg.FoldWindow || f.start.Sub(now) >= e.cfg.FoldWindow {
			e.closeFamily(f)
			continue
		}
		kept = append(kept, fk)
	}
	e.famOrder = kept
}

// forgetFamilies closes the oldest tenth of the families (reporting what
// they counted) when too many sources deviate at once.
func (e *Engine) forgetFamilies() {
	n := len(e.famOrder)/10 + 1
	for _, fk := range e.famOrder[:min(n, len(e.famOrder))] {
		if f := e.families[fk]; f != nil {
			e.closeFamily(f)
		}
	}
	e.famOrder = append(e.famOrder[:0:0], e.famOrder[min(n, len(e.famOrder)):]...)
}

// formatCount writes 40000 as "40,000".
func formatCount(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
