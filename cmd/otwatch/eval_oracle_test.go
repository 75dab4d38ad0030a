package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/otwatch/otwatch/protocols"
)

// The per-PLC baseline's alerts of the plant evaluation are judged against
// the transaction records `otwatch read --records` wrote for the learned
// part (the dissection tshark agrees with, RECORDS.md), not against the
// baseline's own state: an alert is a deviation when what it claims is new
// is absent from every learned record (no record of that link, function,
// point; a value outside every value learned at the point; more writes in
// a window than any learned window held), and a false alert when a learned
// record shows the thing it calls new. A deviation is never silent (the
// brief), so a confirmed one is a real finding: the learned part did not
// hold it.

// evalRecord is what the oracle reads of a transaction record.
type evalRecord struct {
	TS     time.Time `json:"ts"`
	Proto  string    `json:"proto"`
	Client struct {
		IP string `json:"ip"`
	} `json:"client"`
	Server struct {
		IP string `json:"ip"`
	} `json:"server"`
	Unit    string            `json:"unit"`
	Op      string            `json:"op"`
	Code    *int              `json:"code"`
	Subcode *int              `json:"subcode"`
	Targets []evalTarget      `json:"targets"`
	Values  []json.RawMessage `json:"values"`
	Outcome string            `json:"outcome"`
}

type evalTarget struct {
	Space   string  `json:"space"`
	ID      string  `json:"id"`
	Address *uint64 `json:"address"`
	Count   *uint64 `json:"count"`
}

// points lists a target's single points ("space|address" or "node|id").
func (t evalTarget) points() []string {
	if t.Address == nil {
		return []string{t.Space + "|" + t.ID}
	}
	n := uint64(1)
	if t.Count != nil && *t.Count > 0 {
		n = min(*t.Count, 4096)
	}
	out := make([]string, 0, n)
	for i := uint64(0); i < n; i++ {
		out = append(out, fmt.Sprintf("%s|%d", t.Space, *t.Address+i))
	}
	return out
}

