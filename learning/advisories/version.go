package advisories

import (
	"strconv"
	"strings"
)

// Version is a firmware or software version as vendors write it: dotted
// numbers (a component "x" is a wildcard, as in Siemens' "V3.X.16"), then
// the qualifiers that order releases of one number: service pack, update,
// hotfix, build and a letter suffix ("1.02C").
type Version struct {
	Parts []int `json:"parts"` // -1: wildcard
	// Qualifier slots, compared in this order after Parts.
	SP     int    `json:"sp,omitempty"`
	Update int    `json:"update,omitempty"`
	Hotfix int    `json:"hotfix,omitempty"`
	Build  int    `json:"build,omitempty"`
	Letter int    `json:"letter,omitempty"`
	Raw    string `json:"raw,omitempty"`
}

const wildcard = -1

// qualifier words, lower case, and the slot they fill.
var qualWords = []struct {
	word string
	slot int
}{
	{"servicepack", 0}, {"sp", 0},
	{"update", 1}, {"upd", 1}, {"u", 1},
	{"hotfixrev", 2}, {"hotfix", 2}, {"hf", 2}, {"patch", 2}, {"p", 2},
	{"build", 3}, {"b", 3},
}

var (
	versionPrefix = lazyRegexp(`^(?i)(?:version|ver\.|firmware|fw|rev\.?|v\.?|r)[\s_]*`)
	dashed        = lazyRegexp(`^\d+(?:-\d+)+$`)
	dotted        = lazyRegexp(`^(\d+|[xX*])((?:\.(?:\d+|[xX*]))*)`)
)

// ParseVersion reads a version; ok is false when s is not one (free text,
// a date, a serial number).
func ParseVersion(s string) (Version, bool) {
	v := Version{Raw: strings.TrimSpace(s)}
	rest := strings.TrimSpace(strings.ReplaceAll(s, "\u00a0", " "))
	for i := 0; i < 2; i++ { // "Version V4.4": a word, then a letter
		rest = versionPrefix().ReplaceAllString(rest, "")
	}
	if dashed().MatchString(rest) { // 1-02-08: dashes between numbers
		rest = strings.ReplaceAll(rest, "-", ".")
	}
	m := dotted().FindStringSubmatch(rest)
	if m == nil || m[1] == "x" || m[1] == "X" || m[1] == "*" {
		return v, false
	}
	for _, p := range strings.Split(m[0], ".") {
		if p == "x" || p == "X" || p == "*" {
			v.Parts = append(v.Parts, wildcard)
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n > 1<<30 {
			return v, false
		}
		v.Parts = append(v.Parts, n)
	}
	rest = rest[len(m[0]):]
	// a letter glued to the number: 1.02C, 9.9E (but not "9.9 SP1")
	if len(rest) > 0 && isLetter(rest[0]) && (len(rest) == 1 || !isLetter(rest[1])) && !startsQualifier(rest) {
		v.Letter = int(lower(rest[0])-'a') + 1
		rest = rest[1:]
	}
	slots := [4]*int{&v.SP, &v.Update, &v.Hotfix, &v.Build}
	for {
		rest = strings.TrimLeft(rest, " _")
		if rest == "" {
			return v, true
		}
		if rest[0] == '-' || rest[0] == '(' { // 5.3.0-64, 15.2(4): a build
			n, after, ok := number(strings.TrimLeft(rest[1:], " "))
			if !ok {
				return v, false
			}
			v.Build = n
			rest = strings.TrimPrefix(after, ")")
			continue
		}
		word := ""
		for _, q := range qualWords {
			if len(rest) >= len(q.word) && strings.EqualFold(rest[:len(q.word)], q.word) {
				word = q.word
				n, after, ok := number(strings.TrimLeft(rest[len(q.word):], " _.:"))
				if !ok {
					word = ""
					continue
				}
				*slots[q.slot] = n
				rest = after
				break
			}
		}
		if word == "" {
			return v, false
		}
	}
}

func startsQualifier(s string) bool {
	for _, q := range qualWords {
		if len(s) > len(q.word) && strings.EqualFold(s[:len(q.word)], q.word) && s[len(q.word)] >= '0' && s[len(q.word)] <= '9' {
			return true
		}
	}
	return false
}

func number(s string) (int, string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 9 {
		return 0, s, false
	}
	n, _ := strconv.Atoi(s[:i])
	return n, s[i:], true
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Compare orders two versions: -1, 0, 1. Missing components are 0; a
// wildcard equals anything.
func Compare(a, b Version) int {
	n := max(len(a.Parts), len(b.Parts))
	for i := 0; i < n; i++ {
		x, y := part(a.Parts, i), part(b.Parts, i)
		if x == wildcard || y == wildcard {
			continue
		}
		if x != y {
			return sign(x - y)
		}
	}
	for _, d := range []int{a.SP - b.SP, a.Update - b.Update, a.Hotfix - b.Hotfix, a.Build - b.Build, a.Letter - b.Letter} {
		if d != 0 {
			return sign(d)
		}
	}
	return 0
}

func part(p []int, i int) int {
	if i < len(p) {
		return p[i]
	}
	return 0
}

func sign(d int) int {
	switch {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}

func (v Version) String() string { return v.Raw }
