package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/canary"
	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/proxy"
	"github.com/fjord-gw/fjord/internal/shadow"
)

// canaryEntry is a route's canary state and the part of its configuration that decides whether a reload keeps
// that state: the same route name, services, starting weight and steps keep the current weight and rollback.
type canaryEntry struct {
	state *canary.Canary
	spec  string
}

// sides holds what a Built's canaries and shadows need at run time besides the routes.
type sides struct {
	canaries map[string]*canaryEntry   // by route name
	mirrors  map[string]*shadow.Mirror // by route name
	// guards stops the canary guard goroutines started for this Built (startCanaries) and waits for them.
	guards func()
}

// compileCanary gives pr its canary when r has one, carrying the state of prev's canary of the same route and
// spec over a reload.
func (b *Built) compileCanary(r *config.Route, pr *proxy.Route, prev *Built) *proxy.Route {
	cn := r.Canary
	svc := b.Services[cn.Service]
	if svc == nil || pr.Service == nil {
		return pr
	}
	weight := cn.Weight * 100
	var steps []int
	for _, s := range cn.Steps {
		steps = append(steps, s*100)
	}
	if len(steps) > 0 {
		weight = steps[0]
	}
	errRate, p99 := cn.Guard.Ratios()
	g := canary.Guard{MaxErrorRate: errRate, MaxP99Ratio: p99, MinRequests: config.DefaultCanaryMinRequests,
		Window: config.DefaultCanaryWindow}
	if cn.Guard.Has("min_requests") {
		g.MinRequests = cn.Guard.MinRequests
	}
	if cn.Guard.Window.Set {
		g.Window = cn.Guard.Window.Duration
	}
	interval := config.DefaultCanaryStepInterval
	if cn.StepInterval.Set {
		interval = cn.StepInterval.Duration
	}
	opts := canary.Options{Route: r.Name, Old: r.Service, New: cn.Service, Guard: g, Steps: steps, StepInterval: interval}
	spec := fmt.Sprint(r.Service, "\x00", cn.Service, "\x00", weight, "\x00", steps)
	e := &canaryEntry{spec: spec}
	if prev != nil {
		if old := prev.sides.canaries[r.Name]; old != nil && old.spec == spec {
			e.state = old.state
			e.state.SetOptions(opts)
		}
	}
	if e.state == nil {
		e.state = canary.New(weight, opts)
	}
	if b.sides.canaries == nil {
		b.sides.canaries = map[string]*canaryEntry{}
	}
	b.sides.canaries[r.Name] = e
	from, name := proxy.StickyNone, ""
	switch kind, n, _ := strings.Cut(cn.Sticky, ":"); {
	case cn.Sticky == "client_ip":
		from = proxy.StickyClientIP
	case kind == "cookie":
		from, name = proxy.StickyCookie, n
	case kind == "header":
		from, name = proxy.StickyHeader, n
	}
	return pr.WithCanary(svc, e.state, from, name)
}

// startCanaries starts the guard of each of b's canaries; stopCanaries(b) stops them. A reload stops the old
// Built's guards before starting the new one's, so a canary carried over never has two.
func startCanaries(b *Built, log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, e := range b.sides.canaries {
		e.state.SetLog(log)
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.state.Run(ctx)
		}()
	}
	b.sides.guards = func() {
		cancel()
		wg.Wait()
	}
}

func stopCanaries(b *Built) {
	if b != nil && b.sides.guards != nil {
		b.sides.guards()
		b.sides.guards = nil
	}
}

// setCanary is the admin API's POST /canary: the share of route's requests sent to its canary service, in percent.
func (a *App) setCanary(route string, percent float64) (admin.CanaryStatus, error) {
	b := a.cur.Load()
	if b == nil {
		return admin.CanaryStatus{}, fmt.Errorf("%w: no configuration in force yet", admin.ErrNotFound)
	}
	e := b.sides.canaries[route]
	if e == nil {
		return admin.CanaryStatus{}, fmt.Errorf("%w: route %q has no canary", admin.ErrNotFound, route)
	}
	if percent < 0 || percent > 100 {
		return admin.CanaryStatus{}, fmt.Errorf("%w: weight must be between 0 and 100 (percent), got %g", admin.ErrBadRequest, percent)
	}
	e.state.SetWeight(int(percent*100 + 0.5))
	return canaryStatus(e.state.State()), nil
}

// canaryStatus converts a canary's state for the admin interface.
func canaryStatus(st canary.State) admin.CanaryStatus {
	arm := func(a canary.Arm) admin.CanaryArm {
		return admin.CanaryArm{Service: a.Service, Requests: a.Requests, WindowRequests: a.WindowReqs,
			WindowErrors: a.WindowErrs, ErrorRate: a.ErrorRate, P99Seconds: a.P99Seconds}
	}
	out := admin.CanaryStatus{Service: st.New.Service, Weight: float64(st.Weight) / 100, RolledBack: st.RolledBack,
		Reason: st.Reason, Changed: st.Changed, Old: arm(st.Old), New: arm(st.New)}
	for _, s := range st.Steps {
		out.Steps = append(out.Steps, float64(s)/100)
	}
	return out
}
