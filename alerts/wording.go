package alerts

import (
	"fmt"
	"slices"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
)

// repeated says how often and when a key repeated while its alert was
// folding: "1 more time at T", "3 more times at T" (all at one instant,
// to the second), "3 more times between T1 and T2".
func repeated(n uint64, first, last time.Time) string {
	times := "times"
	if n == 1 {
		times = "time"
		first = last
	}
	return fmt.Sprintf("%d more %s %s", n, times, during(first, last))
}

// during is "at T" when first and last are the same second, else
// "between T1 and T2" (never "between T and T").
func during(first, last time.Time) string {
	a, b := first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339)
	if a == b {
		return "at " + b
	}
	return "between " + a + " and " + b
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
func hostEndpoint(h *finding.Host) *Endpoint { return &Endpoint{IP: h.IP, Port: h.Port, MAC: h.MAC} }
