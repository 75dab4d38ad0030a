package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Folding a journal in. A checkpoint only appends what changed
// (journal.go), so it costs what changed and never stalls the capture
// behind a rewrite of the state. The journal is folded into its slot by
// the store itself, between checkpoints, from the file alone (no
// component's memory) and in steps of bounded size: FoldStep.
//
// A fold copies the current slot A, with its journal JA laid over it, into
// the other slot B, foldBatch records a transaction, bucket by bucket in
// key order. From its first step on, checkpoints append to B's journal JB
// instead of JA, so the A+JA it copies no longer changes. A bucket of A
// copied whole is dropped in the same transaction, so its pages serve the
// copy of the next and the file grows by about a step, not by a second
// copy of the state. Loading meanwhile reads each bucket from A while A
// has it and from B once copied, and lays JA, then JB, over it (JA over a
// copy that already holds it changes nothing). When the copy is complete
// B becomes current in one transaction and JA is dropped: B with JB laid
// over it is what A+JA+JB was, since JB holds every change made after the
// fold began, and a record JB does not name kept the value copied. Each
// step is one transaction: a kill -9 at any point leaves a file that
// loads, and the next step goes on from the last one that committed. A
// full save (an import) first takes a fold under way to its end.
//
// kv/<component>/fold: the slot being filled. kv/<component>/foldat:
// uvarint bytes copied so far, uvarint bucket length, bucket, key of the
// last record copied (an empty bucket: none yet; bbolt has no bucket
// without a name).

var (
	keyFold   = []byte("fold")
	keyFoldAt = []byte("foldat")
)

// foldBatch and foldBytes bound the records and bytes a fold step copies:
// a checkpoint due meanwhile waits for the step (tens of milliseconds).
var (
	foldBatch = 10000
	foldBytes = 1 << 20
)

// folding is what the store keeps in memory of a fold under way: the
// journal it folds, read once (it no longer changes).
type folding struct {
	comp, from string
	over       overlay
}

// errStop ends a walk early.
var errStop = errors.New("stop")

// FoldStep does one bounded step of folding journals in: it starts a fold
// for a component whose journal grew past compactShare of its bytes,
// copies the next batch of a fold under way, or makes a finished copy
// current. It says whether it did anything; a caller repeats it until it
// did not. It never runs at the same time as a checkpoint: one waits for
// the other, at most one step.
func (s *Store) FoldStep() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	due := s.foldDue(s.needsCompaction)
	if due == "" {
		return false, nil
	}
	return true, s.foldStep(due)
}

// FoldUnderWay names the component whose journal a fold is folding in,
// "" when none.
func (s *Store) FoldUnderWay() string {
	return s.foldDue(func(string) bool { return false })
}

// foldDue names the component whose fold is under way, else the first
// that needs one (by needs), "" when none.
func (s *Store) foldDue(needs func(name string) bool) string {
	var due string
	s.db.View(func(tx *bolt.Tx) error {
		kv := tx.Bucket(bucketKV)
		if kv == nil {
			return nil
		}
		return kv.ForEachBucket(func(name []byte) error {
			cb := kv.Bucket(name)
			switch {
			case cb.Get(keyFold) != nil:
				due = string(name) // a fold under way goes first
				return errStop
			case due == "" && cb.Get(keyCurrent) != nil && needs(string(name)):
				due = string(name)
			}
			return nil
		})
	})
	return due
}

// Fold folds every journal that needs it, to the end.
func (s *Store) Fold() error {
	for {
		did, err := s.FoldStep()
		if err != nil || !did {
			return err
		}
	}
}

// foldStep does the next step of the component's fold, starting it when
// none is under way.
func (s *Store) foldStep(name string) error {
	var after func() // noted in memory once the step committed
	err := s.db.Update(func(tx *bolt.Tx) error {
		cb := compBucket(tx, []byte(name))
		if cb.Get(keyFold) == nil {
			after = func() { s.sizes(name).next = 0 }
			return startFold(cb)
		}
		var err error
		after, err = s.foldBatch(name, cb)
		return err
	})
	if err != nil {
		s.fold = nil
		return fmt.Errorf("%s: folding the journal of %q in: %w", s.path, name, err)
	}
	if after != nil {
		after()
	}
	s.release()
	return nil
}

// finishFold takes a fold of the component under way to its end (before a
// full save replaces the component's records).
func (s *Store) finishFold(name string) error {
	for {
		folding := false
		s.db.View(func(tx *bolt.Tx) error {
			cb := compBucket(tx, []byte(name))
			folding = cb != nil && cb.Get(keyFold) != nil
			return nil
		})
		if !folding {
			return nil
		}
		if err := s.foldStep(name); err != nil {
			return err
		}
	}
}

