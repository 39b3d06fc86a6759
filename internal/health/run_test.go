package health

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// startRun runs c in the background and returns a stop function that cancels it and waits for Run to return.
func startRun(t *testing.T, c *Checker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil after cancel", err)
			}
		case <-time.After(waitLimit):
			t.Fatal("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

// fast is a check that probes every 10 ms without jitter, so Run tests finish quickly.
var fast = Check{Interval: 10 * time.Millisecond, Jitter: -1, Timeout: time.Second}

// TestRunReportsOnlyTransitions flips a server while Run probes it and expects exactly one report per flip, however
// many probes run in between.
func TestRunReportsOnlyTransitions(t *testing.T) {
	srv := newFlipServer(t, 200)
	rec := newRecorder()
	check := fast
	check.Rise, check.Fall = 2, 3
	c := New([]string{srv.addr()}, check, rec, Options{})
	startRun(t, c)

	srv.waitHits(t, 5) // healthy server, healthy start: nothing to report
	if got := rec.drain(); len(got) != 0 {
		t.Fatalf("reports while steady: %v", got)
	}
	srv.status.Store(503)
	if r := rec.next(t); r.healthy || r.target != 0 || r.why != "after 3 failed checks: status 503 (want 200-399)" {
		t.Fatalf("report = %+v, want DOWN after 3 failed checks", r)
	}
	srv.waitHits(t, 5)
	if got := rec.drain(); len(got) != 0 || c.Healthy(0) {
		t.Fatalf("reports while down: %v, Healthy = %v", got, c.Healthy(0))
	}
	if res := c.Last(0); res.OK || res.Status != 503 {
		t.Fatalf("Last = %+v, want the failed 503", res)
	}
	srv.status.Store(200)
	if r := rec.next(t); !r.healthy || r.why != "after 2 successful checks" {
		t.Fatalf("report = %+v, want UP after 2 successful checks", r)
	}
	srv.waitHits(t, 5)
	if got := rec.drain(); len(got) != 0 || !c.Healthy(0) {
		t.Fatalf("reports while up again: %v, Healthy = %v", got, c.Healthy(0))
	}
}

// TestRunStartUnhealthy expects a target that starts unhealthy to come up through Run after Rise probes.
func TestRunStartUnhealthy(t *testing.T) {
	srv := newFlipServer(t, 200)
	rec := newRecorder()
	check := fast
	check.Rise = 3
	c := New([]string{srv.addr()}, check, rec, Options{StartUnhealthy: true})
	if c.Healthy(0) {
		t.Fatal("Healthy before any probe with StartUnhealthy")
	}
	startRun(t, c)
	if r := rec.next(t); !r.healthy || r.why != "after 3 successful checks" {
		t.Fatalf("report = %+v, want UP after 3 successful checks", r)
	}
	if !c.Healthy(0) {
		t.Fatal("reported UP but Healthy = false")
	}
}

// TestRunSpreadsFirstProbes gives the first target a zero start delay and the second almost a whole (long)
// Interval: the first must be probed and the second not.
func TestRunSpreadsFirstProbes(t *testing.T) {
	now, later := newFlipServer(t, 200), newFlipServer(t, 200)
	check := Check{Interval: time.Hour, Jitter: -1}
	c := New([]string{now.addr(), later.addr()}, check, nil,
		Options{Rand: seqRand(uint64(time.Hour), uint64(time.Hour-1))}) // shares 0 and Interval-1ns
	stop := startRun(t, c)
	now.waitHits(t, 1)
	stop()
	if n := later.count.Load(); n != 0 {
		t.Fatalf("second target probed %d times, want 0 before its delay", n)
	}
	if c.Last(1) != (Result{}) {
		t.Fatalf("Last of unprobed target = %+v, want zero", c.Last(1))
	}
}

// TestRunStops checks that Run returns promptly on cancel, even mid-probe, leaves no goroutine behind, refuses a
// second concurrent Run, and that an aborted probe does not count as a failure.
func TestRunStops(t *testing.T) {
	srv := newFlipServer(t, 503)
	srv2 := newFlipServer(t, 503)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	check := fast
	check.Fall = 1
	c := New([]string{srv.addr(), srv2.addr()}, check, nil, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	srv.waitHits(t, 2)
	srv2.waitHits(t, 2)
	if err := c.Run(ctx); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after cancel")
	}
	if c.Healthy(0) || c.Healthy(1) {
		t.Fatal("targets still healthy after failing probes with Fall 1")
	}

	// A probe cut short by cancel must not change the state.
	ok := New([]string{srv.addr()}, Check{Fall: 1}, nil, Options{})
	stopped, stopNow := context.WithCancel(context.Background())
	stopNow()
	ok.step(stopped, 0)
	if !ok.Healthy(0) || ok.Last(0) != (Result{}) {
		t.Fatalf("aborted probe changed state: Healthy = %v, Last = %+v", ok.Healthy(0), ok.Last(0))
	}
}
