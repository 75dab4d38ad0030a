package advisories

import (
	"strings"
)

// Range is the set of versions a CSAF product entry covers: its
// product_version_range (free text or a "vers:" string) or its
// product_version. Parsed once at import; Contains answers per asset.
type Range struct {
	Raw string `json:"raw"`
	// Form names the shape for the parser report: "all", "<", "<=",
	// ">= <", "exact", "set", ... or "unparsed: <why>".
	Form      string     `json:"form"`
	All       bool       `json:"all,omitempty"`
	Intervals []interval `json:"intervals,omitempty"`
}

// interval is [Lo, Hi] with open or closed ends; a nil end is unbounded.
// Exact versions are intervals with Lo == Hi, both closed.
type interval struct {
	Lo     *Version `json:"lo,omitempty"`
	Hi     *Version `json:"hi,omitempty"`
	LoOpen bool     `json:"lo_open,omitempty"`
	HiOpen bool     `json:"hi_open,omitempty"`
}

// Parsed reports whether the range was understood.
func (r Range) Parsed() bool { return r.All || len(r.Intervals) > 0 }

// Contains says whether v is in the range. It is false for a range that
// was not understood (check Parsed).
func (r Range) Contains(v Version) bool {
	if r.All {
		return true
	}
	for _, iv := range r.Intervals {
		if iv.contains(v) {
			return true
		}
	}
	return false
}

func (iv interval) contains(v Version) bool {
	if iv.Lo != nil {
		c := Compare(v, *iv.Lo)
		if c < 0 || (c == 0 && iv.LoOpen) {
			return false
		}
	}
	if iv.Hi != nil {
		c := Compare(v, *iv.Hi)
		if c > 0 || (c == 0 && iv.HiOpen) {
			return false
		}
	}
	return true
}

var (
	spaces   = lazyRegexp(`\s+`)
	allWords = lazyRegexp(`^(?i)all\s+versions?\b[,:]?\s*`)
	// a constraint: an operator (or a word that means one) then a version
	opToken = lazyRegexp(`^(?i)(<=|>=|=<|=>|<|>|=|before|prior to|up to|earlier than|later than|from)\s*`)
	// a version followed by a word that bounds it: "V3.0 and prior"
	suffixBound = lazyRegexp(`(?i)^(.*?)\s*(?:and|&|or)\s+(prior|earlier|below|older|before|lower|later|newer|above|higher)(?:\s+versions?)?$`)
	throughRe   = lazyRegexp(`(?i)^(.+?)\s+(?:through|thru|to|-)\s+(.+)$`)
	dateLike    = lazyRegexp(`(?i)(january|february|march|april|may|june|july|august|september|october|november|december|\d{4}-\d{2}-\d{2}|\d+/\d+/\d+|distributed|manufactured|produced)`)
	serialLike  = lazyRegexp(`(?i)serial`)
	joiner      = lazyRegexp(`(?i)\s+and\s+|,\s*`)
	remark      = lazyRegexp(`^(.*\S)\s*\([^()]*[a-zA-Z]{2}[^()]*\)$`)
	hwPair      = lazyRegexp(`(?i)\d[._ ]*hw\s*\d`)
	component   = lazyRegexp(`(?i)^(?:all\s+)?(?:versions?\s+)?(?:with\s+)?(bios|u-boot|bootloader|boot loader|kernel|hardware|hw|function state|fs)\b`)
)

// ParseRange reads a product_version_range or product_version string.
func ParseRange(raw string) Range {
	r := Range{Raw: raw}
	s := strings.TrimSpace(spaces().ReplaceAllString(strings.ReplaceAll(raw, "\u00a0", " "), " "))
	if s == "" {
		r.Form = "unparsed: empty"
		return r
	}
	vers := false
	if strings.HasPrefix(strings.ToLower(s), "vers:") {
		vers = true
		if i := strings.IndexByte(s, '/'); i > 0 {
			s = strings.TrimSpace(s[i+1:])
		}
		if s == "*" {
			r.All, r.Form = true, "all"
			return r
		}
	}
	if m := allWords().FindString(s); m != "" {
		s = strings.TrimSpace(s[len(m):])
		if s == "" || strings.EqualFold(s, "*") {
			r.All, r.Form = true, "all"
			return r
		}
		s = strings.TrimPrefix(strings.TrimPrefix(s, "versions "), "version ")
	}
	// a trailing remark in parentheses ("(Windows and Linux)", "(only
	// affected by CVE-…)") qualifies the range: it is kept in Raw, and the
	// range is read without it
	if m := remark().FindStringSubmatch(s); m != nil && strings.TrimSpace(m[1]) != "" {
		s = strings.TrimSpace(m[1])
	}
	switch {
	case strings.EqualFold(s, "no version"):
		r.Form = "unparsed: no version given"
		return r
	case component().MatchString(s) || strings.Contains(strings.ToLower(s), "with u-boot") || strings.Contains(strings.ToLower(s), "bios"):
		r.Form = "unparsed: a component's version (BIOS, boot loader, hardware, function state) the wire does not tell"
		return r
	case serialLike().MatchString(s):
		r.Form = "unparsed: a serial number range"
		return r
	case dateLike().MatchString(s):
		r.Form = "unparsed: a date range"
		return r
	}
	var parts []string
	if vers {
		parts = strings.Split(s, "|")
	} else {
		parts = splitConstraints(s)
	}
	type bound struct {
		op string
		v  Version
	}
	var bounds []bound
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if component().MatchString(p) {
			r.Form = "unparsed: a component's version (BIOS, boot loader, hardware, function state) the wire does not tell"
			return r
		}
		if hwPair().MatchString(p) {
			r.Form = "unparsed: a firmware and hardware version pair"
			return r
		}
		bs, ok := parseConstraint(p)
		if !ok {
			r.Form = "unparsed: free text"
			return r
		}
		for _, b := range bs {
			bounds = append(bounds, bound{b.op, b.v})
		}
	}
	if len(bounds) == 0 {
		r.Form = "unparsed: free text"
		return r
	}
	// pair bounds in order: a lower bound followed by an upper bound is
	// one interval (as the vers specification reads "|" lists); a lone
	// bound is open on its other side; "=" is an exact version
	var ops []string
	for i := 0; i < len(bounds); i++ {
		b := bounds[i]
		ops = append(ops, b.op)
		v := b.v
		switch b.op {
		case "=":
			r.Intervals = append(r.Intervals, interval{Lo: &v, Hi: &v})
		case ">", ">=":
			iv := interval{Lo: &v, LoOpen: b.op == ">"}
			if i+1 < len(bounds) && (bounds[i+1].op == "<" || bounds[i+1].op == "<=") {
				hi := bounds[i+1].v
				iv.Hi, iv.HiOpen = &hi, bounds[i+1].op == "<"
				ops = append(ops, bounds[i+1].op)
				i++
			}
			r.Intervals = append(r.Intervals, iv)
		case "<", "<=":
			r.Intervals = append(r.Intervals, interval{Hi: &v, HiOpen: b.op == "<"})
		}
	}
	versionLines(r.Intervals)
	r.Form = form(ops)
	return r
}

