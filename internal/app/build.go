// Package app turns a configuration into a running gateway: it compiles the validated config into the engine's
// immutable snapshot (build.go), owns listeners, the access log and reloads (app.go), and hosts the demo (demo.go).
// It is the only package that knows both the config format and the engine.
package app

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/compress"
	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/metrics"
	"github.com/fjord-gw/fjord/internal/proxy"
	"github.com/fjord-gw/fjord/internal/ratelimit"
	"github.com/fjord-gw/fjord/internal/router"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// Built is a compiled configuration: the engine snapshot plus what the app needs to apply it.
type Built struct {
	Config    *config.Config
	Proxy     *proxy.Config
	Listeners []config.Listener
	Services  map[string]*proxy.Service

	instances map[instanceKey]*upstream.Instance
	state     map[string]*serviceState // by service name
	reported  map[string]bool          // diagnostics already given (tables per listener repeat routes)

	// Counters by route and service name, carried over reloads so that exported counters never go backwards.
	routeStats map[string]*metrics.RouteStats
	svcStats   map[string]*metrics.ServiceStats
	// Rate-limit buckets by route name, carried over a reload that keeps the route's limit.
	rateLimits map[string]*proxy.RateLimit
	// maps are the config's maps (${map.NAME}), compiled once and shared by every route's templates.
	maps map[string]*proxy.Map
	// sides are the routes' canaries and shadow mirrors (canary.go, shadow.go).
	sides sides
	// serverCompress is server.compression compiled, shared by the routes without their own (build_compress.go).
	serverCompress     *compress.Policy
	serverCompressDone bool
	// certStamps are the TLS certificate files' stamps taken before load read them (certs.go).
	certStamps map[string]fileStamp
}

// instanceKey identifies an upstream instance that can be carried over a reload with its idle connections and
// state: same service, address, role and connection options.
type instanceKey struct {
	service, addr string
	weight        int
	backup        bool
	opts          upstream.Options // with TLS nil: a compiled tls.Config is new on every reload
	tls           string           // fingerprint of the service's tls block; "" for plain
}

// Compile builds the engine's structures from a validated config. Instances that are unchanged since prev are
// reused (so reloads keep warm keep-alive connections). Problems are reported as diagnostics at the offending
// position; the result is nil when any is an error.
func Compile(cfg *config.Config, prev *Built) (*Built, config.Diagnostics) {
	var diags config.Diagnostics
	b := &Built{
		Config:     cfg,
		Listeners:  cfg.Listeners,
		Services:   map[string]*proxy.Service{},
		instances:  map[instanceKey]*upstream.Instance{},
		state:      map[string]*serviceState{},
		routeStats: map[string]*metrics.RouteStats{},
		svcStats:   map[string]*metrics.ServiceStats{},
		rateLimits: map[string]*proxy.RateLimit{},
	}
	for _, name := range cfg.ServiceNames() {
		svc, err := b.compileService(cfg.Services[name], prev, &diags)
		if err != nil {
			if !errors.Is(err, errReported) {
				diags.Errorf(cfg.Services[name].NamePos, "service %s: %v", name, err)
			}
			continue
		}
		b.Services[name] = svc
	}
	b.maps = compileMaps(cfg, &diags)
	routes := make([]router.Route[*proxy.Route], 0, len(cfg.Routes))
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		rr, pr := b.compileRoute(cfg, r, prev, &diags)
		rr.Target = pr
		routes = append(routes, rr)
	}
	compiled := make([]*proxy.Route, len(routes))
	for i := range routes {
		compiled[i] = routes[i].Target
	}
	linkStaticFallbacks(cfg, compiled)
	// Without listener restrictions one table serves every listener. With them each listener gets its own table, and
	// the shared one keeps only the unrestricted routes: checking restricted routes of different listeners against
	// each other would report conflicts that no listener has.
	idx := matchable(cfg)
	if restricted(cfg) {
		idx = routesOf(cfg, "")
	}
	table := b.buildTable(cfg, routes, idx, &diags)
	byListener := map[string]*router.Table[*proxy.Route]{}
	if restricted(cfg) {
		for _, l := range cfg.Listeners {
			// Keyed like the app's sockets (by address), so that renaming a listener on a reload that keeps its socket
			// still routes with the right table.
			byListener[listenerKey(l)] = b.buildTable(cfg, routes, routesOf(cfg, l.Name), &diags)
		}
	}
	realIP := compileRealIP(&cfg.Server, &diags)
	if diags.HasErrors() {
		return nil, diags
	}
	b.Proxy = &proxy.Config{
		RealIP:     realIP,
		ErrorPages: compileErrorPages(cfg.Server.ErrorPages, &diags),
		Routes:     table,
		ByListener: byListener,
		Client: proxy.ClientLimits{
			ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.Duration,
			IdleTimeout:       cfg.Server.IdleTimeout.Duration,
			MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,

			MaxConnections:      cfg.Server.MaxConnections,
			MaxConnectionsPerIP: cfg.Server.MaxConnectionsPerIP,
		},
		Engine: engineOf(cfg.Server.Engine),
	}
	if r := cfg.Server.MinBodyRate; r != nil {
		b.Proxy.Client.MinBodyRate, b.Proxy.Client.MinBodyRateWindow = int64(r.Bytes), r.Window.Duration
	}
	return b, diags
}

