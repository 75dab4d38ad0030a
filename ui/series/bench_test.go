package series

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The budget of the time series, for 10,000 process points polled every
// second (a large plant's SCADA), with the default tiers (1 s for an hour,
// 1 min for a day, 15 min for 30 days):
//
//	memory (live heap of the store): at most 64 MiB
//	disk (series.db after 30 days):  at most 1.5 GiB
//
// A point here is a float32 process value that changes every second (the
// costly case: a constant register costs a third of it). The month is
// run for a sample of the points (disk grows with points, each series is
// independent) and scaled to 10,000; the memory benchmark holds all
// 10,000 series with every tier's open chunk full.
const (
	budgetHeap  = 64 << 20
	budgetDisk  = 1536 << 20
	plantPoints = 10000
)

func processValue(i, sec int) float64 {
	return float64(float32(50 + 20*math.Sin(float64(sec)/600+float64(i)) + float64((sec*7919+i*104729)%1000)/100))
}

func pointKey(i int) []byte {
	return []byte(fmt.Sprintf("v|10.%d.%d.%d|modbus|1|holding_register|%d|0||write|", i/62500, i/250%250, 1+i%250, 40000+i%100))
}

// BenchmarkSeriesMonth: OTWATCH_SERIES_POINTS points (default 20) polled
// every second for 30 days into a series file; reports the file's size per
// point and scaled to 10,000 points.
func BenchmarkSeriesMonth(b *testing.B) {
	points := 20
	if v, err := strconv.Atoi(os.Getenv("OTWATCH_SERIES_POINTS")); err == nil && v > 0 {
		points = v
	}
	for range b.N {
		path := filepath.Join(b.TempDir(), "series.db")
		s, err := Open(Config{Path: path, NoSync: true, NoWriter: true})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		keys := make([][]byte, points)
		for i := range keys {
			keys[i] = pointKey(i)
		}
		const month = 30 * 24 * 3600
		for sec := 0; sec < month; sec++ {
			t := start + int64(sec)*int64(time.Second)
			s.mu.Lock()
			for i, k := range keys {
				s.observe(s.get(k, KindValue), t, processValue(i, sec))
			}
			s.mu.Unlock()
			if sec%600 == 599 { // the writer's flushes, by packet time here
				if err := s.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			if sec%3600 == 3599 {
				if err := s.Checkpoint(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		// the file grows in steps (bbolt doubles its map up to 1 GiB), so a
		// sample's file size says little of 10,000 points': count its pages
		// instead, those holding data and those free for reuse
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		var alloc, inuse, chunks int
		db.View(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bktChunks, bktSeries} {
				bs := tx.Bucket(name).Stats()
				alloc += bs.BranchAlloc + bs.LeafAlloc
				inuse += bs.BranchInuse + bs.LeafInuse
				if string(name) == string(bktChunks) {
					chunks = bs.KeyN - bs.BucketN + 1 // the tiers' buckets are keys too
				}
			}
			return nil
		})
		dbs := db.Stats()
		free := (dbs.FreePageN + dbs.PendingPageN) * db.Info().PageSize
		db.Close()
		perPoint := float64(alloc+free) / float64(points)
		b.ReportMetric(perPoint/1024, "KiB-disk/point")
		b.ReportMetric(perPoint*plantPoints/(1<<20), "MiB-disk/10k-points")
		b.ReportMetric(float64(inuse)/float64(points)/1024, "KiB-inuse/point")
		b.Logf("%d points, 30 days of 1 s polling: %d chunks; pages %d bytes (%d in use) + %d free = %.1f KiB a point, %.0f MiB for %d points (budget %d MiB); file %d bytes",
			points, chunks, alloc, inuse, free, perPoint/1024, perPoint*plantPoints/(1<<20), plantPoints, budgetDisk>>20, st.Size())
		if perPoint*plantPoints > budgetDisk {
			b.Errorf("disk %.0f MiB for %d points: over the %d MiB budget", perPoint*plantPoints/(1<<20), plantPoints, budgetDisk>>20)
		}
	}
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkSeriesMemory: 10,000 points, with every tier's open chunk as
// full as 1 s polling makes it (16 hours at 1 min fill the 15 min chunk,
// then 64 minutes at 1 s fill the 1 min and 1 s ones); reports the live
// heap of the store.
func BenchmarkSeriesMemory(b *testing.B) {
	for range b.N {
		before := liveHeap()
		s, err := Open(Config{Path: filepath.Join(b.TempDir(), "series.db"), NoSync: true, NoWriter: true})
		if err != nil {
			b.Fatal(err)
		}
		keys := make([][]byte, plantPoints)
		for i := range keys {
			keys[i] = pointKey(i)
		}
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		feed := func(from, to, step int) {
			for sec := from; sec < to; sec += step {
				t := start + int64(sec)*int64(time.Second)
				s.mu.Lock()
				for i, k := range keys {
					s.observe(s.get(k, KindValue), t, processValue(i, sec))
				}
				s.mu.Unlock()
				if sec%600 < step {
					s.Flush()
				}
			}
		}
		// the 15 min chunk starts at a multiple of 16 h: fill it up to its last bucket
		feed(0, 16*3600-64*60, 60)
		feed(16*3600-64*60, 16*3600-1, 1)
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
		heap := liveHeap() - before
		var full [3]int
		for _, sr := range s.series {
			for i := range sr.tiers {
				if sr.tiers[i].curIdx >= ChunkBuckets-2 {
					full[i]++
				}
			}
		}
		runtime.KeepAlive(keys)
		b.ReportMetric(float64(heap)/(1<<20), "MiB-heap/10k-points")
		b.ReportMetric(float64(heap)/plantPoints, "B-heap/point")
		b.Logf("%d points: live heap %d bytes (%.1f MiB, budget %d MiB); open chunks near full per tier: %v", plantPoints, heap, float64(heap)/(1<<20), budgetHeap>>20, full)
		if heap > budgetHeap {
			b.Errorf("heap %.1f MiB: over the %d MiB budget", float64(heap)/(1<<20), budgetHeap>>20)
		}
		s.Close()
	}
}
