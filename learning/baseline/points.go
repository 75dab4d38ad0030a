package baseline

import (
	"cmp"
	"slices"
)

// pointTable holds an asset's value models. While the asset learns it is
// a map (points come and go in any order); once it detects, and after a
// load, it is a slice sorted by key (a million points of a plant cost 80
// bytes each instead of a map's 120), searched in O(log n). A point an
// operator accepts into a frozen table is inserted in place.
type pointTable struct {
	m      map[pointKey]ValueModel
	sorted []pointEntry
}

type pointEntry struct {
	k  pointKey
	vm ValueModel
}

func comparePointKeys(a, b pointKey) int {
	if c := cmp.Compare(a.space, b.space); c != 0 {
		return c
	}
	if c := cmp.Compare(a.pu, b.pu); c != 0 {
		return c
	}
	if c := cmp.Compare(a.id, b.id); c != 0 {
		return c
	}
	if c := cmp.Compare(a.address, b.address); c != 0 {
		return c
	}
	if c := cmp.Compare(a.sub, b.sub); c != 0 {
		return c
	}
	if c := cmp.Compare(a.bits, b.bits); c != 0 {
		return c
	}
	return cmp.Compare(a.field, b.field)
}

func (t *pointTable) len() int { return len(t.m) + len(t.sorted) }

func (t *pointTable) get(k pointKey) (ValueModel, bool) {
	if t.m != nil {
		vm, ok := t.m[k]
		return vm, ok
	}
	i, ok := slices.BinarySearchFunc(t.sorted, k, func(e pointEntry, k pointKey) int { return comparePointKeys(e.k, k) })
	if !ok {
		return ValueModel{}, false
	}
	return t.sorted[i].vm, true
}

func (t *pointTable) set(k pointKey, vm ValueModel) {
	if t.m != nil || t.sorted == nil {
		if t.m == nil {
			t.m = map[pointKey]ValueModel{}
		}
		t.m[k] = vm
		return
	}
	i, ok := slices.BinarySearchFunc(t.sorted, k, func(e pointEntry, k pointKey) int { return comparePointKeys(e.k, k) })
	if ok {
		t.sorted[i].vm = vm
		return
	}
	t.sorted = slices.Insert(t.sorted, i, pointEntry{k, vm})
}

// each calls fn for every point (in key order when frozen).
func (t *pointTable) each(fn func(k pointKey, vm ValueModel)) {
	for k, vm := range t.m {
		fn(k, vm)
	}
	for _, e := range t.sorted {
		fn(e.k, e.vm)
	}
}

// freeze turns the map into the sorted slice (no-op when already frozen).
func (t *pointTable) freeze() {
	if t.m == nil {
		return
	}
	s := make([]pointEntry, 0, len(t.m))
	for k, vm := range t.m {
		s = append(s, pointEntry{k, vm})
	}
	slices.SortFunc(s, func(a, b pointEntry) int { return comparePointKeys(a.k, b.k) })
	t.sorted, t.m = s, nil
}

// thaw turns the slice back into a map, for an asset that learns again.
func (t *pointTable) thaw() {
	if t.m != nil {
		return
	}
	t.m = make(map[pointKey]ValueModel, len(t.sorted))
	for _, e := range t.sorted {
		t.m[e.k] = e.vm
	}
	t.sorted = nil
}

// load appends a point read from records; finish sorts them.
func (t *pointTable) load(k pointKey, vm ValueModel) { t.sorted = append(t.sorted, pointEntry{k, vm}) }

func (t *pointTable) finish() {
	if !slices.IsSortedFunc(t.sorted, func(a, b pointEntry) int { return comparePointKeys(a.k, b.k) }) {
		slices.SortFunc(t.sorted, func(a, b pointEntry) int { return comparePointKeys(a.k, b.k) })
	}
	t.sorted = slices.Clip(t.sorted)
}
