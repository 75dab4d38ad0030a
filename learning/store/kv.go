package store

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Incremental is a component that persists record by record rather than
// as one snapshot: a checkpoint writes only what changed since the last
// one, so a million-key baseline costs what its 1% of changes cost, not a
// rewrite of the whole file. Records live in buckets of the component's
// own (one level: an asset, a table of names).
//
// A full save (a new file, an import, a migration from a snapshot) goes to
// the component's other slot in transactions of bounded size and becomes
// current in one last transaction: a kill -9 during it leaves the previous
// state current, and memory stays bounded however large the state is.
type Incremental interface {
	Component
	// SaveChanges writes what changed since the last save; when full,
	// everything (into an empty slot).
	SaveChanges(w Writer, full bool) error
	// NeedsFull says the next save must be full.
	NeedsFull() bool
	// LoadRecords restores the component from its records.
	LoadRecords(r Reader) error
	// SaveFailed says the last SaveChanges did not reach the disk: the
	// next save must write everything again.
	SaveFailed()
}

// Queued is an Incremental component that also keeps a queue: records
// that come in key order and go oldest first (the recent alerts). They are
// written in place, not journaled: appending at a tree's right edge and
// deleting at its left touch only those edges, while a queue that turns
// over would fill the journal with records gone by the next fold and make
// it fold again and again.
type Queued interface {
	Incremental
	// SaveQueue writes the queue's changes since the last save; when
	// full, every record (into an empty queue).
	SaveQueue(w Writer, full bool) error
	// LoadQueue restores the queue, after LoadRecords.
	LoadQueue(r Reader) error
}

// Writer puts and deletes a component's records. Keys and values may be
// reused by the caller as soon as Put returns. In a full save, writing
// each bucket's records in key order packs the file.
type Writer interface {
	Put(bucket, key, value []byte) error
	Delete(bucket, key []byte) error
	// DeleteBucket removes a bucket and its records (absent: no error).
	DeleteBucket(bucket []byte) error
}

// Reader walks a component's records.
type Reader interface {
	// Buckets calls fn with the name of each bucket, in key order.
	Buckets(fn func(name []byte) error) error
	// ForEach calls fn with each record of a bucket, in key order; the
	// slices are valid only during the call.
	ForEach(bucket []byte, fn func(key, value []byte) error) error
}

var (
	bucketKV   = []byte("kv")      // kv/<component>/{slot a|b}/<bucket>/<key>
	keyQueue   = []byte("q")       // kv/<component>/q/<bucket>/<key>: a Queued component's queue
	keyCurrent = []byte("current") // kv/<component>: "a" or "b"
	slotA      = []byte("a")
	slotB      = []byte("b")
)

// fullBatch bounds the records of one transaction of a full save.
const fullBatch = 20000

// txWriter writes into one slot bucket of an open transaction.
type txWriter struct {
	slot *bolt.Bucket
	n    int
	// fill: a full save writes each bucket's records in key order, so its
	// pages are filled to this fraction rather than split in halves
	fill float64
	// last is the bucket the last Put wrote to: a component saves bucket
	// by bucket, and finding it by name again was a tenth of a put
	last     *bolt.Bucket
	lastName []byte
	// slab holds the copies of keys and values bbolt keeps until commit,
	// many to an allocation instead of two allocations a put
	slab []byte
}

// slabChunk is the size of the copies' shared allocations.
const slabChunk = 64 << 10

// keep copies b into the slab, for bbolt to hold until the commit: the
// slab's bytes are never written again once handed out.
func (w *txWriter) keep(b []byte) []byte {
	if len(b) > slabChunk/4 {
		return append([]byte(nil), b...)
	}
	if cap(w.slab)-len(w.slab) < len(b) {
		w.slab = make([]byte, 0, slabChunk)
	}
	n := len(w.slab)
	w.slab = append(w.slab, b...)
	return w.slab[n:len(w.slab):len(w.slab)]
}

