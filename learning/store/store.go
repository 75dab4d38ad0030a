// Package store persists otwatch's learned state (inventory, baselines,
// alerts) in one bbolt file. State is written in checkpoints — one bbolt
// transaction holding every component's snapshot — never per packet, so a
// kill -9 loses at most the time since the last checkpoint, and bbolt's
// copy-on-write pages keep the file consistent across power cuts.
package store

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is bumped on an incompatible change of any component's snapshot.
const SchemaVersion = 1

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
)

// Component is a piece of state that checkpoints as one snapshot.
type Component interface {
	MarshalState() ([]byte, error)
	UnmarshalState([]byte) error
}

// Store is an open state file.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens or creates the state file at path, checking that it is
// otwatch's and of a schema this build reads.
func Open(path string) (*Store, error) {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 && st.Size() < 4096 {
		return nil, fmt.Errorf("%s: %w", path, ErrCorrupt)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%s: in use by another otwatch process", path)
		}
		if errors.Is(err, bolt.ErrInvalid) || errors.Is(err, bolt.ErrVersionMismatch) || errors.Is(err, bolt.ErrChecksum) {
			return nil, fmt.Errorf("%s: %w", path, ErrCorrupt)
		}
		return nil, fmt.Errorf("%s: %w (%v)", path, ErrCorrupt, err)
	}
	s := &Store{db: db, path: path}
	if err := s.init(); err != nil {
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
		if err != nil || v != SchemaVersion {
			return fmt.Errorf("%s: schema %q, this build reads %d: %w", s.path, meta.Get(keySchema), SchemaVersion, ErrSchema)
		}
		if tx.Bucket(bucketState) == nil {
			_, err := tx.CreateBucket(bucketState)
			return err
		}
		return nil
	})
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Checkpoint writes every component's snapshot in one transaction.
func (s *Store) Checkpoint(components map[string]Component) error {
	snaps := make(map[string][]byte, len(components))
	for name, c := range components {
		b, err := c.MarshalState()
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", name, err)
		}
		snaps[name] = b
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketState)
		for name, b := range snaps {
			if err := st.Put([]byte(name), b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySaved, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	})
}

// Load restores each component that has a snapshot; components without
// one are left as they are (a new database, or a component added later).
func (s *Store) Load(components map[string]Component) error {
	names := make([]string, 0, len(components))
	for n := range components {
		names = append(names, n)
	}
	sort.Strings(names)
	return s.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketState)
		for _, name := range names {
			b := st.Get([]byte(name))
			if b == nil {
				continue
			}
			if err := components[name].UnmarshalState(append([]byte(nil), b...)); err != nil {
				return fmt.Errorf("%s: state %q unreadable: %w", s.path, name, err)
			}
		}
		return nil
	})
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
