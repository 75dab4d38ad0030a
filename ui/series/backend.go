package series

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"os"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pruneCut: of the chunks of a tier starting before scan (the oldest a
// live series may still need), those drop says go.
type pruneCut struct {
	tier uint8
	scan int64
	drop func(id uint32, start int64) bool
}

// chunkRec is one chunk to store.
type chunkRec struct {
	id    uint32
	tier  uint8
	start int64
	data  []byte
}

// seriesMeta is what is persisted of a series besides its chunks.
type seriesMeta struct {
	ID      uint32   `json:"id"`
	Kind    Kind     `json:"kind"`
	First   int64    `json:"first"`
	Last    int64    `json:"last"`
	Count   uint64   `json:"n"`
	Writers []string `json:"w,omitempty"`
}

// backend keeps the sealed (and checkpointed open) chunks and the series
// metadata.
type backend interface {
	write(chunks []chunkRec, metas map[string]*seriesMeta, deleted []string) error
	get(id uint32, tier uint8, start int64) ([]byte, error)
	// scan calls fn for the chunks of (id, tier) whose start is in
	// [from, to), in order; starts are multiples of span.
	scan(id uint32, tier uint8, from, to, span int64, fn func(start int64, data []byte)) error
	// prune deletes, for each cut, the chunks of its tier that start
	// before its scan time and that its drop says go, at most max of them
	// (0: all); it returns how many went.
	prune(cuts []pruneCut, max int) (int, error)
	load(fn func(key string, m seriesMeta)) error
	size() int64
	close() error
}

// Chunks live in one bucket per tier, keyed by time then series: new
// chunks go to the right edge of their tier's bucket and retention cuts at
// its left edge, so pages fill up and empty whole (keyed by series first,
// chunks inserted amid the tree split pages half full: 1.7 times the disk).
func chunkKey(buf []byte, id uint32, start int64) []byte {
	buf = binary.BigEndian.AppendUint64(buf[:0], uint64(start))
	return binary.BigEndian.AppendUint32(buf, id)
}

// tierBucket returns the bucket of a tier's chunks, nil if it does not exist.
func tierBucket(tx *bolt.Tx, tier uint8, create bool) (*bolt.Bucket, error) {
	parent := tx.Bucket(bktChunks)
	if b := parent.Bucket([]byte{tier}); b != nil || !create {
		return b, nil
	}
	return parent.CreateBucket([]byte{tier})
}

var (
	bktChunks = []byte("chunks")
	bktSeries = []byte("series")
)

// boltBackend is a bbolt file of its own: the series' writes never
// contend with the learned state's checkpoints, and losing it loses only
// history.
type boltBackend struct {
	db   *bolt.DB
	path string
}

func openBolt(path string, noSync bool) (*boltBackend, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, FreelistType: bolt.FreelistMapType, NoSync: noSync})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bktChunks, bktSeries} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &boltBackend{db: db, path: path}, nil
}

func (b *boltBackend) write(chunks []chunkRec, metas map[string]*seriesMeta, deleted []string) error {
	slices.SortFunc(chunks, func(x, y chunkRec) int { // key order packs the pages
		return cmp.Or(cmp.Compare(x.tier, y.tier), cmp.Compare(x.start, y.start), cmp.Compare(x.id, y.id))
	})
	return b.db.Update(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bktSeries)
		var k []byte
		for _, c := range chunks {
			cb, err := tierBucket(tx, c.tier, true)
			if err != nil {
				return err
			}
			cb.FillPercent = 0.95 // appended in key order
			k = chunkKey(k, c.id, c.start)
			if err := cb.Put(k, c.data); err != nil {
				return err
			}
		}
		for key, m := range metas {
			v, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if err := sb.Put([]byte(key), v); err != nil {
				return err
			}
		}
		for _, key := range deleted {
			if err := sb.Delete([]byte(key)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *boltBackend) get(id uint32, tier uint8, start int64) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		if bk, _ := tierBucket(tx, tier, false); bk != nil {
			out = slices.Clone(bk.Get(chunkKey(nil, id, start)))
		}
		return nil
	})
	return out, err
}

func (b *boltBackend) scan(id uint32, tier uint8, from, to, span int64, fn func(int64, []byte)) error {
	return b.db.View(func(tx *bolt.Tx) error {
		bk, _ := tierBucket(tx, tier, false)
		if bk == nil {
			return nil
		}
		var k []byte
		for start := max(from, 0) / span * span; start < to; start += span {
			k = chunkKey(k, id, start)
			if v := bk.Get(k); v != nil {
				fn(start, v) // v is valid only during the transaction: fn decodes it
			}
		}
		return nil
	})
}

