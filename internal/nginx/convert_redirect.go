package nginx

import "strings"

// redirectRule is one proxy_redirect: the default rule (from the proxy_pass URL), or a literal FROM TO.
type redirectRule struct {
	dflt     bool
	from, to string
}

// proxyRedirect reads proxy_redirect default|off|FROM TO into sc. A level that sets any replaces its parent's list
// (nginx's array rule); off leaves the level's list empty.
func (c *converter) proxyRedirect(d *Directive, sc *scope) {
	if !c.nargs(d, 1, 2) {
		return
	}
	if !sc.redirHere {
		sc.redirects, sc.redirHere = []redirectRule{}, true
	}
	v := d.Values()
	switch {
	case len(v) == 1 && v[0] == "off":
		sc.redirects = []redirectRule{}
	case len(v) == 1 && v[0] == "default":
		sc.redirects = append(sc.redirects, redirectRule{dflt: true})
	case len(v) == 1:
		c.errorf(d.Pos, "proxy_redirect %q: want default, off or FROM TO", v[0])
	case strings.HasPrefix(v[0], "~") || strings.Contains(v[0]+v[1], "$"):
		c.errorf(d.Pos, "proxy_redirect with a regex or variables: not supported yet")
	default:
		sc.redirects = append(sc.redirects, redirectRule{from: v[0], to: v[1]})
	}
}

// proxyRedirects sets r's location rewrites from the proxy_redirect rules in force; without any, nginx's default
// applies: a Location under the proxy_pass URL goes back under the location's path (with a URI part), or the
// upstream's root becomes "/" (without one).
func (c *converter) proxyRedirects(r *route, sc *scope, pass string, hasURI bool) {
	rules := sc.redirects
	if rules == nil {
		rules = []redirectRule{{dflt: true}}
	}
	for _, x := range rules {
		switch {
		case !x.dflt:
			r.redirects = append(r.redirects, [2]string{x.from, x.to})
		case hasURI:
			r.redirects = append(r.redirects, [2]string{pass, r.path})
		default:
			r.redirects = append(r.redirects, [2]string{pass + "/", "/"})
		}
	}
}

// emitRedirects writes a proxied route's location_rewrites.
func emitRedirects(w *yamlWriter, r *route) {
	if len(r.redirects) == 0 {
		return
	}
	parts := make([]string, len(r.redirects))
	for i, x := range r.redirects {
		parts[i] = "{from: " + q(x[0]) + ", to: " + q(x[1]) + "}"
	}
	w.printf(r.pos, "    location_rewrites: [%s]", strings.Join(parts, ", "))
}

// emitRoutePages writes a route's error pages; when the server has gateway-wide pages (serverPages) a route without
// error_page of its own turns them off, since nginx would answer it with its built-in page.
func emitRoutePages(w *yamlWriter, r *route, serverPages bool) {
	switch {
	case r.errPages != nil:
		emitPages(w, "    ", r.errPages)
	case serverPages:
		w.printf(r.pos, "    error_pages: []")
	}
}
