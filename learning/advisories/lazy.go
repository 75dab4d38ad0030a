package advisories

import (
	"regexp"
	"sync"
)

// lazyRegexp compiles a pattern on its first use. The matcher's expressions
// cost milliseconds and half a megabyte to compile; every otwatch command
// links this package, and most (read, the daemon's capture start) assess no
// advisory at all, so they no longer pay for them at process start.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}