func (w *txWriter) bucket(name []byte) (*bolt.Bucket, error) {
	if w.last != nil && bytes.Equal(name, w.lastName) {
		return w.last, nil
	}
	b := w.slot.Bucket(name)
	if b == nil {
		var err error
		if b, err = w.slot.CreateBucket(name); err != nil {
			return nil, err
		}
	}
	if w.fill > 0 {
		b.FillPercent = w.fill
	}
	w.last, w.lastName = b, append(w.lastName[:0], name...)
	return b, nil
}

func (w *txWriter) Put(bucket, key, value []byte) error {
	b, err := w.bucket(bucket)
	if err != nil {
		return err
	}
	w.n++
	// bbolt keeps the slices until commit: copy them
	return b.Put(w.keep(key), w.keep(value))
}

func (w *txWriter) Delete(bucket, key []byte) error {
	b := w.slot.Bucket(bucket)
	if b == nil {
		return nil
	}
	w.n++
	return b.Delete(key)
}

func (w *txWriter) DeleteBucket(bucket []byte) error {
	w.last = nil // it may be the one deleted
	err := w.slot.DeleteBucket(bucket)
	if errors.Is(err, bolt.ErrBucketNotFound) {
		return nil
	}
	w.n++
	return err
}

// batchWriter is a full save: it commits every fullBatch records into the
// slot being filled, reopening the transaction.
type batchWriter struct {
	db         *bolt.DB
	comp, slot []byte
	tx         *bolt.Tx
	w          txWriter
	bytes      int // keys and values put
}

func (b *batchWriter) open() error {
	tx, err := b.db.Begin(true)
	if err != nil {
		return err
	}
	slot, err := kvSlot(tx, b.comp, b.slot)
	if err != nil {
		tx.Rollback()
		return err
	}
	b.tx, b.w = tx, txWriter{slot: slot, fill: 0.95}
	return nil
}

func (b *batchWriter) step() error {
	if b.w.n < fullBatch {
		return nil
	}
	if err := b.tx.Commit(); err != nil {
		return err
	}
	return b.open()
}

func (b *batchWriter) Put(bucket, key, value []byte) error {
	if err := b.w.Put(bucket, key, value); err != nil {
		return err
	}
	b.bytes += len(key) + len(value)
	return b.step()
}

func (b *batchWriter) Delete(bucket, key []byte) error {
	if err := b.w.Delete(bucket, key); err != nil {
		return err
	}
	return b.step()
}

func (b *batchWriter) DeleteBucket(bucket []byte) error {
	if err := b.w.DeleteBucket(bucket); err != nil {
		return err
	}
	return b.step()
}

// kvSlot returns (creating) kv/<comp>/<slot>.
func kvSlot(tx *bolt.Tx, comp, slot []byte) (*bolt.Bucket, error) {
	kv, err := tx.CreateBucketIfNotExists(bucketKV)
	if err != nil {
		return nil, err
	}
	cb, err := kv.CreateBucketIfNotExists(comp)
	if err != nil {
		return nil, err
	}
	return cb.CreateBucketIfNotExists(slot)
}

// current returns the component's current slot bucket, nil when none.
func current(tx *bolt.Tx, comp []byte) *bolt.Bucket {
	kv := tx.Bucket(bucketKV)
	if kv == nil {
		return nil
	}
	cb := kv.Bucket(comp)
	if cb == nil {
		return nil
	}
	cur := cb.Get(keyCurrent)
	if cur == nil {
		return nil
	}
	return cb.Bucket(cur)
}

