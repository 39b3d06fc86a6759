package nginx

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// staticRoute is a location that serves files: nginx's root/alias, index, try_files, types and default_type, as
// fjord's route `static:` block.
type staticRoute struct {
	root, alias string
	index       []string
	tryFiles    []string
	types       map[string]string // extension with dot -> type; nil: fjord's table (nginx's common mime.types)
	defaultType string
	// named is try_files' last entry when it is a named location (@name), fallbackAt its position; fallback is the
	// route converted from that location, resolved once the whole server is read (resolveFallbacks).
	named, fallback string
	fallbackAt      Pos
}

// servesFiles reports whether a location block names a file-serving directive itself.
func servesFiles(l *Directive) bool {
	return slices.ContainsFunc(l.Block, func(d *Directive) bool {
		return d.Name == "root" || d.Name == "alias" || d.Name == "index" || d.Name == "try_files"
	})
}

// staticLocation makes r serve files as location l does. The directives are inherited like nginx's: the location's
// own, else its server's, else the http block's (types and default_type). It reports whether r is usable.
func (c *converter) staticLocation(l *Directive, r *route, sc *scope, si *serverInfo) bool {
	find := func(name string) *Directive {
		for _, b := range [][]*Directive{l.Block, si.d.Block, c.httpBlock()} {
			if ds := (&Directive{Block: b}).Find(name); len(ds) > 0 {
				return ds[len(ds)-1]
			}
		}
		return nil
	}
	st := &staticRoute{index: []string{"index.html"}, defaultType: "text/plain"}
	alias := (&Directive{Block: l.Block}).Find("alias")
	root := find("root")
	switch {
	case len(alias) > 0 && c.nargs(alias[0], 1, 1):
		if r.kind != "path_prefix" {
			c.errorf(alias[0].Pos, "alias in a regex or exact location: not supported yet (fjord replaces a path prefix)")
			return false
		}
		st.alias = alias[0].Args[0].Value
	case root != nil && c.nargs(root, 1, 1):
		st.root = root.Args[0].Value
	default:
		c.errorf(l.Pos, "location serves static files but no root or alias is set (nginx's default is its html "+
			"directory): set root")
		return false
	}
	if dir := st.root + st.alias; !filepath.IsAbs(dir) || strings.Contains(dir, "$") {
		c.errorf(l.Pos, "root/alias %q: want an absolute directory without variables", dir)
		return false
	}
	if d := find("index"); d != nil {
		st.index = st.index[:0]
		for _, a := range d.Args {
			st.index = append(st.index, a.Value)
		}
	}
	if d := find("try_files"); d != nil && !c.tryFiles(d, st) {
		return false
	}
	if d := find("default_type"); d != nil && c.nargs(d, 1, 1) {
		st.defaultType = d.Args[0].Value
	}
	if d := find("types"); d != nil {
		st.types = map[string]string{}
		for _, e := range d.Block {
			for _, a := range e.Args {
				st.types["."+strings.ToLower(a.Value)] = e.Name
			}
		}
	}
	r.static = st
	ok := true
	for _, h := range sc.addHeaders {
		v, good := c.template(h.value, h.pos, si, "", r)
		if !good {
			ok = false
			continue
		}
		r.resAdd = append(r.resAdd, kv{h.name, v, h.pos})
	}
	return ok
}

// httpBlock is the http block's directives (nil before http is converted).
func (c *converter) httpBlock() []*Directive {
	if c.httpDir == nil {
		return nil
	}
	return c.httpDir.Block
}

// tryFiles translates try_files: candidates with $uri, and a last =CODE, URI or named location (@name, which becomes
// the static route's fallback: an internal route).
func (c *converter) tryFiles(d *Directive, st *staticRoute) bool {
	if !c.nargs(d, 2, 64) {
		return false
	}
	for i, a := range d.Args {
		v := a.Value
		last := i == len(d.Args)-1
		switch {
		case last && strings.HasPrefix(v, "@"):
			st.named, st.fallbackAt = v, a.Pos
			continue
		case last && strings.HasPrefix(v, "="):
		case strings.Contains(strings.ReplaceAll(v, "$uri", ""), "$"):
			c.errorf(a.Pos, "try_files %q: only $uri is supported", v)
			return false
		case !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "$uri"):
			c.errorf(a.Pos, "try_files %q: want $uri, $uri/ or a path starting with '/'", v)
			return false
		}
		st.tryFiles = append(st.tryFiles, v)
	}
	return true
}

// emitStatic writes a static route's target. nginx serves dot files, so hidden_files is allow.
func emitStatic(w *yamlWriter, r *route) {
	p, st := r.pos, r.static
	w.printf(p, "    static:")
	if st.alias != "" {
		w.printf(p, "      alias: %s", q(st.alias))
	} else {
		w.printf(p, "      root: %s", q(st.root))
	}
	w.printf(p, "      index: [%s]", quoteAll(st.index))
	if len(st.tryFiles) > 0 {
		w.printf(p, "      try_files: [%s]", quoteAll(st.tryFiles))
	}
	if st.fallback != "" {
		w.printf(p, "      fallback: %s", q(st.fallback))
	}
	w.printf(p, "      hidden_files: allow")
	w.printf(p, "      default_type: %s", q(st.defaultType))
	if st.types != nil {
		w.printf(p, "      types:")
		exts := make([]string, 0, len(st.types))
		for e := range st.types {
			exts = append(exts, e)
		}
		sort.Strings(exts)
		for _, e := range exts {
			w.printf(p, "        %s: %s", q(e), q(st.types[e]))
		}
	}
	if len(r.resAdd) > 0 {
		w.printf(p, "    response_headers:")
		emitOps(w, r.resAdd, "add", nil)
	}
}

// resolveFallbacks points the static routes of a server whose try_files ends with a named location at the route
// converted from it; a name the server does not define is an error, as in nginx.
func (c *converter) resolveFallbacks(routes []*route, si *serverInfo) {
	for _, r := range routes {
		st := r.static
		if st == nil || st.named == "" || st.fallback != "" {
			continue
		}
		name, ok := si.named[st.named]
		if !ok {
			c.errorf(st.fallbackAt, "try_files: no location %s in this server", st.named)
			continue
		}
		st.fallback = name
	}
}
