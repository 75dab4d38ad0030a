package baseline

import "time"

// Rates are counted on sliding windows made of short buckets, so a burst
// is seen whatever its alignment with the clock: the count "within the
// last second" or "within the last ten seconds" at each event, compared
// with the largest such count learned.
const (
	bucketWidth  = 100 * time.Millisecond
	shortBuckets = 10  // 1 s
	longBuckets  = 100 // 10 s
)

// Window names, for messages and the baseline document.
const (
	shortWindow = "1s"
	longWindow  = "10s"
)

// rateClass is what a rate counts on a link.
type rateClass uint8

const (
	rateWrites     rateClass = iota // writes: points set
	rateControls                    // control commands (select/operate, method calls)
	rateExceptions                  // exception responses drawn
	numRateClasses
)

var rateClassNames = [numRateClasses]string{"write", "control", "exception"}

// rate counts events of one class on one link in sliding 1 s and 10 s
// windows. MaxShort and MaxLong are learned (frozen while detecting); the
// ring is what happens now.
type rate struct {
	MaxShort, MaxLong uint32
	// Partial: learning saw the class over less than the long window
	// (its first and last events learned less than 10 s apart), so MaxLong
	// is no measure of ten seconds of it (longMax). Saved with the link.
	Partial     bool
	first       int64 // bucket of the first event learned since the model was made or loaded
	ring        [longBuckets]uint16
	cur         int64 // bucket number of the newest bucket
	short, long uint32
	started     bool // an event was counted since the model was made or loaded (cur holds)
	firstSet    bool // an event was learned since then (first holds)
	// shortOver, longOver: the window's count is above its threshold (a
	// burst under way, already reported). One burst is one alert however
	// long it lasts; see newBurst for when another one starts.
	shortOver, longOver bool
}

// add counts one event at packet time ns and returns the counts in the
// short and long windows ending now.
func (r *rate) add(ns int64) (uint32, uint32) {
	b := bucketOf(ns)
	switch {
	case !r.started || b < r.cur || b-r.cur >= longBuckets:
		// first event, time went back (a capture replayed again) or the
		// whole window is older than it: start afresh
		r.ring, r.short, r.long = [longBuckets]uint16{}, 0, 0
		r.cur, r.started = b, true
	case b > r.cur:
		for k := r.cur + 1; k <= b; k++ {
			i := ringSlot(k)
			r.long -= uint32(r.ring[i]) // bucket k-100 leaves the long window
			r.ring[i] = 0
			r.short -= uint32(r.ring[ringSlot(k-shortBuckets)]) // bucket k-10 leaves the short one
		}
		r.cur = b
	}
	if i := ringSlot(b); r.ring[i] < ^uint16(0) {
		r.ring[i]++
		r.short++
		r.long++
	}
	return r.short, r.long
}

// bucketOf is the number of the bucket holding packet time ns, counted
// from 1970 and below zero before it: bucket 0 holds the first 100 ms of
// 1970, where a capture from a device without a clock starts, and the zero
// time.Time that a record which lost its time carries is far below it.
func bucketOf(ns int64) int64 {
	b := ns / int64(bucketWidth)
	if ns < 0 && ns%int64(bucketWidth) != 0 {
		b-- // rounded down, as for times after 1970
	}
	return b
}

// ringSlot is bucket k's place in the ring, for any k.
func ringSlot(k int64) int {
	i := k % longBuckets
	if i < 0 {
		i += longBuckets
	}
	return int(i)
}

// learn raises the learned maxima to the current counts, and notes
// whether learning has yet seen ten seconds of the class.
func (r *rate) learn() {
	if r.MaxShort == 0 && r.MaxLong == 0 {
		r.Partial = true // the first event learned
	}
	r.MaxShort = max(r.MaxShort, r.short)
	r.MaxLong = max(r.MaxLong, r.long)
	if r.Partial {
		if !r.firstSet {
			r.first, r.firstSet = r.cur, true
		}
		r.Partial = r.cur-r.first < longBuckets
	}
}

// longMax is the learned maximum of the long window: MaxLong, or, while
// learning saw less than ten seconds of the class, what ten seconds at
// its learned 1 s peak would hold, whichever is larger. A master that
// sends a group of commands every two seconds, learned for six, is not
// bursting when it goes on for ten.
func (r *rate) longMax() uint32 {
	if r.Partial {
		return max(r.MaxLong, r.MaxShort*(longBuckets/shortBuckets))
	}
	return r.MaxLong
}

// burstOver is the count that is "well above" a learned maximum: more than
// twice it, and by at least slack events (a client that wrote once a
// minute may write a handful at once without being a flood).
func burstOver(learned, factor, slack uint32) uint32 { return max(factor*learned, learned+slack) }

// newBurst says whether the counts now start a burst: more than the
// learned maxima by the factor and slack in a window that was not over
// its threshold at the previous event. A burst is seen in the 1 s window
// first, unless it is a slow one; the 10 s window remembers a burst for
// ten seconds after it stopped, so while it does, only the 1 s window
// coming back over its threshold (the client flooding again after its
// rate fell back) is a new burst, and a 10 s window that is still over
// from a burst reported is not one. It names the window and its counts.
func (r *rate) newBurst(factor, slack uint32) (window string, n, learned uint32, ok bool) {
	shortOver := r.short > burstOver(r.MaxShort, factor, slack)
	longOver := r.long > burstOver(r.longMax(), factor, slack)
	wasShort, wasLong := r.shortOver, r.longOver
	r.shortOver, r.longOver = shortOver, longOver
	switch {
	case shortOver && !wasShort:
		return shortWindow, r.short, r.MaxShort, true
	case longOver && !wasLong && !wasShort && !shortOver:
		return longWindow, r.long, r.MaxLong, true
	}
	return "", 0, 0, false
}