// versionLines reads several upper bounds in one list ("<= 4.2.21 | <=
// 5.0.27 | <= 6.0.16") as one per release line, the way vendors fix each
// maintained line: all but the lowest bound start at their own line
// (5.0.0 ≤ v ≤ 5.0.27), so 5.0.30 is not taken for affected.
func versionLines(ivs []interval) {
	var uppers []int
	for i, iv := range ivs {
		if iv.Lo == nil && iv.Hi != nil {
			uppers = append(uppers, i)
		}
	}
	if len(uppers) < 2 {
		return
	}
	lowest := uppers[0]
	for _, i := range uppers[1:] {
		if Compare(*ivs[i].Hi, *ivs[lowest].Hi) < 0 {
			lowest = i
		}
	}
	for _, i := range uppers {
		if i == lowest || len(ivs[i].Hi.Parts) < 2 {
			continue
		}
		lo := Version{Parts: append(append([]int(nil), ivs[i].Hi.Parts[:len(ivs[i].Hi.Parts)-1]...), 0), Raw: "line of " + ivs[i].Hi.Raw}
		ivs[i].Lo = &lo
	}
}

func form(ops []string) string {
	eq := 0
	for _, o := range ops {
		if o == "=" {
			eq++
		}
	}
	switch {
	case eq == 1 && len(ops) == 1:
		return "exact"
	case eq == len(ops):
		return "set of exact versions"
	case eq > 0:
		return "bounds and exact versions"
	}
	return strings.Join(ops, " ")
}

// splitConstraints cuts free text at "|", ";" and the words that join two
// constraints ("and", ","), keeping "V3 and prior" whole.
func splitConstraints(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ';' }) {
		p = strings.TrimSpace(p)
		if suffixBound().MatchString(p) {
			out = append(out, p)
			continue
		}
		for _, q := range joiner().Split(p, -1) {
			out = append(out, q)
		}
	}
	return out
}

// parseConstraint reads one constraint: "< V4.2", ">= 2.0 < 2.1.6" (two
// glued together, as CISA writes them), "V3.0 and prior", "1.0 through
// 2.0", "prior to 2.1", or a bare version.
func parseConstraint(p string) ([]struct {
	op string
	v  Version
}, bool) {
	type b = struct {
		op string
		v  Version
	}
	if m := suffixBound().FindStringSubmatch(p); m != nil {
		v, ok := ParseVersion(m[1])
		if !ok {
			return nil, false
		}
		switch strings.ToLower(m[2]) {
		case "later", "newer", "above", "higher":
			return []b{{">=", v}}, true
		}
		return []b{{"<=", v}}, true
	}
	if m := throughRe().FindStringSubmatch(p); m != nil && !strings.ContainsAny(p, "<>=") {
		lo, ok1 := ParseVersion(m[1])
		hi, ok2 := ParseVersion(m[2])
		if ok1 && ok2 {
			return []b{{">=", lo}, {"<=", hi}}, true
		}
	}
	var out []b
	rest := p
	for strings.TrimSpace(rest) != "" {
		rest = strings.TrimSpace(rest)
		op := "="
		if m := opToken().FindStringSubmatch(rest); m != nil {
			switch strings.ToLower(m[1]) {
			case "<", "before", "prior to", "earlier than":
				op = "<"
			case "<=", "=<", "up to":
				op = "<="
			case ">", "later than":
				op = ">"
			case ">=", "=>", "from":
				op = ">="
			}
			rest = rest[len(m[0]):]
		}
		// the version runs up to the next operator
		end := strings.IndexAny(rest, "<>=")
		text := rest
		if end >= 0 {
			text, rest = rest[:end], rest[end:]
		} else {
			rest = ""
		}
		v, ok := ParseVersion(text)
		if !ok {
			return nil, false
		}
		out = append(out, b{op, v})
	}
	return out, len(out) > 0
}
