package syslog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketQueue = []byte("queue")
	bucketMeta  = []byte("meta")
	keyNext     = []byte("next")    // next sequence number
	keyNotice   = []byte("notice")  // seq of the pending overflow notice
	keyDropped  = []byte("ndrop")   // alerts dropped in the pending notice's episode
	keyFirst    = []byte("ndfirst") // time of that episode's first drop
)

// entryOverhead is counted per entry besides the message (key, bbolt page
// bookkeeping), so many tiny messages cannot exceed the bound either.
const entryOverhead = 32

// queue is the durable FIFO of formatted messages of one destination.
type queue struct {
	db       *bolt.DB
	maxBytes int64
	path     string
	bytes    atomic.Int64 // current size (messages + overhead)
	count    atomic.Int64
}

func openQueue(dir, name string, maxBytes int64) (*queue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "syslog-"+safeName(name)+".queue")
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	openMu.Lock()
	defer openMu.Unlock()
	if openPaths[path] {
		return nil, fmt.Errorf("%s: already open in this process (two destinations with one name?)", path)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%s: in use by another otwatch process", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	q := &queue{db: db, maxBytes: maxBytes, path: path}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketQueue)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketMeta); err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			q.count.Add(1)
			q.bytes.Add(int64(len(v)) + entryOverhead)
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	openPaths[path] = true
	return q, nil
}

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "default"
	}
	return string(b)
}

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func key(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}

// push appends msgs durably, in one transaction: one sync for a whole
// batch (bbolt syncs before Update returns), so a burst of alerts costs one
// write to the card, not one each. When the queue exceeds its bound the
// oldest entries are dropped and notice renders the overflow notice for
// the episode's total count; the notice is queued once per episode
// (updated in place while still queued). It returns the number dropped now.
func (q *queue) push(msgs [][]byte, notice func(dropped uint64, since time.Time) []byte) (int, error) {
	dropped := 0
	err := q.db.Update(func(tx *bolt.Tx) error {
		b, m := tx.Bucket(bucketQueue), tx.Bucket(bucketMeta)
		count, size := q.count.Load(), q.bytes.Load()
		next := u64(m.Get(keyNext))
		for _, msg := range msgs {
			next++
			if err := b.Put(key(next), msg); err != nil {
				return err
			}
			count++
			size += int64(len(msg)) + entryOverhead
		}
		noticeSeq := u64(m.Get(keyNotice))
		if noticeSeq != 0 && b.Get(key(noticeSeq)) == nil {
			noticeSeq = 0 // delivered: a new episode starts
		}
		var episode uint64
		var first time.Time
		if noticeSeq != 0 {
			episode = u64(m.Get(keyDropped))
			first = time.Unix(0, int64(u64(m.Get(keyFirst))))
		}
		for q.maxBytes > 0 && size > q.maxBytes && count > 1 {
			c := b.Cursor()
			k, v := c.First()
			if u64(k) == noticeSeq { // never drop the notice itself
				k, v = c.Next()
			}
			if k == nil || u64(k) == next {
				break
			}
			size -= int64(len(v)) + entryOverhead
			count--
			if err := c.Delete(); err != nil {
				return err
			}
			dropped++
		}
		if dropped > 0 {
			if episode == 0 {
				first = now()
			}
			episode += uint64(dropped)
			msgN := notice(episode, first)
			if noticeSeq != 0 {
				size -= int64(len(b.Get(key(noticeSeq)))) + entryOverhead
			} else {
				next++
				noticeSeq = next
				count++
			}
			if err := b.Put(key(noticeSeq), msgN); err != nil {
				return err
			}
			size += int64(len(msgN)) + entryOverhead
			if err := m.Put(keyNotice, key(noticeSeq)); err != nil {
				return err
			}
			if err := m.Put(keyDropped, key(episode)); err != nil {
				return err
			}
			if err := m.Put(keyFirst, key(uint64(first.UnixNano()))); err != nil {
				return err
			}
		}
		if err := m.Put(keyNext, key(next)); err != nil {
			return err
		}
		q.count.Store(count)
		q.bytes.Store(size)
		return nil
	})
	return dropped, err
}

// item is one queued message.
type item struct {
	seq uint64
	msg []byte
}

// peek returns up to n of the oldest entries.
func (q *queue) peek(n int) ([]item, error) {
	var out []item
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketQueue).Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			out = append(out, item{u64(k), bytes.Clone(v)})
		}
		return nil
	})
	return out, err
}

// remove deletes delivered entries, each only if it still holds what was
// sent (an overflow notice updated meanwhile stays, to be sent again).
func (q *queue) remove(items []item) error {
	return q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketQueue)
		count, size := q.count.Load(), q.bytes.Load()
		for _, it := range items {
			v := b.Get(key(it.seq))
			if v == nil || !bytes.Equal(v, it.msg) {
				continue
			}
			if err := b.Delete(key(it.seq)); err != nil {
				return err
			}
			count--
			size -= int64(len(it.msg)) + entryOverhead
		}
		q.count.Store(count)
		q.bytes.Store(size)
		return nil
	})
}

func (q *queue) close() error {
	openMu.Lock()
	delete(openPaths, q.path)
	openMu.Unlock()
	return q.db.Close()
}

// openPaths guards against opening one queue twice in a process (bbolt's
// file lock only stops other processes).
var (
	openMu    sync.Mutex
	openPaths = map[string]bool{}
)
