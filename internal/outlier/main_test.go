package outlier

import (
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

// start is an arbitrary fixed instant, far from the zero and unix-epoch values the Detector could confuse it with.
var start = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(start.UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) unix() int64             { return c.ns.Load() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// failN reports n failures for instance i and returns how many of them ejected it.
func failN(d *Detector, i, n int) int {
	ejections := 0
	for range n {
		if d.Result(i, false) {
			ejections++
		}
	}
	return ejections
}

// ejectedCount returns how many instances are ejected at the clock's time.
func ejectedCount(d *Detector, now int64) int {
	n := 0
	for i := range d.Len() {
		if d.Ejected(i, now) {
			n++
		}
	}
	return n
}

// cfg is a Config with short, readable durations for the tests.
func cfg(threshold, pct int) Config {
	return Config{ConsecutiveFailures: threshold, BaseEjection: time.Second, MaxEjection: 10 * time.Second,
		MaxEjectedPercent: pct}
}
