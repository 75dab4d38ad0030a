package alerts

import (
	"slices"
	"strconv"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
)

// repeated says how often and when a key repeated while its alert was
// folding: "1 more time at T", "3 more times at T" (all at one instant,
// to the second), "3 more times between T1 and T2".
func repeated(n uint64, first, last time.Time) string {
	times := " more times "
	if n == 1 {
		times = " more time "
		first = last
	}
	var buf [96]byte
	return string(appendDuring(append(strconv.AppendUint(buf[:0], n, 10), times...), first, last))
}

// during is "at T" when first and last are the same second, else
// "between T1 and T2" (never "between T and T").
func during(first, last time.Time) string {
	var buf [80]byte
	return string(appendDuring(buf[:0], first, last))
}

// appendDuring appends during's text: the summary of every key that
// folded repeats says it, thousands of them when a flood stops.
func appendDuring(b []byte, first, last time.Time) []byte {
	var fa, la [40]byte
	f, l := first.UTC().AppendFormat(fa[:0], time.RFC3339), last.UTC().AppendFormat(la[:0], time.RFC3339)
	if string(f) == string(l) {
		return append(append(b, "at "...), l...)
	}
	return append(append(append(append(b, "between "...), f...), " and "...), l...)
}

// addFrames appends the evidence frames not already listed, up to max in all.
func addFrames(dst []uint64, max int, frames ...uint64) []uint64 {
	for _, f := range frames {
		if f != 0 && len(dst) < max && !slices.Contains(dst, f) {
			dst = append(dst, f)
		}
	}
	return dst
}

// hostEndpoint is a finding's host as an alert endpoint.
func hostEndpoint(h *finding.Host) Endpoint { return Endpoint{IP: h.IP, Port: h.Port, MAC: h.MAC} }
