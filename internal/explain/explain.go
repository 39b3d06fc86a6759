// Package explain answers "what would fjord do with this request?": which route matches and why every other route
// does not, the request that would go upstream (rewritten path, headers), the limits that apply, and the instance
// that would be picked and why. It runs offline on a compiled configuration (`fjord explain -c FILE`) and live in a
// running fjord (GET /explain on the admin interface, with the instances' live state).
//
// It only reads: nothing here moves a balancer's rotation, takes a limiter slot or spends a rate-limit token.
package explain

import (
	"fmt"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/proxy"
	"github.com/fjord-gw/fjord/internal/router"
)

// Gateway is the compiled configuration a request is explained against.
type Gateway struct {
	Config   *config.Config
	Routes   *router.Table[*proxy.Route] // the table of the request's listener
	Services map[string]*proxy.Service
}

// Request describes the request to explain.
type Request struct {
	Method   string
	URL      *url.URL // host (with optional port), path and query; the scheme sets ${scheme}
	Header   map[string]string
	Listener string     // listener name, only shown
	ClientIP netip.Addr // zero: shown symbolically, hash keys use 127.0.0.1
}

// ParseRequest builds a Request from a URL, a method and "Name: value" header lines (the CLI's and the admin
// query's form).
func ParseRequest(method, rawURL string, headers []string) (Request, error) {
	if !strings.Contains(rawURL, "://") {
		rawURL = "http://" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return Request{}, fmt.Errorf("parse URL: %w", err)
	}
	if u.Host == "" {
		return Request{}, fmt.Errorf("URL %q has no host", rawURL)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	if method == "" {
		method = "GET"
	}
	r := Request{Method: strings.ToUpper(method), URL: u, Header: map[string]string{}}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return Request{}, fmt.Errorf("header %q: want \"Name: value\"", h)
		}
		r.Header[textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name))] = strings.TrimSpace(value)
	}
	return r, nil
}

// Report is the answer. Its JSON form is stable for automation (`fjord explain --json`, GET /explain).
type Report struct {
	Request    RequestView `json:"request"`
	Live       bool        `json:"live"` // instance state is the running fjord's, not a fresh start
	HostGroup  string      `json:"host_group"`
	Route      string      `json:"route,omitempty"` // the matched route; "" when none (404)
	RouteAt    string      `json:"route_at,omitempty"`
	Candidates []Candidate `json:"candidates"`
	Return     *ReturnView `json:"return,omitempty"`
	Upstream   *Upstream   `json:"upstream,omitempty"`
	Limits     *Limits     `json:"limits,omitempty"`
	Pick       *PickView   `json:"pick,omitempty"`
	Notes      []string    `json:"notes,omitempty"`
}

// RequestView is the request as routed: the path normalized like the engine does.
type RequestView struct {
	Method   string            `json:"method"`
	Host     string            `json:"host"`
	Path     string            `json:"path"` // normalized
	Query    string            `json:"query,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Listener string            `json:"listener,omitempty"`
}

// Candidate is one route's verdict, in precedence order.
type Candidate struct {
	Route   string `json:"route"`
	At      string `json:"at"` // FILE:LINE of the route
	Match   string `json:"match"`
	Step    string `json:"step,omitempty"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
}

// ReturnView is a route's fixed response.
type ReturnView struct {
	Status int    `json:"status"`
	Body   string `json:"body,omitempty"`
}

// Upstream is the request head that would go to the instance.
type Upstream struct {
	Service    string   `json:"service"`
	RequestURI string   `json:"request_uri"` // rewritten path and query
	Rewrite    string   `json:"rewrite"`     // how the path was rewritten
	Host       string   `json:"host"`        // the Host header sent
	Headers    []string `json:"headers"`     // "Name: value", symbolic where the value is only known per request
}

// Limits are the effective per-request limits: the route's own over its service's over the defaults.
type Limits struct {
	Timeouts      map[string]string `json:"timeouts"`
	MaxBodyBytes  int64             `json:"max_body_bytes"` // 0 = unlimited
	RateLimit     string            `json:"rate_limit,omitempty"`
	Access        []string          `json:"access,omitempty"` // allow/deny rules in order (first match wins); none: everyone
	Retries       string            `json:"retries"`
	MaxConcurrent int               `json:"max_concurrent"` // 0 = unlimited
	Queue         string            `json:"queue,omitempty"`
	InFlight      int               `json:"in_flight"`
	Queued        int               `json:"queued"`
}

// PickView is which instance would take the request.
type PickView struct {
	Policy    string         `json:"policy"`
	HashKey   string         `json:"hash_key,omitempty"` // what the hash policy hashes, with its value
	Chosen    string         `json:"chosen"`             // "" when no instance is usable (503)
	Tier      string         `json:"tier,omitempty"`
	Note      string         `json:"note"`
	Instances []InstanceView `json:"instances"`
}

// InstanceView is one instance's verdict.
type InstanceView struct {
	Address  string `json:"address"`
	Backup   bool   `json:"backup,omitempty"`
	Weight   int    `json:"weight"`
	InFlight int64  `json:"in_flight"`
	Usable   bool   `json:"usable"`
	Reason   string `json:"reason"`
}

