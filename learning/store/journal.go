package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// The journal makes a checkpoint cost what changed. Writing a changed
// record in place rewrites the B+tree page that holds it, and the changes
// of a checkpoint are spread over the whole file (1% of a million keys
// touches most of its pages): a checkpoint would rewrite the file. So an
// incremental save appends its puts and deletes to the slot's journal
// instead, under increasing sequence numbers (only the tree's right edge
// is written), and loading reads the slot with its journal laid over it.
// When the journal holds more than a fifth of the slot's bytes it is
// folded in (fold.go), away from checkpoints.
//
// kv/<component>/j<slot>/<seq>: 'c' and entries each after its uvarint
// length (a record of one entry, written by earlier releases, is that
// entry alone). An entry: op byte, uvarint bucket length, bucket, uvarint
// key length, key, value.

const (
	opPut          = 'p'
	opDelete       = 'd'
	opDeleteBucket = 'D'
)

// compactShare: a journal of more than this share of the slot's bytes
// (and more than compactMin bytes) is folded in. Bytes, not entries: the
// journal is what loading holds in memory and lays over the slot, and a
// recent alert's record is forty times a baseline key's.
var (
	compactShare = 0.5
	compactMin   = 4 << 20
)

func journalName(slot []byte) []byte { return append([]byte{'j'}, slot...) }

// compBucket returns kv/<comp>, nil when absent.
func compBucket(tx *bolt.Tx, comp []byte) *bolt.Bucket {
	kv := tx.Bucket(bucketKV)
	if kv == nil {
		return nil
	}
	return kv.Bucket(comp)
}

// writeJournal returns the journal a checkpoint appends to, created when
// absent: the current slot's, or while a fold runs the journal of the slot
// it fills (folding). Nil when the component has no current slot.
func writeJournal(tx *bolt.Tx, comp []byte) (j *bolt.Bucket, folding bool, err error) {
	cb := compBucket(tx, comp)
	if cb == nil || cb.Get(keyCurrent) == nil {
		return nil, false, nil
	}
	slot := cb.Get(keyCurrent)
	if f := cb.Get(keyFold); f != nil {
		slot, folding = f, true
	}
	j, err = cb.CreateBucketIfNotExists(journalName(slot))
	return j, folding, err
}

// readJournals reads what is laid over the current slot: its journal and,
// while a fold runs, then the journal of the slot being filled. It says
// the bytes of each.
func readJournals(tx *bolt.Tx, comp []byte) (ov overlay, own, next int, err error) {
	ov = overlay{}
	cb := compBucket(tx, comp)
	if cb == nil || cb.Get(keyCurrent) == nil {
		return ov, 0, 0, nil
	}
	if own, err = ov.read(cb.Bucket(journalName(cb.Get(keyCurrent)))); err != nil {
		return ov, 0, 0, err
	}
	if f := cb.Get(keyFold); f != nil {
		next, err = ov.read(cb.Bucket(journalName(f)))
	}
	return ov, own, next, err
}

// journalWriter appends a save's operations to the current slot's journal,
// packed into chunks of about a page: a record of its own per operation
// would cost bbolt's 24 bytes of key and header each, and a Put each.
type journalWriter struct {
	j     *bolt.Bucket
	seq   uint64
	n     int    // operations
	bytes int    // in the records put
	chunk []byte // opChunk, then each operation: uvarint length, entry
	limit int
}

// opChunk starts a journal record holding several entries (a record
// starting with an operation holds that one alone).
const opChunk = 'c'

func newJournalWriter(j *bolt.Bucket, pageSize int) *journalWriter {
	j.FillPercent = 1 // appended in key order: pages filled whole
	// a chunk and its key fit a page's leaf element
	w := &journalWriter{j: j, limit: max(pageSize-64, 512)}
	if k, _ := j.Cursor().Last(); len(k) == 8 {
		w.seq = binary.BigEndian.Uint64(k)
	}
	return w
}

func uvarintLen(x int) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

