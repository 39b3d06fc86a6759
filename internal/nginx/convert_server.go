package nginx

import (
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// listener is one distinct listen address.
type listener struct {
	name, addr string
	pos        Pos
	dflt       *Directive // the default server of this address
	proxyProto bool       // some listen of this address says proxy_protocol
	deferred   bool       // some listen of this address says deferred (TCP_DEFER_ACCEPT)
}

// kv is an ordered header entry of a route.
type kv struct {
	name, value string
	pos         Pos
}

// route is one fjord route: a location (or server-level return) on some
// listeners, with or without host names.
type route struct {
	name       string
	pos        Pos
	listeners  []string
	hosts      []string
	kind, path string // "path", "path_prefix" or "path_regex"; "" for a named location
	// named is a named location's name (@name); such a route is internal (never matched, only a fallback).
	named       string
	internal    bool
	prefixFirst bool
	service     *service
	retStatus   int
	retBody     string
	retLocation string
	isReturn    bool
	strip, add  string
	// replRegex and replWith are rewrite.replace_path, from nginx's rewrite.
	replRegex, replWith string
	host                string
	forwarded           bool
	set, resAdd         []kv
	remove              []string
	resRemove           []string
	connect             string
	rh, idle            string
	nested              bool // from a location nested in another
	// captures is the regex whose groups $1..$9 name (a rewrite's), when
	// it is not the route's own path_regex.
	captures string
	// maxBody is max_body_bytes (client_max_body_size, nginx's 1m by
	// default); rate, rateKey and burst are rate_limit when rate is set.
	maxBody       int64
	rate, rateKey string
	rateStatus    int // limit_req_status (nginx's default 503)
	burst         int
	static        *staticRoute // a location that serves files (convert_static.go)
	// access is the allow/deny list in force (convert_access.go); nginx checks it after the rewrite phase, so
	// return and redirect routes never carry it.
	access []string
	// si is the server the route belongs to; errDecls the error_page declarations in force (nil: none), resolved
	// into errPages by resolveErrorPages; redirects is proxy_redirect as fjord's location_rewrites.
	si        *serverInfo
	errDecls  []errorPageDecl
	errPages  []nativePage
	redirects [][2]string
}

// serverInfo is what the locations of one server block share.
type serverInfo struct {
	d         *Directive
	listeners []*listener
	hosts     []string
	firstName string
	// nestedAt is where the next nested regex route goes in c.routes: before
	// the server's own routes, because nginx tries a nested regex before the
	// regexes of the enclosing level.
	nestedAt int
	// errDecls are the server's error_page declarations, which fjord applies to requests no location matches.
	errDecls []errorPageDecl
	// named maps the server's named locations (@name) to the internal routes made from them.
	named map[string]string
}

// server converts a server block into listeners and routes.
func (c *converter) server(d *Directive, sc *scope) {
	si := &serverInfo{d: d, listeners: c.serverListeners[d], nestedAt: len(c.routes)}
	for _, n := range d.Find("server_name") {
		for _, a := range n.Args {
			if si.firstName == "" {
				si.firstName = a.Value
			}
			si.hosts = append(si.hosts, c.serverName(a)...)
		}
	}
	var ret *Directive
	var rws []*Directive
	static := !proxies(d.Block)
	for _, e := range d.Block {
		switch {
		case e.Name == "listen" || e.Name == "server_name" || e.Name == "location":
		case e.Name == "rewrite":
			rws = append(rws, e)
		case staticFiles[e.Name]:
			// read by the locations that serve files (convert_static.go)
		case c.setting(e, sc):
		case e.Name == "return":
			ret = e
		case e.Name == "limit_conn":
			c.limitConn(e)
		case e.Name == "access_log":
			c.ignored(e, "fjord writes one access log, configured at http level")
		case c.tlsSetting(e, &sc.tls):
		case strings.HasPrefix(e.Name, "gzip"):
			c.ignored(e, "fjord does not compress responses yet")
		case e.Name == "keepalive_timeout" || nginxOnly[e.Name]:
			c.ignored(e, "tunes nginx itself, or is set once at http level in fjord")
		case notYet[e.Name]:
			c.unsupported(e)
		default:
			c.unknown(e, "server")
		}
	}
	c.tlsOf[d] = &sc.tls
	if rw, ok := c.onlyRewrite(rws); !ok || rw != nil {
		if ok && ret != nil {
			c.errorf(rw.d.Pos, "rewrite together with return in one server: not supported yet")
		} else if ok {
			c.serverRewrite(rw, si)
		}
		return
	}
	if ret != nil {
		// A server-level return runs before location matching: it answers
		// every request of the server.
		r := &route{kind: "path_prefix", path: "/", pos: ret.Pos}
		c.returnRoute(r, ret, si)
		c.addRoute(r, si)
		if len(d.Find("location")) > 0 {
			c.diag(ret.Pos, SeverityInfo, "server-level return answers every request: the locations are unreachable")
		}
		return
	}
	si.errDecls = sc.errorPages
	c.serverInfos = append(c.serverInfos, si)
	start := len(c.routes)
	for _, l := range d.Find("location") {
		c.location(l, sc.clone(), si, nil, static)
	}
	c.resolveFallbacks(c.routes[start:], si)
}

// addNamed adds the route of a named location (@name): an internal route, reached only as a try_files fallback.
func (c *converter) addNamed(r *route, si *serverInfo) {
	r.si, r.internal = si, true
	base := strings.TrimSuffix(filepath.Base(r.pos.File), filepath.Ext(r.pos.File)) + "-" + strconv.Itoa(r.pos.Line)
	r.name = c.routeName(base + "-" + strings.TrimPrefix(r.named, "@"))
	c.routes = append(c.routes, r)
	if si.named == nil {
		si.named = map[string]string{}
	}
	si.named[r.named] = r.name
}

// staticFiles are the directives of nginx's file serving.
var staticFiles = map[string]bool{"root": true, "alias": true, "index": true, "try_files": true,
	"types": true, "default_type": true}

// proxies reports whether any location in ds proxies, returns or rewrites.
func proxies(ds []*Directive) bool {
	found := false
	Walk(ds, func(d *Directive) bool {
		if d.Name == "proxy_pass" || d.Name == "grpc_pass" || d.Name == "return" || d.Name == "rewrite" {
			found = true
		}
		return !found
	})
	return found
}

// listens registers the listeners of server d. It runs for every server
// before any routes are made, because a later server's default_server
// decides which server gets the default routes.
func (c *converter) listens(d *Directive) {
	listens := d.Find("listen")
	if len(listens) == 0 {
		c.diag(d.Pos, SeverityInfo, "server without listen: nginx listens on *:80")
		c.serverListeners[d] = append(c.serverListeners[d], c.listener("0.0.0.0:80", d.Pos, d, false))
	}
	for _, l := range listens {
		if ln := c.listenDirective(l, d); ln != nil {
			c.serverListeners[d] = append(c.serverListeners[d], ln)
		}
	}
}

// listenDirective parses `listen ADDR [flags]` and returns its listener.
func (c *converter) listenDirective(l *Directive, srv *Directive) *listener {
	if !c.nargs(l, 1, 20) {
		return nil
	}
	addr, ok := c.listenAddr(l.Args[0])
	if !ok {
		return nil
	}
	dflt, ssl, h2, pp, deferred := false, false, false, false, false
	for _, a := range l.Args[1:] {
		k, _, _ := strings.Cut(a.Value, "=")
		switch k {
		case "default_server", "default":
			dflt = true
		case "ssl":
			ssl = true
		case "http2":
			h2 = true
		case "quic", "http3":
			c.errorf(a.Pos, "listen %s: HTTP/3 is not supported yet", a.Value)
		case "proxy_protocol":
			pp = true
		case "deferred":
			deferred = true
		case "reuseport", "backlog", "rcvbuf", "sndbuf", "bind", "ipv6only", "so_keepalive",
			"fastopen", "accept_filter", "setfib":
			c.diag(a.Pos, SeverityWarning, "ignored: listen parameter %s (tunes nginx's socket)", a.Value)
		default:
			c.errorf(a.Pos, "invalid listen parameter %q", a.Value)
		}
	}
	ln := c.listener(addr, l.Pos, srv, dflt)
	ln.proxyProto = ln.proxyProto || pp
	ln.deferred = ln.deferred || deferred
	c.markListen(ln, ssl, h2, l.Pos)
	return ln
}

// listener returns the listener for addr, creating it, and records srv as
// its default server when it is the first or says default_server.
func (c *converter) listener(addr string, p Pos, srv *Directive, dflt bool) *listener {
	ln := c.byAddr[addr]
	if ln == nil {
		ln = &listener{name: addr, addr: addr, pos: p, dflt: srv}
		c.byAddr[addr] = ln
		c.listeners = append(c.listeners, ln)
	}
	if dflt {
		ln.dflt = srv
	}
	return ln
}

// listenAddr normalizes nginx's listen address forms to host:port.
func (c *converter) listenAddr(a Arg) (string, bool) {
	v := a.Value
	if strings.HasPrefix(v, "unix:") {
		c.errorf(a.Pos, "listen on a unix socket: not supported yet")
		return "", false
	}
	if _, err := strconv.Atoi(v); err == nil {
		return "0.0.0.0:" + v, true
	}
	if h, p, err := net.SplitHostPort(v); err == nil {
		if h == "*" {
			h = "0.0.0.0"
		}
		return net.JoinHostPort(h, p), true
	}
	h := strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	if h == "*" {
		h = "0.0.0.0"
	}
	return net.JoinHostPort(h, "80"), true
}

// serverName maps one server_name argument to fjord host patterns.
func (c *converter) serverName(a Arg) []string {
	v := strings.ToLower(a.Value)
	switch {
	case v == "" || v == "_":
		return nil // matches no real host; the server is reached as a default only
	case strings.HasPrefix(v, "~"):
		return []string{v}
	case strings.HasPrefix(v, "."):
		return []string{v[1:], "*" + v}
	case strings.Contains(v, "$"):
		c.errorf(a.Pos, "server_name with variables: not supported")
		return nil
	}
	return []string{v}
}

// addRoute names r, attaches it to the server's listeners and hosts, and adds
// a copy without hosts on the listeners whose default server this is.
func (c *converter) addRoute(r *route, si *serverInfo) {
	r.si = si
	var all, dflt []string
	start := len(c.routes)
	for _, ln := range si.listeners {
		if !contains(all, ln.name) {
			all = append(all, ln.name)
		}
		if ln.dflt == si.d && !contains(dflt, ln.name) {
			dflt = append(dflt, ln.name)
		}
	}
	base := strings.TrimSuffix(filepath.Base(r.pos.File), filepath.Ext(r.pos.File)) + "-" + strconv.Itoa(r.pos.Line)
	if len(si.hosts) > 0 {
		h := *r
		h.listeners, h.hosts, h.name = all, si.hosts, c.routeName(base)
		c.routes = append(c.routes, &h)
	}
	if len(dflt) > 0 {
		d := *r
		d.listeners, d.hosts, d.name = dflt, nil, c.routeName(base+"-default")
		c.routes = append(c.routes, &d)
	}
	if r.nested && r.kind == "path_regex" {
		added := slices.Clone(c.routes[start:])
		c.routes = slices.Insert(c.routes[:start], si.nestedAt, added...)
		si.nestedAt += len(added)
	}
}

func (c *converter) routeName(base string) string {
	name := base
	for i := 2; c.rtNames[name]; i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	c.rtNames[name] = true
	return name
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
