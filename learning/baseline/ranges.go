package baseline

import "sort"

// Range is a closed interval of addresses.
type Range struct {
	Lo uint64 `json:"lo"`
	Hi uint64 `json:"hi"`
}

// RangeSet keeps sorted, disjoint, merged ranges: a client polling 0–99 and
// then 100–199 leaves one range 0–199, not two hundred keys.
type RangeSet []Range

// Covers reports whether [lo, hi] lies inside one learned range.
func (s RangeSet) Covers(lo, hi uint64) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].Hi >= lo })
	return i < len(s) && s[i].Lo <= lo && hi <= s[i].Hi
}

// Add merges [lo, hi] in, joining overlapping and adjacent ranges. It
// reports whether the set grew.
func (s *RangeSet) Add(lo, hi uint64) bool {
	if hi < lo {
		lo, hi = hi, lo
	}
	if s.Covers(lo, hi) {
		return false
	}
	rs := *s
	i := sort.Search(len(rs), func(i int) bool { return rs[i].Hi+1 >= lo || rs[i].Hi == ^uint64(0) })
	j := i
	for j < len(rs) && (hi == ^uint64(0) || rs[j].Lo <= hi+1) {
		if rs[j].Lo < lo {
			lo = rs[j].Lo
		}
		if rs[j].Hi > hi {
			hi = rs[j].Hi
		}
		j++
	}
	// In place: the set is the model's own (Export hands out copies).
	switch {
	case j == i: // between two ranges: one more
		rs = append(rs, Range{})
		copy(rs[i+1:], rs[i:])
	case j > i+1: // joins several: they become one
		copy(rs[i+1:], rs[j:])
		rs = rs[:len(rs)-(j-i-1)]
	}
	rs[i] = Range{lo, hi}
	*s = rs
	return true
}

// Gaps returns the parts of [lo, hi] that no range covers, in order: all
// of it when nothing does.
func (s RangeSet) Gaps(lo, hi uint64) []Range {
	if hi < lo {
		lo, hi = hi, lo
	}
	var out []Range
	i := sort.Search(len(s), func(i int) bool { return s[i].Hi >= lo })
	for ; i < len(s) && s[i].Lo <= hi; i++ {
		if s[i].Lo > lo {
			out = append(out, Range{lo, s[i].Lo - 1})
		}
		if s[i].Hi >= hi {
			return out
		}
		lo = s[i].Hi + 1
	}
	return append(out, Range{lo, hi})
}
