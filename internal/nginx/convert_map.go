package nginx

import (
	"regexp"
	"sort"
	"strings"
)

// nginxMap is one `map SOURCE $name { ... }` block of the http level. It is
// converted when first used (nginx evaluates maps lazily too), so a map no
// route uses cannot stop a config from loading, and only used maps are
// emitted.
type nginxMap struct {
	d         *Directive
	name      string // the variable's name without $, lower case
	used      bool
	converted bool
	source    string // the fjord template of the source
	def       string
	entries   []mapEntry
}

type mapEntry struct {
	exact, regex string
	isRegex      bool
	value        string
	pos          Pos
}

// collectMap records a map block; it reports malformed headers at once.
func (c *converter) collectMap(d *Directive) {
	if len(d.Args) != 2 || !strings.HasPrefix(d.Args[1].Value, "$") {
		c.errorf(d.Pos, `invalid number of arguments in "map" directive`)
		return
	}
	name, n := varAt(d.Args[1].Value)
	if name == "" || n != len(d.Args[1].Value) {
		c.errorf(d.Args[1].Pos, "invalid map variable %q", d.Args[1].Value)
		return
	}
	name = strings.ToLower(name)
	if c.maps[name] != nil {
		c.errorf(d.Args[1].Pos, `duplicate "%s" variable`, name)
		return
	}
	c.maps[name] = &nginxMap{d: d, name: name}
}

// convertMap translates a map's source, entries and default into fjord
// templates. It runs once, on first use; false when it cannot be converted.
func (c *converter) convertMap(m *nginxMap) bool {
	if m.converted {
		return !m.bad()
	}
	m.converted = true
	d := m.d
	src, ok := c.template(d.Args[0].Value, d.Args[0].Pos, nil, "", nil)
	if !ok {
		m.source = "\x00" // marks the map bad
		return false
	}
	m.source = src
	good := true
	for _, e := range d.Block {
		if !c.mapLine(m, e) {
			good = false
		}
	}
	if !good {
		m.source = "\x00"
	}
	return good
}

func (m *nginxMap) bad() bool { return m.source == "\x00" }

// mapLine converts one line of a map block: default, hostnames, volatile,
// a ~regex / ~*regex entry or an exact one.
func (c *converter) mapLine(m *nginxMap, e *Directive) bool {
	switch {
	case e.Name == "volatile" && len(e.Args) == 0:
		c.diag(e.Pos, SeverityInfo, "map volatile accepted: fjord never caches a map's value")
		return true
	case e.Name == "hostnames" && len(e.Args) == 0:
		c.errorf(e.Pos, "map hostnames: not supported yet")
		return false
	case e.Name == "include":
		c.errorf(e.Pos, "include inside map: not supported yet")
		return false
	case len(e.Args) != 1 || e.HasBlock:
		c.errorf(e.Pos, "invalid number of the map parameters")
		return false
	}
	raw := e.Args[0].Value
	if strings.Contains(raw, "$") && regexp.MustCompile(`\$[0-9]`).MatchString(raw) {
		c.errorf(e.Args[0].Pos, "map value with regex captures %q: not supported yet", raw)
		return false
	}
	v, ok := c.template(raw, e.Args[0].Pos, nil, "", nil)
	if !ok {
		return false
	}
	if e.Name == "default" {
		m.def = v
		return true
	}
	me := mapEntry{value: v, pos: e.Pos}
	switch key := e.Name; {
	case strings.HasPrefix(key, "~"):
		re, fold := key[1:], false
		if strings.HasPrefix(re, "*") {
			re, fold = re[1:], true
		}
		if _, bad := translateRegex(re, fold); bad != "" {
			c.errorf(e.Pos, "map regex %q: %s", re, bad)
			return false
		}
		if fold {
			re = "(?i)" + re
		}
		me.isRegex, me.regex = true, re
	default:
		me.exact = strings.TrimPrefix(key, `\`)
	}
	m.entries = append(m.entries, me)
	return true
}

// mapVar returns the template text for a map's variable, converting the map
// on first use.
func (c *converter) mapVar(m *nginxMap) (string, bool) {
	if !c.convertMap(m) {
		return "", false
	}
	m.used = true
	return "${map." + m.name + "}", true
}

// upgradeIdiom reports whether a proxy_set_header is part of the WebSocket
// idiom (Upgrade $http_upgrade; Connection "upgrade" or a map of
// $http_upgrade): fjord's engine passes an upgrade request's Upgrade and
// Connection: upgrade itself, so the route sets nothing.
func (c *converter) upgradeIdiom(name string, h header) bool {
	switch {
	case strings.EqualFold(name, "Upgrade") && (h.value == "$http_upgrade" || h.value == "${http_upgrade}"):
	case strings.EqualFold(name, "Connection") && (strings.EqualFold(h.value, "upgrade") || c.isUpgradeMap(h.value)):
	default:
		return false
	}
	c.diag(h.pos, SeverityInfo, "proxy_set_header %s %s: fjord forwards upgrades (WebSocket) itself: "+
		"Upgrade and Connection: upgrade go upstream with upgrade requests", name, h.value)
	return true
}

// isUpgradeMap reports whether v is exactly a map variable whose source is
// $http_upgrade (the idiom's $connection_upgrade).
func (c *converter) isUpgradeMap(v string) bool {
	name, n := varAt(v)
	m := c.maps[strings.ToLower(name)]
	if name == "" || n != len(v) || m == nil {
		return false
	}
	src := m.d.Args[0].Value
	return src == "$http_upgrade" || src == "${http_upgrade}"
}

// emitMaps writes the maps that some route uses, by name.
func (c *converter) emitMaps(w *yamlWriter) {
	var names []string
	for n, m := range c.maps {
		if m.used {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	w.printf(Pos{}, "maps:")
	for _, n := range names {
		m := c.maps[n]
		p := m.d.Pos
		w.printf(p, "  %s:", n)
		w.printf(p, "    source: %s", q(m.source))
		w.printf(p, "    default: %s", q(m.def))
		if len(m.entries) == 0 {
			continue
		}
		w.printf(p, "    entries:")
		for _, e := range m.entries {
			if e.isRegex {
				w.printf(e.pos, "      - {regex: %s, value: %s}", q(e.regex), q(e.value))
			} else {
				w.printf(e.pos, "      - {exact: %s, value: %s}", q(e.exact), q(e.value))
			}
		}
	}
}