// saveFull writes everything of c into the slot that is not current, in
// bounded transactions, then makes it current and drops the other.
func (s *Store) saveFull(name string, c Incremental) error {
	// a fold under way fills the other slot and has dropped what it
	// copied from this one: it ends first
	if err := s.finishFold(name); err != nil {
		return err
	}
	comp := []byte(name)
	next := slotA
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if cb := compBucket(tx, comp); cb != nil {
			next = otherSlot(cb.Get(keyCurrent))
			return dropSlot(cb, next) // an earlier full save killed half way: start it afresh
		}
		return nil
	}); err != nil {
		return err
	}
	bw := &batchWriter{db: s.db, comp: comp, slot: next}
	if err := bw.open(); err != nil {
		return err
	}
	if err := c.SaveChanges(bw, true); err != nil {
		bw.tx.Rollback()
		return fmt.Errorf("checkpoint %s: %w", name, err)
	}
	if err := bw.tx.Commit(); err != nil {
		return err
	}
	*s.sizes(name) = slotSizes{base: bw.bytes}
	s.fold = nil
	// the new slot becomes current in one transaction; then the old goes
	return s.db.Update(func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketKV).Bucket(comp)
		old := cb.Get(keyCurrent)
		if err := cb.Put(keyCurrent, next); err != nil {
			return err
		}
		if old != nil && string(old) != string(next) {
			if err := dropSlot(cb, old); err != nil {
				return err
			}
		}
		if q, ok := c.(Queued); ok {
			if err := cb.DeleteBucket(keyQueue); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
				return err
			}
			qb, err := cb.CreateBucket(keyQueue)
			if err != nil {
				return err
			}
			if err := q.SaveQueue(&txWriter{slot: qb, fill: 1}, true); err != nil {
				return fmt.Errorf("checkpoint %s: %w", name, err)
			}
		}
		// a snapshot of the component from before it was incremental
		if st := tx.Bucket(bucketState); st != nil {
			return st.Delete(comp)
		}
		return nil
	})
}

// dropSlot deletes a slot of the component and its journal (absent: no
// error).
func dropSlot(cb *bolt.Bucket, slot []byte) error {
	for _, b := range [][]byte{slot, journalName(slot)} {
		if err := cb.DeleteBucket(b); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return err
		}
	}
	return nil
}

// saveQueue writes a Queued component's changes to its queue, in place.
func saveQueue(tx *bolt.Tx, name string, q Queued) error {
	qb, err := compBucket(tx, []byte(name)).CreateBucketIfNotExists(keyQueue)
	if err != nil {
		return err
	}
	return q.SaveQueue(&txWriter{slot: qb, fill: 1}, false)
}

// slotReader reads a slot bucket. Every releaseEvery records it lets the
// kernel unmap the pages read so far, so loading a large state does not
// keep the whole file resident (release).
type slotReader struct {
	slot *bolt.Bucket
	// alt: while a fold runs, the slot it fills, which holds the buckets
	// it copied whole (and dropped from slot)
	alt     *bolt.Bucket
	store   *Store
	records *int
	bytes   *int    // of the records read (with records)
	over    overlay // the slot's journal (journal.go), nil when empty
}

const releaseEvery = 1 << 16

func (r slotReader) Buckets(fn func(name []byte) error) error {
	return r.mergedBuckets(fn)
}

func (r slotReader) ForEach(bucket []byte, fn func(key, value []byte) error) error {
	return r.mergedForEach(bucket, nil, fn)
}

// slotSizes is the bytes of a component's records in its current slot and
// in its journal (the journal is folded in when it grows past
// compactShare), and while a fold runs in the journal of the slot it fills.
type slotSizes struct{ base, journal, next int }

func (s *Store) sizes(name string) *slotSizes {
	if s.counts == nil {
		s.counts = map[string]*slotSizes{}
	}
	c := s.counts[name]
	if c == nil {
		c = &slotSizes{}
		s.counts[name] = c
	}
	return c
}

// needsCompaction says the component's journal should be folded in.
func (s *Store) needsCompaction(name string) bool {
	c := s.sizes(name)
	return c.journal > compactMin && float64(c.journal) > compactShare*float64(c.base)
}