// Explain reports what g does with req at time now.
func Explain(g Gateway, req Request, now time.Time) Report {
	v, err := newView(req)
	rep := Report{Request: v.RequestView}
	if err != nil {
		rep.HostGroup = "(not routed)"
		rep.Notes = append(rep.Notes, fmt.Sprintf("the path is rejected before routing: fjord answers 400 (%v)", err))
		return rep
	}
	ex := g.Routes.Explain(&v)
	rep.HostGroup = ex.HostGroup
	if ex.HostGroup == "" {
		rep.HostGroup = "(none)"
	}
	for _, c := range ex.Candidates {
		cr := configRoute(g.Config, c.Target.Name)
		rep.Candidates = append(rep.Candidates, Candidate{Route: c.Target.Name, At: cr.Pos.String(), Match: describeMatch(cr),
			Step: c.Step, Verdict: c.Verdict.String(), Reason: c.Reason})
	}
	if ex.Matched < 0 {
		rep.Notes = append(rep.Notes, "no route matches: fjord answers 404")
		return rep
	}
	pr := ex.Candidates[matchedPos(ex)].Target
	cr := configRoute(g.Config, pr.Name)
	rep.Route, rep.RouteAt = pr.Name, cr.Pos.String()
	if pr.Return != nil {
		rep.Return = &ReturnView{Status: pr.Return.Status, Body: cr.Return.Body}
		rep.Notes = append(rep.Notes, fmt.Sprintf("fixed response: fjord answers %d itself, no upstream", pr.Return.Status))
		return rep
	}
	if pr.Static != nil {
		rep.Notes = append(rep.Notes, "static files: fjord answers from the directory "+cr.Static.StaticDir())
		return rep
	}
	rep.Upstream = upstreamOf(pr, cr, &v)
	rep.Limits = limitsOf(g.Config, pr, cr)
	if svc := pr.Service; svc != nil {
		rep.Pick = pickOf(svc, g.Config.Services[svc.Name], &v, now)
		if rep.Pick.Chosen == "" {
			rep.Notes = append(rep.Notes, "no instance is usable: fjord answers 503 ("+svc.Pool.Why()+")")
		}
	}
	return rep
}

func matchedPos(ex router.Explanation[*proxy.Route]) int {
	for i, c := range ex.Candidates {
		if c.Index == ex.Matched {
			return i
		}
	}
	return 0
}

func configRoute(c *config.Config, name string) *config.Route {
	for i := range c.Routes {
		if c.Routes[i].Name == name {
			return &c.Routes[i]
		}
	}
	return &config.Route{Name: name}
}

// describeMatch is a route's match in one line: hosts, path, methods, headers.
func describeMatch(r *config.Route) string {
	m := &r.Match
	var parts []string
	if len(m.Hosts) > 0 {
		parts = append(parts, "host "+strings.Join(m.Hosts, ","))
	}
	switch {
	case m.Path != "":
		parts = append(parts, "path "+m.Path)
	case m.PathRegex != "":
		parts = append(parts, "path_regex "+m.PathRegex)
	default:
		p := "path_prefix " + m.PathPrefix
		if m.PrefixFirst {
			p += " (prefix_first)"
		}
		parts = append(parts, p)
	}
	if len(m.Methods) > 0 {
		parts = append(parts, "methods "+strings.Join(m.Methods, ","))
	}
	for name, v := range m.Headers {
		parts = append(parts, "header "+name+"="+v)
	}
	if len(m.Listeners) > 0 {
		parts = append(parts, "listeners "+strings.Join(m.Listeners, ","))
	}
	return strings.Join(parts, " ")
}

// view is the request as the router sees it (router.Request).
type view struct {
	RequestView
	req  Request
	path []byte
}

func newView(req Request) (view, error) {
	v := view{req: req}
	var err error
	v.path, err = http1.AppendCleanPath(nil, []byte(req.URL.EscapedPath()))
	if err != nil {
		v.path = []byte(req.URL.EscapedPath())
	}
	v.RequestView = RequestView{Method: req.Method, Host: req.URL.Host, Path: string(v.path), Query: req.URL.RawQuery,
		Headers: req.Header, Listener: req.Listener}
	return v, err
}

func (v *view) Host() []byte   { return []byte(v.req.URL.Host) }
func (v *view) Path() []byte   { return v.path }
func (v *view) Method() []byte { return []byte(v.req.Method) }
func (v *view) Header(name string) ([]byte, bool) {
	s, ok := v.req.Header[textproto.CanonicalMIMEHeaderKey(name)]
	return []byte(s), ok
}

func (v *view) scheme() string {
	if v.req.URL.Scheme == "" {
		return "http"
	}
	return v.req.URL.Scheme
}

func (v *view) clientIP() string {
	if v.req.ClientIP.IsValid() {
		return v.req.ClientIP.String()
	}
	return "<client ip>"
}

var _ router.Request = (*view)(nil)

// hashKeyOf says what a hash balancer hashes for this request, and the key, like the engine's hashKey.
func hashKeyOf(svc *proxy.Service, v *view) (string, uint64) {
	if svc.Pool.Policy != balancer.Hash {
		return "", 0
	}
	switch svc.HashFrom {
	case proxy.HashHeader:
		h, _ := v.Header(svc.HashName)
		return fmt.Sprintf("header %s = %q", svc.HashName, h), balancer.HashKey(h)
	case proxy.HashCookie:
		c := cookie(v.req.Header["Cookie"], svc.HashName)
		return fmt.Sprintf("cookie %s = %q", svc.HashName, c), balancer.HashKey([]byte(c))
	}
	ip := v.req.ClientIP
	if !ip.IsValid() {
		ip = netip.MustParseAddr("127.0.0.1")
	}
	a := ip.As16()
	return "client IP " + ip.String(), balancer.HashKey(a[:])
}

func cookie(header, name string) string {
	for _, part := range strings.Split(header, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k == name {
			return val
		}
	}
	return ""
}
