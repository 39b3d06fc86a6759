package config

import (
	"strings"

	"github.com/fjord-gw/fjord/internal/acl"
)

// This file checks the client-address settings: allow/deny lists (server.access, routes[].access), the trusted
// proxies and real-IP header, and PROXY-protocol listeners.

func (v *validator) access(c *Config) {
	s := &c.Server
	v.accessRules(s.Positions, s.Access)
	for i := range c.Routes {
		r := &c.Routes[i]
		v.accessRules(r.Positions, r.Access)
	}
	for i, p := range s.TrustedProxies {
		if _, err := acl.ParsePrefix(strings.TrimSpace(p)); err != nil {
			v.diags.Errorf(s.At("trusted_proxies."+itoa(i)), "trusted_proxies: %v", err)
		}
	}
	if h := s.RealIPHeader; s.Has("real_ip_header") && h != "none" && !validHeaderName(h) {
		v.diags.Errorf(s.At("real_ip_header"), `real_ip_header must be a header name (e.g. "X-Forwarded-For") or "none", got %q`, h)
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.ProxyProtocol && len(s.TrustedProxies) == 0 {
			v.diags.Errorf(l.At("proxy_protocol"), "listener %q uses proxy_protocol but server.trusted_proxies is empty: every connection would be refused (list the load balancers' addresses)", l.Name)
		}
	}
}

// accessRules checks each rule of an access list at its own position.
func (v *validator) accessRules(p Positions, rules []string) {
	for i, r := range rules {
		if _, err := acl.ParseRule(r); err != nil {
			v.diags.Errorf(p.At("access."+itoa(i)), "access: %v", err)
		}
	}
}

// validHeaderName reports whether s is an HTTP field name (RFC 9110 token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
