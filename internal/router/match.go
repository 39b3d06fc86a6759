package router

// regexRoute is one PathRegex route of a group.
type regexRoute struct {
	lit   string // literal prefix; paths without it cannot match
	route int32
}

// group is the compiled form of one host group.
type group struct {
	root        node
	regexes     []regexRoute // in file order
	prefixFirst bool         // some prefix route of the group is PrefixFirst
}

// matcher is the type-independent part of a Table.
type matcher struct {
	hosts hostIndex
	specs []routeSpec // by route index; only cond, re and prefixFirst are read by match
}

// match returns the index of the selected route or -1. The order is nginx's
// location order: exact path, then the prefix route when it is PrefixFirst,
// then regexes in file order, then the prefix route. "The prefix route" is
// the first route, in file order, of the longest matching prefix whose
// conditions hold; a route whose conditions fail is treated as absent.
func (m *matcher) match(r Request) int32 {
	g := m.hosts.lookup(r.Host())
	if g == nil {
		return -1
	}
	path := r.Path()
	n, rest := g.root.walk(path)
	if len(rest) == 0 {
		if i := m.first(n.exact, r); i >= 0 {
			return i
		}
	}
	if !g.prefixFirst {
		// Without PrefixFirst routes the prefix walk is only needed when no
		// regex matches, so it runs last.
		if i := m.regex(g, path, r); i >= 0 {
			return i
		}
		return m.longestPrefix(n, r)
	}
	p := m.longestPrefix(n, r)
	if p >= 0 && m.specs[p].prefixFirst {
		return p
	}
	if i := m.regex(g, path, r); i >= 0 {
		return i
	}
	return p
}

// regex returns the first regex route of g matching path whose conditions
// hold, or -1.
func (m *matcher) regex(g *group, path []byte, r Request) int32 {
	for k := range g.regexes {
		rr := &g.regexes[k]
		if len(path) < len(rr.lit) || string(path[:len(rr.lit)]) != rr.lit {
			continue
		}
		s := &m.specs[rr.route]
		if s.re.Match(path) && s.cond.ok(r) {
			return rr.route
		}
	}
	return -1
}

// longestPrefix returns the prefix route selected from n, the deepest trie
// node on the request path, and its ancestors: longest key first, file order
// within a key, skipping routes whose conditions fail. It returns -1 if none.
func (m *matcher) longestPrefix(n *node, r Request) int32 {
	for ; n != nil; n = n.parent {
		if i := m.first(n.prefix, r); i >= 0 {
			return i
		}
	}
	return -1
}

// first returns the first route of list whose conditions hold, or -1.
func (m *matcher) first(list []int32, r Request) int32 {
	for _, i := range list {
		if m.specs[i].cond.ok(r) {
			return i
		}
	}
	return -1
}

// groupRoutes collects, per host group, the indices of its routes in file
// order.
func groupRoutes(specs []routeSpec) map[hostKey][]int32 {
	groups := make(map[hostKey][]int32)
	for i := range specs {
		for _, k := range specs[i].hosts {
			groups[k] = append(groups[k], int32(i))
		}
	}
	return groups
}

func compileMatcher(specs []routeSpec, groups map[hostKey][]int32) matcher {
	m := matcher{
		specs: specs,
		hosts: hostIndex{
			exact:    make(map[string]*group),
			apex:     make(map[string]*group),
			wildcard: make(map[string]*group),
			trailing: make(map[string]*group),
		},
	}
	byKey := make(map[hostKey]*group, len(groups))
	for k, members := range groups {
		g := compileGroup(specs, members)
		byKey[k] = g
		switch k.kind {
		case hostExact:
			m.hosts.exact[k.name] = g
		case hostApex:
			m.hosts.apex[k.name] = g
		case hostWildcard:
			m.hosts.wildcard[k.name] = g
		case hostTrailing:
			m.hosts.trailing[k.name] = g
		case hostRegex:
			// Ordered below: map iteration order is random.
		default:
			m.hosts.def = g
		}
	}
	// Regex hosts are tried in the file order of their first use.
	for i := range specs {
		for _, k := range specs[i].hosts {
			if k.kind == hostRegex && !hasRegexGroup(m.hosts.regexes, byKey[k]) {
				m.hosts.regexes = append(m.hosts.regexes, regexHost{re: specs[i].hostRe[k.name], g: byKey[k]})
			}
		}
	}
	return m
}

func hasRegexGroup(list []regexHost, g *group) bool {
	for _, hr := range list {
		if hr.g == g {
			return true
		}
	}
	return false
}

// compileGroup builds the trie and regex list of one host group from its
// routes, given in file order.
func compileGroup(specs []routeSpec, members []int32) *group {
	g := &group{}
	for _, i := range members {
		s := &specs[i]
		switch s.kind {
		case PathExact:
			n := g.root.insert(s.path)
			n.exact = append(n.exact, i)
		case PathPrefix:
			n := g.root.insert(s.path)
			n.prefix = append(n.prefix, i)
			g.prefixFirst = g.prefixFirst || s.prefixFirst
		case PathRegex:
			g.regexes = append(g.regexes, regexRoute{lit: s.lit, route: i})
		}
	}
	return g
}
