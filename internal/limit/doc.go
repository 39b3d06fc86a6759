// Package limit keeps one slow service from taking more than its share of the gateway: Limiter is a bulkhead (a cap
// on concurrent requests with a bounded, timed wait queue, like HAProxy's maxconn + queue) and Budget is a retry
// budget (retries may not exceed a fraction of recent requests, so retries never amplify an outage).
//
// Both run on every request, so their uncontended paths take no lock and allocate nothing.
//
// # Limiter
//
//   - Fast path: while a slot is free and nobody is queued, Acquire is two atomic loads and one compare-and-swap;
//     Release is one atomic add between two atomic loads.
//   - FIFO: when all Max slots are taken, callers queue in arrival order (up to Queue of them) and are served oldest
//     first. A caller that arrives while others are queued goes to the back of the queue, even if a slot has just
//     become free. The only exception is a narrow race: a caller that checked the queue an instant before the first
//     waiter joined it may still take a slot that is freed in that instant; no waiter is ever starved by it, because
//     every later Release serves the queue again.
//   - Direct hand-off: Release with a non-empty queue gives its slot to the oldest waiter (InUse stays the same) and
//     wakes only that waiter; there is no thundering herd and no window in which a newcomer can steal the slot.
//   - Leaving the queue: when a waiter's timeout expires (ErrQueueTimeout) or its ctx ends (ctx.Err()), it removes
//     itself from the queue under the queue lock. If a Release handed it the slot in the same instant, the waiter
//     notices under that lock and passes the slot on with Release before returning its error. So an Acquire that
//     returns an error never holds a slot, and a slot is never lost, whichever side wins the race.
//   - Why no wake-up is lost: waiters join the queue (and bump the atomic waiting count) under the lock and then
//     re-check for a free slot; Release frees its slot first and then reads the waiting count. Go's atomics are
//     sequentially consistent, so either the waiter sees the freed slot or Release sees the waiter and serves the
//     queue under the lock.
//
// # Budget
//
// Budget counts original requests (Request) and retries (TryRetry) in ten one-second buckets: the current second and
// the nine before it. Each bucket is two atomic words that carry the second they belong to in their upper 32 bits and
// a count in the lower 32, so a bucket from an older second is recognised and restarted without a lock.
//
// TryRetry allows a retry when, over that window,
//
//	retries + 1 <= ratio × requests + minPerSecond × 10
//
// For example with ratio 0.2 and minPerSecond 1, a service that saw 100 requests in the window may retry 20 + 10 = 30
// times in it; an idle service may still retry 10 times in any ten seconds. Retries are not counted as requests.
// The check and the count are two steps, so concurrent TryRetry calls can overshoot the limit by at most the number
// of callers racing; the budget is a brake on amplification, not an exact quota.
package limit
