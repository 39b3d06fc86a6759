// Package canary holds the runtime state of a weighted canary: the share of a route's requests that go to the new
// service (changed at runtime without a reload), the guard rails that roll it back when the new service does worse
// than the old one, and an optional step-up schedule.
//
// The request path calls Choose and Observe only: atomics, no lock, no allocation. A guard goroutine (Run) reads
// windowed counters, rolls back or steps up, and is restarted by the owner on every reload; the Canary itself
// outlives reloads of its route, so its weight and rolled-back flag do too.
package canary

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Scale is the resolution of a weight: weights are in basis points, 0..Scale (10000 = 100%).
const Scale = 10000

// Arm indexes the two sides of a canary.
const (
	ArmOld = 0 // the route's own service
	ArmNew = 1 // the canary service
)

// Guard says when the new service is doing worse than the old one. A zero field disables that check.
type Guard struct {
	// MaxErrorRate is how much higher the new service's share of 5xx answers may be than the old one's, as a
	// fraction (0.05: five percentage points).
	MaxErrorRate float64
	// MaxP99Ratio is how many times the old service's p99 latency the new one's may reach (1.5: 50% slower).
	MaxP99Ratio float64
	// MinRequests is how many requests the new service must have answered within Window before the guard judges
	// (and, for the p99 check, the old service too).
	MinRequests int
	// Window is the span the counters cover; they slide in tenths of it, so a breach is seen within a tenth of
	// Window after enough failing requests arrived.
	Window time.Duration
}

// Options configure a Canary; they may change on a reload (SetOptions) without touching the runtime state.
type Options struct {
	Route, Old, New string // names, for logs and status
	Guard           Guard
	// Steps, when not empty, are weights (basis points, increasing) the canary steps through, one per
	// StepInterval, while the guard holds and the new service got at least MinRequests in the window.
	Steps        []int
	StepInterval time.Duration
	Log          *slog.Logger
}

// Canary is the shared state of one canary route. Safe for concurrent use.
type Canary struct {
	weight     atomic.Int32 // basis points of requests sent to New
	rolledBack atomic.Bool
	totals     [2]atomic.Uint64 // requests observed per arm since creation (the migration map)
	win        window

	mu       sync.Mutex // guards the fields below (slow path only)
	opts     Options
	reason   string    // why the last rollback happened
	lastStep time.Time // when the weight last changed by a step
	changed  time.Time // when the weight last changed for any reason
}

// New returns a canary at weight (basis points; clamped to 0..Scale).
func New(weight int, opts Options) *Canary {
	c := &Canary{opts: opts, changed: time.Now(), lastStep: time.Now()}
	c.weight.Store(int32(clamp(weight)))
	return c
}

func clamp(w int) int { return max(0, min(Scale, w)) }

// SetOptions replaces the guard, schedule and names (a reload); weight and rollback state stay.
func (c *Canary) SetOptions(opts Options) {
	c.mu.Lock()
	c.opts = opts
	c.mu.Unlock()
}

// Choose reports whether a request with the given key goes to the new service. The same key always lands in the
// same bucket, so a sticky key sees one side until the weight moves past its bucket. No lock, no allocation.
func (c *Canary) Choose(key uint64) bool {
	return int32(bucket(key)) < c.weight.Load()
}

// bucket maps a key to 0..Scale-1 after mixing it (splitmix64's finalizer), so that keys that differ only in a
// few bits, such as counters or neighbouring addresses, spread evenly.
func bucket(key uint64) uint64 {
	key ^= key >> 30
	key *= 0xbf58476d1ce4e5b9
	key ^= key >> 27
	key *= 0x94d049bb133111eb
	key ^= key >> 31
	return key % Scale
}

// Observe counts a finished request of arm (ArmOld or ArmNew): its status (5xx counts as an error) and latency.
func (c *Canary) Observe(arm, status int, d time.Duration) {
	c.totals[arm].Add(1)
	c.win.observe(arm, status >= 500, d)
}

// Weight is the current share of the new service in basis points.
func (c *Canary) Weight() int { return int(c.weight.Load()) }

// SetWeight sets the share by hand (the admin API). A positive weight clears a rollback: the operator resumes the
// canary; the step schedule continues from the first step above the new weight.
func (c *Canary) SetWeight(w int) {
	w = clamp(w)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.weight.Store(int32(w))
	now := time.Now()
	c.changed, c.lastStep = now, now
	if w > 0 && c.rolledBack.Load() {
		c.rolledBack.Store(false)
		c.reason = ""
		c.win.clear() // the failures that caused the rollback must not trip the guard again at once
	}
	c.log().Info("canary weight set", "route", c.opts.Route, "service", c.opts.New, "weight", Percent(w))
}

func (c *Canary) log() *slog.Logger {
	if c.opts.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.opts.Log
}

// Percent formats basis points as a percentage ("5%", "0.5%").
func Percent(bp int) string {
	if bp%100 == 0 {
		return fmt.Sprintf("%d%%", bp/100)
	}
	return fmt.Sprintf("%g%%", float64(bp)/100)
}

// Arm is one side's counters in a State.
type Arm struct {
	Service    string  `json:"service"`
	Requests   uint64  `json:"requests"`           // since the canary was created
	WindowReqs uint64  `json:"window_requests"`    // within the guard window
	WindowErrs uint64  `json:"window_errors"`      // 5xx within the window
	ErrorRate  float64 `json:"window_error_rate"`  // WindowErrs / WindowReqs
	P99Seconds float64 `json:"window_p99_seconds"` // estimated from a histogram; 0 without requests
}

// State is a snapshot for status pages.
type State struct {
	Weight     int       `json:"weight_bp"` // basis points of requests sent to the new service
	Percent    string    `json:"weight"`
	RolledBack bool      `json:"rolled_back"`
	Reason     string    `json:"reason,omitempty"` // why it was rolled back
	Changed    time.Time `json:"changed"`
	Steps      []int     `json:"steps_bp,omitempty"`
	Old        Arm       `json:"old"`
	New        Arm       `json:"new"`
}

// State reads the canary's state.
func (c *Canary) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.Weight()
	st := State{Weight: w, Percent: Percent(w), RolledBack: c.rolledBack.Load(), Reason: c.reason,
		Changed: c.changed, Steps: c.opts.Steps}
	sums := c.win.sum()
	st.Old = sums[ArmOld].arm(c.opts.Old, c.totals[ArmOld].Load())
	st.New = sums[ArmNew].arm(c.opts.New, c.totals[ArmNew].Load())
	return st
}

// SetLog sets the logger of rollbacks, steps and weight changes.
func (c *Canary) SetLog(log *slog.Logger) {
	c.mu.Lock()
	c.opts.Log = log
	c.mu.Unlock()
}
