package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/health"
	"github.com/fjord-gw/fjord/internal/limit"
	"github.com/fjord-gw/fjord/internal/outlier"
	"github.com/fjord-gw/fjord/internal/proxy"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// serviceState is what a reload may carry over from the running config for one service, so that a reload that
// does not touch a service keeps its ejections, its in-flight count against the limit, its retry budget and its
// health checker.
type serviceState struct {
	instances []*upstream.Instance
	outlier   outlier.Config
	limiter   *limit.Limiter
	limits    config.Limits
	budget    *limit.Budget
	budgetKey [2]int
	check     *healthRun // nil without active checks
	det       *outlier.Detector
}

func outlierConfig(o *config.Outlier) outlier.Config {
	return outlier.Config{
		ConsecutiveFailures: o.ConsecutiveFailures,
		BaseEjection:        o.BaseEjection.Duration,
		MaxEjection:         o.MaxEjection.Duration,
		MaxEjectedPercent:   o.MaxEjectedPercent,
		FailWindow:          o.FailWindow.Duration,
	}
}

// resilience fills a compiled service's fault-isolation settings, reusing state from prev where it still applies.
func (b *Built) resilience(s *config.Service, svc *proxy.Service, insts []*upstream.Instance, prev *serviceState) (upstream.PoolOptions, *serviceState) {
	st := &serviceState{instances: insts, outlier: outlierConfig(&s.Outlier), limits: s.Limits}
	same := prev != nil && slices.Equal(prev.instances, insts)
	opts := upstream.PoolOptions{Outlier: st.outlier, MaxPerInstance: s.Limits.MaxPerInstance,
		SlowStart: s.SlowStart.Duration}
	if same && prev.outlier == st.outlier {
		opts.Detector = prev.detector()
	}

	l := &s.Limits
	if l.MaxConcurrent > 0 {
		if prev != nil && prev.limiter != nil && prev.limits.MaxConcurrent == l.MaxConcurrent && prev.limits.Queue == l.Queue {
			st.limiter = prev.limiter
		} else {
			st.limiter = limit.NewLimiter(l.MaxConcurrent, l.Queue)
		}
		svc.Limiter, svc.QueueTimeout = st.limiter, l.QueueTimeout.Duration
	}
	for _, code := range s.Outlier.FailureStatuses {
		svc.FailureStatuses.Add(code)
	}

	r := &s.Retries
	svc.Retry = proxy.RetryPolicy{Attempts: r.Attempts, PerTryTimeout: r.PerTryTimeout.Duration}
	for _, on := range r.On {
		switch on {
		case "connect_failure":
			svc.Retry.OnConnect = true
		case "reset":
			svc.Retry.OnReset = true
		case "timeout":
			svc.Retry.OnTimeout = true
		default:
			code, _ := strconv.Atoi(on) // validated: 500-599
			svc.Retry.Statuses.Add(code)
		}
	}
	if r.Attempts > 0 {
		st.budgetKey = [2]int{r.BudgetPercent, r.MinPerSecond}
		if prev != nil && prev.budget != nil && prev.budgetKey == st.budgetKey {
			st.budget = prev.budget
		} else {
			st.budget = limit.NewBudget(float64(r.BudgetPercent)/100, r.MinPerSecond, nil)
		}
		svc.Retry.Budget = st.budget
	}

	if hc := s.HealthCheck; hc != nil {
		check := healthCheck(hc)
		if same && prev.check != nil && prev.check.spec == check {
			st.check = prev.check
		} else {
			st.check = &healthRun{spec: check, service: s.Name, instances: insts}
		}
	}
	return opts, st
}

// detector is set once the pool is built (see Built.compileService).
func (s *serviceState) detector() *outlier.Detector { return s.det }

func healthCheck(hc *config.HealthCheck) health.Check {
	c := health.Check{
		Kind: health.HTTP, Method: hc.Method, Path: hc.Path, Host: hc.Host,
		StatusMin: hc.StatusMin, StatusMax: hc.StatusMax, BodyContains: hc.BodyContains,
		Interval: hc.Interval.Duration, Jitter: hc.Jitter.Duration, Timeout: hc.Timeout.Duration,
		Rise: hc.Rise, Fall: hc.Fall,
	}
	if hc.Type == "tcp" {
		c.Kind = health.TCP
	}
	return c
}

// healthRun is one service's running health checker. It is started by the app once its config is in force, and
// carried over reloads that change neither the service's instances nor its check.
type healthRun struct {
	spec      health.Check
	service   string
	instances []*upstream.Instance

	pool atomic.Pointer[upstream.Pool] // the service's pool in force

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// SetHealthy turns a health transition into instance state; a recovery also ends an outlier ejection in the pool
// currently in force (pools are rebuilt by reloads; the checker may outlive several).
func (h *healthRun) SetHealthy(i int, ok bool, _ string) {
	h.instances[i].SetHealthy(ok)
	if p := h.pool.Load(); ok && p != nil {
		p.Recovered(h.instances[i])
	}
}

// start runs the checker unless it already runs. Instances start healthy, like the checker's own view of them.
func (h *healthRun) start(log *slog.Logger) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		return
	}
	addrs := make([]string, len(h.instances))
	for i, in := range h.instances {
		addrs[i] = in.Addr
		in.SetHealthy(true)
	}
	byAddr := make(map[string]*upstream.Instance, len(h.instances))
	for _, in := range h.instances {
		byAddr[in.Addr] = in
	}
	chk := health.New(addrs, h.spec, h, health.Options{
		Log: log.With("service", h.service),
		// Probes connect the way requests do, so a service behind upstream TLS is checked over TLS.
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if in := byAddr[addr]; in != nil {
				return in.DialProbe(ctx)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		_ = chk.Run(ctx)
	}()
}

// stop ends the checker and waits for its goroutines.
func (h *healthRun) stop() {
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.cancel = nil
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// startHealth starts the checkers of b and stops those of prev that b does not carry over.
func startHealth(b, prev *Built, log *slog.Logger) {
	keep := map[*healthRun]bool{}
	for name, st := range b.state {
		if st.check != nil {
			st.check.pool.Store(b.Services[name].Pool)
			st.check.start(log)
			keep[st.check] = true
		}
	}
	if prev == nil {
		return
	}
	for _, st := range prev.state {
		if st.check != nil && !keep[st.check] {
			st.check.stop()
		}
	}
}

// stopHealth stops every checker of b.
func stopHealth(b *Built) {
	for _, st := range b.state {
		if st.check != nil {
			st.check.stop()
		}
	}
}

func (h *healthRun) String() string { return fmt.Sprintf("health checks of %s", h.service) }
