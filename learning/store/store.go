// Package store persists otwatch's learned state (inventory, baselines,
// alerts) in one bbolt file. State is written in checkpoints — one bbolt
// transaction holding every component's snapshot — never per packet, so a
// kill -9 loses at most the time since the last checkpoint, and bbolt's
// copy-on-write pages keep the file consistent across power cuts.
package store

import (
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is bumped on an incompatible change of any component's
// snapshot. 2: components that are Incremental keep records under "kv"
// instead of a snapshot under "state". A version 1 file is migrated when
// opened for writing (its snapshots are read, and replaced by records at
// the next checkpoint); a build that reads only 1 refuses a version 2 file.
const SchemaVersion = 2

// oldestSchema is the oldest schema this build migrates.
const oldestSchema = 1

var (
	bucketMeta  = []byte("meta")
	bucketState = []byte("state")
	keyProduct  = []byte("product")
	keySchema   = []byte("schema_version")
	keySaved    = []byte("saved_at")
	product     = []byte("otwatch")
)

// Errors a caller can tell apart.
var (
	ErrCorrupt = errors.New("not a readable bbolt database (corrupt or another kind of file)")
	ErrForeign = errors.New("a bbolt database, but not otwatch's")
	ErrSchema  = errors.New("written by an incompatible otwatch version")
	// ErrInUse: another process (the daemon, or a read --db) holds the file.
	ErrInUse = errors.New("in use by another otwatch process")
)

// Component is a piece of state that checkpoints as one snapshot.
type Component interface {
	MarshalState() ([]byte, error)
	UnmarshalState([]byte) error
}

// Store is an open state file.
type Store struct {
	// mu: a checkpoint, a load and a fold step run one at a time
	mu     sync.Mutex
	fold   *folding // fold.go
	db     *bolt.DB
	path   string
	counts map[string]*slotSizes // per Incremental component (kv.go)
	// what each snapshot component last wrote: an unchanged snapshot is
	// not written again
	written  map[string]uint64
	versions map[string]uint64 // Versioned components: the version on disk
	seed     maphash.Seed
}

// Open opens or creates the state file at path, checking that it is
// otwatch's and of a schema this build reads.
func Open(path string) (*Store, error) {
	var size int64
	if st, err := os.Stat(path); err == nil {
		if size = st.Size(); size > 0 && size < 4096 {
			return nil, fmt.Errorf("%s: %w", path, ErrCorrupt)
		}
	}
	// the file grows in steps of AllocSize: bbolt's 16 MiB would be a
	// third of a million-key state at once; the journal grows it by what
	// a checkpoint appends
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, InitialMmapSize: mmapSize(size)})
	if err != nil {
		return nil, openError(path, err)
	}
	db.AllocSize = 2 << 20
	s := newStore(db, path)
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func newStore(db *bolt.DB, path string) *Store {
	return &Store{db: db, path: path, written: map[string]uint64{}, versions: map[string]uint64{}, seed: maphash.MakeSeed()}
}

// mmapSize is the address space mapped for a state file of size bytes:
// room to double. Each time a write outgrows the mapping bbolt maps the file
// again and first copies every page the transaction touched out of the old
// mapping; a first full save of a fresh state did that at every power of
// two the file passed (a third of otwatch read --db's CPU on a capture of
// 900 OPC UA flows). Only address space: pages cost memory when touched. On
// a 32-bit box the reservation stays at most 256 MiB of its 3 GiB.
func mmapSize(size int64) int {
	limit := int64(1 << 30)
	if strconv.IntSize == 32 {
		limit = 256 << 20
	}
	return int(min(max(16<<20, 2*size), limit))
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return fmt.Errorf("%s: %w", path, ErrInUse)
	case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
		return err // the *PathError names the file
	case errors.Is(err, bolt.ErrInvalid) || errors.Is(err, bolt.ErrVersionMismatch) || errors.Is(err, bolt.ErrChecksum):
		return fmt.Errorf("%s: %w", path, ErrCorrupt)
	}
	return fmt.Errorf("%s: %w (%v)", path, ErrCorrupt, err)
}

