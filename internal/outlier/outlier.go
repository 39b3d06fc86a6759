// Package outlier is passive health: it ejects an upstream instance that keeps failing real requests, for a back-off
// that grows on repeated ejections, without ever ejecting so much of a pool that the service has an outage by mistake.
//
// A Detector holds this state for one pool of N instances, indexed by position in the pool. The request path reports
// each outcome with Result and asks Ejected before picking an instance.
//
// Semantics:
//   - Counting. With FailWindow 0, ConsecutiveFailures failures in a row eject; a success starts over. With
//     FailWindow > 0 (nginx max_fails/fail_timeout), ConsecutiveFailures failures whose oldest and newest lie at most
//     FailWindow apart eject, successes in between notwithstanding. Results reported while the instance is ejected
//     (requests that were already in flight) are not counted as failures, and an ejection clears the count, so a
//     returning instance needs a full new run of failures to be ejected again.
//   - Duration. The n-th ejection lasts min(BaseEjection × 2^(n-1), MaxEjection).
//   - Return. An instance returns by itself when its ejection time passes: Ejected compares times, nothing runs.
//   - Decay. An instance that stays in the pool for MaxEjection after its last ejection ended has its ejection count
//     reset, so its next ejection lasts BaseEjection again. The reset is applied lazily (at the next ejection, and in
//     State), so it needs no timer either.
//   - Cap. At most MaxEjectedPercent of the pool (rounded down; at least one when the pool has two or more and the
//     percent is above 0; never the last instance not ejected) is ejected at once. An instance that reaches its
//     threshold while the cap is full is not ejected, but keeps its failure count, so its first failure after room
//     frees up ejects it (in FailWindow style, if its last ConsecutiveFailures failures still lie within FailWindow).
//     Room is only noticed on a failure: nothing ejects an instance between calls.
//
// Clock: the Detector reads time only through the now func given to New; the unix-nanosecond times passed to Ejected
// must come from the same clock.
//
// Concurrency: every method is safe for concurrent use. Result(ok=true), Ejected, State and Len are lock-free (atomic
// loads and stores) and never block or allocate. Result(ok=false) is lock-free too unless the failure reaches the
// threshold; only then does it take the Detector's mutex to count the pool's ejected instances, and a cap found full
// is remembered until the earliest ejected instance returns, so a failing instance does not take the mutex on every
// failure meanwhile. Under concurrent failures the counts are approximate by at most the racing results; the cap is
// exact, because every ejection is decided under the mutex.
package outlier

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Detector tracks N instances. Build it with New; the zero value is not usable.
type Detector struct {
	cfg        Config // normalized
	maxEjected int    // how many instances may be ejected at once; 0 = ejection disabled
	window     int64  // cfg.FailWindow in nanoseconds; 0 = consecutive style
	now        func() time.Time
	inst       []instance

	// fails holds, in FailWindow style, the times of each instance's last ConsecutiveFailures failures: instance i
	// owns the ring fails[i*k : (i+1)*k], written at instance.seq modulo k. It is nil in consecutive style.
	fails []atomic.Int64

	// capFullUntil is a unix-nanosecond time before which the cap is known to be full: an ejection decision found it
	// full, and no instance returns before then. It lets failures skip the mutex while nothing can change.
	capFullUntil atomic.Int64

	mu sync.Mutex // serializes ejection decisions so the cap holds
}

// instance is one instance's state. Fields marked "mutex" are written only under Detector.mu but read lock-free.
type instance struct {
	ejectedUntil atomic.Int64  // unix ns when the current or last ejection ends; 0 = never ejected (mutex)
	ejectedAt    atomic.Int64  // unix ns when the last ejection began; MinInt64 = never (mutex)
	ejections    atomic.Int32  // ejections so far, before decay (mutex)
	consec       atomic.Int64  // consecutive failures, reset by a success or an ejection
	seq          atomic.Uint64 // failures counted so far, FailWindow style: the next ring slot
	_            [24]byte      // pad to a cache line so goroutines updating neighbours do not contend
}

// New returns a Detector for a pool of n instances under c. now nil means time.Now. n < 0 is treated as 0.
func New(n int, c Config, now func() time.Time) *Detector {
	n = max(n, 0)
	if now == nil {
		now = time.Now
	}
	c = c.normalized()
	d := &Detector{cfg: c, maxEjected: c.maxEjected(n), now: now, inst: make([]instance, n)}
	for i := range d.inst {
		d.inst[i].ejectedAt.Store(math.MinInt64)
	}
	if c.FailWindow > 0 && d.maxEjected > 0 {
		d.window = int64(c.FailWindow)
		d.fails = make([]atomic.Int64, n*c.ConsecutiveFailures)
	}
	return d
}

// Len returns the number of instances.
func (d *Detector) Len() int { return len(d.inst) }

// Ejected reports whether instance i is ejected at now (unix nanoseconds from the Detector's clock). It panics when i
// is not in [0, Len()), like a slice index.
func (d *Detector) Ejected(i int, now int64) bool {
	return now < d.inst[i].ejectedUntil.Load()
}

