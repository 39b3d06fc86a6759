package app

import (
	"fmt"

	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/proxy"
	"github.com/fjord-gw/fjord/internal/shadow"
)

// compileShadow gives pr its shadow mirror when r has one. The counters and samples (shadow.Stats) are carried
// over reloads by route name, like the route counters.
func (b *Built) compileShadow(r *config.Route, pr *proxy.Route, prev *Built) {
	sh := r.Shadow
	svc := b.Services[sh.Service]
	if svc == nil || pr.Service == nil {
		return
	}
	opts := shadow.Options{Route: r.Name, Service: sh.Service, Percent: config.DefaultShadowPercent,
		Methods: config.DefaultShadowMethods, MaxBodyBytes: config.DefaultShadowMaxBodyBytes,
		MaxConcurrent: config.DefaultShadowMaxConcurrent, Timeout: config.DefaultShadowTimeout,
		Headers: sh.Compare.Headers, IgnoreJSONFields: sh.Compare.IgnoreJSONFields}
	if sh.Has("percent") {
		opts.Percent = sh.Percent
	}
	if sh.Has("methods") {
		opts.Methods = sh.Methods
	}
	if sh.Has("max_body_bytes") {
		opts.MaxBodyBytes = sh.MaxBodyBytes
	}
	if sh.Has("max_concurrent") {
		opts.MaxConcurrent = sh.MaxConcurrent
	}
	if sh.Timeout.Set {
		opts.Timeout = sh.Timeout.Duration
	}
	var stats *shadow.Stats
	if prev != nil {
		if m := prev.sides.mirrors[r.Name]; m != nil {
			stats = m.Stats()
		}
	}
	m := shadow.New(opts, svc.Pool, stats)
	if b.sides.mirrors == nil {
		b.sides.mirrors = map[string]*shadow.Mirror{}
	}
	b.sides.mirrors[r.Name] = m
	pr.Shadow = m
}

// closeMirrors ends b's shadow exchanges in flight and waits for them; used at shutdown.
func closeMirrors(b *Built) {
	for _, m := range b.sides.mirrors {
		m.Close()
	}
}

// shadowStatus converts a mirror's counters for the admin interface.
func shadowStatus(service string, c shadow.Counts) admin.ShadowStatus {
	return admin.ShadowStatus{Service: service, Mirrored: c.Mirrored, Match: c.Match, Mismatch: c.Mismatch,
		Errors: c.Errors, Dropped: c.Dropped, NotCompared: c.NotCompared, Skipped: c.Skipped, LastError: c.LastError}
}

// shadowReport is the admin API's GET /shadow: a route's shadow counters and latest mismatches.
func (a *App) shadowReport(route string) (admin.ShadowReport, error) {
	b := a.cur.Load()
	if b == nil {
		return admin.ShadowReport{}, fmt.Errorf("%w: no configuration in force yet", admin.ErrNotFound)
	}
	m := b.sides.mirrors[route]
	if m == nil {
		return admin.ShadowReport{}, fmt.Errorf("%w: route %q has no shadow", admin.ErrNotFound, route)
	}
	svc := ""
	for _, r := range b.Config.Routes {
		if r.Name == route && r.Shadow != nil {
			svc = r.Shadow.Service
		}
	}
	return admin.ShadowReport{Route: route, Shadow: shadowStatus(svc, m.Stats().Counts()), Samples: m.Stats().Samples()}, nil
}

// sideStatus adds the canary and shadow state of route r to rs (Status).
func sideStatus(b *Built, r *config.Route, rs *admin.RouteStatus) {
	if e := b.sides.canaries[r.Name]; e != nil {
		cs := canaryStatus(e.state.State())
		rs.Canary = &cs
	}
	if m := b.sides.mirrors[r.Name]; m != nil && r.Shadow != nil {
		ss := shadowStatus(r.Shadow.Service, m.Stats().Counts())
		rs.Shadow = &ss
	}
}
