package router

import (
	"fmt"
	"slices"
	"strings"
)

// Explain support: why a request gets the route it gets. It replays match step by step and records every route
// it looks at, so it is slow and allocates — meant for `fjord explain` and the admin API, never the request path.
// Match itself is untouched by it.

// Verdict is what happened to one route while matching a request.
type Verdict uint8

const (
	Matched      Verdict = iota // the selected route
	OtherHost                   // the route's host groups do not include the group the request host selects
	PathMismatch                // in the group, but its path does not match
	CondFailed                  // path matches, a method or header condition does not hold
	Outranked                   // path and conditions match, but a candidate of higher precedence won
	Shadowed                    // an earlier route with the same host and path always wins (a build conflict)
)

func (v Verdict) String() string {
	return [...]string{"matched", "other host group", "path does not match", "condition failed", "outranked", "shadowed"}[v]
}

// Candidate is one route of the table and why it was or was not selected.
type Candidate[T any] struct {
	Index   int
	Target  T
	Step    string // the matching step it took part in: "exact", "prefix-first", "regex", "prefix"; "" if none
	Verdict Verdict
	Reason  string
}

// Explanation is the outcome of Explain.
type Explanation[T any] struct {
	Host      string // the request host as looked up (lower case, no port)
	HostGroup string // the host group selected ("api.example.no", "*.example.no", "~regex", "*" for default); "" when none
	Matched   int    // index of the selected route, -1 when none
	// Candidates lists every route: first those the matcher tried, in the order it tried them (so the winner's
	// predecessors come first), then the rest of the selected group, then the routes of other host groups.
	Candidates []Candidate[T]
}

// Explain reports how Match selects a route for r: the host group, and each route's verdict with a reason. Its
// selection is always Match's. A nil Table explains an empty table.
func (t *Table[T]) Explain(r Request) Explanation[T] {
	ex := Explanation[T]{Matched: -1}
	if t == nil {
		return ex
	}
	var buf [maxHostLen]byte
	if h, ok := canonicalHost(&buf, r.Host()); ok {
		ex.Host = string(h)
	}
	m := &t.m
	g := m.hosts.lookup(r.Host())
	key, found := m.hosts.keyOf(g)
	if found {
		ex.HostGroup = key.String()
	}
	e := explainer[T]{t: t, r: r, seen: map[int32]bool{}}
	if g != nil {
		ex.Matched = int(e.replay(g))
	}
	// The group's other routes, in file order, then every other route.
	shadow := map[int]Conflict{}
	for _, c := range t.conflicts {
		shadow[c.Index] = c
	}
	for i := range m.specs {
		idx := int32(i)
		if e.seen[idx] {
			continue
		}
		s := &m.specs[i]
		if !found || !slices.Contains(s.hosts, key) {
			e.add(idx, "", OtherHost, otherHostReason(s, ex.Host, ex.HostGroup))
			continue
		}
		if c, ok := shadow[i]; ok {
			e.add(idx, "", Shadowed, fmt.Sprintf("shadowed by route %d: same host and path, and it has no extra conditions", c.ShadowedBy))
			continue
		}
		if !pathMatches(s, r.Path()) {
			e.add(idx, "", PathMismatch, pathReason(s))
			continue
		}
		e.add(idx, "", Outranked, "path matches but a route of higher precedence was selected first")
	}
	ex.Candidates = e.out
	return ex
}

// explainer records the candidates of one Explain.
type explainer[T any] struct {
	t    *Table[T]
	r    Request
	seen map[int32]bool
	out  []Candidate[T]
}

func (e *explainer[T]) add(i int32, step string, v Verdict, reason string) *Candidate[T] {
	e.seen[i] = true
	e.out = append(e.out, Candidate[T]{Index: int(i), Target: e.t.targets[i], Step: step, Verdict: v, Reason: reason})
	return &e.out[len(e.out)-1]
}

// try records route i at step and reports whether its conditions hold.
func (e *explainer[T]) try(i int32, step string) bool {
	s := &e.t.m.specs[i]
	if why := s.cond.why(e.r); why != "" {
		e.add(i, step, CondFailed, why)
		return false
	}
	e.add(i, step, Matched, "")
	return true
}

