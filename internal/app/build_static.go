package app

import (
	"strings"

	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/proxy"
	"github.com/fjord-gw/fjord/internal/static"
)

// compileStatic opens a static route's directory. The *os.Root it holds is closed by the garbage collector once a
// reload has dropped the route (os.Root has a finalizer), so a reload needs no explicit close.
func compileStatic(r *config.Route, diags *config.Diagnostics) *static.Server {
	s := r.Static
	opt := static.Options{
		Root:          s.StaticDir(),
		Index:         s.Index,
		Fallback:      s.Fallback != "",
		Precompressed: s.Precompressed,
		AllowHidden:   s.HiddenFiles == "allow",
		Types:         s.Types,
		DefaultType:   s.DefaultType,
		CacheControl:  s.CacheControl,
	}
	if s.Alias != "" {
		opt.Prefix = r.Match.PathPrefix
	}
	if s.Types != nil {
		opt.Types = make(map[string]string, len(s.Types))
		for ext, t := range s.Types {
			opt.Types[strings.ToLower(ext)] = t
		}
	}
	opt.TryFiles = s.TryFiles
	if n := len(s.TryFiles); n > 1 || n == 1 && strings.HasPrefix(s.TryFiles[0], "=") {
		// nginx's try_files: the last entry is what a miss gets (=CODE or a URI), unless a fallback route is named.
		if last := s.TryFiles[n-1]; s.Fallback == "" && (strings.HasPrefix(last, "=") || !strings.Contains(last, "$uri")) {
			opt.TryFiles, opt.Final = s.TryFiles[:n-1], last
		}
	}
	srv, err := static.New(opt)
	if err != nil {
		diags.Errorf(s.Pos, "route %s: %v", r.Name, err)
		return nil
	}
	return srv
}

// linkStaticFallbacks points each static route with a fallback at the compiled route it names.
func linkStaticFallbacks(cfg *config.Config, routes []*proxy.Route) {
	byName := make(map[string]*proxy.Route, len(routes))
	for _, pr := range routes {
		byName[pr.Name] = pr
	}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		if r.Static != nil && r.Static.Fallback != "" {
			byName[r.Name].StaticFallback = byName[r.Static.Fallback]
		}
	}
}
