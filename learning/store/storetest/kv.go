// Package storetest gives tests of store components (store.Incremental) a
// store in memory: KV is a store.Writer and a store.Reader, records in key
// order as bbolt keeps them, and it flattens to bytes and back so a fuzz
// target can mutate whole sets of records.
package storetest

import (
	"bytes"
	"encoding/binary"
	"maps"
	"slices"
)

// KV maps bucket → key → value.
type KV map[string]map[string][]byte

// Put stores a copy of value.
func (kv KV) Put(bucket, key, value []byte) error {
	b := kv[string(bucket)]
	if b == nil {
		b = map[string][]byte{}
		kv[string(bucket)] = b
	}
	b[string(key)] = bytes.Clone(value)
	return nil
}

// Delete removes a record.
func (kv KV) Delete(bucket, key []byte) error {
	delete(kv[string(bucket)], string(key))
	return nil
}

// DeleteBucket removes a bucket and its records.
func (kv KV) DeleteBucket(bucket []byte) error {
	delete(kv, string(bucket))
	return nil
}

// Buckets calls fn with each bucket's name, in order.
func (kv KV) Buckets(fn func(name []byte) error) error {
	for _, name := range slices.Sorted(maps.Keys(kv)) {
		if err := fn([]byte(name)); err != nil {
			return err
		}
	}
	return nil
}

// ForEach calls fn with each record of a bucket, in key order.
func (kv KV) ForEach(bucket []byte, fn func(key, value []byte) error) error {
	b := kv[string(bucket)]
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if err := fn([]byte(k), b[k]); err != nil {
			return err
		}
	}
	return nil
}

// Encode flattens the records, each as bucket, key and value, every one
// with a 2-byte length before it.
func (kv KV) Encode() []byte {
	var out []byte
	put := func(b []byte) { out = append(binary.BigEndian.AppendUint16(out, uint16(len(b))), b...) }
	kv.Buckets(func(name []byte) error {
		return kv.ForEach(name, func(k, v []byte) error {
			put(name)
			put(k)
			put(v)
			return nil
		})
	})
	return out
}

// Decode reads what Encode writes, or any bytes: a length past the end
// takes what is left, and an incomplete last record is dropped.
func Decode(in []byte) KV {
	kv := KV{}
	take := func() ([]byte, bool) {
		if len(in) < 2 {
			return nil, false
		}
		n := min(int(binary.BigEndian.Uint16(in)), len(in)-2)
		b := in[2 : 2+n]
		in = in[2+n:]
		return b, true
	}
	for {
		bucket, ok1 := take()
		key, ok2 := take()
		value, ok3 := take()
		if !ok1 || !ok2 || !ok3 {
			return kv
		}
		kv.Put(bucket, key, value)
	}
}