// replay mirrors matcher.match, recording each route it tries, and returns the selected index or -1.
func (e *explainer[T]) replay(g *group) int32 {
	path := e.r.Path()
	n, rest := g.root.walk(path)
	if len(rest) == 0 {
		for _, i := range n.exact {
			if e.try(i, "exact") {
				e.out[len(e.out)-1].Reason = fmt.Sprintf("exact path %q matches; exact paths go first", e.t.m.specs[i].path)
				return i
			}
		}
	}
	if g.prefixFirst {
		p := e.prefix(n, "prefix-first")
		if p >= 0 && e.t.m.specs[p].prefixFirst {
			e.last().Reason = fmt.Sprintf("longest matching prefix %q is prefix-first (^~), so it wins over regex paths", e.t.m.specs[p].path)
			return p
		}
		if i := e.regex(g, path); i >= 0 {
			if p >= 0 {
				e.demote(p, fmt.Sprintf("longest matching prefix, but not prefix-first: regex route %d goes first", i))
			}
			return i
		}
		if p >= 0 {
			e.promote(p, "longest matching prefix; no regex path matched")
		}
		return p
	}
	if i := e.regex(g, path); i >= 0 {
		return i
	}
	p := e.prefix(n, "prefix")
	if p >= 0 {
		e.last().Reason = fmt.Sprintf("longest matching prefix %q whose conditions hold", e.t.m.specs[p].path)
	}
	return p
}

func (e *explainer[T]) last() *Candidate[T] { return &e.out[len(e.out)-1] }

// demote and promote rewrite the verdict of a prefix route found before the regex step.
func (e *explainer[T]) demote(i int32, why string) {
	for k := range e.out {
		if e.out[k].Index == int(i) {
			e.out[k].Verdict, e.out[k].Reason = Outranked, why
		}
	}
}

func (e *explainer[T]) promote(i int32, why string) {
	for k := range e.out {
		if e.out[k].Index == int(i) {
			e.out[k].Verdict, e.out[k].Reason = Matched, why
		}
	}
}

func (e *explainer[T]) regex(g *group, path []byte) int32 {
	for _, rr := range g.regexes {
		s := &e.t.m.specs[rr.route]
		if len(path) < len(rr.lit) || string(path[:len(rr.lit)]) != rr.lit || !s.re.Match(path) {
			continue // recorded later as a path mismatch
		}
		if e.try(rr.route, "regex") {
			e.last().Reason = fmt.Sprintf("regex %q matches the whole path; the first matching regex in file order wins", s.path)
			return rr.route
		}
	}
	return -1
}

func (e *explainer[T]) prefix(n *node, step string) int32 {
	for ; n != nil; n = n.parent {
		for _, i := range n.prefix {
			if e.try(i, step) {
				return i
			}
		}
	}
	return -1
}

// why returns "" when r satisfies c, else the first condition that fails.
func (c *cond) why(r Request) string {
	if len(c.methods) > 0 && !hasMethod(c.methods, r.Method()) {
		return fmt.Sprintf("method %s is not one of %s", r.Method(), strings.Join(c.methods, ", "))
	}
	for i := range c.headers {
		h := &c.headers[i]
		if h.ok(r) {
			continue
		}
		v, found := r.Header(h.name)
		switch {
		case !found:
			return fmt.Sprintf("header %s is missing", h.name)
		case h.re != nil:
			return fmt.Sprintf("header %s: %q does not match ~%s", h.name, v, h.re)
		default:
			return fmt.Sprintf("header %s: %q is not %q", h.name, v, h.value)
		}
	}
	return ""
}

func pathMatches(s *routeSpec, path []byte) bool {
	switch s.kind {
	case PathExact:
		return string(path) == s.path
	case PathPrefix:
		return strings.HasPrefix(string(path), s.path)
	}
	return s.re.Match(path)
}

func pathReason(s *routeSpec) string {
	switch s.kind {
	case PathExact:
		return fmt.Sprintf("path is not exactly %q", s.path)
	case PathPrefix:
		return fmt.Sprintf("path does not start with %q", s.path)
	}
	return fmt.Sprintf("path does not match regex %q (anchored at both ends)", s.path)
}

func otherHostReason(s *routeSpec, host, group string) string {
	names := make([]string, len(s.hosts))
	for i, k := range s.hosts {
		names[i] = k.String()
	}
	if group == "" {
		return fmt.Sprintf("host %q selects no host group (and no route is in the default group); this route serves %s", host, strings.Join(names, ", "))
	}
	return fmt.Sprintf("host %q selects group %s; this route serves %s", host, group, strings.Join(names, ", "))
}

// keyOf finds the key of group g; ok is false for nil.
func (x *hostIndex) keyOf(g *group) (hostKey, bool) {
	if g == nil {
		return hostKey{}, false
	}
	for _, src := range []struct {
		m    map[string]*group
		kind hostKind
	}{{x.exact, hostExact}, {x.apex, hostApex}, {x.wildcard, hostWildcard}, {x.trailing, hostTrailing}} {
		for name, gg := range src.m {
			if gg == g {
				return hostKey{kind: src.kind, name: name}, true
			}
		}
	}
	for _, hr := range x.regexes {
		if hr.g == g {
			return hostKey{kind: hostRegex, name: strings.TrimPrefix(hr.re.String(), "(?i)")}, true
		}
	}
	return hostKey{kind: hostDefault}, g == x.def
}
