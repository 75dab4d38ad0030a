package conversations

import "sort"

// List returns the conversations learned, sorted: the exposure the
// vulnerability ranking reads (learning/advisories), which services of a
// controller are used and whether it calls out.
func (d *Detector) List() []Key {
	out := make([]Key, 0, len(d.known))
	for k := range d.known {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch {
		case a.Client != b.Client:
			return a.Client.Less(b.Client)
		case a.Server != b.Server:
			return a.Server.Less(b.Server)
		case a.Proto != b.Proto:
			return a.Proto < b.Proto
		}
		return a.Port < b.Port
	})
	return out
}
