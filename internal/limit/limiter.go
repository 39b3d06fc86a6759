package limit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by Limiter.Acquire. They map to 503 at the proxy's error handler.
var (
	ErrQueueFull    = errors.New("limit: queue full")
	ErrQueueTimeout = errors.New("limit: queue timeout")
)

// Limiter caps concurrent holders at Max; up to Queue callers wait (FIFO) for a slot for at most their timeout.
// Max <= 0 means unlimited: Acquire always succeeds at once with one atomic add (InUse still counts holders).
//
// All methods are safe for concurrent use. Build one with NewLimiter; the zero value is an unlimited Limiter.
// Every successful Acquire must be matched by exactly one Release.
type Limiter struct {
	max   int64 // immutable after NewLimiter
	queue int   // immutable after NewLimiter

	inUse   atomic.Int64 // holders now; only grows by CAS below max (or freely when unlimited)
	waiting atomic.Int64 // queue length; changed only under mu, read without it on the fast paths

	mu         sync.Mutex // guards the queue and each queued waiter's granted flag
	head, tail *waiter

	pool sync.Pool // *waiter, so a busy queue does not allocate per request
}

// waiter is one queued Acquire. ready (capacity 1) receives exactly one value when the slot is granted.
type waiter struct {
	ready      chan struct{}
	timer      *time.Timer // stopped while the waiter is in the pool
	prev, next *waiter
	granted    bool // set under Limiter.mu when popped off the queue with a slot
}

// NewLimiter returns a Limiter with max slots and room for queue waiters. max <= 0 means unlimited; queue < 0 is 0.
func NewLimiter(max, queue int) *Limiter {
	if max < 0 {
		max = 0
	}
	if queue < 0 {
		queue = 0
	}
	return &Limiter{max: int64(max), queue: queue}
}

// Max returns the slot count; 0 means unlimited.
func (l *Limiter) Max() int { return int(l.max) }

// InUse returns how many callers hold a slot now.
func (l *Limiter) InUse() int { return int(l.inUse.Load()) }

// Waiting returns how many callers are queued now.
func (l *Limiter) Waiting() int { return int(l.waiting.Load()) }

// Acquire takes a slot, waiting up to timeout in the queue when all slots are taken; timeout <= 0 waits until ctx
// ends. It returns ErrQueueFull at once when the queue is full (or Queue is 0), ErrQueueTimeout when the wait
// expired, and ctx.Err() when ctx ended while queued (or had ended before queueing). On any error the caller holds
// no slot and must not call Release.
//
// Fast path (a free slot, empty queue): no lock, no allocation, ctx is not consulted. The waiting path locks and
// reuses pooled waiters (with their timers), so a steady queue does not allocate either.
func (l *Limiter) Acquire(ctx context.Context, timeout time.Duration) error {
	if l.max <= 0 {
		l.inUse.Add(1)
		return nil
	}
	for {
		cur := l.inUse.Load()
		if cur >= l.max || l.waiting.Load() != 0 {
			break
		}
		if l.inUse.CompareAndSwap(cur, cur+1) {
			return nil
		}
	}
	return l.acquireSlow(ctx, timeout)
}

// TryAcquire takes a slot only when one is free and nobody is queued, never waiting. It is Acquire's fast path,
// for callers that must not block (an event loop hands the request to a goroutine that may wait instead).
func (l *Limiter) TryAcquire() bool {
	if l.max <= 0 {
		l.inUse.Add(1)
		return true
	}
	for {
		cur := l.inUse.Load()
		if cur >= l.max || l.waiting.Load() != 0 {
			return false
		}
		if l.inUse.CompareAndSwap(cur, cur+1) {
			return true
		}
	}
}

