package explain

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/proxy"
)

// upstreamOf builds the upstream request head the way the engine's appendRequestHead does, with values known only
// per request (client address, request id, trace id) shown as <placeholders>.
func upstreamOf(pr *proxy.Route, cr *config.Route, v *view) *Upstream {
	u := &Upstream{Service: pr.Service.Name}
	path, how := rewritePath(pr, string(v.path))
	u.RequestURI, u.Rewrite = path, how
	if v.req.URL.RawQuery != "" {
		u.RequestURI += "?" + v.req.URL.RawQuery
	}
	switch pr.Host {
	case proxy.HostUpstream:
		u.Host = "<the instance address>"
	case proxy.HostTemplate:
		u.Host = render(cr.Rewrite.Host, v)
	default:
		u.Host = v.req.URL.Host
	}
	ops := &cr.RequestHeaders
	dropped := func(name string) bool {
		return slices.ContainsFunc(ops.Remove, func(r string) bool { return strings.EqualFold(r, name) }) ||
			hasKeyFold(ops.Set, name)
	}
	builtin := []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "X-Request-Id"}
	isBuiltin := func(n string) bool {
		return slices.ContainsFunc(builtin, func(b string) bool { return strings.EqualFold(b, n) })
	}
	for _, name := range sortedKeys(v.req.Header) {
		if hopByHop(name) || strings.EqualFold(name, "Host") || (isBuiltin(name) && !pr.NoForwarded) || dropped(name) {
			continue
		}
		u.Headers = append(u.Headers, name+": "+v.req.Header[name])
	}
	if !pr.NoForwarded {
		xff := v.clientIP()
		if prior := v.req.Header["X-Forwarded-For"]; prior != "" {
			xff = prior + ", " + xff
		}
		for _, h := range [][2]string{{"X-Forwarded-For", xff}, {"X-Forwarded-Proto", v.scheme()},
			{"X-Forwarded-Host", v.req.URL.Host}, {"X-Real-IP", v.clientIP()}, {"X-Request-Id", "<request id>"}} {
			if !dropped(h[0]) {
				u.Headers = append(u.Headers, h[0]+": "+h[1])
			}
		}
		if _, ok := v.req.Header["Traceparent"]; !ok && !dropped("traceparent") {
			u.Headers = append(u.Headers, "traceparent: 00-<trace id = request id>-<random span id>-01")
		}
	}
	for _, name := range sortedKeys(ops.Set) {
		u.Headers = append(u.Headers, name+": "+render(ops.Set[name], v))
	}
	for _, name := range sortedKeys(ops.Add) {
		u.Headers = append(u.Headers, name+": "+render(ops.Add[name], v))
	}
	return u
}

// rewritePath mirrors the engine's appendUpstreamPath and says which rule applied.
func rewritePath(rt *proxy.Route, p string) (string, string) {
	switch {
	case rt.Rewrite != nil:
		return rt.Rewrite.ReplaceAllString(p, rt.RewriteWith), fmt.Sprintf("replace_path %q -> %q", rt.Rewrite, rt.RewriteWith)
	case rt.StripPrefix != "" && strings.HasPrefix(p, rt.StripPrefix):
		rest, out := p[len(rt.StripPrefix):], ""
		if rt.AddPrefix != "" {
			out = rt.AddPrefix
		} else if rest == "" || rest[0] != '/' {
			out = "/"
		}
		how := fmt.Sprintf("strip_prefix %q", rt.StripPrefix)
		if rt.AddPrefix != "" {
			how += fmt.Sprintf(", then add_prefix %q", rt.AddPrefix)
		}
		return out + rest, how
	case rt.AddPrefix != "":
		if strings.HasPrefix(p, "/") && strings.HasSuffix(rt.AddPrefix, "/") {
			p = p[1:]
		}
		return rt.AddPrefix + p, fmt.Sprintf("add_prefix %q", rt.AddPrefix)
	}
	return p, "none: the normalized path as routed"
}

// render fills a header template with what the request tells; the rest stays symbolic.
func render(tmpl string, v *view) string {
	parts, err := config.ParseTemplate(tmpl)
	if err != nil {
		return tmpl
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Var == "" && p.Header == "" && p.Map == "" {
			b.WriteString(p.Literal)
			continue
		}
		b.WriteString(varValue(p, v))
	}
	return b.String()
}

