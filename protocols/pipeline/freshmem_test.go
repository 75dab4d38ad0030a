package pipeline_test

import (
	"errors"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// BenchmarkPipelineFreshMemory prices the memory a short `otwatch read`
// touches for the first time, on the machine it runs on. The whole-process
// figures against tshark (README) include every page the run touches first:
// the Go heap growing to its peak, the runtime's own metadata, the stream
// buffers of partial messages. On bare metal a fresh 4 KiB page costs
// about a microsecond; under some hypervisors it costs ten times that, and
// then a run's peak memory, not its work, sets a tenth or more of its CPU
// time. Reported per 4 KiB page (µs/page):
//   - fresh: each page written once, as a growing heap does;
//   - populate+touch: the range populated by one madvise(MADV_POPULATE_WRITE)
//     first, then written (the price of pre-faulting: both parts reported);
//   - huge: the range in transparent huge pages (madvise(MADV_HUGEPAGE)),
//     written a 4 KiB page at a time;
//   - warm: the same pages written again, the floor.
func BenchmarkPipelineFreshMemory(b *testing.B) {
	const size = 16 << 20
	const pages = size / 4096
	b.Run("fresh", func(b *testing.B) {
		var total float64
		for b.Loop() {
			m := mapAnon(b, size)
			total += touchPages(m)
			unmap(b, m)
		}
		b.ReportMetric(total/float64(b.N)/pages, "µs/page")
	})
	b.Run("populate+touch", func(b *testing.B) {
		var populate, touch float64
		for b.Loop() {
			m := mapAnon(b, size)
			start := time.Now()
			err := syscall.Madvise(m, 23) // MADV_POPULATE_WRITE, Linux 5.14
			populate += microseconds(time.Since(start))
			if errors.Is(err, syscall.EINVAL) {
				unmap(b, m)
				b.Skip("MADV_POPULATE_WRITE: not supported by this kernel")
			}
			touch += touchPages(m)
			unmap(b, m)
		}
		b.ReportMetric(populate/float64(b.N)/pages, "populate-µs/page")
		b.ReportMetric(touch/float64(b.N)/pages, "touch-µs/page")
	})
	b.Run("huge", func(b *testing.B) {
		const huge = 2 << 20
		var total float64
		for b.Loop() {
			m := mapAnon(b, size+huge)
			off := int(-uintptr(unsafe.Pointer(&m[0])) & (huge - 1))
			r := m[off : off+size]
			if err := syscall.Madvise(r, syscall.MADV_HUGEPAGE); err != nil {
				unmap(b, m)
				b.Skipf("MADV_HUGEPAGE: %v", err)
			}
			total += touchPages(r)
			unmap(b, m)
		}
		b.ReportMetric(total/float64(b.N)/pages, "µs/page")
	})
	b.Run("warm", func(b *testing.B) {
		m := mapAnon(b, size)
		defer unmap(b, m)
		touchPages(m)
		var total float64
		for b.Loop() {
			total += touchPages(m)
		}
		b.ReportMetric(total/float64(b.N)/pages, "µs/page")
	})
}

func mapAnon(b *testing.B, n int) []byte {
	m, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func unmap(b *testing.B, m []byte) {
	if err := syscall.Munmap(m); err != nil {
		b.Fatal(err)
	}
}

// touchPages writes one byte of each 4 KiB page and returns the µs it took.
func touchPages(m []byte) float64 {
	start := time.Now()
	for i := 0; i < len(m); i += 4096 {
		m[i]++
	}
	return microseconds(time.Since(start))
}

func microseconds(d time.Duration) float64 { return float64(d) / 1e3 }