// acquireSlow queues the caller, unless a slot came free meanwhile or the queue is full.
func (l *Limiter) acquireSlow(ctx context.Context, timeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := l.getWaiter()
	l.mu.Lock()
	if l.head == nil && l.tryTake() {
		l.mu.Unlock()
		l.putWaiter(w)
		return nil
	}
	if int(l.waiting.Load()) >= l.queue {
		l.mu.Unlock()
		l.putWaiter(w)
		return ErrQueueFull
	}
	l.push(w)
	// A Release may have freed a slot after our check above but before it could see us queued; serve the queue
	// (oldest first, which may be us) so that slot is not stranded.
	l.grantFree()
	granted := w.granted
	l.mu.Unlock()
	if granted {
		l.putWaiter(w)
		return nil
	}
	return l.wait(ctx, w, timeout)
}

// wait blocks until w is granted a slot, its timeout expires or ctx ends.
func (l *Limiter) wait(ctx context.Context, w *waiter, timeout time.Duration) error {
	var expired <-chan time.Time
	if timeout > 0 {
		w.timer.Reset(timeout)
		expired = w.timer.C
	}
	var err error
	select {
	case <-w.ready:
		l.putWaiter(w)
		return nil
	case <-expired:
		err = ErrQueueTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	l.mu.Lock()
	if w.granted {
		// A Release handed us the slot while we were giving up: pass it on rather than leak it.
		l.mu.Unlock()
		l.putWaiter(w)
		l.Release()
		return err
	}
	l.remove(w)
	l.mu.Unlock()
	l.putWaiter(w)
	return err
}

// Release frees a slot, handing it directly to the oldest waiter if there is one. Release never blocks on a waiter.
// Calling Release without a matching successful Acquire is a bug and panics when it drives InUse below zero.
func (l *Limiter) Release() {
	if l.max <= 0 || l.waiting.Load() == 0 {
		if l.inUse.Add(-1) < 0 {
			panic("limit: Release without Acquire")
		}
		// Re-check after freeing: a caller may have queued after our first look, having seen no free slot.
		if l.max <= 0 || l.waiting.Load() == 0 {
			return
		}
		l.mu.Lock()
		l.grantFree()
		l.mu.Unlock()
		return
	}
	l.mu.Lock()
	if w := l.head; w != nil {
		l.remove(w)
		l.grant(w) // the slot moves to w; InUse is unchanged
	} else if l.inUse.Add(-1) < 0 {
		l.mu.Unlock()
		panic("limit: Release without Acquire")
	}
	l.mu.Unlock()
}

// tryTake claims a free slot with a CAS. It reports whether it did.
func (l *Limiter) tryTake() bool {
	for {
		cur := l.inUse.Load()
		if cur >= l.max {
			return false
		}
		if l.inUse.CompareAndSwap(cur, cur+1) {
			return true
		}
	}
}

// grantFree hands free slots to queued waiters, oldest first. Called with mu held.
func (l *Limiter) grantFree() {
	for l.head != nil && l.tryTake() {
		w := l.head
		l.remove(w)
		l.grant(w)
	}
}

// grant marks w as owning a slot and wakes it. Called with mu held, after w left the queue.
func (l *Limiter) grant(w *waiter) {
	w.granted = true
	w.ready <- struct{}{} // capacity 1 and granted once: never blocks
}

// push appends w to the queue. Called with mu held.
func (l *Limiter) push(w *waiter) {
	w.prev = l.tail
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.waiting.Add(1)
}

// remove unlinks w from the queue. Called with mu held, only for a waiter that is queued.
func (l *Limiter) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
	l.waiting.Add(-1)
}

func (l *Limiter) getWaiter() *waiter {
	if w, ok := l.pool.Get().(*waiter); ok {
		return w
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &waiter{ready: make(chan struct{}, 1), timer: t}
}

// putWaiter resets w for reuse. w must be out of the queue; a wake-up it never consumed (granted while giving up)
// is drained here.
func (l *Limiter) putWaiter(w *waiter) {
	// Since Go 1.23 Stop guarantees no stale value is received from timer.C afterwards.
	w.timer.Stop()
	select {
	case <-w.ready:
	default:
	}
	w.granted = false
	l.pool.Put(w)
}