// OpenReadOnly opens an existing state file to read it: it is never
// created or written, and other readers may hold it at the same time
// (a shared lock). A writer holding it (the daemon) makes it fail with
// ErrInUse after timeout.
func OpenReadOnly(path string, timeout time.Duration) (*Store, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() || st.Size() < 4096 {
		return nil, fmt.Errorf("%s: %w", path, ErrCorrupt)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: true})
	if err != nil {
		return nil, openError(path, err)
	}
	s := newStore(db, path)
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || string(meta.Get(keyProduct)) != string(product) {
			return fmt.Errorf("%s: %w", path, ErrForeign)
		}
		if v, err := strconv.Atoi(string(meta.Get(keySchema))); err != nil || v != SchemaVersion {
			return fmt.Errorf("%s: schema %q, this build reads %d: %w", path, meta.Get(keySchema), SchemaVersion, ErrSchema)
		}
		if tx.Bucket(bucketState) == nil {
			return fmt.Errorf("%s: %w", path, ErrCorrupt)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				return fmt.Errorf("%s: %w", s.path, ErrForeign)
			}
			meta, _ = tx.CreateBucket(bucketMeta)
			if _, err := tx.CreateBucket(bucketState); err != nil {
				return err
			}
			if err := meta.Put(keyProduct, product); err != nil {
				return err
			}
			return meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
		}
		if string(meta.Get(keyProduct)) != string(product) {
			return fmt.Errorf("%s: %w", s.path, ErrForeign)
		}
		v, err := strconv.Atoi(string(meta.Get(keySchema)))
		if err != nil || v < oldestSchema || v > SchemaVersion {
			return fmt.Errorf("%s: schema %q, this build reads %d to %d: %w", s.path, meta.Get(keySchema), oldestSchema, SchemaVersion, ErrSchema)
		}
		if v < SchemaVersion {
			if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketState) == nil {
			_, err := tx.CreateBucket(bucketState)
			return err
		}
		return nil
	})
}

// Close closes the file (after the checkpoint or fold step under way).
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Checkpoint saves every component: an Incremental one writes what
// changed since the last checkpoint, the others their snapshot, all in one
// transaction. An Incremental component that needs a full save (a new
// file, an import, a migrated snapshot) gets one first, in bounded
// transactions of its own. It never folds a journal in (FoldStep does).
func (s *Store) Checkpoint(components map[string]Component) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(components))
	for n := range components {
		names = append(names, n)
	}
	sort.Strings(names)
	done := map[string]bool{}
	for _, name := range names {
		inc, ok := components[name].(Incremental)
		if !ok {
			continue
		}
		if inc.NeedsFull() || !s.hasCurrent(name) {
			if err := s.saveFull(name, inc); err != nil {
				inc.SaveFailed()
				return err
			}
			done[name] = true
		}
	}
	journaled, folding := map[string]int{}, map[string]bool{}
	snaps := make(map[string][]byte, len(components))
	versions := map[string]uint64{}
	for _, name := range names {
		if _, ok := components[name].(Incremental); ok {
			continue
		}
		if v, ok := components[name].(Versioned); ok {
			if last, saved := s.versions[name]; saved && last == v.StateVersion() {
				continue
			}
			versions[name] = v.StateVersion()
		}
		b, err := components[name].MarshalState()
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", name, err)
		}
		snaps[name] = b
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range names {
			inc, ok := components[name].(Incremental)
			if !ok || done[name] {
				continue
			}
			j, f, err := writeJournal(tx, []byte(name))
			if err != nil {
				return fmt.Errorf("checkpoint %s: %w", name, err)
			}
			if j == nil {
				return fmt.Errorf("checkpoint %s: no current slot", name)
			}
			jw := newJournalWriter(j, s.db.Info().PageSize)
			if err := inc.SaveChanges(jw, false); err != nil {
				return fmt.Errorf("checkpoint %s: %w", name, err)
			}
			if err := jw.flush(); err != nil {
				return fmt.Errorf("checkpoint %s: %w", name, err)
			}
			if q, ok := inc.(Queued); ok {
				if err := saveQueue(tx, name, q); err != nil {
					return fmt.Errorf("checkpoint %s: %w", name, err)
				}
			}
			journaled[name], folding[name] = jw.bytes, f
		}
		st := tx.Bucket(bucketState)
		for name, b := range snaps {
			if sum, ok := s.written[name]; ok && sum == maphash.Bytes(s.seed, b) {
				continue
			}
			if err := st.Put([]byte(name), b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySaved, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	})
	if err != nil {
		for _, name := range names {
			if inc, ok := components[name].(Incremental); ok && !done[name] {
				inc.SaveFailed() // what it handed over is not on disk: all of it next time
			}
		}
	} else {
		for name, n := range journaled {
			if folding[name] {
				s.sizes(name).next += n
			} else {
				s.sizes(name).journal += n
			}
		}
		for name, b := range snaps {
			s.written[name] = maphash.Bytes(s.seed, b)
		}
		for name, v := range versions {
			s.versions[name] = v
		}
	}
	s.release()
	return err
}