func (w *journalWriter) add(op byte, bucket, key, value []byte) error {
	w.n++
	size := 1 + uvarintLen(len(bucket)) + len(bucket) + uvarintLen(len(key)) + len(key) + len(value)
	if len(w.chunk) > 1 && len(w.chunk)+uvarintLen(size)+size > w.limit {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if len(w.chunk) == 0 {
		w.chunk = append(make([]byte, 0, max(w.limit, size+binary.MaxVarintLen64+1)), opChunk)
	}
	w.chunk = binary.AppendUvarint(w.chunk, uint64(size))
	w.chunk = append(w.chunk, op)
	w.chunk = binary.AppendUvarint(w.chunk, uint64(len(bucket)))
	w.chunk = append(w.chunk, bucket...)
	w.chunk = binary.AppendUvarint(w.chunk, uint64(len(key)))
	w.chunk = append(append(w.chunk, key...), value...)
	return nil
}

// flush puts the chunk; bbolt keeps it until the commit, so the next
// chunk is a new slice.
func (w *journalWriter) flush() error {
	if len(w.chunk) == 0 {
		return nil
	}
	w.seq++
	w.bytes += len(w.chunk)
	err := w.j.Put(binary.BigEndian.AppendUint64(nil, w.seq), w.chunk)
	w.chunk = nil
	return err
}

func (w *journalWriter) Put(bucket, key, value []byte) error { return w.add(opPut, bucket, key, value) }
func (w *journalWriter) Delete(bucket, key []byte) error     { return w.add(opDelete, bucket, key, nil) }
func (w *journalWriter) DeleteBucket(bucket []byte) error {
	return w.add(opDeleteBucket, bucket, nil, nil)
}

// overlay is a journal read into memory: per bucket, whether the slot's
// own records are hidden (the bucket was deleted) and the records put
// (nil: deleted) since.
type overlay map[string]*overBucket

type overBucket struct {
	hidden  bool
	records map[string][]byte
	sorted  []string // keys in order, made on first use
}

var errJournal = errors.New("journal entry cut short or malformed")

// read lays the journal's entries over what the overlay holds, in order,
// and says the bytes of its records.
func (ov overlay) read(j *bolt.Bucket) (int, error) {
	n := 0
	if j == nil {
		return 0, nil
	}
	err := j.ForEach(func(_, v []byte) error {
		n += len(v)
		_, err := ov.readRecord(v)
		return err
	})
	return n, err
}

// readRecord lays one journal record's entries over the overlay: a chunk's,
// or the record as one entry. It counts them.
func (ov overlay) readRecord(v []byte) (int, error) {
	if len(v) == 0 || v[0] != opChunk {
		return 1, ov.apply(v)
	}
	n := 0
	for rest := v[1:]; len(rest) > 0; {
		l, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < l {
			return n, errJournal
		}
		n++
		if err := ov.apply(rest[k : k+int(l)]); err != nil {
			return n, err
		}
		rest = rest[k+int(l):]
	}
	return n, nil
}

// apply lays one entry over the overlay.
func (ov overlay) apply(v []byte) error {
	if len(v) < 1 {
		return errJournal
	}
	op, rest := v[0], v[1:]
	field := func() ([]byte, bool) {
		l, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < l {
			return nil, false
		}
		f := rest[k : k+int(l)]
		rest = rest[k+int(l):]
		return f, true
	}
	bucket, ok1 := field()
	key, ok2 := field()
	if !ok1 || !ok2 {
		return errJournal
	}
	ob := ov[string(bucket)]
	if ob == nil {
		ob = &overBucket{records: map[string][]byte{}}
		ov[string(bucket)] = ob
	}
	ob.sorted = nil
	switch op {
	case opPut:
		ob.records[string(key)] = append([]byte{}, rest...)
	case opDelete:
		ob.records[string(key)] = nil
	case opDeleteBucket:
		ob.hidden, ob.records = true, map[string][]byte{}
	default:
		return fmt.Errorf("%w: operation %q", errJournal, op)
	}
	return nil
}

func (ob *overBucket) keys() []string {
	if ob.sorted == nil {
		ob.sorted = make([]string, 0, len(ob.records))
		for k := range ob.records {
			ob.sorted = append(ob.sorted, k)
		}
		sort.Strings(ob.sorted)
	}
	return ob.sorted
}

// live says whether the bucket has a record left once the overlay applies.
func (ob *overBucket) live() bool {
	for _, v := range ob.records {
		if v != nil {
			return true
		}
	}
	return false
}

// mergedBuckets calls fn with every bucket of the slot and the overlay, in
// key order.
func (r slotReader) mergedBuckets(fn func(name []byte) error) error {
	var names []string
	seen := map[string]bool{}
	for _, slot := range []*bolt.Bucket{r.slot, r.alt} {
		if slot == nil {
			continue
		}
		err := slot.ForEachBucket(func(k []byte) error {
			name := string(k)
			if seen[name] {
				return nil
			}
			seen[name] = true
			if ob := r.over[name]; ob != nil && ob.hidden && !ob.live() {
				return nil
			}
			names = append(names, name)
			return nil
		})
		if err != nil {
			return err
		}
	}
	for name, ob := range r.over {
		if !seen[name] && ob.live() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if err := fn([]byte(name)); err != nil {
			return err
		}
	}
	return nil
}

// mergedForEach walks a bucket's records with the overlay's laid over
// them, in key order; those after the key after when it is not nil.
func (r slotReader) mergedForEach(bucket, after []byte, fn func(key, value []byte) error) error {
	ob := r.over[string(bucket)]
	var keys []string
	if ob != nil {
		keys = ob.keys()
	}
	var c *bolt.Cursor
	var b *bolt.Bucket
	if r.slot != nil {
		b = r.slot.Bucket(bucket)
	}
	if b == nil && r.alt != nil {
		b = r.alt.Bucket(bucket) // copied by a fold under way
	}
	if b != nil && (ob == nil || !ob.hidden) {
		c = b.Cursor()
	}
	var k, v []byte
	i := 0
	switch {
	case c == nil:
	case after == nil:
		k, v = c.First()
	default:
		if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
	}
	if after != nil {
		i = sort.Search(len(keys), func(i int) bool { return keys[i] > string(after) })
	}
	for k != nil || i < len(keys) {
		if k != nil && v == nil { // a nested bucket: not a record
			k, v = c.Next()
			continue
		}
		var key, val []byte
		switch {
		case i >= len(keys) || k != nil && bytes.Compare(k, []byte(keys[i])) < 0:
			key, val = k, v
			k, v = c.Next()
		default:
			if k != nil && string(k) == keys[i] {
				k, v = c.Next() // the journal's value replaces the slot's
			}
			key, val = []byte(keys[i]), ob.records[keys[i]]
			i++
			if val == nil {
				continue // deleted
			}
		}
		if r.records != nil {
			if *r.records++; *r.records%releaseEvery == 0 {
				r.store.release()
			}
			*r.bytes += len(key) + len(val)
		}
		if err := fn(key, val); err != nil {
			return err
		}
	}
	return nil
}
