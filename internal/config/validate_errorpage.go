package config

import (
	"os"
	"strconv"
	"strings"
)

// errorPages checks server.error_pages and every route's error_pages and location rewrites.
func (v *validator) errorPages(c *Config) {
	v.pageList("server", c.Server.ErrorPages)
	for i := range c.Routes {
		r := &c.Routes[i]
		v.pageList("route "+strconv.Quote(r.Name), r.ErrorPages)
		v.locationRewrites(r)
	}
}

// pageList checks one list of pages: statuses 400-599 each given once, one of body/file/redirect, a file that can
// be read, and a status fitting the kind of page.
func (v *validator) pageList(scope string, pages []ErrorPage) {
	seen := map[int]bool{}
	for i := range pages {
		p := &pages[i]
		for j, st := range p.Statuses {
			at := p.At("statuses." + itoa(j))
			switch {
			case st < 400 || st > 599:
				v.diags.Errorf(at, "%s: error page status %d: want an error status between 400 and 599", scope, st)
			case seen[st]:
				v.diags.Errorf(at, "%s: error page for status %d given twice", scope, st)
			}
			seen[st] = true
		}
		kinds := 0
		for _, k := range []string{"body", "file", "redirect"} {
			if p.Has(k) {
				kinds++
			}
		}
		if kinds > 1 {
			v.diags.Errorf(p.Pos, "%s: error page: body, file and redirect are mutually exclusive", scope)
		}
		v.pageStatus(scope, p)
		if p.File != "" {
			if st, err := os.Stat(p.FilePath()); err != nil {
				v.diags.Errorf(p.At("file"), "%s: error page file: %v", scope, err)
			} else if st.IsDir() {
				v.diags.Errorf(p.At("file"), "%s: error page file %s is a directory", scope, p.FilePath())
			}
		}
		if strings.ContainsAny(p.Redirect+p.ContentType, "\r\n") {
			v.diags.Errorf(p.Pos, "%s: error page redirect and content_type must be one line", scope)
		}
	}
}

func (v *validator) pageStatus(scope string, p *ErrorPage) {
	switch {
	case !p.Has("status"):
	case p.Redirect != "":
		switch p.Status {
		case 301, 302, 303, 307, 308:
		default:
			v.diags.Errorf(p.At("status"), "%s: error page redirect status %d: want 301, 302, 303, 307 or 308", scope, p.Status)
		}
	case p.Status < 200 || p.Status > 599:
		v.diags.Errorf(p.At("status"), "%s: error page status %d: want 200-599", scope, p.Status)
	}
}

// locationRewrites checks rewrite_location and location_rewrites: they need a proxying route.
func (v *validator) locationRewrites(r *Route) {
	v.oneOf(r.Positions, "rewrite_location", r.RewriteLocation, []string{"", "auto", "off"})
	if r.Service == "" && (r.RewriteLocation == "auto" || len(r.LocationRewrites) > 0) {
		key := "rewrite_location"
		if !r.Has(key) {
			key = "location_rewrites"
		}
		v.diags.Errorf(r.At(key), "route %q: %s rewrites upstream redirects: the route needs a service", r.Name, key)
	}
	for i := range r.LocationRewrites {
		lr := &r.LocationRewrites[i]
		if lr.From == "" {
			v.diags.Errorf(lr.At("from"), "route %q: location_rewrites from must not be empty", r.Name)
		}
		if strings.ContainsAny(lr.To, "\r\n") {
			v.diags.Errorf(lr.At("to"), "route %q: location_rewrites to must be one line", r.Name)
		}
	}
}
