package config

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func (v *validator) routes(c *Config) {
	names := map[string]Pos{}
	for i := range c.Routes {
		r := &c.Routes[i]
		if first, dup := names[r.Name]; dup {
			v.diags.Errorf(r.At("name"), "duplicate route name %q (first used at line %d)", r.Name, first.Line)
		} else {
			names[r.Name] = r.At("name")
		}
		v.target(c, r)
		v.internal(r)
		v.routeListeners(c, r)
		v.match(&r.Match)
		v.rewrite(r)
		v.headerOps(&r.RequestHeaders)
		v.headerOps(&r.ResponseHeaders)
		v.timeouts(r.Timeouts)
		v.routeBodyLimit(r)
		v.rateLimit(r)
		v.canary(c, r)
		v.shadow(c, r)
		v.templateRefs(c, r)
		if r.Timeouts.Total.Set || r.Timeouts.ResponseHeader.Set {
			v.totalVsHeader(r.Timeouts.At("total"), c.RouteTimeouts(r))
		}
	}
}

// internal checks an internal route: it proxies (a fallback is forwarded) and has no match, which would never be used.
func (v *validator) internal(r *Route) {
	if !r.Internal {
		return
	}
	if r.Service == "" {
		v.diags.Errorf(r.At("internal"), "route %q: an internal route must have a service (it is only reached as a static route's fallback)", r.Name)
	}
	if len(r.Match.Keys) > 0 {
		v.diags.Errorf(r.At("match"), "route %q: an internal route is never matched: remove its match", r.Name)
	}
}

// routeBodyLimit checks a route's max_body_bytes; a direct response never reads the body, so there it is ignored.
func (v *validator) routeBodyLimit(r *Route) {
	if !r.Has("max_body_bytes") {
		return
	}
	v.maxBodyBytes(r.Positions, r.MaxBodyBytes)
	if r.Return != nil {
		v.diags.Warnf(r.At("max_body_bytes"), "route %q: max_body_bytes is ignored on a return route (the body is never read)", r.Name)
	}
}

// rateLimit checks a route's rate_limit: a valid rate, a non-negative burst and a known key.
func (v *validator) rateLimit(r *Route) {
	rl := r.RateLimit
	if rl == nil {
		return
	}
	if _, _, err := ParseRate(rl.Rate); err != nil && rl.Has("rate") {
		v.diags.Errorf(rl.At("rate"), "route %q: rate_limit: %v", r.Name, err)
	}
	if rl.Has("status") && (rl.Status < 400 || rl.Status > 599) {
		v.diags.Errorf(rl.At("status"), "route %q: rate_limit: status must be between 400 and 599, got %d", r.Name, rl.Status)
	}
	if rl.Burst < 0 {
		v.diags.Errorf(rl.At("burst"), "route %q: rate_limit: burst must not be negative (0 = the rate's count), got %d", r.Name, rl.Burst)
	}
	kind, name, _ := strings.Cut(rl.Key, ":")
	switch {
	case rl.Key == "" || rl.Key == "client_ip" || rl.Key == "route":
	case kind == "header" && isToken(name):
	default:
		v.diags.Errorf(rl.At("key"), "route %q: rate_limit: invalid key %q: want client_ip, header:NAME or route", r.Name, rl.Key)
	}
}

// routeListeners checks that match.listeners names listeners that exist.
func (v *validator) routeListeners(c *Config, r *Route) {
	var names []string
	for _, l := range c.Listeners {
		names = append(names, l.Name)
	}
	for i, name := range r.Match.Listeners {
		if !slices.Contains(names, name) {
			v.diags.Errorf(r.Match.At(fmt.Sprintf("listeners.%d", i)), "route %q names unknown listener %q%s",
				r.Name, name, suggest(name, names))
		}
	}
}

// target checks what a route does: proxy to a known service or answer
// directly, never both or neither.
func (v *validator) target(c *Config, r *Route) {
	v.compression(r.Compression, "route "+strconv.Quote(r.Name))
	switch {
	case r.Static != nil:
		v.static(c, r)
	case r.Return != nil && r.Has("service"):
		v.diags.Errorf(r.At("return"), "route %q has both service and return; a route either proxies or answers", r.Name)
	case r.Return == nil && !r.Has("service"):
		v.diags.Errorf(r.Pos, "route %q needs a service (or a return for a direct response)", r.Name)
	case r.Return == nil && c.Services[r.Service] == nil:
		v.diags.Errorf(r.At("service"), "route %q refers to unknown service %q%s", r.Name, r.Service, suggest(r.Service, c.ServiceNames()))
	}
	if ret := r.Return; ret != nil {
		if ret.Status < 100 || ret.Status > 599 {
			v.diags.Errorf(ret.At("status"), "status must be between 100 and 599, got %d", ret.Status)
		}
		v.headerNames(ret.Positions, "headers", ret.Headers)
	}
}

