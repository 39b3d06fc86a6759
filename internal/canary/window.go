package canary

import (
	"math"
	"sync/atomic"
	"time"
)

// slots is how many parts the guard window is split into: the counters slide by one part at a time.
const slots = 10

// Latency histogram: bucket i holds latencies up to bound(i) = 100µs × 1.25^i; the last bucket is unbounded. 48
// buckets reach about 4 minutes, with a 25% resolution that is enough to compare two p99s.
const nBuckets = 48

var bounds = func() (b [nBuckets - 1]int64) {
	v := float64(100 * time.Microsecond)
	for i := range b {
		b[i] = int64(v)
		v *= 1.25
	}
	return b
}()

// armSlot is one arm's counts in one slot.
type armSlot struct {
	reqs, errs atomic.Uint64
	hist       [nBuckets]atomic.Uint64
}

func (a *armSlot) reset() {
	a.reqs.Store(0)
	a.errs.Store(0)
	for i := range a.hist {
		a.hist[i].Store(0)
	}
}

// window is a ring of slots per arm. Writers add to the current slot; the guard goroutine advances it (clearing
// the slot it moves into) once per tenth of the window. An observation racing with a clear may be lost: the guard
// judges shares over many requests, so that is harmless.
type window struct {
	cur   atomic.Uint32
	slots [slots][2]armSlot
}

func (w *window) observe(arm int, failed bool, d time.Duration) {
	s := &w.slots[w.cur.Load()%slots][arm]
	s.reqs.Add(1)
	if failed {
		s.errs.Add(1)
	}
	n, i := int64(d), 0
	for i < len(bounds) && n > bounds[i] {
		i++
	}
	s.hist[i].Add(1)
}

// advance moves to the next slot, dropping the oldest counts.
func (w *window) advance() {
	next := (w.cur.Load() + 1) % slots
	w.slots[next][ArmOld].reset()
	w.slots[next][ArmNew].reset()
	w.cur.Store(next)
}

// clear drops every count (after a weight change the old counts no longer describe the split).
func (w *window) clear() {
	for i := range w.slots {
		w.slots[i][ArmOld].reset()
		w.slots[i][ArmNew].reset()
	}
}

// armSum is one arm's counts over the whole window.
type armSum struct {
	reqs, errs uint64
	hist       [nBuckets]uint64
}

func (w *window) sum() (s [2]armSum) {
	for i := range w.slots {
		for arm := range 2 {
			a := &w.slots[i][arm]
			s[arm].reqs += a.reqs.Load()
			s[arm].errs += a.errs.Load()
			for b := range a.hist {
				s[arm].hist[b] += a.hist[b].Load()
			}
		}
	}
	return s
}

func (s *armSum) errorRate() float64 {
	if s.reqs == 0 {
		return 0
	}
	return float64(s.errs) / float64(s.reqs)
}

// p99 is the upper bound of the bucket holding the 99th percentile (the last bound for the unbounded bucket).
func (s *armSum) p99() time.Duration {
	var total uint64
	for _, n := range s.hist {
		total += n
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(float64(total) * 0.99))
	var cum uint64
	for i, n := range s.hist {
		cum += n
		if cum >= want {
			return time.Duration(bounds[min(i, len(bounds)-1)])
		}
	}
	return time.Duration(bounds[len(bounds)-1])
}

func (s *armSum) arm(service string, total uint64) Arm {
	return Arm{Service: service, Requests: total, WindowReqs: s.reqs, WindowErrs: s.errs, ErrorRate: s.errorRate(),
		P99Seconds: s.p99().Seconds()}
}
