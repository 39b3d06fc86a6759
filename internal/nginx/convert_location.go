package nginx

import (
	"net/url"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// location converts a location block (and, flattened, its nested prefix
// and exact locations) into routes. outer is the enclosing location's path
// for a nested one.
func (c *converter) location(l *Directive, sc *scope, si *serverInfo, outer *route, static bool) {
	r := &route{pos: l.Pos, nested: outer != nil}
	if !c.locationMatch(l, r, outer) {
		return
	}
	if outer == nil && len(l.Find("location")) > 0 && r.kind == "path_prefix" && shadowsNested(si, l, r.path) {
		c.errorf(l.Pos, "location %q has nested locations and the server has a longer prefix location under it: "+
			"not supported yet", r.path)
		return
	}
	var pass, ret *Directive
	var rws []*Directive
	for _, e := range l.Block {
		switch {
		case e.Name == "location":
		case c.setting(e, sc):
		case e.Name == "rewrite":
			rws = append(rws, e)
		case e.Name == "proxy_pass" || e.Name == "grpc_pass":
			if pass != nil {
				c.errorf(e.Pos, "%q directive is duplicate", e.Name)
			}
			pass = e
		case e.Name == "return":
			ret = e
		case e.Name == "limit_conn":
			c.errorf(e.Pos, "limit_conn in a location: not supported (fjord limits connections per client address "+
				"for the whole server: put it at http or server level)")
		case staticFiles[e.Name]:
			// read by staticLocation when the location serves files
		case notYet[e.Name]:
			c.unsupported(e)
		case e.Name == "access_log" || strings.HasPrefix(e.Name, "gzip") || nginxOnly[e.Name]:
			c.ignored(e, "set once at http level in fjord, or tunes nginx itself")
		default:
			c.unknown(e, "location")
		}
	}
	rw, ok := c.onlyRewrite(rws)
	if !ok {
		return
	}
	r.access, r.errDecls = sc.access, sc.errorPages
	if r.named != "" {
		c.namedLocation(l, r, pass, ret, rw != nil, sc, si)
		return
	}
	switch {
	case rw != nil:
		c.rewrittenLocation(rw, l, r, pass, ret, sc, si)
	case ret != nil:
		if pass != nil {
			c.diag(pass.Pos, SeverityWarning, "return runs before proxy_pass: proxy_pass is never used")
		}
		c.returnRoute(r, ret, si)
		c.addRoute(r, si)
	case pass != nil && pass.Name == "grpc_pass":
		if c.grpcRoute(r, pass, sc, si) {
			c.addRoute(r, si)
		}
	case pass != nil:
		if c.proxyRoute(r, pass, sc, si) {
			c.addRoute(r, si)
			c.slashRedirect(l, r, si)
		}
	case len(l.Find("location")) == 0 || r.kind != "path_prefix" || servesFiles(l):
		if c.staticLocation(l, r, sc, si) {
			c.addRoute(r, si)
		}
	}
	for _, n := range l.Find("location") {
		if outer != nil {
			c.errorf(n.Pos, "locations nested two levels deep: not supported yet")
			continue
		}
		c.location(n, sc.clone(), si, r, static)
	}
}

// namedLocation converts a named location (@name). fjord reaches one only as a try_files fallback, so it must proxy:
// with proxy_pass (no URI part, as nginx requires there) the request goes upstream as it came.
func (c *converter) namedLocation(l *Directive, r *route, pass, ret *Directive, rewrites bool, sc *scope, si *serverInfo) {
	switch {
	case pass == nil || pass.Name != "proxy_pass" || ret != nil || rewrites:
		c.errorf(l.Pos, "named location %s: only one that proxies with proxy_pass is supported (it serves "+
			"try_files fallbacks)", r.named)
		return
	case len(l.Find("location")) > 0:
		c.errorf(l.Pos, "named location %s with nested locations: nginx does not allow it", r.named)
		return
	}
	if !c.proxyRoute(r, pass, sc, si) {
		return
	}
	if r.strip != "" || r.add != "" {
		c.errorf(pass.Args[0].Pos, "proxy_pass in named location %s: a URI part is not allowed here (nginx refuses "+
			"it too)", r.named)
		return
	}
	c.addNamed(r, si)
}

// nestedRegex checks a regex location nested in the prefix location outer.
// nginx tries it only when outer is the longest matching prefix, and before
// the server's own regexes. fjord's flat table gives the same answer when
// the regex can match only paths under outer (it starts with ^ and outer's
// path), no longer prefix location of the server lies under outer, and
// outer is not ^~ (whose nested regexes nginx still tries); the route is
// then placed before the server's other regex routes (see addRoute).
func (c *converter) nestedRegex(l *Directive, re string, fold bool, outer *route) bool {
	if outer.prefixFirst {
		c.errorf(l.Pos, "regex location nested in a ^~ location: not supported yet")
		return false
	}
	if fold || !anchoredUnder(re, outer.path) {
		c.errorf(l.Pos, "regex location nested in location %q must start with ^%s (case-sensitive) to be converted: "+
			"not supported yet", outer.path, outer.path)
		return false
	}
	return true
}

// anchoredUnder reports whether the regex re matches only paths that start
// with prefix: it is ^ followed by literal text beginning with prefix.
func anchoredUnder(re, prefix string) bool {
	p, err := syntax.Parse(re, syntax.Perl)
	if err != nil || p.Op != syntax.OpConcat || len(p.Sub) < 2 || p.Sub[0].Op != syntax.OpBeginText {
		return false
	}
	lit := p.Sub[1]
	return lit.Op == syntax.OpLiteral && lit.Flags&syntax.FoldCase == 0 && strings.HasPrefix(string(lit.Rune), prefix)
}

// shadowsNested reports whether the server has a prefix location longer
// than outer's path under it: nginx would pick that one for its paths and
// never look at outer's nested locations, which a flat table cannot show.
func shadowsNested(si *serverInfo, outer *Directive, path string) bool {
	for _, l := range si.d.Find("location") {
		v := l.Values()
		if l != outer && (len(v) == 1 || v[0] == "^~") && len(v[len(v)-1]) > len(path) &&
			strings.HasPrefix(v[len(v)-1], path) {
			return true
		}
	}
	return false
}

// locationMatch fills r's path match from the location's modifier.
func (c *converter) locationMatch(l *Directive, r *route, outer *route) bool {
	vs := l.Values()
	if len(vs) < 1 || len(vs) > 2 {
		c.errorf(l.Pos, `invalid number of arguments in "location" directive`)
		return false
	}
	mod, arg := "", vs[0]
	argPos := l.Args[0].Pos
	if len(vs) == 2 {
		mod, arg, argPos = vs[0], vs[1], l.Args[1].Pos
	}
	switch mod {
	case "":
		if strings.HasPrefix(arg, "@") {
			if outer != nil {
				c.errorf(l.Pos, "named location %s nested in a location: nginx does not allow it", arg)
				return false
			}
			r.named = arg
			return true
		}
		r.kind, r.path = "path_prefix", arg
	case "=":
		r.kind, r.path = "path", arg
	case "^~":
		r.kind, r.path, r.prefixFirst = "path_prefix", arg, true
	case "~", "~*":
		re, err := translateRegex(arg, mod == "~*")
		if err != "" {
			c.errorf(argPos, "location regex %q: %s", arg, err)
			return false
		}
		r.kind, r.path = "path_regex", re
	default:
		c.errorf(l.Args[0].Pos, "invalid location modifier %q", mod)
		return false
	}
	if outer != nil {
		switch {
		case outer.kind != "path_prefix":
			c.errorf(l.Pos, "location nested in an exact or regex location: not supported yet")
			return false
		case r.kind == "path_regex":
			return c.nestedRegex(l, vs[len(vs)-1], mod == "~*", outer)
		case !strings.HasPrefix(r.path, outer.path):
			c.errorf(l.Pos, "location %q is outside location %q", r.path, outer.path)
			return false
		case r.prefixFirst && !outer.prefixFirst:
			// nginx still tries the server's regexes after a nested ^~
			// match when the outer location is a plain prefix.
			c.errorf(l.Pos, "^~ location nested in a plain prefix location: not supported yet")
			return false
		case outer.prefixFirst && r.kind == "path_prefix":
			r.prefixFirst = true // the outer ^~ already ruled out the server's regexes
		}
	}
	if r.kind != "path_regex" && !strings.HasPrefix(r.path, "/") {
		c.errorf(argPos, "location %q: fjord paths start with /", r.path)
		return false
	}
	return true
}

// translateRegex turns an unanchored PCRE location regex into an RE2 regex
// that must match the whole path, which is what fjord's path_regex does.
func translateRegex(re string, fold bool) (string, string) {
	for _, bad := range []string{"(?=", "(?!", "(?<=", "(?<!", "(?>", "\\K"} {
		if strings.Contains(re, bad) {
			return "", "lookaround and atomic groups (" + bad + ") are not available in fjord's RE2"
		}
	}
	if regexp.MustCompile(`\\[1-9]`).MatchString(re) {
		return "", "backreferences are not available in fjord's RE2"
	}
	// .*?(?:re).* matches the whole path exactly when re matches anywhere in
	// it; ^ and $ inside the group still anchor at the path's ends. The lazy
	// .*? makes the groups those of re's leftmost match, as in nginx, so
	// templates' $1..$9 see the same captures.
	out := ".*?(?:" + re + ").*"
	if fold {
		out = "(?i)" + out
	}
	if _, err := regexp.Compile(out); err != nil {
		return "", err.Error()
	}
	return out, ""
}

// returnRoute makes r a direct response from `return CODE [TEXT|URL]` or `return URL`.
func (c *converter) returnRoute(r *route, d *Directive, si *serverInfo) {
	r.isReturn = true
	if !c.nargs(d, 1, 2) {
		return
	}
	vs := d.Values()
	code, err := strconv.Atoi(vs[0])
	text := ""
	if len(vs) == 2 {
		text = vs[1]
	}
	if err != nil {
		if !strings.HasPrefix(vs[0], "http://") && !strings.HasPrefix(vs[0], "https://") || len(vs) != 1 {
			c.errorf(d.Args[0].Pos, "invalid return code %q", vs[0])
			return
		}
		code, text = 302, vs[0]
	}
	if code == 444 || code < 100 || code > 599 {
		c.errorf(d.Args[0].Pos, "return %d: not supported", code)
		return
	}
	// The native return values are templates: nginx's variables translate
	// as in headers, and a literal $ is escaped.
	text, ok := c.template(text, d.Pos, si, "", r)
	if !ok {
		return
	}
	r.retStatus = code
	switch code {
	case 301, 302, 303, 307, 308:
		r.retLocation = text
	default:
		r.retBody = text
	}
}

// proxyRoute fills r from proxy_pass and the proxy settings in force.
func (c *converter) proxyRoute(r *route, pass *Directive, sc *scope, si *serverInfo) bool {
	if !c.nargs(pass, 1, 1) {
		return false
	}
	raw := pass.Args[0].Value
	if strings.Contains(raw, "$") {
		c.errorf(pass.Args[0].Pos, "variables in proxy_pass: not supported yet")
		return false
	}
	rest, ok := strings.CutPrefix(raw, "http://")
	if !ok {
		if strings.HasPrefix(raw, "https://") {
			c.errorf(pass.Args[0].Pos, "proxy_pass to https:// upstreams: not supported yet")
		} else {
			c.errorf(pass.Args[0].Pos, "invalid URL prefix in %q", raw)
		}
		return false
	}
	hostport, uri, hasURI := strings.Cut(rest, "/")
	if hasURI {
		uri = "/" + uri
	}
	s := c.upstreams[hostport]
	proxyHost := hostport
	if s == nil {
		addr, ok := c.hostPort(Arg{Value: hostport, Pos: pass.Args[0].Pos})
		if !ok {
			return false
		}
		s = c.addrService(addr, pass.Pos)
	}
	if s.protocol != "" {
		c.errorf(pass.Pos, "upstream %q is used by grpc_pass and proxy_pass: fjord sets the protocol per service", hostport)
		return false
	}
	r.service = s
	s.used = true
	if hasURI {
		if r.kind == "path_regex" {
			c.errorf(pass.Args[0].Pos, `"proxy_pass" cannot have URI part in location given by regular expression`)
			return false
		}
		if _, err := url.ParseRequestURI(uri); err != nil || strings.Contains(uri, "?") {
			c.errorf(pass.Args[0].Pos, "proxy_pass URI %q: not supported yet", uri)
			return false
		}
		r.strip, r.add = r.path, uri
	}
	c.proxyRedirects(r, sc, raw, hasURI)
	return c.proxyCommon(r, s, sc, si, pass.Pos, proxyHost)
}

// proxyCommon fills the parts of a proxied route that proxy_pass and
// grpc_pass share: retries, limits, timeouts and headers.
func (c *converter) proxyCommon(r *route, s *service, sc *scope, si *serverInfo, p Pos, proxyHost string) bool {
	c.retries(s, sc, p)
	r.maxBody = nginxMaxBody
	if sc.maxBodySet {
		r.maxBody = sc.maxBody
	}
	if !c.rateLimit(r, sc) {
		return false
	}
	connect, read, send := sc.timeouts()
	if connect != nginxTimeout {
		r.connect = connect.String()
	}
	if read != nginxTimeout {
		r.rh = read.String()
	}
	if idle := max(read, send); idle != nginxTimeout {
		r.idle = idle.String()
	}
	return c.headers(r, sc, si, proxyHost)
}

// addrService returns the service synthesized for proxy_pass to an address.
func (c *converter) addrService(addr string, p Pos) *service {
	key := "addr " + addr
	if s := c.upstreams[key]; s != nil {
		return s
	}
	s := &service{name: c.serviceName(addr), pos: p, balancer: "round_robin",
		instances: []instance{{addr: addr, weight: 1, pos: p}}}
	c.upstreams[key] = s
	c.services = append(c.services, s)
	return s
}

// slashRedirect reproduces nginx's answer to a request for a proxied prefix
// location's path without its trailing slash: a 301 to the path with the
// slash, unless another location claims that path exactly or as a prefix.
func (c *converter) slashRedirect(l *Directive, r *route, si *serverInfo) {
	if r.kind != "path_prefix" || len(r.path) < 2 || !strings.HasSuffix(r.path, "/") {
		return
	}
	bare := strings.TrimSuffix(r.path, "/")
	claimed := false
	Walk(si.d.Block, func(d *Directive) bool {
		if d.Name == "location" {
			v := d.Values()
			if v[len(v)-1] == bare && (len(v) == 1 || v[0] == "=" || v[0] == "^~") {
				claimed = true
			}
		}
		return !claimed
	})
	if claimed {
		return
	}
	c.diag(l.Pos, SeverityInfo, "%s without the slash answers 301 to %s, as in nginx (with a relative Location)", bare, r.path)
	rd := &route{pos: r.pos, kind: "path", path: bare, isReturn: true, retStatus: 301, retLocation: r.path}
	c.addRoute(rd, si)
}
