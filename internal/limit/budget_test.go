package limit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock; safe for concurrent reads.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// retries counts how many TryRetry calls succeed in a row, up to limit.
func retries(b *Budget, limit int) int {
	n := 0
	for n < limit && b.TryRetry() {
		n++
	}
	return n
}

func TestBudgetAllowance(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ratio    float64
		min      int
		requests int
		want     int
	}{
		{"ratio only", 0.2, 0, 100, 20},
		{"ratio rounds down", 0.2, 0, 14, 2},
		{"min only, quiet service", 0.2, 1, 0, 10},
		{"ratio plus min", 0.2, 1, 100, 30},
		{"ratio 1", 1, 0, 7, 7},
		{"zero budget", 0, 0, 1000, 0},
		{"negative args are zero", -1, -5, 1000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			b := NewBudget(tc.ratio, tc.min, clk.Now)
			for range tc.requests {
				b.Request()
			}
			if got := retries(b, 10000); got != tc.want {
				t.Fatalf("allowed %d retries, want %d", got, tc.want)
			}
		})
	}
}

func TestBudgetNil(t *testing.T) {
	var b *Budget
	b.Request()
	if b.TryRetry() {
		t.Fatal("nil budget allowed a retry")
	}
}

func TestBudgetWindowSlides(t *testing.T) {
	clk := newFakeClock()
	b := NewBudget(0.5, 0, clk.Now)
	for range 20 {
		b.Request()
	}
	// 9 s later the requests are still in the window (the current second and the nine before it).
	clk.Advance(9 * time.Second)
	if got := retries(b, 100); got != 10 {
		t.Fatalf("at +9s: allowed %d, want 10", got)
	}
	// At +10s the requests (counted at +0s) have left the window; the 10 retries counted at +9s have not, so
	// nothing is allowed.
	clk.Advance(time.Second)
	if got := retries(b, 100); got != 0 {
		t.Fatalf("at +10s: allowed %d, want 0", got)
	}
	// New requests earn budget, but the retries at +9s still count against it until +19s.
	for range 30 {
		b.Request()
	}
	if got := retries(b, 100); got != 5 {
		t.Fatalf("at +10s with 30 new requests: allowed %d, want 15-10=5", got)
	}
	clk.Advance(9 * time.Second) // +19s: the +9s retries are gone; the +10s requests and retries stay
	if got := retries(b, 100); got != 10 {
		t.Fatalf("at +19s: allowed %d, want 15-5=10", got)
	}
	clk.Advance(10 * time.Second) // +29s: everything before +20s is gone
	for range 4 {
		b.Request()
	}
	if got := retries(b, 100); got != 2 {
		t.Fatalf("at +29s: allowed %d, want 2", got)
	}
}

// TestBudgetBucketReuse checks a bucket left over from a full window ago is restarted, not added to.
func TestBudgetBucketReuse(t *testing.T) {
	clk := newFakeClock()
	b := NewBudget(1, 0, clk.Now)
	for range 50 {
		b.Request()
	}
	clk.Advance(window * time.Second) // same bucket index, new second
	b.Request()
	if got := retries(b, 100); got != 1 {
		t.Fatalf("allowed %d, want 1", got)
	}
}

func TestBudgetClockBackwards(t *testing.T) {
	clk := newFakeClock()
	b := NewBudget(1, 0, clk.Now)
	for range 10 {
		b.Request()
	}
	clk.Advance(-time.Minute)
	// Buckets "from the future" are ignored rather than counted or trusted.
	if got := retries(b, 100); got != 0 {
		t.Fatalf("allowed %d, want 0", got)
	}
}

func TestBudgetConcurrent(t *testing.T) {
	clk := newFakeClock()
	b := NewBudget(0.1, 0, clk.Now)
	const goroutines, per = 8, 1000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range per {
				b.Request()
			}
		})
	}
	wg.Wait()
	var allowed atomic.Int64
	for range goroutines {
		wg.Go(func() {
			for range per {
				if b.TryRetry() {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	// Check-then-count may overshoot by at most the number of racing callers.
	if got := allowed.Load(); got < 800 || got > 800+goroutines {
		t.Fatalf("allowed %d retries, want 800..%d", got, 800+goroutines)
	}
}
