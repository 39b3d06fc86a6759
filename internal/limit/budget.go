package limit

import (
	"math"
	"sync/atomic"
	"time"
)

// window is how many one-second buckets the budget counts over.
const window = 10

// countMask selects the count half of a bucket word; the upper 32 bits hold the bucket's second.
const countMask = 1<<32 - 1

// Budget allows retries while retries stay under Ratio of recent requests, plus MinPerSecond per second so a quiet
// service can still retry: an Envoy/Finagle-style retry budget. The package doc gives the arithmetic.
//
// All methods are safe for concurrent use and take no lock. A nil *Budget counts nothing and allows no retry.
type Budget struct {
	ratio      float64 // immutable
	minRetries float64 // minPerSecond × window, immutable
	now        func() time.Time

	requests [window]atomic.Uint64 // second<<32 | count
	retries  [window]atomic.Uint64
}

// NewBudget returns a Budget allowing retries up to ratio of the requests in the last ten seconds plus minPerSecond
// per second. Negative arguments count as 0. now is the clock; nil means time.Now.
func NewBudget(ratio float64, minPerSecond int, now func() time.Time) *Budget {
	if ratio < 0 || math.IsNaN(ratio) {
		ratio = 0
	}
	if minPerSecond < 0 {
		minPerSecond = 0
	}
	if now == nil {
		now = time.Now
	}
	return &Budget{ratio: ratio, minRetries: float64(minPerSecond) * window, now: now}
}

// Request counts one original request.
func (b *Budget) Request() {
	if b == nil {
		return
	}
	sec := b.now().Unix()
	bump(&b.requests[slot(sec)], uint64(uint32(sec)))
}

// TryRetry reports whether a retry is within the budget and, if it is, counts it.
func (b *Budget) TryRetry() bool {
	if b == nil {
		return false
	}
	sec := b.now().Unix()
	tag := uint32(sec)
	reqs, rets := sum(&b.requests, tag), sum(&b.retries, tag)
	if float64(rets)+1 > b.ratio*float64(reqs)+b.minRetries {
		return false
	}
	bump(&b.retries[slot(sec)], uint64(tag))
	return true
}

// slot maps a Unix second to its bucket; the same bucket is reused every window seconds.
func slot(sec int64) int {
	s := sec % window
	if s < 0 {
		s += window
	}
	return int(s)
}

// bump adds one to the bucket word w for second tag, restarting the count if w still holds an older second.
func bump(w *atomic.Uint64, tag uint64) {
	for {
		old := w.Load()
		next := tag<<32 | 1
		if old>>32 == tag {
			if old&countMask == countMask {
				return // saturated: 4 billion in one second is already far past any budget decision
			}
			next = old + 1
		}
		if w.CompareAndSwap(old, next) {
			return
		}
	}
}

// sum adds the counts of the buckets whose second lies within the window ending at second now.
func sum(ws *[window]atomic.Uint64, now uint32) uint64 {
	var n uint64
	for i := range ws {
		v := ws[i].Load()
		// Unsigned difference handles the wrap of the 32-bit second; a bucket from the future (clock stepped
		// back) is ignored like a stale one.
		if now-uint32(v>>32) < window {
			n += v & countMask
		}
	}
	return n
}
