package config

import (
	"fmt"
	"strings"
)

// canary checks a route's canary block: a known service other than the route's own, a percentage weight,
// increasing steps, a valid sticky key and guard.
func (v *validator) canary(c *Config, r *Route) {
	cn := r.Canary
	if cn == nil {
		return
	}
	v.sideService(c, r, cn.Positions, "canary", cn.Service)
	v.between(cn.Positions, "weight", cn.Weight, 0, 100)
	last := 0
	for i, s := range cn.Steps {
		if s <= last || s > 100 {
			v.diags.Errorf(cn.At(fmt.Sprintf("steps.%d", i)), "route %q: canary steps must increase within 1..100, got %d after %d", r.Name, s, last)
			break
		}
		last = s
	}
	if cn.StepInterval.Set && cn.StepInterval.Duration <= 0 {
		v.diags.Errorf(cn.At("step_interval"), "route %q: canary step_interval must be positive", r.Name)
	}
	if cn.Has("weight") && len(cn.Steps) > 0 {
		v.diags.Warnf(cn.At("weight"), "route %q: canary weight is ignored when steps are given (the first step is the starting weight)", r.Name)
	}
	kind, name, _ := strings.Cut(cn.Sticky, ":")
	switch {
	case cn.Sticky == "" || cn.Sticky == "client_ip":
	case (kind == "cookie" || kind == "header") && isToken(name):
	default:
		v.diags.Errorf(cn.At("sticky"), "route %q: canary: invalid sticky %q: want cookie:NAME, header:NAME or client_ip", r.Name, cn.Sticky)
	}
	g := &cn.Guard
	for _, key := range []string{"max_error_rate", "max_p99_ratio"} {
		s := g.MaxErrorRate
		if key == "max_p99_ratio" {
			s = g.MaxP99Ratio
		}
		if !g.Has(key) {
			continue
		}
		f, err := ParseRatio(s)
		switch {
		case err != nil:
			v.diags.Errorf(g.At(key), "route %q: canary guard %s: %v", r.Name, key, err)
		case key == "max_error_rate" && f > 1:
			v.diags.Errorf(g.At(key), "route %q: canary guard max_error_rate must be between 0 and 1 (a share), got %s", r.Name, s)
		case key == "max_p99_ratio" && f != 0 && f < 1:
			v.diags.Errorf(g.At(key), "route %q: canary guard max_p99_ratio must be at least 1 (0 turns it off), got %s", r.Name, s)
		}
	}
	if g.MinRequests < 0 {
		v.diags.Errorf(g.At("min_requests"), "route %q: canary guard min_requests must not be negative, got %d", r.Name, g.MinRequests)
	}
	if g.Window.Set && g.Window.Duration <= 0 {
		v.diags.Errorf(g.At("window"), "route %q: canary guard window must be positive", r.Name)
	}
}

// shadow checks a route's shadow block.
func (v *validator) shadow(c *Config, r *Route) {
	sh := r.Shadow
	if sh == nil {
		return
	}
	v.sideService(c, r, sh.Positions, "shadow", sh.Service)
	if sh.Has("percent") {
		v.between(sh.Positions, "percent", sh.Percent, 1, 100)
	}
	if sh.Has("max_body_bytes") && sh.MaxBodyBytes < 0 {
		v.diags.Errorf(sh.At("max_body_bytes"), "route %q: shadow max_body_bytes must not be negative, got %d", r.Name, sh.MaxBodyBytes)
	}
	if sh.Has("max_concurrent") && sh.MaxConcurrent < 1 {
		v.diags.Errorf(sh.At("max_concurrent"), "route %q: shadow max_concurrent must be at least 1, got %d", r.Name, sh.MaxConcurrent)
	}
	if sh.Timeout.Set && sh.Timeout.Duration <= 0 {
		v.diags.Errorf(sh.At("timeout"), "route %q: shadow timeout must be positive", r.Name)
	}
	for i, m := range sh.Methods {
		if !isToken(m) || strings.ToUpper(m) != m {
			v.diags.Errorf(sh.At(fmt.Sprintf("methods.%d", i)), "route %q: shadow: invalid method %q (upper case, e.g. GET)", r.Name, m)
		}
	}
	for i, h := range sh.Compare.Headers {
		if !isToken(h) {
			v.diags.Errorf(sh.Compare.At(fmt.Sprintf("headers.%d", i)), "route %q: shadow compare: invalid header name %q", r.Name, h)
		}
	}
}

// sideService checks the service a canary or shadow names: it exists, the route proxies, and it is not the
// route's own service.
func (v *validator) sideService(c *Config, r *Route, p Positions, what, svc string) {
	switch {
	case r.Return != nil:
		v.diags.Errorf(p.Pos, "route %q: %s needs a proxied route (it has a return)", r.Name, what)
	case !p.Has("service"):
	case c.Services[svc] == nil:
		v.diags.Errorf(p.At("service"), "route %q: %s refers to unknown service %q%s", r.Name, what, svc, suggest(svc, c.ServiceNames()))
	case svc == r.Service:
		v.diags.Errorf(p.At("service"), "route %q: %s service %q is the route's own service", r.Name, what, svc)
	}
}
