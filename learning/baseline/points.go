package baseline

import (
	"cmp"
	"slices"
)

// pointTable holds an asset's value models. While the asset learns they sit
// in a slice indexed by a map of their keys (points come and go in any
// order, and a point learned again is found with one lookup and updated in
// place: a DNP3 CROB alone is five such points); once it detects, and after
// a load, they are a slice sorted by key (a million points of a plant cost
// 80 bytes each instead of the map's 90), searched in O(log n). A point an
// operator accepts into a frozen table is inserted in place.
type pointTable struct {
	idx    map[pointKey]int32 // learning: where each key's model is in vals
	vals   []ValueModel
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

func (t *pointTable) len() int { return len(t.vals) + len(t.sorted) }

func (t *pointTable) search(k pointKey) (int, bool) {
	return slices.BinarySearchFunc(t.sorted, k, func(e pointEntry, k pointKey) int { return comparePointKeys(e.k, k) })
}

// ref returns k's model to update in place, nil when there is none.
func (t *pointTable) ref(k pointKey) *ValueModel {
	if t.idx != nil {
		if i, ok := t.idx[k]; ok {
			return &t.vals[i]
		}
		return nil
	}
	if i, ok := t.search(k); ok {
		return &t.sorted[i].vm
	}
	return nil
}

func (t *pointTable) get(k pointKey) (ValueModel, bool) {
	if vm := t.ref(k); vm != nil {
		return *vm, true
	}
	return ValueModel{}, false
}

func (t *pointTable) set(k pointKey, vm ValueModel) {
	if r := t.ref(k); r != nil {
		*r = vm
		return
	}
	t.add(k, vm)
}

// add stores the model of a key the table does not hold yet.
func (t *pointTable) add(k pointKey, vm ValueModel) *ValueModel {
	if t.idx != nil || t.sorted == nil {
		if t.idx == nil {
			t.idx = map[pointKey]int32{}
		}
		t.idx[k] = int32(len(t.vals))
		t.vals = append(t.vals, vm)
		return &t.vals[len(t.vals)-1]
	}
	i, _ := t.search(k)
	t.sorted = slices.Insert(t.sorted, i, pointEntry{k, vm})
	return &t.sorted[i].vm
}

// each calls fn for every point (in key order when frozen).
func (t *pointTable) each(fn func(k pointKey, vm ValueModel)) {
	for k, i := range t.idx {
		fn(k, t.vals[i])
	}
	for _, e := range t.sorted {
		fn(e.k, e.vm)
	}
}

// freeze turns the learning form into the sorted slice (no-op when frozen).
func (t *pointTable) freeze() {
	if t.idx == nil {
		return
	}
	s := make([]pointEntry, 0, len(t.idx))
	for k, i := range t.idx {
		s = append(s, pointEntry{k, t.vals[i]})
	}
	slices.SortFunc(s, func(a, b pointEntry) int { return comparePointKeys(a.k, b.k) })
	t.sorted, t.idx, t.vals = s, nil, nil
}

// thaw turns the slice back into the learning form, for an asset that learns again.
func (t *pointTable) thaw() {
	if t.idx != nil {
		return
	}
	t.idx = make(map[pointKey]int32, len(t.sorted))
	t.vals = make([]ValueModel, len(t.sorted))
	for i, e := range t.sorted {
		t.idx[e.k] = int32(i)
		t.vals[i] = e.vm
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