// hasCurrent says whether an Incremental component has records saved.
func (s *Store) hasCurrent(name string) bool {
	found := false
	s.db.View(func(tx *bolt.Tx) error {
		found = current(tx, []byte(name)) != nil
		return nil
	})
	return found
}

// Load restores each component that has a snapshot (or records);
// components without one are left as they are (a new database, or a
// component added later).
func (s *Store) Load(components map[string]Component) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(components))
	for n := range components {
		names = append(names, n)
	}
	sort.Strings(names)
	defer s.release()
	return s.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketState)
		for _, name := range names {
			if inc, ok := components[name].(Incremental); ok {
				if slot := current(tx, []byte(name)); slot != nil {
					over, nj, next, err := readJournals(tx, []byte(name))
					if err != nil {
						return fmt.Errorf("%s: state %q: journal unreadable: %w", s.path, name, err)
					}
					var n, size int
					r := slotReader{slot: slot, store: s, records: &n, bytes: &size, over: over}
					if cb := compBucket(tx, []byte(name)); cb.Get(keyFold) != nil {
						r.alt = cb.Bucket(cb.Get(keyFold))
					}
					if err := inc.LoadRecords(r); err != nil {
						return fmt.Errorf("%s: state %q unreadable: %w", s.path, name, err)
					}
					if q, ok := inc.(Queued); ok {
						qr := slotReader{slot: compBucket(tx, []byte(name)).Bucket(keyQueue)}
						if err := q.LoadQueue(qr); err != nil {
							return fmt.Errorf("%s: state %q unreadable: %w", s.path, name, err)
						}
					}
					*s.sizes(name) = slotSizes{base: size, journal: nj, next: next}
					continue
				}
			}
			b := st.Get([]byte(name))
			if b == nil {
				continue
			}
			if err := components[name].UnmarshalState(append([]byte(nil), b...)); err != nil {
				return fmt.Errorf("%s: state %q unreadable: %w", s.path, name, err)
			}
			s.written[name] = maphash.Bytes(s.seed, b)
			if v, ok := components[name].(Versioned); ok {
				s.versions[name] = v.StateVersion() // what is on disk
			}
		}
		return nil
	})
}

// Versioned is a snapshot component that can say it did not change: a
// checkpoint neither marshals nor writes it while its version stays the
// one last written.
type Versioned interface {
	StateVersion() uint64
}

// Snapshot returns the raw snapshot of one component, nil when absent.
func (s *Store) Snapshot(name string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketState).Get([]byte(name)); b != nil {
			out = append([]byte(nil), b...)
		}
		return nil
	})
	return out, err
}

// Compact rewrites the state file at path into a new file holding only
// what is live (a file left large by an old release or a long-gone burst:
// bbolt reuses free pages but never gives them back), then puts it in
// place. The file must not be in use. It returns the sizes before and after.
func Compact(path string) (before, after int64, err error) {
	src, err := Open(path) // checks it is ours, and takes the lock
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	st, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, 0, err
	}
	if err := bolt.Compact(dst, src.db, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, err
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	nst, err := os.Stat(tmp)
	if err != nil {
		return 0, 0, err
	}
	// the compacted file replaces the original in one rename, while the
	// original's lock is still held
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return st.Size(), nst.Size(), nil
}