func (b *boltBackend) prune(cuts []pruneCut, limit int) (int, error) {
	n := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		for _, cut := range cuts {
			bk, _ := tierBucket(tx, cut.tier, false)
			if bk == nil {
				continue
			}
			// collect, then delete: a cursor skips keys after a Delete
			var doomed [][]byte
			c := bk.Cursor()
			for k, _ := c.First(); k != nil && len(k) == 12; k, _ = c.Next() {
				start := int64(binary.BigEndian.Uint64(k))
				if start >= cut.scan || (limit > 0 && n+len(doomed) >= limit) {
					break
				}
				if cut.drop(binary.BigEndian.Uint32(k[8:]), start) {
					doomed = append(doomed, slices.Clone(k))
				}
			}
			for _, k := range doomed {
				if err := bk.Delete(k); err != nil {
					return err
				}
			}
			n += len(doomed)
		}
		return nil
	})
	return n, err
}

func (b *boltBackend) load(fn func(string, seriesMeta)) error {
	return b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktSeries).ForEach(func(k, v []byte) error {
			var m seriesMeta
			if json.Unmarshal(v, &m) != nil || m.ID == 0 || (m.Kind != KindValue && m.Kind != KindCount) {
				return nil // a damaged record loses that series' history, nothing else
			}
			fn(string(k), m)
			return nil
		})
	})
}

func (b *boltBackend) size() int64 {
	st, err := os.Stat(b.path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func (b *boltBackend) close() error { return b.db.Close() }

// memBackend keeps everything in memory (tests, the development server).
type memBackend struct {
	mu     sync.Mutex
	chunks map[uint64][]memChunk // id<<8|tier, by start
	metas  map[string]seriesMeta
	bytes  int64
}

type memChunk struct {
	start int64
	data  []byte
}

func newMem() *memBackend {
	return &memBackend{chunks: map[uint64][]memChunk{}, metas: map[string]seriesMeta{}}
}

func (m *memBackend) write(chunks []chunkRec, metas map[string]*seriesMeta, deleted []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range chunks {
		k := uint64(c.id)<<8 | uint64(c.tier)
		list := m.chunks[k]
		i, found := slices.BinarySearchFunc(list, c.start, func(x memChunk, t int64) int { return cmp.Compare(x.start, t) })
		if found {
			m.bytes -= int64(len(list[i].data))
			list[i].data = slices.Clone(c.data)
		} else {
			list = slices.Insert(list, i, memChunk{c.start, slices.Clone(c.data)})
		}
		m.bytes += int64(len(c.data))
		m.chunks[k] = list
	}
	for key, meta := range metas {
		m.metas[key] = *meta
	}
	for _, key := range deleted {
		delete(m.metas, key)
	}
	return nil
}

func (m *memBackend) get(id uint32, tier uint8, start int64) ([]byte, error) {
	var out []byte
	m.scan(id, tier, start, start+1, 1, func(_ int64, d []byte) { out = slices.Clone(d) })
	return out, nil
}

func (m *memBackend) scan(id uint32, tier uint8, from, to, _ int64, fn func(int64, []byte)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.chunks[uint64(id)<<8|uint64(tier)] {
		if c.start >= from && c.start < to {
			fn(c.start, c.data)
		}
	}
	return nil
}

func (m *memBackend) prune(cuts []pruneCut, _ int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, cut := range cuts {
		for k, list := range m.chunks {
			if uint8(k) != cut.tier {
				continue
			}
			id := uint32(k >> 8)
			kept := list[:0:0]
			for _, c := range list {
				if c.start < cut.scan && cut.drop(id, c.start) {
					m.bytes -= int64(len(c.data))
					n++
					continue
				}
				kept = append(kept, c)
			}
			if len(kept) == 0 {
				delete(m.chunks, k)
			} else if len(kept) != len(list) {
				m.chunks[k] = kept
			}
		}
	}
	return n, nil
}

func (m *memBackend) load(fn func(string, seriesMeta)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range m.metas {
		fn(k, v)
	}
	return nil
}

func (m *memBackend) size() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

func (m *memBackend) close() error { return nil }
