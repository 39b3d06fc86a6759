// Package health runs active health checks against upstream instances and reports when one becomes healthy or
// unhealthy. It knows nothing about pools or balancers: the caller passes plain "host:port" targets and a Reporter
// (declared here, implemented by whoever owns the instances), so health and upstream never import each other.
package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Kind selects what a probe does.
type Kind uint8

const (
	// HTTP sends one request on a fresh connection and checks the status (and optionally the body).
	HTTP Kind = iota
	// TCP only connects and closes.
	TCP
)

func (k Kind) String() string {
	switch k {
	case HTTP:
		return "http"
	case TCP:
		return "tcp"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Check describes the probe for one service. Zero values take documented defaults.
type Check struct {
	Kind   Kind
	Method string // HTTP: default "GET"
	Path   string // HTTP: default "/"; a path without a leading "/" gets one
	Host   string // HTTP: Host header; default the target address
	// HTTP: expected status range, inclusive. StatusMin zero means 200; StatusMax zero means 399, or StatusMin if
	// that is higher (so StatusMin: 204 alone accepts 204..399 and StatusMin: 418 alone accepts exactly 418).
	StatusMin, StatusMax int
	BodyContains         string        // HTTP: optional substring the body must contain (read at most 64 KiB)
	Interval             time.Duration // default 5s
	// Each wait is Interval ± a random share of Jitter (default Interval/10; negative means none; at most
	// Interval/2), so probes of many instances spread out instead of firing together.
	Jitter  time.Duration
	Timeout time.Duration // per probe (connect, request and body), default 2s
	// Consecutive successes to become healthy / failures to become unhealthy; default 2 and 3.
	Rise, Fall int
}

// Defaults used for zero fields of Check.
const (
	DefaultInterval = 5 * time.Second
	DefaultTimeout  = 2 * time.Second
	DefaultRise     = 2
	DefaultFall     = 3
	// maxBody bounds how much of a response body a probe reads for BodyContains.
	maxBody = 64 << 10
	// userAgent identifies probes in upstream logs.
	userAgent = "fjord-health/1"
)

// withDefaults returns c with every zero field replaced by its documented default.
func (c Check) withDefaults() Check {
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	if c.Path == "" || c.Path[0] != '/' {
		c.Path = "/" + c.Path
	}
	if c.StatusMin <= 0 {
		c.StatusMin = 200
	}
	if c.StatusMax <= 0 {
		c.StatusMax = max(399, c.StatusMin)
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	switch {
	case c.Jitter == 0:
		c.Jitter = c.Interval / 10
	case c.Jitter < 0:
		c.Jitter = 0
	case c.Jitter > c.Interval/2:
		c.Jitter = c.Interval / 2 // a wait near zero would turn the loop into a probe storm
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Rise <= 0 {
		c.Rise = DefaultRise
	}
	if c.Fall <= 0 {
		c.Fall = DefaultFall
	}
	return c
}

// Result of one probe, kept for status pages.
type Result struct {
	At     time.Time     // when the probe started; zero if the target was never probed
	OK     bool          // the probe passed
	Err    string        // why it failed; empty when OK
	Status int           // HTTP status, 0 for TCP probes or when no response arrived
	Took   time.Duration // from start to verdict
}

// Reporter is told about state changes (only changes, not every probe). Called from the checker's goroutines,
// possibly for several targets at once; must not block for long. It is not told the start state.
type Reporter interface {
	SetHealthy(target int, healthy bool, why string)
}

// Options are the checker's injectable dependencies. The zero value is ready to use.
type Options struct {
	// StartUnhealthy makes targets start out of rotation until Rise probes pass. By default they start healthy,
	// so a reload does not drop traffic while the first probes run.
	StartUnhealthy bool
	Log            *slog.Logger     // nil = discard
	Now            func() time.Time // for tests; nil = time.Now
	// Rand supplies randomness for jitter; nil = math/rand/v2. The checker serializes its calls, so it need not
	// be safe for concurrent use. Run draws the first-probe delays in target order before starting any goroutine.
	Rand func() uint64
	// Dial opens probe connections (both kinds); nil = a net.Dialer. It must honour ctx's deadline.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Checker probes a fixed list of targets ("host:port") with one Check.
//
// Concurrency: Healthy and Last may be called from any goroutine at any time, also while Run runs. Run may run
// only once at a time; state (health, counters, last result) survives from one Run to the next.
type Checker struct {
	targets []string
	check   Check
	rep     Reporter
	log     *slog.Logger
	now     func() time.Time
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	client  *http.Client // HTTP probes only; nil for TCP

	randMu sync.Mutex // serializes rnd, which may not be safe for concurrent use
	rnd    func() uint64

	running atomic.Bool
	state   []targetState
}

// targetState is one target's health. healthy and last are read by any goroutine; ok and fail are touched only
// by the target's probe goroutine (or by tests driving step directly).
type targetState struct {
	healthy atomic.Bool
	last    atomic.Pointer[Result]
	ok      int // consecutive successes
	fail    int // consecutive failures
}

// New returns a checker for targets. It starts nothing; call Run. A nil Reporter means nobody is told about
// transitions (Healthy still reflects them).
func New(targets []string, c Check, r Reporter, opts Options) *Checker {
	ch := &Checker{
		targets: append([]string(nil), targets...),
		check:   c.withDefaults(),
		rep:     r,
		log:     opts.Log,
		now:     opts.Now,
		rnd:     opts.Rand,
		dial:    opts.Dial,
		state:   make([]targetState, len(targets)),
	}
	if ch.log == nil {
		ch.log = slog.New(slog.DiscardHandler)
	}
	if ch.now == nil {
		ch.now = time.Now
	}
	if ch.rnd == nil {
		ch.rnd = rand.Uint64
	}
	if ch.dial == nil {
		d := &net.Dialer{}
		ch.dial = d.DialContext
	}
	for i := range ch.state {
		ch.state[i].healthy.Store(!opts.StartUnhealthy)
	}
	if ch.check.Kind == HTTP {
		ch.client = newClient(ch.dial)
	}
	return ch
}

// ErrRunning is returned by Run when another Run of the same checker has not returned yet.
var ErrRunning = errors.New("health: checker already running")

// Run probes every target until ctx is done (one goroutine per target, all joined before Run returns). The first
// probe of each target happens after a random share of one Interval, spreading the start. Each later probe waits
// Interval ± jitter after the previous one finished. Run blocks; it returns nil once ctx is done, or ErrRunning.
func (c *Checker) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer c.running.Store(false)

	first := make([]time.Duration, len(c.targets))
	for i := range first {
		first[i] = c.firstDelay()
	}
	var wg sync.WaitGroup
	for i := range c.targets {
		wg.Go(func() { c.loop(ctx, i, first[i]) })
	}
	wg.Wait()
	return nil
}

// loop probes target i until ctx is done.
func (c *Checker) loop(ctx context.Context, i int, wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.step(ctx, i)
		if ctx.Err() != nil {
			return // a probe cut short by shutdown is not a real failure; step already ignored it
		}
		t.Reset(c.nextDelay())
	}
}

// firstDelay is a uniformly random share of one Interval, in [0, Interval).
func (c *Checker) firstDelay() time.Duration {
	return time.Duration(c.rand() % uint64(c.check.Interval))
}

// nextDelay is Interval plus a uniformly random offset in [-Jitter, +Jitter], never below zero.
func (c *Checker) nextDelay() time.Duration {
	j := c.check.Jitter
	if j <= 0 {
		return c.check.Interval
	}
	off := time.Duration(c.rand()%uint64(2*j+1)) - j
	return max(c.check.Interval+off, 0)
}

func (c *Checker) rand() uint64 {
	c.randMu.Lock()
	defer c.randMu.Unlock()
	return c.rnd()
}

// Healthy reports whether target (an index into New's targets; out of range panics) is currently in rotation.
// It never blocks.
func (c *Checker) Healthy(target int) bool { return c.state[target].healthy.Load() }

// Last returns the latest probe result of target; the zero Result if it was never probed. It never blocks.
func (c *Checker) Last(target int) Result {
	if r := c.state[target].last.Load(); r != nil {
		return *r
	}
	return Result{}
}

// step runs one probe of target i and applies its verdict. A probe aborted because ctx is done changes nothing.
func (c *Checker) step(ctx context.Context, i int) {
	res := c.probe(ctx, c.targets[i])
	if ctx.Err() != nil {
		return
	}
	st := &c.state[i]
	st.last.Store(&res)
	if res.OK {
		st.ok++
		st.fail = 0
		if !st.healthy.Load() && st.ok >= c.check.Rise {
			c.transition(i, true, fmt.Sprintf("after %d successful %s", st.ok, checks(st.ok)))
		}
		return
	}
	st.fail++
	st.ok = 0
	if st.healthy.Load() && st.fail >= c.check.Fall {
		c.transition(i, false, fmt.Sprintf("after %d failed %s: %s", st.fail, checks(st.fail), res.Err))
	}
}

func checks(n int) string {
	if n == 1 {
		return "check"
	}
	return "checks"
}

// transition flips target i's state, logs one line and tells the Reporter.
func (c *Checker) transition(i int, healthy bool, why string) {
	c.state[i].healthy.Store(healthy)
	target := c.targets[i]
	if healthy {
		c.log.Info(fmt.Sprintf("health: %s is UP %s", target, why), "target", target, "healthy", true)
	} else {
		c.log.Warn(fmt.Sprintf("health: %s is DOWN %s", target, why), "target", target, "healthy", false)
	}
	if c.rep != nil {
		c.rep.SetHealthy(i, healthy, why)
	}
}
