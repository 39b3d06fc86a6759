package nginx

import (
	"path"
	"regexp"
	"strconv"
	"strings"
)

// errorPageDecl is one error_page directive as written: the statuses, the status to answer with (-1: the original,
// 0: "=" the target's own), and the URI or URL.
type errorPageDecl struct {
	codes     []int
	overwrite int
	uri       string
	pos       Pos
}

// nativePage is an error page as fjord writes it (server.error_pages or a route's error_pages).
type nativePage struct {
	statuses          []int
	status            int
	body, file, ctype string
	redirect          string
	pos               Pos
}

// errorPage reads `error_page CODE... [=[CODE]] URI` into sc (a level that sets any replaces its parent's, as in
// nginx). The URI is resolved once every route of the server exists (resolveErrorPages).
func (c *converter) errorPage(d *Directive, sc *scope) {
	if !c.nargs(d, 2, 64) {
		return
	}
	e := errorPageDecl{overwrite: -1, pos: d.Pos}
	args := d.Args
	e.uri = args[len(args)-1].Value
	args = args[:len(args)-1]
	if last := args[len(args)-1].Value; strings.HasPrefix(last, "=") {
		args = args[:len(args)-1]
		e.overwrite = 0
		if last != "=" {
			n, err := strconv.Atoi(last[1:])
			if err != nil || n < 200 || n > 599 {
				c.errorf(d.Pos, "error_page: invalid response code %q", last)
				return
			}
			e.overwrite = n
		}
	}
	for _, a := range args {
		n, err := strconv.Atoi(a.Value)
		if err != nil || n < 300 || n > 599 {
			c.errorf(a.Pos, "error_page: value %q must be between 300 and 599", a.Value)
			return
		}
		if n < 400 {
			c.errorf(a.Pos, "error_page %d: fjord replaces only the error statuses it generates itself (4xx, 5xx)", n)
			return
		}
		e.codes = append(e.codes, n)
	}
	switch {
	case len(e.codes) == 0:
		c.errorf(d.Pos, "error_page: no status given")
		return
	case strings.HasPrefix(e.uri, "@"):
		c.errorf(d.Args[len(d.Args)-1].Pos, "error_page to a named location %s: not supported yet", e.uri)
		return
	case strings.Contains(e.uri, "$"):
		c.errorf(d.Args[len(d.Args)-1].Pos, "error_page %q: variables are not supported yet", e.uri)
		return
	}
	if !sc.errorHere {
		sc.errorPages, sc.errorHere = nil, true
	}
	sc.errorPages = append(sc.errorPages, e)
}

// interceptErrors handles proxy_intercept_errors: off is nginx's default; on would replace upstream error
// responses too, which fjord does not do.
func (c *converter) interceptErrors(d *Directive) {
	if c.nargs(d, 1, 1) && d.Args[0].Value != "off" {
		c.errorf(d.Pos, "proxy_intercept_errors %s: not supported yet (fjord's error pages replace only the errors "+
			"it generates itself; upstream error responses pass through)", d.Args[0].Value)
	}
}

// resolveErrorPages turns the error_page declarations of every route (and of each server, for requests no location
// matches) into native pages, now that all routes of each server exist.
func (c *converter) resolveErrorPages() {
	for _, r := range c.routes {
		if r.errDecls != nil {
			r.errPages = c.nativePages(r.si, r.errDecls)
		}
	}
	var first []nativePage
	firstSet := false
	for _, si := range c.serverInfos {
		if si.errDecls == nil {
			continue
		}
		pages := c.nativePages(si, si.errDecls)
		if !firstSet {
			first, firstSet = pages, true
		} else if !samePages(first, pages) {
			c.diag(si.errDecls[0].pos, SeverityWarning, "error_page for requests no location matches: fjord answers "+
				"those alike in every server, with the first server's pages")
		}
	}
	c.serverPages = first
}

func samePages(a, b []nativePage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.status != y.status || x.body != y.body || x.file != y.file || x.ctype != y.ctype ||
			x.redirect != y.redirect || len(x.statuses) != len(y.statuses) {
			return false
		}
		for j := range x.statuses {
			if x.statuses[j] != y.statuses[j] {
				return false
			}
		}
	}
	return true
}