func varValue(p config.TemplatePart, v *view) string {
	if p.Header != "" {
		h, _ := v.Header(p.Header)
		return string(h)
	}
	host := v.req.URL.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	switch p.Var {
	case "client_ip":
		return v.clientIP()
	case "host":
		return strings.ToLower(host)
	case "scheme":
		return v.scheme()
	case "method":
		return v.req.Method
	case "request_uri":
		return v.req.URL.RequestURI()
	case "path":
		return string(v.path)
	case "query":
		return v.req.URL.RawQuery
	case "is_args":
		if v.req.URL.RawQuery != "" {
			return "?"
		}
		return ""
	case "request_id":
		return "<request id>"
	}
	if p.Map != "" {
		return "<map." + p.Map + ">"
	}
	return "<" + p.Var + ">"
}

// limitsOf reports the effective limits of a proxied route.
func limitsOf(c *config.Config, pr *proxy.Route, cr *config.Route) *Limits {
	l := &Limits{MaxBodyBytes: pr.MaxBodyBytes, Timeouts: map[string]string{}}
	dur := func(d time.Duration, zero string) string {
		if d <= 0 {
			return zero
		}
		return d.String()
	}
	t := pr.Timeouts
	l.Timeouts["connect"] = dur(t.Connect, "the service's")
	l.Timeouts["response_header"] = dur(t.ResponseHeader, "60s")
	l.Timeouts["idle"] = dur(t.Idle, "60s")
	l.Timeouts["total"] = dur(t.Total, "unlimited")
	if s := c.Services[pr.Service.Name]; s != nil {
		if t.Connect <= 0 {
			l.Timeouts["connect"] = s.Timeouts.Connect.Duration.String()
		}
		rt := s.Retries
		if rt.Attempts == 0 {
			l.Retries = "off"
		} else {
			l.Retries = fmt.Sprintf("%d on another instance, on %s (idempotent requests only once sent), budget %d%% of requests + %d/s",
				rt.Attempts, strings.Join(rt.On, ", "), rt.BudgetPercent, rt.MinPerSecond)
			if rt.PerTryTimeout.Duration > 0 {
				l.Retries += ", per try " + rt.PerTryTimeout.Duration.String()
			}
		}
		lm := s.Limits
		l.MaxConcurrent = lm.MaxConcurrent
		if lm.MaxConcurrent > 0 {
			l.Queue = fmt.Sprintf("%d waiting for up to %s, then 503", lm.Queue, lm.QueueTimeout.Duration)
		}
	}
	if lim := pr.Service.Limiter; lim != nil {
		l.InFlight, l.Queued = lim.InUse(), lim.Waiting()
	}
	// The route's own access list replaces the server's (see build_access.go in internal/app).
	l.Access = c.Server.Access
	if cr.Has("access") {
		l.Access = cr.Access
	}
	if rl := cr.RateLimit; rl != nil {
		key := rl.Key
		if key == "" {
			key = "client_ip"
		}
		l.RateLimit = fmt.Sprintf("%s per %s", rl.Rate, key)
		if rl.Burst > 0 {
			l.RateLimit += fmt.Sprintf(", burst %d", rl.Burst)
		}
	}
	return l
}

// pickOf previews the instance choice with the pool's live state.
func pickOf(svc *proxy.Service, sc *config.Service, v *view, now time.Time) *PickView {
	what, key := hashKeyOf(svc, v)
	pv := svc.Pool.Preview(key, now)
	out := &PickView{Policy: string(pv.Policy), HashKey: what, Chosen: pv.Chosen, Tier: pv.Tier, Note: pv.Note}
	for _, in := range pv.Instances {
		out.Instances = append(out.Instances, InstanceView{Address: in.Addr, Backup: in.Backup, Weight: in.Weight,
			InFlight: in.Active, Usable: in.Usable, Reason: in.Reason})
	}
	if sc != nil && sc.HealthCheck == nil {
		out.Note += "; no active health checks: only refused connections and outlier ejection take instances out"
	}
	return out
}

func hopByHop(name string) bool {
	switch strings.ToLower(name) {
	case "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
		"proxy-authorization", "proxy-authenticate", "content-length":
		return true
	}
	return false
}

func hasKeyFold(m map[string]string, name string) bool {
	for k := range m {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
