package store

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// release tells the kernel the process does not need the file's pages
// mapped any more (MADV_DONTNEED on bbolt's read-only map): loading a
// million records reads the whole file, and those pages would otherwise
// count in the process's resident memory until the kernel reclaims them.
// They stay in the page cache; a later read maps them again. The length
// is the mapping's own, read from /proc/self/maps (the file may be larger
// than what bbolt mapped): nothing else is ever touched.
func (s *Store) release() {
	start := s.db.Info().Data
	end := mappingEnd(start)
	if end <= start {
		return
	}
	syscall.Syscall(syscall.SYS_MADVISE, start, end-start, syscall.MADV_DONTNEED)
}

// mappingEnd returns the end of the mapping that starts at start, 0 when
// there is none.
func mappingEnd(start uintptr) uintptr {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rng, _, _ := strings.Cut(sc.Text(), " ")
		lo, hi, ok := strings.Cut(rng, "-")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && uintptr(a) == start {
			return uintptr(b)
		}
	}
	return 0
}