// engineOf maps server.engine (validated) to the proxy's engine.
func engineOf(name string) proxy.Engine {
	if name == "goroutines" {
		return proxy.EngineGoroutines
	}
	return proxy.EngineLoop
}

// statsOf is a built config's counters (empty for none).
type statsOf struct {
	route map[string]*metrics.RouteStats
	svc   map[string]*metrics.ServiceStats
}

func prevStats(b *Built) statsOf {
	if b == nil {
		return statsOf{}
	}
	return statsOf{b.routeStats, b.svcStats}
}

// carry returns prev's counters for name, or new ones, and records them in into.
func carry[T any](into, prev map[string]*T, name string) *T {
	st := prev[name]
	if st == nil {
		st = new(T)
	}
	into[name] = st
	return st
}

// restricted reports whether any route is limited to some listeners (then each listener gets its own table).
func restricted(cfg *config.Config) bool {
	for i := range cfg.Routes {
		if len(cfg.Routes[i].Match.Listeners) > 0 {
			return true
		}
	}
	return false
}

// matchable and routesOf list the indices of the routes in a table: all that requests can match (the table for
// listeners no route is limited to; internal routes are reached only as fallbacks), or those a listener serves.
func matchable(cfg *config.Config) []int {
	out := make([]int, 0, len(cfg.Routes))
	for i := range cfg.Routes {
		if !cfg.Routes[i].Internal {
			out = append(out, i)
		}
	}
	return out
}

// routesOf lists the routes listener serves; with listener "" only the unrestricted ones.
func routesOf(cfg *config.Config, listener string) []int {
	var out []int
	for i := range cfg.Routes {
		ls := cfg.Routes[i].Match.Listeners
		if cfg.Routes[i].Internal {
			continue // reached only as a fallback, never matched
		}
		if len(ls) == 0 || slices.Contains(ls, listener) {
			out = append(out, i)
		}
	}
	return out
}

// buildTable compiles the routes at idx (indices into cfg.Routes, in file order) into one table, reporting build
// errors and unreachable routes at their positions. A problem found again in another listener's table is reported
// once.
func (b *Built) buildTable(cfg *config.Config, routes []router.Route[*proxy.Route], idx []int, diags *config.Diagnostics) *router.Table[*proxy.Route] {
	sub := make([]router.Route[*proxy.Route], len(idx))
	for i, j := range idx {
		sub[i] = routes[j]
	}
	table, conflicts, err := router.Build(sub)
	for _, e := range joinedErrors(err) {
		var re *router.RouteError
		if errors.As(e, &re) {
			r := &cfg.Routes[idx[re.Index]]
			b.reportOnce(diags, r.Match.At(matchKey(&r.Match, re.Field)), "route %s: %v", r.Name, re.Err)
		} else {
			b.reportOnce(diags, cfg.Pos, "routes: %v", e)
		}
	}
	for _, cf := range conflicts {
		r, first := &cfg.Routes[idx[cf.Index]], &cfg.Routes[idx[cf.ShadowedBy]]
		b.reportOnce(diags, r.Pos, "route %s is unreachable: route %s (line %d) matches the same host and path "+
			"without extra conditions, so it always wins", r.Name, first.Name, first.Pos.Line)
	}
	return table
}

func (b *Built) reportOnce(diags *config.Diagnostics, pos config.Pos, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	key := pos.String() + msg
	if b.reported[key] {
		return
	}
	if b.reported == nil {
		b.reported = map[string]bool{}
	}
	b.reported[key] = true
	diags.Errorf(pos, "%s", msg)
}

// matchKey is the config key whose position stands for a router error field.
func matchKey(m *config.Match, field string) string {
	switch field {
	case "path":
		for _, k := range []string{"path", "path_prefix", "path_regex"} {
			if m.Has(k) {
				return k
			}
		}
	}
	return field
}

func joinedErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (b *Built) compileService(s *config.Service, prev *Built, diags *config.Diagnostics) (*proxy.Service, error) {
	policy, err := balancer.ParsePolicy(s.Balancer)
	if err != nil {
		return nil, err
	}
	opts := upstream.Options{
		ConnectTimeout: s.Timeouts.Connect.Duration,
		MaxIdle:        s.Keepalive.MaxIdlePerInstance,
		IdleTimeout:    s.Keepalive.IdleTimeout.Duration,
	}
	if s.HealthCheck != nil {
		// Active checks decide when a crashed instance is back; the fixed skip after a refused connection would
		// keep a restarted instance out for its whole fail timeout.
		opts.FailTimeout = -1
	}
	var fingerprint string
	if s.TLS != nil {
		ut, ok := compileUpstreamTLS(s.TLS, diags)
		if !ok {
			return nil, errReported
		}
		fingerprint = ut.fingerprint
		opts.TLS = ut.config
	}
	keyOpts := opts
	keyOpts.TLS = nil
	insts := make([]*upstream.Instance, 0, len(s.Instances))
	for _, ic := range s.Instances {
		k := instanceKey{service: s.Name, addr: ic.Address, weight: ic.Weight, backup: ic.Backup, opts: keyOpts, tls: fingerprint}
		in := prev.reuse(k)
		if in == nil {
			in = upstream.NewInstance(ic.Address, ic.Weight, ic.Backup, opts)
		}
		b.instances[k] = in
		insts = append(insts, in)
	}
	svc := &proxy.Service{Name: s.Name, Stats: carry(b.svcStats, prevStats(prev).svc, s.Name)}
	var prevState *serviceState
	if prev != nil {
		prevState = prev.state[s.Name]
	}
	popts, st := b.resilience(s, svc, insts, prevState)
	pool, err := upstream.NewPool(s.Name, policy, insts, popts)
	if err != nil {
		return nil, err
	}
	svc.Pool = pool
	st.det = pool.Detector()
	b.state[s.Name] = st
	switch kind, name, _ := strings.Cut(s.HashKey, ":"); kind {
	case "header":
		svc.HashFrom, svc.HashName = proxy.HashHeader, name
	case "cookie":
		svc.HashFrom, svc.HashName = proxy.HashCookie, name
	default:
		svc.HashFrom = proxy.HashClientIP
	}
	if s.Protocol == "h2c" || s.Protocol == "h2" {
		// One multiplexed connection per instance, kept by the transport (not the instances' HTTP/1.1 pools). A
		// reload builds a new transport; the old one's connections close when idle for IdleTimeout.
		svc.Protocol = proxy.ProtoH2C
		if s.Protocol == "h2" {
			svc.Protocol = proxy.ProtoH2
		}
		svc.H2 = proxy.NewH2Transport(proxy.H2Options{TLS: opts.TLS, ConnectTimeout: opts.ConnectTimeout,
			IdleTimeout: opts.IdleTimeout})
	}
	return svc, nil
}

func (p *Built) reuse(k instanceKey) *upstream.Instance {
	if p == nil {
		return nil
	}
	return p.instances[k]
}

// Retired returns the instances of b that next no longer uses; the caller closes them once next is in force.
func (b *Built) Retired(next *Built) []*upstream.Instance {
	var out []*upstream.Instance
	for k, in := range b.instances {
		if next == nil || next.instances[k] != in {
			out = append(out, in)
		}
	}
	return out
}

