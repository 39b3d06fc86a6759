package app

import (
	"mime"
	"os"
	"path/filepath"
	"strings"

	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/proxy"
)

// compileErrorPages turns a list of error pages into the engine's map, reading page files now: serving a page never
// touches the disk (the event loops must not block). nil when the list is empty.
func compileErrorPages(pages []config.ErrorPage, diags *config.Diagnostics) proxy.ErrorPages {
	if len(pages) == 0 {
		return nil
	}
	out := make(proxy.ErrorPages, len(pages))
	for i := range pages {
		p := &pages[i]
		ep := &proxy.ErrorPage{Status: p.Status, ContentType: p.ContentType, Location: p.Redirect}
		switch {
		case p.Redirect != "":
			if ep.Status == 0 {
				ep.Status = 302
			}
		case p.File != "":
			body, err := os.ReadFile(p.FilePath())
			if err != nil {
				diags.Errorf(p.At("file"), "error page file: %v", err)
			}
			ep.Body = body
			if ep.ContentType == "" {
				ep.ContentType = mime.TypeByExtension(strings.ToLower(filepath.Ext(p.File)))
			}
			if ep.ContentType == "" {
				ep.ContentType = "text/html; charset=utf-8"
			}
		default:
			ep.Body = []byte(p.Body)
			if ep.ContentType == "" {
				ep.ContentType = "text/plain; charset=utf-8"
			}
		}
		for _, st := range p.Statuses {
			out[st] = ep
		}
	}
	return out
}

// compileRouteErrorPages returns a route's own pages: non-nil (possibly empty, turning the server's off) when the
// route writes error_pages, nil when it inherits the server's.
func compileRouteErrorPages(r *config.Route, diags *config.Diagnostics) proxy.ErrorPages {
	if !r.Has("error_pages") {
		return nil
	}
	if pages := compileErrorPages(r.ErrorPages, diags); pages != nil {
		return pages
	}
	return proxy.ErrorPages{}
}

// compileLocationRewrite builds a proxying route's Location rewriting: with rewrite_location auto, a redirect to the
// host the upstream was sent (rewrite.host: a fixed name, each instance address, or the client's Host) under the
// path prefix the upstream saw (add_prefix, else "/") goes back under the client's prefix (strip_prefix, else "/");
// the explicit location_rewrites follow. nil when there is nothing to rewrite.
func compileLocationRewrite(cfg *config.Config, r *config.Route, diags *config.Diagnostics) *proxy.LocationRewrite {
	lr := &proxy.LocationRewrite{}
	if r.RewriteLocation == "auto" {
		from, to := "/", "/"
		if r.Rewrite.AddPrefix != "" {
			from = r.Rewrite.AddPrefix
		}
		if r.Rewrite.StripPrefix != "" {
			to = r.Rewrite.StripPrefix
		}
		if strings.HasSuffix(from, "/") != strings.HasSuffix(to, "/") {
			from, to = strings.TrimSuffix(from, "/"), strings.TrimSuffix(to, "/")
		}
		var hosts []string
		switch h := r.Rewrite.Host; {
		case h == "" || h == "pass" || h == "${host}":
			lr.Rules = append(lr.Rules, proxy.LocationRule{From: from, To: to, ClientHost: true})
		case h == "upstream":
			if s := cfg.Services[r.Service]; s != nil {
				for _, in := range s.Instances {
					hosts = append(hosts, in.Address)
				}
			}
		case !strings.Contains(h, "$"):
			hosts = append(hosts, h)
		default:
			diags.Errorf(r.At("rewrite_location"), "route %s: rewrite_location auto needs rewrite.host pass, upstream or a fixed name (the host the upstream redirects to)", r.Name)
		}
		for _, h := range hosts {
			for _, scheme := range []string{"http://", "https://"} {
				lr.Rules = append(lr.Rules, proxy.LocationRule{From: scheme + h + from, To: to})
			}
		}
	}
	for _, x := range r.LocationRewrites {
		lr.Rules = append(lr.Rules, proxy.LocationRule{From: x.From, To: x.To})
	}
	if len(lr.Rules) == 0 {
		return nil
	}
	return lr
}
