package limit

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCtx bounds every blocking call in a test so a bug fails the test instead of hanging it.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor spins (yielding, not sleeping) until cond holds; there is no event to wait on for "a goroutine is now
// parked in the queue", so the observable Waiting count is polled.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func mustAcquire(t *testing.T, l *Limiter) {
	t.Helper()
	if err := l.Acquire(testCtx(t), 0); err != nil {
		t.Fatalf("Acquire: %v", err)
	}
}

func checkIdle(t *testing.T, l *Limiter) {
	t.Helper()
	if l.InUse() != 0 || l.Waiting() != 0 {
		t.Fatalf("InUse=%d Waiting=%d, want 0 and 0", l.InUse(), l.Waiting())
	}
}

func TestUnlimited(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    *Limiter
	}{
		{"max 0", NewLimiter(0, 0)},
		{"max negative", NewLimiter(-3, 5)},
		{"zero value", &Limiter{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 1000
			for range n {
				if err := tc.l.Acquire(context.Background(), time.Nanosecond); err != nil {
					t.Fatalf("Acquire: %v", err)
				}
			}
			if tc.l.InUse() != n || tc.l.Max() != 0 {
				t.Fatalf("InUse=%d Max=%d, want %d and 0", tc.l.InUse(), tc.l.Max(), n)
			}
			for range n {
				tc.l.Release()
			}
			checkIdle(t, tc.l)
		})
	}
}

func TestExactCap(t *testing.T) {
	for _, max := range []int{1, 4, 15} {
		t.Run("max="+strconv.Itoa(max), func(t *testing.T) {
			const goroutines, iters = 16, 200
			l := NewLimiter(max, goroutines)
			ctx := testCtx(t)
			var cur, peak atomic.Int64
			reached := make(chan struct{})
			var once sync.Once
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range iters {
						if err := l.Acquire(ctx, 0); err != nil {
							t.Errorf("goroutine %d: Acquire: %v", g, err)
							return
						}
						n := cur.Add(1)
						for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
						}
						if n == int64(max) {
							once.Do(func() { close(reached) })
						}
						if i == 0 {
							// Hold the first slot until the cap is reached once, so the peak is deterministic.
							select {
							case <-reached:
							case <-ctx.Done():
							}
						}
						runtime.Gosched()
						cur.Add(-1)
						l.Release()
					}
				})
			}
			wg.Wait()
			if got := peak.Load(); got != int64(max) {
				t.Fatalf("peak concurrency %d, want %d", got, max)
			}
			checkIdle(t, l)
		})
	}
}

func TestFIFO(t *testing.T) {
	const n = 8
	l := NewLimiter(1, n)
	ctx := testCtx(t)
	mustAcquire(t, l)
	got := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := l.Acquire(ctx, 0); err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			got <- i
			l.Release() // hands the slot to the next waiter in line
		})
		waitFor(t, "waiter to queue", func() bool { return l.Waiting() == i+1 })
	}
	l.Release()
	wg.Wait()
	close(got)
	want := 0
	for i := range got {
		if i != want {
			t.Fatalf("waiter %d served in position %d", i, want)
		}
		want++
	}
	if want != n {
		t.Fatalf("%d waiters served, want %d", want, n)
	}
	checkIdle(t, l)
}

func TestQueueFull(t *testing.T) {
	for _, tc := range []struct {
		name         string
		queue, fill  int
		wantWaiting0 int
	}{
		{"queue 0", 0, 0, 0},
		{"queue 1 full", 1, 1, 1},
		{"queue 3 full", 3, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLimiter(1, tc.queue)
			ctx, cancel := context.WithCancel(testCtx(t))
			mustAcquire(t, l)
			var wg sync.WaitGroup
			for range tc.fill {
				wg.Go(func() {
					if err := l.Acquire(ctx, 0); !errors.Is(err, context.Canceled) {
						t.Errorf("filler: %v, want context.Canceled", err)
					}
				})
			}
			waitFor(t, "queue to fill", func() bool { return l.Waiting() == tc.fill })
			// No timeout and a live ctx: only an immediate ErrQueueFull lets this return.
			if err := l.Acquire(ctx, 0); !errors.Is(err, ErrQueueFull) {
				t.Fatalf("Acquire on full queue: %v, want ErrQueueFull", err)
			}
			if l.Waiting() != tc.fill || l.InUse() != 1 {
				t.Fatalf("InUse=%d Waiting=%d after rejection", l.InUse(), l.Waiting())
			}
			cancel()
			wg.Wait()
			l.Release()
			checkIdle(t, l)
		})
	}
}