func (b *Built) compileRoute(cfg *config.Config, r *config.Route, prev *Built, diags *config.Diagnostics) (router.Route[*proxy.Route], *proxy.Route) {
	m := &r.Match
	rr := router.Route[*proxy.Route]{Hosts: m.Hosts, Methods: m.Methods, PrefixFirst: m.PrefixFirst}
	switch {
	case m.Path != "":
		rr.PathKind, rr.Path = router.PathExact, m.Path
	case m.PathRegex != "":
		rr.PathKind, rr.Path = router.PathRegex, m.PathRegex
	default:
		rr.PathKind, rr.Path = router.PathPrefix, m.PathPrefix
	}
	for _, name := range sortedKeys(m.Headers) {
		v := m.Headers[name]
		hm := router.HeaderMatch{Name: name}
		switch {
		case v == "*":
			hm.Present = true
		case strings.HasPrefix(v, "~"):
			re, err := regexp.Compile(v[1:])
			if err != nil {
				diags.Errorf(m.At("headers."+name), "route %s: header %s: %v", r.Name, name, err)
				continue
			}
			hm.Regex = re
		default:
			hm.Value = v
		}
		rr.Headers = append(rr.Headers, hm)
	}

	pr := &proxy.Route{Name: r.Name, Stats: carry(b.routeStats, prevStats(prev).route, r.Name)}
	pr.RateLimit = b.compileRateLimit(r, prev)
	pr.Access = compileAccess(cfg, r, diags)
	pr.ErrorPages = compileRouteErrorPages(r, diags)
	if r.Return != nil {
		pr.Return = compileReturn(r, b.templateEnv(r), diags)
		return rr, pr
	}
	if r.Static != nil {
		pr.Static = compileStatic(r, diags)
		pr.Response = compileHeaderOps(&r.ResponseHeaders, r.Name, b.templateEnv(r), diags)
		return rr, pr
	}
	pr.Service = b.Services[r.Service]
	pr.MaxBodyBytes = int64(cfg.Server.MaxBodyBytes)
	if r.Has("max_body_bytes") {
		pr.MaxBodyBytes = int64(r.MaxBodyBytes)
	}
	t := cfg.RouteTimeouts(r)
	pr.Timeouts = proxy.Timeouts{
		Connect:        t.Connect.Duration,
		ResponseHeader: t.ResponseHeader.Duration,
		Idle:           t.Idle.Duration,
		Total:          t.Total.Duration,
	}
	if pr.Timeouts.Idle <= 0 {
		pr.Timeouts.Idle = 60 * time.Second
	}
	pr.StripPrefix, pr.AddPrefix = r.Rewrite.StripPrefix, r.Rewrite.AddPrefix
	pr.NoForwarded = r.ForwardedHeaders != nil && !*r.ForwardedHeaders
	if rp := r.Rewrite.ReplacePath; rp != nil {
		re, err := regexp.Compile(rp.Regex)
		if err != nil {
			diags.Errorf(rp.At("regex"), "route %s: replace_path: %v", r.Name, err)
		}
		pr.Rewrite, pr.RewriteWith = re, rp.With
	}
	switch h := r.Rewrite.Host; h {
	case "", "pass":
		pr.Host = proxy.HostPass
	case "upstream":
		pr.Host = proxy.HostUpstream
	default:
		pr.Host = proxy.HostTemplate
		pr.HostValue = compileTemplate(h, r.Rewrite.At("host"), r.Name, b.templateEnv(r), diags)
	}
	pr.RewriteLocation = compileLocationRewrite(cfg, r, diags)
	pr.Request = compileHeaderOps(&r.RequestHeaders, r.Name, b.templateEnv(r), diags)
	pr.Response = compileHeaderOps(&r.ResponseHeaders, r.Name, b.templateEnv(r), diags)
	pr.Compress = b.compileCompression(cfg, r, diags)
	if r.Shadow != nil {
		b.compileShadow(r, pr, prev)
	}
	if r.Canary != nil {
		pr = b.compileCanary(r, pr, prev)
	}
	return rr, pr
}

// compileRateLimit builds r's rate limit, reusing prev's buckets when the route kept its name, rate, burst and key
// (a reload must not hand every client a fresh burst).
func (b *Built) compileRateLimit(r *config.Route, prev *Built) *proxy.RateLimit {
	rc := r.RateLimit
	if rc == nil {
		return nil
	}
	count, per, err := config.ParseRate(rc.Rate)
	if err != nil {
		return nil // validation has reported it
	}
	lim := ratelimit.Limit{Rate: float64(count) / per.Seconds(), Burst: rc.Burst}
	if lim.Burst == 0 {
		lim.Burst = count
	}
	rl := &proxy.RateLimit{Key: proxy.RateByClientIP, Status: rc.Status}
	switch kind, name, _ := strings.Cut(rc.Key, ":"); {
	case rc.Key == "route":
		rl.Key = proxy.RateByRoute
	case kind == "header":
		rl.Key, rl.Header = proxy.RateByHeader, name
	}
	if prev != nil {
		if old := prev.rateLimits[r.Name]; old != nil && old.Key == rl.Key && old.Header == rl.Header &&
			old.Limiter.Limit() == lim {
			rl.Limiter = old.Limiter
		}
	}
	if rl.Limiter == nil {
		rl.Limiter = ratelimit.New(lim, ratelimit.Options{})
	}
	b.rateLimits[r.Name] = rl
	return rl
}