// nativePages resolves declarations in server si. A URI is answered by the location nginx would redirect it to: a
// `return` (its text, or its redirect) or a static location (the file, read when fjord loads the config); a URL is a
// redirect (302 unless =301/303/307/308).
func (c *converter) nativePages(si *serverInfo, decls []errorPageDecl) []nativePage {
	var out []nativePage
	for _, e := range decls {
		p := nativePage{statuses: e.codes, pos: e.pos}
		if !strings.HasPrefix(e.uri, "/") {
			p.redirect, p.status = e.uri, 302
			switch e.overwrite {
			case 301, 303, 307, 308:
				p.status = e.overwrite
			}
			out = append(out, p)
			continue
		}
		t := c.routeFor(si, e.uri)
		switch {
		case t == nil:
			c.errorf(e.pos, "error_page %s: no location of this server answers it", e.uri)
			continue
		case t.isReturn && t.retLocation != "":
			p.redirect, p.status = t.retLocation, t.retStatus
		case t.isReturn:
			p.body, p.ctype = t.retBody, c.typeFor(e.uri, nil, si)
			p.status = pageStatus(e.overwrite, t.retStatus)
		case t.static != nil:
			st := t.static
			if st.alias != "" {
				p.file = path.Join(st.alias, strings.TrimPrefix(e.uri, t.path))
			} else {
				p.file = path.Join(st.root, e.uri)
			}
			p.ctype = c.typeFor(e.uri, st, si)
			p.status = pageStatus(e.overwrite, 200)
		default:
			c.errorf(e.pos, "error_page %s is answered by a proxied location: not supported yet (fjord's error "+
				"pages are a return text or a static file)", e.uri)
			continue
		}
		out = append(out, p)
	}
	return out
}

// pageStatus is the status an error page answers with: the original (0 in fjord) unless the directive overrides it;
// "=" alone takes the target's own status.
func pageStatus(overwrite, target int) int {
	switch overwrite {
	case -1:
		return 0
	case 0:
		return target
	}
	return overwrite
}

// routeFor finds the route of server si that nginx's location matching gives uri: an exact location, a ^~ longest
// prefix, the first matching regex, else the longest prefix.
func (c *converter) routeFor(si *serverInfo, uri string) *route {
	var prefix *route
	for _, r := range c.routes {
		if r.si != si {
			continue
		}
		switch r.kind {
		case "path":
			if r.path == uri {
				return r
			}
		case "path_prefix":
			if strings.HasPrefix(uri, r.path) && (prefix == nil || len(r.path) > len(prefix.path)) {
				prefix = r
			}
		}
	}
	if prefix != nil && prefix.prefixFirst {
		return prefix
	}
	for _, r := range c.routes {
		if r.si == si && r.kind == "path_regex" {
			if re, err := regexp.Compile("^(?:" + r.path + ")$"); err == nil && re.MatchString(uri) {
				return r
			}
		}
	}
	return prefix
}

// typeFor is the Content-Type nginx gives a page at uri: by its extension in the location's types (else the
// server's or http's), else default_type (nginx's own default text/plain).
func (c *converter) typeFor(uri string, st *staticRoute, si *serverInfo) string {
	ext := strings.ToLower(path.Ext(uri))
	if st != nil {
		if t, ok := st.types[ext]; ok && st.types != nil {
			return t
		}
		if st.types == nil {
			if t, ok := commonTypes[ext]; ok {
				return t
			}
		}
		return st.defaultType
	}
	if t, ok := commonTypes[ext]; ok {
		return t
	}
	for _, b := range [][]*Directive{si.d.Block, c.httpBlock()} {
		if ds := (&Directive{Block: b}).Find("default_type"); len(ds) > 0 && len(ds[0].Args) == 1 {
			return ds[0].Args[0].Value
		}
	}
	return "text/plain"
}

// commonTypes are the types of nginx's mime.types for the extensions error pages use.
var commonTypes = map[string]string{".html": "text/html", ".htm": "text/html", ".txt": "text/plain",
	".json": "application/json", ".xml": "text/xml", ".css": "text/css"}

// emitPages writes a list of error pages at the given indentation under key.
func emitPages(w *yamlWriter, indent string, pages []nativePage) {
	w.printf(Pos{}, "%serror_pages:", indent)
	for _, p := range pages {
		codes := make([]string, len(p.statuses))
		for i, s := range p.statuses {
			codes[i] = strconv.Itoa(s)
		}
		line := indent + "  - {statuses: [" + strings.Join(codes, ", ") + "]"
		if p.status != 0 {
			line += ", status: " + strconv.Itoa(p.status)
		}
		switch {
		case p.redirect != "":
			line += ", redirect: " + q(p.redirect)
		case p.file != "":
			line += ", file: " + q(p.file)
		default:
			line += ", body: " + q(p.body)
		}
		if p.ctype != "" && p.redirect == "" {
			line += ", content_type: " + q(p.ctype)
		}
		w.printf(p.pos, "%s}", line)
	}
}