func TestQueueTimeout(t *testing.T) {
	l := NewLimiter(1, 4)
	mustAcquire(t, l)
	if err := l.Acquire(testCtx(t), time.Millisecond); !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("Acquire: %v, want ErrQueueTimeout", err)
	}
	if l.InUse() != 1 || l.Waiting() != 0 {
		t.Fatalf("InUse=%d Waiting=%d, want 1 and 0", l.InUse(), l.Waiting())
	}
	l.Release()
	checkIdle(t, l)
}

func TestCancelWhileQueued(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func(context.Context) (context.Context, context.CancelFunc)
		// cancel: the test cancels once the waiter is queued; otherwise the ctx deadline ends the wait.
		cancel bool
		want   error
	}{
		{"cancel", context.WithCancel, true, context.Canceled},
		{"deadline", func(p context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(p, time.Millisecond)
		}, false, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLimiter(1, 4)
			mustAcquire(t, l)
			ctx, cancel := tc.ctx(testCtx(t))
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- l.Acquire(ctx, 0) }()
			if tc.cancel {
				waitFor(t, "waiter to queue", func() bool { return l.Waiting() == 1 })
				cancel()
			}
			if err := <-errc; !errors.Is(err, tc.want) {
				t.Fatalf("Acquire: %v, want %v", err, tc.want)
			}
			if l.Waiting() != 0 || l.InUse() != 1 {
				t.Fatalf("InUse=%d Waiting=%d, want 1 and 0", l.InUse(), l.Waiting())
			}
			l.Release()
			checkIdle(t, l)
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		l := NewLimiter(1, 4)
		mustAcquire(t, l)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Acquire(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire: %v, want context.Canceled", err)
		}
		l.Release()
		checkIdle(t, l)
	})
}

func TestReleaseHandsOff(t *testing.T) {
	l := NewLimiter(1, 4)
	ctx := testCtx(t)
	mustAcquire(t, l)
	errc := make(chan error, 1)
	go func() { errc <- l.Acquire(ctx, 0) }()
	waitFor(t, "waiter to queue", func() bool { return l.Waiting() == 1 })
	l.Release()
	// The hand-off happens inside Release: the slot never becomes free, so a newcomer cannot take it.
	if l.InUse() != 1 || l.Waiting() != 0 {
		t.Fatalf("after Release: InUse=%d Waiting=%d, want 1 and 0", l.InUse(), l.Waiting())
	}
	if err := l.Acquire(ctx, time.Millisecond); !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("newcomer: %v, want ErrQueueTimeout (slot belongs to the waiter)", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	l.Release()
	checkIdle(t, l)
}

// TestNoLeakMixed races acquires, releases, timeouts and cancellations against each other and checks the books
// balance afterwards and the cap held throughout.
func TestNoLeakMixed(t *testing.T) {
	const goroutines, ops, max = 16, 10000 / 16, 3
	l := NewLimiter(max, 6)
	var cur, over atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for range ops {
				ctx, cancel := context.WithCancel(context.Background())
				var timeout time.Duration
				switch rng.IntN(4) {
				case 0:
					go cancel() // races the cancellation with hand-offs
				case 1:
					timeout = time.Duration(rng.IntN(50)) * time.Microsecond
				case 2:
					timeout = time.Second
				}
				err := l.Acquire(ctx, timeout)
				if err == nil {
					if cur.Add(1) > max {
						over.Add(1)
					}
					if rng.IntN(2) == 0 {
						runtime.Gosched()
					}
					cur.Add(-1)
					l.Release()
				} else if !errors.Is(err, ErrQueueFull) && !errors.Is(err, ErrQueueTimeout) &&
					!errors.Is(err, context.Canceled) {
					t.Errorf("Acquire: unexpected %v", err)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	if over.Load() != 0 {
		t.Fatalf("cap exceeded %d times", over.Load())
	}
	checkIdle(t, l)
	// Every slot is really free: Max acquires succeed without queueing.
	for range max {
		if err := l.Acquire(context.Background(), time.Nanosecond); err != nil {
			t.Fatalf("slot leaked: %v", err)
		}
	}
	for range max {
		l.Release()
	}
	checkIdle(t, l)
}

func TestReleaseWithoutAcquirePanics(t *testing.T) {
	for _, l := range []*Limiter{NewLimiter(0, 0), NewLimiter(2, 0)} {
		t.Run("max="+strconv.Itoa(l.Max()), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Release without Acquire did not panic")
				}
			}()
			l.Release()
		})
	}
}
