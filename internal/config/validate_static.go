package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// StaticDir is the directory a static route serves: its root or alias, relative to the directory of the file the
// route was written in when not absolute (so a config and its site can move together).
func (s *Static) StaticDir() string {
	d := s.Root
	if d == "" {
		d = s.Alias
	}
	if d == "" || filepath.IsAbs(d) || s.Pos.File == "" {
		return d
	}
	return filepath.Join(filepath.Dir(s.Pos.File), d)
}

// static checks a static route: one directory that exists, alias only on a prefix route, try_files entries, a
// fallback that names a proxying route, and known hidden_files values.
func (v *validator) static(c *Config, r *Route) {
	s := r.Static
	for _, other := range []string{"service", "return"} {
		if r.Has(other) {
			v.diags.Errorf(r.At(other), "route %q has both static and %s; a route serves files, proxies or answers", r.Name, other)
		}
	}
	key := "root"
	switch {
	case s.Root != "" && s.Alias != "":
		v.diags.Errorf(s.At("alias"), "route %q: static: root and alias are mutually exclusive", r.Name)
	case s.Root == "" && s.Alias == "":
		v.diags.Errorf(s.Pos, "route %q: static needs root (files at root + path) or alias (the prefix replaced by a directory)", r.Name)
		return
	case s.Alias != "":
		key = "alias"
		if r.Match.Path != "" || r.Match.PathRegex != "" || !r.Match.Has("path_prefix") {
			v.diags.Errorf(s.At("alias"), "route %q: static alias needs match.path_prefix (the prefix it replaces)", r.Name)
		}
	}
	if st, err := os.Stat(s.StaticDir()); err != nil {
		v.diags.Errorf(s.At(key), "route %q: static %s: %v", r.Name, key, err)
	} else if !st.IsDir() {
		v.diags.Errorf(s.At(key), "route %q: static %s %s is not a directory", r.Name, key, s.StaticDir())
	}
	for i, name := range s.Index {
		if name == "" || strings.ContainsAny(name, "/\\") {
			v.diags.Errorf(s.At("index."+itoa(i)), "route %q: static index %q: want a file name without '/'", r.Name, name)
		}
	}
	v.tryFiles(c, r)
	switch s.HiddenFiles {
	case "", "deny", "allow":
	default:
		v.diags.Errorf(s.At("hidden_files"), "route %q: static hidden_files %q: want deny or allow", r.Name, s.HiddenFiles)
	}
	for ext := range s.Types {
		if !strings.HasPrefix(ext, ".") || len(ext) < 2 {
			v.diags.Errorf(s.At("types."+ext), "route %q: static types key %q: want an extension with its dot, e.g. .css", r.Name, ext)
		}
	}
}

// tryFiles checks try_files: every candidate a path (or one using $uri), only the last one "=CODE", and a fallback
// route that exists and proxies.
func (v *validator) tryFiles(c *Config, r *Route) {
	s := r.Static
	for i, t := range s.TryFiles {
		at := s.At("try_files." + itoa(i))
		if code, ok := strings.CutPrefix(t, "="); ok {
			n, err := strconv.Atoi(code)
			switch {
			case i != len(s.TryFiles)-1:
				v.diags.Errorf(at, "route %q: static try_files %q: =CODE must be the last entry", r.Name, t)
			case err != nil || n < 100 || n > 599:
				v.diags.Errorf(at, "route %q: static try_files %q: want =CODE with CODE between 100 and 599", r.Name, t)
			case s.Fallback != "":
				v.diags.Errorf(at, "route %q: static try_files ends with %s and has a fallback route: choose one", r.Name, t)
			}
			continue
		}
		if !strings.HasPrefix(t, "/") && !strings.HasPrefix(t, "$uri") {
			v.diags.Errorf(at, "route %q: static try_files %q: want $uri, $uri/, a path starting with '/' or =CODE", r.Name, t)
		}
	}
	if s.Fallback == "" {
		return
	}
	at := s.At("fallback")
	for i := range c.Routes {
		fb := &c.Routes[i]
		if fb.Name != s.Fallback {
			continue
		}
		if fb.Static != nil || fb.Return != nil || fb.Service == "" {
			v.diags.Errorf(at, "route %q: static fallback %q must be a route with a service", r.Name, s.Fallback)
		}
		return
	}
	v.diags.Errorf(at, "route %q: static fallback names unknown route %q", r.Name, s.Fallback)
}
