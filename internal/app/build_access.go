package app

import (
	"strings"

	"github.com/fjord-gw/fjord/internal/acl"
	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/proxy"
)

// compileAccess returns r's allow/deny list: its own when written, else server.access; nil when that is empty
// (everything allowed, and the request path skips the check). Rules were validated; an error here is reported at
// the list anyway, so a gap between the two can never silently allow.
func compileAccess(cfg *config.Config, r *config.Route, diags *config.Diagnostics) *acl.List {
	rules, pos := cfg.Server.Access, cfg.Server.At("access")
	if r.Has("access") {
		rules, pos = r.Access, r.At("access")
	}
	if len(rules) == 0 {
		return nil
	}
	l, err := acl.Parse(rules)
	if err != nil {
		diags.Errorf(pos, "route %s: access: %v", r.Name, err)
		return nil
	}
	return l
}

// compileRealIP builds the trusted-proxy rules. real_ip_header defaults to X-Forwarded-For, real_ip_recursive to
// true.
func compileRealIP(s *config.Server, diags *config.Diagnostics) proxy.RealIP {
	set, err := acl.ParseSet(s.TrustedProxies)
	if err != nil {
		diags.Errorf(s.At("trusted_proxies"), "trusted_proxies: %v", err)
		return proxy.RealIP{}
	}
	ri := proxy.RealIP{Trusted: set, Header: "X-Forwarded-For", Recursive: true}
	if s.Has("real_ip_header") {
		ri.Header = strings.TrimSpace(s.RealIPHeader)
		if strings.EqualFold(ri.Header, "none") {
			ri.Header = ""
		}
	}
	if s.RealIPRecursive != nil {
		ri.Recursive = *s.RealIPRecursive
	}
	if set.Empty() {
		return proxy.RealIP{} // nobody is believed: the per-request check costs nothing
	}
	return ri
}
