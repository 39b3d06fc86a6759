package router

// regexRoute is one PathRegex route of a group.
type regexRoute struct {
	lit   string // literal prefix; paths without it cannot match
	route int32
}

// group is the compiled form of one host group.
type group struct {
	root    node
	regexes []regexRoute // in file order
}

// matcher is the type-independent part of a Table.
type matcher struct {
	hosts hostIndex
	specs []routeSpec // by route index; only cond and re are read by match
}

// match returns the index of the selected route or -1.
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
			wildcard: make(map[string]*group),
		},
	}
	for k, members := range groups {
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
			case PathRegex:
				g.regexes = append(g.regexes, regexRoute{lit: s.lit, route: i})
			}
		}
		switch k.kind {
		case hostExact:
			m.hosts.exact[k.name] = g
		case hostWildcard:
			m.hosts.wildcard[k.name] = g
		default:
			m.hosts.def = g
		}
	}
	return m
}