func readRecords(path string) ([]evalRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []evalRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var r evalRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// changesState: the operations the baseline learns as writes, by the
// record's op name.
func changesState(op string) bool {
	o, ok := protocols.ParseOp(op)
	return ok && o.ChangesState()
}

func codeOf(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// sameUnit: one device behind the server. An empty unit, Modbus 0 and
// 255 (which TCP devices ignore) match any.
func sameUnit(a, b string) bool {
	wild := func(u string) bool { return u == "" || u == "0" || u == "255" }
	return a == b || wild(a) || wild(b)
}

// judgeDeviation says whether a per-PLC baseline alert of r is a deviation
// the learned records confirm, and why.
func judgeDeviation(r evalRun, a evalAlert) (bool, string) {
	learned := r.learnedRecs
	any := func(match func(evalRecord) bool) bool { return slices.ContainsFunc(learned, match) }
	link := func(x evalRecord) bool { return x.Client.IP == a.Client && x.Server.IP == a.Server }
	switch a.Kind {
	case "new_asset":
		host := a.keyField(-1)
		if any(func(x evalRecord) bool { return x.Server.IP == host || x.Client.IP == host }) {
			return false, "a learned record has " + host
		}
		return true, fmt.Sprintf("no learned record has %s", host)
	case "new_link":
		if any(func(x evalRecord) bool { return link(x) && x.Proto == a.Proto }) {
			return false, "a learned record has the link"
		}
		return true, fmt.Sprintf("no learned %s record from %s to %s", a.Proto, a.Client, a.Server)
	case "new_protocol":
		if any(func(x evalRecord) bool { return x.Server.IP == a.Server && x.Proto == a.Proto }) {
			return false, "a learned record has the protocol"
		}
		return true, fmt.Sprintf("no learned %s record to %s", a.Proto, a.Server)
	case "new_function":
		sub := a.keyField(-1)
		if any(func(x evalRecord) bool {
			return link(x) && x.Proto == a.Proto && sameUnit(x.Unit, a.Unit) && codeOf(x.Code) == codeOf(a.Code) && x.Op == a.Op &&
				(x.Subcode == nil && (sub == "" || sub == "0") || x.Subcode != nil && strconv.Itoa(*x.Subcode) == sub)
		}) {
			return false, "a learned record of the link has the function"
		}
		return true, fmt.Sprintf("no learned %s %s record from %s to %s with code %d (subcode %s)", a.Proto, a.Op, a.Client, a.Server, codeOf(a.Code), sub)
	case "write_from_new_client":
		if any(func(x evalRecord) bool { return link(x) && x.Proto == a.Proto && changesState(x.Op) }) {
			return false, "a learned record has a write on the link"
		}
		return true, fmt.Sprintf("no learned %s write from %s to %s", a.Proto, a.Client, a.Server)
	case "write_to_unseen_target":
		written := map[string]bool{}
		for _, x := range learned {
			if x.Server.IP == a.Server && x.Proto == a.Proto && sameUnit(x.Unit, a.Unit) && changesState(x.Op) {
				for _, t := range x.Targets {
					for _, p := range t.points() {
						written[p] = true
					}
				}
			}
		}
		for _, t := range a.Targets {
			for _, p := range t.points() {
				if !written[p] {
					return true, fmt.Sprintf("no learned write to %s of %s", p, a.Server)
				}
			}
		}
		if len(a.Targets) == 0 && codeOf(a.Code) >= 0 {
			// a point without an address (a DNP3 operation on a whole
			// object, a Modbus function with no register)
			return !any(func(x evalRecord) bool {
				return x.Server.IP == a.Server && x.Proto == a.Proto && changesState(x.Op) && codeOf(x.Code) == codeOf(a.Code)
			}), "no learned write with that code to " + a.Server
		}
		return false, "every target was written while learning"
	case "value_out_of_range":
		return a.valueOutside(learned)
	case "write_burst":
		control := strings.HasSuffix(a.Key, "|control commands")
		return a.burst(r, 2, 10, func(x evalRecord) bool { return changesState(x.Op) && (x.Op == "control") == control })
	case "exception_burst":
		return a.burst(r, 3, 5, func(x evalRecord) bool { return x.Outcome == "exception" })
	case "cyclic_stopped":
		return a.pollStopped(r)
	case "scan":
		// the engine's count over first-time findings: real when the
		// findings of that client it counted are
		n := 0
		for _, b := range r.Alerts {
			if b.Client != a.Client || b.TS.After(a.TS) || b.Kind == "scan" || !baselineKinds[b.Kind] {
				continue
			}
			if ok, why := judgeDeviation(r, b); !ok {
				return false, "a finding it counts is not one: " + why
			}
			n++
		}
		return n > 0, fmt.Sprintf("the %d findings of %s before it are deviations", n, a.Client)
	}
	return false, "no oracle for " + a.Kind
}

// keyField is a field of the alert's key counted from the end (-1: last).
func (a evalAlert) keyField(i int) string {
	f := strings.Split(a.Key, "|")
	if len(f)+i < 0 {
		return ""
	}
	return f[len(f)+i]
}

// valueOutside: some written value lies outside every value learned at
// its point (numbers: below the least or above the most; others: never
// learned).
func (a evalAlert) valueOutside(learned []evalRecord) (bool, string) {
	values := func(targets []evalTarget, vals []json.RawMessage) map[string][]json.RawMessage {
		out := map[string][]json.RawMessage{}
		var pts []string
		for _, t := range targets {
			pts = append(pts, t.points()...)
		}
		for i, v := range vals {
			p := "*"
			if len(pts) == len(vals) {
				p = pts[i]
			} else if len(pts) == 1 {
				p = pts[0]
			}
			out[p] = append(out[p], v)
		}
		return out
	}
	seen := map[string][]json.RawMessage{}
	for _, x := range learned {
		if x.Server.IP == a.Server && x.Proto == a.Proto && sameUnit(x.Unit, a.Unit) && changesState(x.Op) {
			for p, vs := range values(x.Targets, x.Values) {
				seen[p] = append(seen[p], vs...)
			}
		}
	}
	for p, vs := range values(a.Targets, a.Values) {
		for _, v := range vs {
			if !within(v, seen[p]) {
				return true, fmt.Sprintf("%s at %s is outside the %d values learned there", v, p, len(seen[p]))
			}
		}
	}
	return false, "every value lies within those learned at its point"
}

func within(v json.RawMessage, learned []json.RawMessage) bool {
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return slices.ContainsFunc(learned, func(l json.RawMessage) bool { return string(l) == string(v) })
	}
	lo, hi, n := 0.0, 0.0, 0
	for _, l := range learned {
		if g, err := strconv.ParseFloat(string(l), 64); err == nil {
			if n == 0 || g < lo {
				lo = g
			}
			if n == 0 || g > hi {
				hi = g
			}
			n++
		}
	}
	return n > 0 && f >= lo && f <= hi
}

// burst: in a 1 s or 10 s window ending at the alert, the link held more
// of the counted transactions than factor times, and slack more than, the
// most any window of the learned part held (alerts/kinds.go states the
// rule: writes 2 and 10, exceptions 3 and 5). The detected window counts
// the records written up to the alert's own (records are written as
// transactions complete, which is when the baseline sees them).
func (a evalAlert) burst(r evalRun, factor, slack int, counted func(evalRecord) bool) (bool, string) {
	ours := func(x evalRecord) bool { return x.Client.IP == a.Client && x.Server.IP == a.Server && counted(x) }
	var learned []time.Time
	for _, x := range r.learnedRecs {
		if ours(x) {
			learned = append(learned, x.TS)
		}
	}
	sort.Slice(learned, func(i, j int) bool { return learned[i].Before(learned[j]) })
	upTo := -1
	for i, x := range r.detectedRecs {
		if ours(x) && x.TS.Equal(a.TS) {
			upTo = i
		}
	}
	if upTo < 0 {
		return false, "no record of the alert's transaction"
	}
	for _, w := range []time.Duration{time.Second, 10 * time.Second} {
		peak := 0
		for i := range learned {
			j := sort.Search(len(learned), func(k int) bool { return learned[k].After(learned[i].Add(w)) })
			peak = max(peak, j-i)
		}
		n := 0
		for _, x := range r.detectedRecs[:upTo+1] {
			if ours(x) && x.TS.After(a.TS.Add(-w)) && x.TS.Before(a.TS.Add(w)) {
				n++
			}
		}
		if n > factor*peak && n > peak+slack {
			return true, fmt.Sprintf("%d within %s of it, the learned peak %d", n, w, peak)
		}
	}
	return false, fmt.Sprintf("no window holds more than %d times the learned peak", factor)
}

// pollStopped: the client polled the server with the function cyclically
// while learning (a median gap g) and sent it none in the 3·g before the
// alert.
func (a evalAlert) pollStopped(r evalRun) (bool, string) {
	code := a.keyField(-1)
	polls := func(x evalRecord) bool {
		return x.Client.IP == a.Client && x.Server.IP == a.Server && strconv.Itoa(codeOf(x.Code)) == code
	}
	var ts []time.Time
	for _, x := range r.learnedRecs {
		if polls(x) {
			ts = append(ts, x.TS)
		}
	}
	if len(ts) < 3 {
		return false, "no cyclic poll learned"
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	gaps := make([]time.Duration, 0, len(ts)-1)
	for i := 1; i < len(ts); i++ {
		gaps = append(gaps, ts[i].Sub(ts[i-1]))
	}
	slices.Sort(gaps)
	g := gaps[len(gaps)/2]
	for _, x := range r.detectedRecs {
		if polls(x) && !x.TS.After(a.TS) && x.TS.After(a.TS.Add(-3*g)) {
			return false, fmt.Sprintf("a request at %s, within 3 median gaps (%s)", x.TS.Format(time.RFC3339Nano), g)
		}
	}
	return true, fmt.Sprintf("learned median gap %s, nothing in the %s before it", g, 3*g)
}