func compileHeaderOps(h *config.HeaderOps, route string, env proxy.TemplateEnv, diags *config.Diagnostics) proxy.HeaderOps {
	values := func(m map[string]string, key string) []proxy.HeaderValue {
		var out []proxy.HeaderValue
		for _, name := range sortedKeys(m) {
			t := compileTemplate(m[name], h.At(key+"."+name), route, env, diags)
			out = append(out, proxy.HeaderValue{Name: name, Value: t})
		}
		return out
	}
	return proxy.NewHeaderOps(values(h.Set, "set"), values(h.Add, "add"), h.Remove)
}

func compileTemplate(s string, pos config.Pos, route string, env proxy.TemplateEnv, diags *config.Diagnostics) proxy.Template {
	parts, err := config.ParseTemplate(s)
	if err == nil {
		ps := make([]proxy.Part, len(parts))
		for i, p := range parts {
			ps[i] = proxy.Part(p)
		}
		var t proxy.Template
		if t, err = proxy.CompileTemplateEnv(ps, env); err == nil {
			return t
		}
	}
	diags.Errorf(pos, "route %s: template %q: %v", route, s, err)
	return proxy.Template{}
}

// compileReturn compiles a route's return: values without variables stay static (written as they are, with $$
// unescaped), the others become templates rendered per request.
func compileReturn(r *config.Route, env proxy.TemplateEnv, diags *config.Diagnostics) *proxy.Return {
	ret := r.Return
	out := &proxy.Return{Status: ret.Status}
	if lit, ok := literalTemplate(ret.Body); ok {
		out.Body = []byte(lit)
	} else {
		t := compileTemplate(ret.Body, ret.At("body"), r.Name, env, diags)
		out.BodyTemplate = &t
	}
	for _, k := range sortedKeys(ret.Headers) {
		if lit, ok := literalTemplate(ret.Headers[k]); ok {
			out.Headers = append(out.Headers, [2]string{k, lit})
			continue
		}
		t := compileTemplate(ret.Headers[k], ret.At("headers."+k), r.Name, env, diags)
		out.Templates = append(out.Templates, proxy.HeaderValue{Name: k, Value: t})
	}
	return out
}

// literalTemplate returns the text of a template without variables; ok is false when s uses variables or is
// invalid (compileTemplate then reports it).
func literalTemplate(s string) (string, bool) {
	parts, err := config.ParseTemplate(s)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Var != "" {
			return "", false
		}
		b.WriteString(p.Literal)
	}
	return b.String(), true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// templateEnv is what r's templates may refer to: its capture regex (captures, else match.path_regex anchored as
// the router anchors it, so the groups are those of the match) and the maps.
func (b *Built) templateEnv(r *config.Route) proxy.TemplateEnv {
	env := proxy.TemplateEnv{Maps: b.maps}
	switch {
	case r.Captures != "":
		env.Captures, _ = regexp.Compile(r.Captures) // validated
	case r.Match.PathRegex != "":
		env.Captures, _ = regexp.Compile(`^(?:` + r.Match.PathRegex + `)$`)
	}
	return env
}

// compileMaps compiles the config's maps; their templates use neither maps nor captures (validated).
func compileMaps(cfg *config.Config, diags *config.Diagnostics) map[string]*proxy.Map {
	out := map[string]*proxy.Map{}
	for _, name := range sortedNames(cfg.Maps) {
		m := cfg.Maps[name]
		what := "map " + name
		var entries []proxy.MapEntry
		for i := range m.Entries {
			e := &m.Entries[i]
			pe := proxy.MapEntry{Exact: e.Exact, Value: compileTemplate(e.Value, e.At("value"), what, proxy.TemplateEnv{}, diags)}
			if e.Has("regex") {
				re, err := regexp.Compile(e.Regex)
				if err != nil {
					continue // validated
				}
				pe.Regex = re
			}
			entries = append(entries, pe)
		}
		src := compileTemplate(m.Source, m.At("source"), what, proxy.TemplateEnv{}, diags)
		def := compileTemplate(m.Default, m.At("default"), what, proxy.TemplateEnv{}, diags)
		out[name] = proxy.NewMap(src, entries, def, true)
	}
	return out
}

func sortedNames[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Describe summarises a build for logs.
func (b *Built) Describe() string {
	// The config's routes, not one table's: routes limited to listeners (every route of an nginx config) live in the
	// per-listener tables.
	return fmt.Sprintf("%d listeners, %d services, %d routes", len(b.Listeners), len(b.Services), len(b.Config.Routes))
}