// EjectedUntil is when i's last ejection ends, in unix nanoseconds; 0 when it was never ejected. Callers on the
// request path use it to skip reading the clock for instances that were never ejected.
func (d *Detector) EjectedUntil(i int) int64 { return d.inst[i].ejectedUntil.Load() }

// Result records the outcome of one request (or connect attempt) to instance i; ok=false is a failure, and the
// caller decides what counts as one. A success resets the consecutive count. It returns true when this result
// ejected the instance, so the caller can log it. It panics when i is not in [0, Len()).
func (d *Detector) Result(i int, ok bool) (ejected bool) {
	in := &d.inst[i]
	if ok {
		// Skip the store when there is nothing to reset, so healthy traffic only reads the cache line.
		if in.consec.Load() != 0 {
			in.consec.Store(0)
		}
		return false
	}
	if d.maxEjected == 0 {
		in.consec.Add(1) // still counted for State
		return false
	}
	now := d.now().UnixNano()
	if now < in.ejectedUntil.Load() {
		return false // a straggler from before the ejection
	}
	c := in.consec.Add(1)
	if d.window > 0 {
		if !d.windowFull(i, in, now) {
			return false
		}
	} else if c < int64(d.cfg.ConsecutiveFailures) {
		return false
	}
	if now < d.capFullUntil.Load() {
		return false
	}
	return d.eject(i, now)
}

// windowFull records a failure at now in instance i's ring and reports whether its last ConsecutiveFailures
// failures, all since its last ejection began, span at most FailWindow.
func (d *Detector) windowFull(i int, in *instance, now int64) bool {
	k := uint64(d.cfg.ConsecutiveFailures)
	ring := d.fails[uint64(i)*k : uint64(i+1)*k]
	seq := in.seq.Add(1)
	ring[(seq-1)%k].Store(now)
	if seq < k {
		return false
	}
	// The slot the next failure will overwrite holds the oldest of the last k. A racing writer may have replaced it
	// with a newer time, which only makes ejection a little more eager under a burst of concurrent failures.
	oldest := ring[seq%k].Load()
	return now-oldest <= d.window && oldest > in.ejectedAt.Load()
}

// eject ejects instance i at now if the cap allows and nobody ejected it first. It takes d.mu and scans the pool.
func (d *Detector) eject(i int, now int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := &d.inst[i]
	prevUntil := in.ejectedUntil.Load()
	if now < prevUntil {
		return false // a concurrent failure ejected it
	}
	ejected, earliest := 0, int64(math.MaxInt64)
	for j := range d.inst {
		if u := d.inst[j].ejectedUntil.Load(); now < u {
			ejected++
			earliest = min(earliest, u)
		}
	}
	if ejected >= d.maxEjected {
		d.capFullUntil.Store(earliest)
		return false
	}
	k := d.ejectionCount(in, prevUntil, now) + 1
	in.ejections.Store(int32(min(k, math.MaxInt32)))
	in.ejectedAt.Store(now)
	until := now + int64(d.cfg.ejectionTime(k))
	if until < now {
		until = math.MaxInt64 // a MaxEjection near the int64 limit: ejected for good rather than wrapped negative
	}
	in.ejectedUntil.Store(until)
	in.consec.Store(0)
	return true
}

// ejectionCount is the instance's ejection count after decay: 0 when its last ejection ended (at until) at least
// MaxEjection before now.
func (d *Detector) ejectionCount(in *instance, until, now int64) int {
	k := int(in.ejections.Load())
	if k > 0 && now >= until && now-until >= int64(d.cfg.MaxEjection) {
		return 0
	}
	return k
}

// State is a snapshot of one instance for status pages.
type State struct {
	EjectedUntil        time.Time // when the current ejection ends; zero when the instance is not ejected
	Ejections           int       // ejections that count towards the next back-off (after decay)
	ConsecutiveFailures int       // failures since the last success or ejection
}

// State returns instance i's state now. It reads each field atomically, but not all of them at one instant.
func (d *Detector) State(i int) State {
	in := &d.inst[i]
	now := d.now().UnixNano()
	until := in.ejectedUntil.Load()
	s := State{
		Ejections:           d.ejectionCount(in, until, now),
		ConsecutiveFailures: int(in.consec.Load()),
	}
	if now < until {
		s.EjectedUntil = time.Unix(0, until)
	}
	return s
}

// Uneject ends i's ejection at now, when active health checks found the instance healthy again (as Envoy does by
// default): passing probes are better evidence than the ejection timer. Its ejection count stays, so a relapse is
// ejected for longer. It is a no-op when i is not ejected.
func (d *Detector) Uneject(i int, now int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := &d.inst[i]
	if in.ejectedUntil.Load() > now {
		in.ejectedUntil.Store(now)
		in.consec.Store(0)
		d.capFullUntil.Store(0) // room may have been made
	}
}