// otherSlot is the slot that is not cur.
func otherSlot(cur []byte) []byte {
	if bytes.Equal(cur, slotA) {
		return slotB
	}
	return slotA
}

// startFold names the slot to fill, emptied of what an earlier full save
// or fold killed half way left there.
func startFold(cb *bolt.Bucket) error {
	to := otherSlot(cb.Get(keyCurrent))
	if err := dropSlot(cb, to); err != nil {
		return err
	}
	if err := cb.Put(keyFoldAt, binary.AppendUvarint(nil, 0)); err != nil {
		return err
	}
	return cb.Put(keyFold, to)
}

// foldBatch copies the next foldBatch records of the fold under way, or
// finishes it. It returns what to note in memory once committed.
func (s *Store) foldBatch(name string, cb *bolt.Bucket) (func(), error) {
	from, to := cb.Get(keyCurrent), cb.Get(keyFold)
	if s.fold == nil || s.fold.comp != name || s.fold.from != string(from) {
		ov := overlay{}
		if _, err := ov.read(cb.Bucket(journalName(from))); err != nil {
			return nil, err
		}
		s.fold = &folding{comp: name, from: string(from), over: ov}
	}
	copied, lastBucket, lastKey, err := decodeFoldAt(cb.Get(keyFoldAt))
	if err != nil {
		return nil, err
	}
	src := cb.Bucket(from)
	if src == nil {
		return nil, fmt.Errorf("state %q: slot %s missing", name, from)
	}
	dst, err := cb.CreateBucketIfNotExists(to)
	if err != nil {
		return nil, err
	}
	r := slotReader{slot: src, over: s.fold.over}
	n, size := 0, 0
	posBucket, posKey := lastBucket, lastKey // the last record copied
	err = r.mergedBuckets(func(bucket []byte) error {
		var after []byte
		switch c := bytes.Compare(bucket, lastBucket); {
		case len(lastBucket) > 0 && c < 0:
			return nil // copied in an earlier step
		case c == 0:
			after = lastKey
		}
		var b *bolt.Bucket // made at its first record: a bucket left empty is not copied
		err := r.mergedForEach(bucket, after, func(k, v []byte) error {
			if n == foldBatch || size >= foldBytes {
				return errStop
			}
			if b == nil {
				var err error
				if b, err = dst.CreateBucketIfNotExists(bucket); err != nil {
					return err
				}
				b.FillPercent = 0.95 // filled in key order
			}
			// bbolt keeps the slices until commit: copy them
			if err := b.Put(append([]byte(nil), k...), append([]byte(nil), v...)); err != nil {
				return err
			}
			n++
			size += len(k) + len(v)
			copied += uint64(len(k) + len(v))
			if !bytes.Equal(posBucket, bucket) {
				posBucket = append([]byte(nil), bucket...)
			}
			posKey = append(posKey[:0], k...)
			return nil
		})
		if err != nil || src.Bucket(bucket) == nil {
			return err
		}
		// copied whole: from now on it is read from the slot being
		// filled, and its pages serve the copy of the next
		return src.DeleteBucket(bucket)
	})
	switch {
	case errors.Is(err, errStop):
		return nil, cb.Put(keyFoldAt, encodeFoldAt(copied, posBucket, posKey))
	case err != nil:
		return nil, err
	}
	// the copy is complete: B becomes current, A and its journal go
	if err := cb.Put(keyCurrent, to); err != nil {
		return nil, err
	}
	for _, k := range [][]byte{keyFold, keyFoldAt} {
		if err := cb.Delete(k); err != nil {
			return nil, err
		}
	}
	if err := dropSlot(cb, from); err != nil {
		return nil, err
	}
	return func() {
		sz := s.sizes(name)
		*sz = slotSizes{base: int(copied), journal: sz.next}
		s.fold = nil
	}, nil
}

func encodeFoldAt(copied uint64, bucket, key []byte) []byte {
	b := binary.AppendUvarint(nil, copied)
	b = binary.AppendUvarint(b, uint64(len(bucket)))
	return append(append(b, bucket...), key...)
}

func decodeFoldAt(b []byte) (copied uint64, bucket, key []byte, err error) {
	copied, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, nil, fmt.Errorf("fold position %x unreadable", b)
	}
	if b = b[n:]; len(b) == 0 {
		return copied, nil, nil, nil // none copied yet
	}
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return 0, nil, nil, fmt.Errorf("fold position %x unreadable", b)
	}
	b = b[n:]
	return copied, append([]byte(nil), b[:l]...), append([]byte(nil), b[l:]...), nil
}
