package baseline

import (
	"cmp"
	"slices"

	"github.com/otwatch/otwatch/protocols"
)

// pointTable holds an asset's value models. While the asset learns they sit
// in a slice in the order learned, found through an open-addressing index
// of their keys (points come and go in any order, and a point learned again
// is found with one lookup and updated in place: a DNP3 CROB alone is five
// such points). The index hashes the key's words with a seed drawn per
// table, so a client choosing addresses cannot make lookups collide, and it
// costs a fraction of a Go map's generic hashing and comparing of a padded
// struct key, which was the largest single cost of learning DNP3 points.
// Once the asset detects, and after a load, the models are a slice sorted
// by key (a million points of a plant cost 80 bytes each), searched in
// O(log n). A point an operator accepts into a frozen table is inserted in
// place.
type pointTable struct {
	slots  []int32      // learning: 0 empty, else 1 + the key's index in learn
	learn  []pointEntry // learning: the models in the order learned
	next   int32        // learning: the index in learn after the last key found or added
	seed   uint64
	sorted []pointEntry
}

type pointEntry struct {
	k  pointKey
	vm ValueModel
}

// hash mixes the key's words with the table's seed.
func (k *pointKey) hash(seed uint64) uint64 {
	b := uint64(k.pu)<<32 | uint64(k.space)
	c := uint64(k.id)<<24 | uint64(k.sub)<<16 | uint64(k.bits)<<8 | uint64(k.field)
	return protocols.Mix(protocols.Mix(k.address^seed, b^0x9e3779b97f4a7c15)^c, seed^0xbf58476d1ce4e5b9)
}

// find returns k's slot in the learning index and its index in learn, -1
// when absent (the slot is then where it goes).
func (t *pointTable) find(k *pointKey) (int, int32) {
	mask := len(t.slots) - 1
	s := int(k.hash(t.seed)) & mask
	for {
		v := t.slots[s]
		if v == 0 {
			return s, -1
		}
		if t.learn[v-1].k == *k {
			return s, v - 1
		}
		s = (s + 1) & mask
	}
}

// index rebuilds the learning index for n keys at a load of at most a half.
func (t *pointTable) index(n int) {
	size := 8
	for size < 2*n {
		size *= 2
	}
	if t.seed == 0 {
		t.seed = protocols.NewSeed()
	}
	t.slots = make([]int32, size)
	mask := size - 1
	for i := range t.learn {
		s := int(t.learn[i].k.hash(t.seed)) & mask
		for t.slots[s] != 0 {
			s = (s + 1) & mask
		}
		t.slots[s] = int32(i + 1)
	}
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

func (t *pointTable) len() int { return len(t.learn) + len(t.sorted) }

func (t *pointTable) search(k pointKey) (int, bool) {
	return slices.BinarySearchFunc(t.sorted, k, func(e pointEntry, k pointKey) int { return comparePointKeys(e.k, k) })
}

// ref returns k's model to update in place, nil when there is none.
// Points come back in the order they were learned (a CROB's five fields, a
// class poll's points, a block write's): the entry after the last one
// found is tried before hashing, ahead of the rest (refSlow).
func (t *pointTable) ref(k *pointKey) *ValueModel {
	if vm := t.nextRef(k); vm != nil {
		return vm
	}
	return t.refSlow(k)
}

// nextRef is ref's likely case, small enough to be inlined where every
// written number comes (learnPoint): k is the entry after the last one
// found. nil when it is not.
func (t *pointTable) nextRef(k *pointKey) *ValueModel {
	if n := t.next; t.slots != nil && int(n) < len(t.learn) && t.learn[n].k == *k {
		t.next = n + 1
		return &t.learn[n].vm
	}
	return nil
}

func (t *pointTable) refSlow(k *pointKey) *ValueModel {
	if t.slots != nil {
		if _, i := t.find(k); i >= 0 {
			t.next = i + 1
			return &t.learn[i].vm
		}
		return nil
	}
	if i, ok := t.search(*k); ok {
		return &t.sorted[i].vm
	}
	return nil
}

func (t *pointTable) get(k pointKey) (ValueModel, bool) {
	if vm := t.ref(&k); vm != nil {
		return *vm, true
	}
	return ValueModel{}, false
}

func (t *pointTable) set(k pointKey, vm ValueModel) {
	if r := t.ref(&k); r != nil {
		*r = vm
		return
	}
	t.add(k, vm)
}

// add stores the model of a key the table does not hold yet.
func (t *pointTable) add(k pointKey, vm ValueModel) *ValueModel {
	if t.slots != nil || t.sorted == nil {
		if 2*(len(t.learn)+1) > len(t.slots) {
			t.index(len(t.learn) + 1)
		}
		s, _ := t.find(&k)
		t.learn = append(t.learn, pointEntry{k, vm})
		t.slots[s] = int32(len(t.learn))
		t.next = int32(len(t.learn))
		return &t.learn[len(t.learn)-1].vm
	}
	i, _ := t.search(k)
	t.sorted = slices.Insert(t.sorted, i, pointEntry{k, vm})
	return &t.sorted[i].vm
}

// each calls fn for every point (in key order when frozen).
func (t *pointTable) each(fn func(k pointKey, vm ValueModel)) {
	for _, e := range t.learn {
		fn(e.k, e.vm)
	}
	for _, e := range t.sorted {
		fn(e.k, e.vm)
	}
}

// freeze turns the learning form into the sorted slice (no-op when frozen).
func (t *pointTable) freeze() {
	if t.slots == nil {
		return
	}
	s := make([]pointEntry, len(t.learn)) // exact: learn grew by doubling
	copy(s, t.learn)
	slices.SortFunc(s, func(a, b pointEntry) int { return comparePointKeys(a.k, b.k) })
	t.sorted, t.slots, t.learn, t.next = s, nil, nil, 0
}

// thaw turns the slice back into the learning form, for an asset that learns again.
func (t *pointTable) thaw() {
	if t.slots != nil {
		return
	}
	t.learn, t.sorted, t.next = t.sorted, nil, 0
	t.index(len(t.learn))
}

// load appends a point read from records; finish sorts them.
func (t *pointTable) load(k pointKey, vm ValueModel) { t.sorted = append(t.sorted, pointEntry{k, vm}) }

func (t *pointTable) finish() {
	if !slices.IsSortedFunc(t.sorted, func(a, b pointEntry) int { return comparePointKeys(a.k, b.k) }) {
		slices.SortFunc(t.sorted, func(a, b pointEntry) int { return comparePointKeys(a.k, b.k) })
	}
	t.sorted = slices.Clip(t.sorted)
}