func (v *validator) match(m *Match) {
	for i, h := range m.Hosts {
		at := m.At("hosts." + itoa(i))
		if re, ok := strings.CutPrefix(h, "~"); ok {
			if re == "" {
				v.diags.Errorf(at, "host regex %q is empty", h)
			} else {
				v.regexp(at, "host regex", re)
			}
			continue
		}
		if !validHostPattern(h) {
			v.diags.Errorf(at, "invalid host %q: want a host name, *.name, .name, name.*, ~regex or *", h)
		}
	}
	var first string
	for _, key := range []string{"path", "path_prefix", "path_regex"} {
		if !m.Has(key) {
			continue
		}
		if first != "" {
			v.diags.Errorf(m.At(key), "%s and %s are mutually exclusive; a route matches one path rule", first, key)
			continue
		}
		first = key
	}
	if m.PrefixFirst {
		for _, key := range []string{"path", "path_regex"} {
			if m.Has(key) {
				v.diags.Errorf(m.At("prefix_first"), "prefix_first applies only to path_prefix, not to %s", key)
			}
		}
	}
	v.absPath(m.Positions, "path", m.Path)
	v.absPath(m.Positions, "path_prefix", m.PathPrefix)
	if m.Has("path_regex") {
		v.regexp(m.At("path_regex"), "path_regex", m.PathRegex)
	}
	for i, meth := range m.Methods {
		p := m.At("methods." + itoa(i))
		switch {
		case !isToken(meth):
			v.diags.Errorf(p, "invalid method %q", meth)
		case strings.ToUpper(meth) != meth:
			v.diags.Warnf(p, "method %q is not upper-case; methods are case-sensitive, so it will not match %q", meth, strings.ToUpper(meth))
		}
	}
	v.headerNames(m.Positions, "headers", m.Headers)
	for name, val := range m.Headers {
		if re, ok := strings.CutPrefix(val, "~"); ok {
			v.regexp(m.At("headers."+name), "header regexp", re)
		}
	}
}

// validHostPattern accepts the non-regex host forms: "*", an exact name or
// IP, and the nginx wildcards "*.name", ".name" (name and its subdomains)
// and "name.*".
func validHostPattern(h string) bool {
	if h == "*" {
		return true
	}
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		return isHostname(rest) || isIP(rest)
	}
	if rest, ok := strings.CutPrefix(h, "."); ok {
		return isHostname(rest)
	}
	if rest, ok := strings.CutSuffix(h, ".*"); ok {
		return isHostname(rest) && !strings.HasSuffix(rest, ".")
	}
	return isHostname(h) || isIP(h)
}

func (v *validator) absPath(p Positions, key, val string) {
	if p.Has(key) && !strings.HasPrefix(val, "/") {
		v.diags.Errorf(p.At(key), "%s must start with \"/\", got %q", key, val)
	}
}

func (v *validator) regexp(p Pos, what, expr string) *regexp.Regexp {
	re, err := regexp.Compile(expr)
	if err != nil {
		v.diags.Errorf(p, "invalid %s: %v", what, err)
	}
	return re
}

func (v *validator) rewrite(r *Route) {
	rw := &r.Rewrite
	if rw.Has("strip_prefix") {
		v.absPath(rw.Positions, "strip_prefix", rw.StripPrefix)
		m := &r.Match
		for _, key := range []string{"path_prefix", "path"} {
			val := m.PathPrefix
			if key == "path" {
				val = m.Path
			}
			if m.Has(key) && !strings.HasPrefix(val, rw.StripPrefix) {
				v.diags.Errorf(rw.At("strip_prefix"), "strip_prefix %q is not a prefix of %s %q, so it would never apply", rw.StripPrefix, key, val)
			}
		}
		if rw.ReplacePath != nil {
			v.diags.Errorf(rw.At("replace_path"), "strip_prefix and replace_path are mutually exclusive")
		}
	}
	if rw.Has("add_prefix") {
		v.absPath(rw.Positions, "add_prefix", rw.AddPrefix)
		if rw.ReplacePath != nil {
			v.diags.Errorf(rw.At("add_prefix"), "add_prefix and replace_path are mutually exclusive")
		}
	}
	if rp := rw.ReplacePath; rp != nil && rp.Has("regex") {
		v.regexp(rp.At("regex"), "replace_path regex", rp.Regex)
	}
	switch rw.Host {
	case "pass", "upstream":
	case "":
		v.diags.Errorf(rw.At("host"), "host must not be empty: use pass, upstream or a template")
	default:
		v.template(rw.At("host"), rw.Host)
	}
}

func (v *validator) headerOps(h *HeaderOps) {
	v.headerNames(h.Positions, "set", h.Set)
	v.headerNames(h.Positions, "add", h.Add)
	for _, key := range []string{"set", "add"} {
		m := h.Set
		if key == "add" {
			m = h.Add
		}
		for name, val := range m {
			v.template(h.At(key+"."+name), val)
		}
	}
	for i, name := range h.Remove {
		if !isToken(name) {
			v.diags.Errorf(h.At("remove."+itoa(i)), "invalid header name %q", name)
		}
	}
}

// headerNames checks the keys of a header map: valid tokens, and no name
// given twice in different case (the engine canonicalises names, so one
// would silently win).
func (v *validator) headerNames(p Positions, key string, m map[string]string) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	// File order, so "given twice" points at the later one.
	sort.Slice(names, func(i, j int) bool {
		return p.At(key + "." + names[i]).before(p.At(key + "." + names[j]))
	})
	seen := map[string]string{}
	for _, name := range names {
		at := p.At(key + "." + name)
		if !isToken(name) {
			v.diags.Errorf(at, "invalid header name %q", name)
			continue
		}
		canon := http.CanonicalHeaderKey(name)
		if first, dup := seen[canon]; dup {
			v.diags.Errorf(at, "header %q is given twice (also as %q); header names are case-insensitive", name, first)
			continue
		}
		seen[canon] = name
	}
}

func (v *validator) template(p Pos, s string) {
	if _, err := ParseTemplate(s); err != nil {
		v.diags.Errorf(p, "invalid template %q: %v", s, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
