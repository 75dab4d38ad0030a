package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Blobs are data that change rarely and are large (an imported advisory
// feed): each lives under a key in a bucket of its own, outside the
// components, written by an import and never by a checkpoint.

// reserved buckets hold the components (snapshots and records) and the file's identity.
func reserved(bucket string) bool {
	return bucket == string(bucketMeta) || bucket == string(bucketState) || bucket == string(bucketKV)
}

// PutBlobs writes the given keys of a bucket (created when absent) in one
// transaction: a nil value deletes its key. Either all are written or none.
func (s *Store) PutBlobs(bucket string, items map[string][]byte) error {
	if bucket == "" || reserved(bucket) {
		return fmt.Errorf("store: bucket %q is reserved", bucket)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		for k, v := range items {
			if k == "" {
				return fmt.Errorf("store: empty key in bucket %q", bucket)
			}
			if v == nil {
				err = b.Delete([]byte(k))
			} else {
				err = b.Put([]byte(k), v)
			}
			if err != nil {
				return fmt.Errorf("store: %s/%s: %w", bucket, k, err)
			}
		}
		return nil
	})
}

// Blobs calls fn for each key of a bucket in key order, with a copy of its
// value; a missing bucket has no keys. An error from fn stops the walk.
func (s *Store) Blobs(bucket string, fn func(key string, value []byte) error) error {
	if reserved(bucket) {
		return fmt.Errorf("store: bucket %q is reserved", bucket)
	}
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			return fn(string(k), append([]byte(nil), v...))
		})
	})
}
