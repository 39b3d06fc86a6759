package config

import (
	"regexp"
	"sort"
)

// This file checks maps (the top-level `maps:` section) and what route
// templates refer to beyond the request: regex captures (${1}) need a regex
// with that many groups, and ${map.NAME} needs a defined map.

// maps checks every map's name, source, entries and default.
func (v *validator) maps(c *Config) {
	names := make([]string, 0, len(c.Maps))
	for name := range c.Maps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m := c.Maps[name]
		if !IsMapName(name) {
			v.diags.Errorf(m.NamePos, "invalid map name %q: use letters, digits and _, not starting with a digit", name)
		}
		v.mapTemplate(m.At("source"), name, "source", m.Source)
		v.mapTemplate(m.At("default"), name, "default", m.Default)
		for i := range m.Entries {
			e := &m.Entries[i]
			switch {
			case e.Has("exact") == e.Has("regex"):
				v.diags.Errorf(e.Pos, "map %q: an entry needs exactly one of exact and regex", name)
			case e.Has("regex"):
				v.regexp(e.At("regex"), "map "+name+" regex", e.Regex)
			}
			if !e.Has("value") {
				v.diags.Errorf(e.Pos, "map %q: an entry needs a value", name)
			}
			v.mapTemplate(e.At("value"), name, "value", e.Value)
		}
	}
}

// mapTemplate checks a template of a map, which may use neither maps (no
// lookup chains or cycles) nor captures (a map has no route regex).
func (v *validator) mapTemplate(p Pos, name, what, s string) {
	parts, err := ParseTemplate(s)
	if err != nil {
		v.diags.Errorf(p, "map %q: invalid %s template %q: %v", name, what, s, err)
		return
	}
	if n, ms := TemplateRefs(parts); n >= 0 || len(ms) > 0 {
		v.diags.Errorf(p, "map %q: the %s must not use captures or other maps", name, what)
	}
}

// templateRefs checks the captures and maps that a route's templates use.
func (v *validator) templateRefs(c *Config, r *Route) {
	var capRe *regexp.Regexp
	switch {
	case r.Has("captures"):
		capRe = v.regexp(r.At("captures"), "captures regex", r.Captures)
	case r.Match.Has("path_regex"):
		capRe, _ = regexp.Compile(r.Match.PathRegex) // validated with the match
	}
	check := func(p Pos, s string) {
		parts, err := ParseTemplate(s)
		if err != nil {
			return // reported where the template is checked
		}
		n, ms := TemplateRefs(parts)
		switch {
		case n < 0:
		case capRe == nil && !r.Has("captures"):
			v.diags.Errorf(p, "route %q: capture $%d needs match.path_regex or captures", r.Name, n)
		case capRe != nil && n > capRe.NumSubexp():
			v.diags.Errorf(p, "route %q: capture $%d, but the regex %q has %d groups", r.Name, n, capRe.String(),
				capRe.NumSubexp())
		}
		for _, m := range ms {
			if c.Maps[m] == nil {
				v.diags.Errorf(p, "route %q: unknown map %q%s", r.Name, m, suggest(m, mapNames(c)))
			}
		}
	}
	if r.Rewrite.Has("host") {
		check(r.Rewrite.At("host"), r.Rewrite.Host)
	}
	for _, h := range []*HeaderOps{&r.RequestHeaders, &r.ResponseHeaders} {
		for key, m := range map[string]map[string]string{"set": h.Set, "add": h.Add} {
			for name, val := range m {
				check(h.At(key+"."+name), val)
			}
		}
	}
	if ret := r.Return; ret != nil {
		check(ret.At("body"), ret.Body)
		for name, val := range ret.Headers {
			check(ret.At("headers."+name), val)
		}
	}
}

func mapNames(c *Config) []string {
	out := make([]string, 0, len(c.Maps))
	for n := range c.Maps {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
