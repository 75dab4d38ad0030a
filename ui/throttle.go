package ui

import (
	"net/netip"
	"time"
)

// The login and setup throttles. Everything here runs under Auth.mu and
// takes the time from the caller, so tests drive it with a fake clock.
//
// Every table is bounded (maxTracked keys); what happens when one is full
// is chosen per table so that filling it never helps an attacker:
//   - per-address windows: a new address is refused until old windows end;
//   - (user, address) backoff: the oldest pair is forgotten (that only
//     resets one pair's backoff; the per-user guard still bounds guesses);
//   - per-user guard: a name not in the table is treated as guarded.

// maxTracked bounds each throttle table.
const maxTracked = 10000

// slidingWindow admits at most n events per span.
type slidingWindow struct {
	times []time.Time
}

// allow records an event if fewer than n happened in the last span;
// otherwise it says how long until one leaves the window.
func (w *slidingWindow) allow(now time.Time, span time.Duration, n int) (bool, time.Duration) {
	kept := w.times[:0]
	for _, t := range w.times {
		if now.Sub(t) < span {
			kept = append(kept, t)
		}
	}
	w.times = kept
	if len(w.times) >= n {
		return false, w.times[0].Add(span).Sub(now)
	}
	w.times = append(w.times, now)
	return true, 0
}

func (w *slidingWindow) idle(now time.Time, span time.Duration) bool {
	return len(w.times) == 0 || now.Sub(w.times[len(w.times)-1]) >= span
}

// keyedWindows is a slidingWindow per key (a client address).
type keyedWindows map[string]*slidingWindow

func (k keyedWindows) allow(key string, now time.Time, span time.Duration, n int) (bool, time.Duration) {
	w := k[key]
	if w == nil {
		if len(k) >= maxTracked {
			for old, v := range k {
				if v.idle(now, span) {
					delete(k, old)
				}
			}
			if len(k) >= maxTracked {
				return false, span // full of live windows: new addresses wait for one to end
			}
		}
		w = &slidingWindow{}
		k[key] = w
	}
	return w.allow(now, span, n)
}

// pairKey names one user name tried from one address.
type pairKey struct{ user, addr string }

// pairState is the consecutive failures of one user name from one address.
type pairState struct {
	fails int
	last  time.Time // last failure
	until time.Time // no attempt is checked before this
}

// pairMemory is how long a (user, address) pair keeps its failures
// without a new one: long enough that waiting out the longest backoff
// does not give the free attempts back.
const pairMemory = 24 * time.Hour

// userGuard is the failures of one user name from every address.
type userGuard struct {
	fails []time.Time // the latest GuardFailures failures, oldest first
	until time.Time   // guarded at least until (extended by every refused attempt)
}

// guarded: GuardFailures failures within Lockout, or a refusal within Lockout.
func (g *userGuard) guarded(now time.Time, p AuthPolicy) bool {
	if now.Before(g.until) {
		return true
	}
	return len(g.fails) >= p.GuardFailures && now.Sub(g.fails[0]) < p.Lockout
}

func (g *userGuard) idle(now time.Time, p AuthPolicy) bool {
	return !now.Before(g.until) && (len(g.fails) == 0 || now.Sub(g.fails[len(g.fails)-1]) >= p.Lockout)
}

// backoff is the wait after the n-th consecutive failure of a pair:
// nothing below MaxFailures, then Backoff doubling up to Lockout.
func (p AuthPolicy) backoff(n int) time.Duration {
	if n < p.MaxFailures {
		return 0
	}
	d := p.Backoff
	for i := p.MaxFailures; i < n && d < p.Lockout; i++ {
		d *= 2
	}
	return min(d, p.Lockout)
}

// normAddr is the form a client address is counted and remembered in.
func normAddr(addr string) string {
	if ip, err := netip.ParseAddr(addr); err == nil {
		return ip.Unmap().WithZone("").String()
	}
	if len(addr) > 64 {
		addr = addr[:64]
	}
	return addr
}

// tokenBucket admits a burst, then one event per every.
type tokenBucket struct {
	burst  float64
	every  time.Duration
	tokens float64
	last   time.Time
}

func newTokenBucket(burst int, every time.Duration) tokenBucket {
	return tokenBucket{burst: float64(burst), every: every, tokens: float64(burst)}
}

func (b *tokenBucket) take(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+float64(now.Sub(b.last))/float64(b.every))
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
