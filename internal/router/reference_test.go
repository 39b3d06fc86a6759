package router

import (
	"math/rand/v2"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// refMatch is a brute-force implementation of the precedence rule in the
// package doc, written from the rule rather than the data structure: it scans
// every route for every decision. TestMatchAgainstReference checks Match
// against it.
func refMatch(routes []Route[int], r *testReq) int {
	group := refGroup(routes, string(r.host))
	path := string(r.path)
	condOK := func(rt Route[int]) bool {
		if len(rt.Methods) > 0 && !slices.Contains(rt.Methods, string(r.method)) {
			return false
		}
		for _, h := range rt.Headers {
			v, ok := r.hdr[textproto.CanonicalMIMEHeaderKey(h.Name)]
			switch {
			case !ok:
				return false
			case h.Regex != nil:
				if !h.Regex.Match(v) {
					return false
				}
			case h.Value == "" && h.Present:
			case string(v) != h.Value:
				return false
			}
		}
		return true
	}
	for _, i := range group {
		if rt := routes[i]; rt.PathKind == PathExact && rt.Path == path && condOK(rt) {
			return i
		}
	}
	// The prefix route: longest matching prefix whose conditions hold,
	// first in file order among equal lengths.
	best, bestLen := -1, -1
	for _, i := range group { // file order, so ">" keeps the first of equal length
		rt := routes[i]
		if rt.PathKind == PathPrefix && strings.HasPrefix(path, rt.Path) && len(rt.Path) > bestLen && condOK(rt) {
			best, bestLen = i, len(rt.Path)
		}
	}
	if best >= 0 && routes[best].PrefixFirst {
		return best // nginx "^~": regexes are not checked
	}
	for _, i := range group {
		rt := routes[i]
		if rt.PathKind == PathRegex && regexp.MustCompile("^(?:"+rt.Path+")$").MatchString(path) && condOK(rt) {
			return i
		}
	}
	return best
}

// refGroup returns the indices of the routes in the host group that host
// selects, in file order, following nginx's server_name order: exact name,
// longest leading wildcard ("*.s" or ".s"; ".s" also matches s itself),
// longest trailing wildcard ("p.*"), first matching regex in file order,
// default group.
func refGroup(routes []Route[int], host string) []int {
	host = strings.ToLower(host)
	if end := strings.IndexByte(host, ']'); strings.HasPrefix(host, "[") && end > 0 {
		host = host[:end+1]
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[:i], ":") {
		host = host[:i]
	} else if i >= 0 {
		host = "[" + host + "]"
	}
	host = strings.TrimSuffix(host, ".")
	norm := func(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }
	inGroup := func(pred func(h string) bool) []int {
		var g []int
		for i, rt := range routes {
			if slices.ContainsFunc(rt.Hosts, pred) {
				g = append(g, i)
			}
		}
		return g
	}
	if host == "" {
		return refDefault(routes)
	}
	isExact := func(h string) bool {
		return h != "*" && !strings.HasPrefix(h, "*.") && !strings.HasPrefix(h, ".") &&
			!strings.HasPrefix(h, "~") && !strings.HasSuffix(h, ".*")
	}
	if g := inGroup(func(h string) bool { return isExact(h) && norm(h) == host }); g != nil {
		return g
	}
	// Leading wildcards, by the suffix s they name.
	leading := func(h string) (s string, ok bool) {
		h = norm(h)
		if s, ok := strings.CutPrefix(h, "*."); ok {
			return s, strings.HasSuffix(host, "."+s)
		}
		if s, ok := strings.CutPrefix(h, "."); ok && !strings.HasPrefix(h, "~") {
			return s, host == s || strings.HasSuffix(host, "."+s)
		}
		return "", false
	}
	trailing := func(h string) (p string, ok bool) {
		if p, ok := strings.CutSuffix(norm(h), ".*"); ok && !strings.HasPrefix(h, "~") && !strings.HasPrefix(h, "*.") {
			return p, strings.HasPrefix(host, p+".") && len(host) > len(p)+1
		}
		return "", false
	}
	for _, kind := range []func(string) (string, bool){leading, trailing} {
		best := ""
		for _, rt := range routes {
			for _, h := range rt.Hosts {
				if s, ok := kind(h); ok && len(s) > len(best) {
					best = s
				}
			}
		}
		if best != "" {
			return inGroup(func(h string) bool { s, ok := kind(h); return ok && s == best })
		}
	}
	for _, rt := range routes {
		for _, h := range rt.Hosts {
			if pat, ok := strings.CutPrefix(h, "~"); ok && regexp.MustCompile("(?i)"+pat).MatchString(host) {
				return inGroup(func(x string) bool { return x == h })
			}
		}
	}
	return refDefault(routes)
}

// refDefault returns the routes of the default group: no hosts, or "*".
func refDefault(routes []Route[int]) []int {
	var g []int
	for i, rt := range routes {
		if len(rt.Hosts) == 0 || slices.Contains(rt.Hosts, "*") {
			g = append(g, i)
		}
	}
	return g
}

// Small alphabets so that random routes and requests collide often.
var (
	refHosts = []string{"a.no", "b.a.no", "c.b.a.no", "x.no", "*.a.no", "*.b.a.no", "*.no", "*", "A.NO.", "[::1]",
		".a.no", ".B.a.no", "b.*", "b.a.*", "x.*", `~^[bc]\.`, `~\.NO$`, "~^x", `~^\[`}
	refReqHosts = []string{"a.no", "b.a.no", "c.b.a.no", "d.c.b.a.no", "x.no", "y.x.no", "other", "A.No:80", "a.no.", "[::1]:9", "", "no", "ba.no", "B.A.NO.",
		"b.x", "b.a.x.y", "x.y", "X.Y.Z:1", "c.b", "b", "b.", "::1"}
	refSegs    = []string{"", "/", "/a", "/ab", "/a/", "/a/b", "/b", "/abc", "/a/b/c"}
	refRegexes = []string{"/a.*", "/a/[bc]+", ".*b", "/ab?c?", "(/a|/b)/.*"}
	refMethods = []string{"GET", "POST", "PUT"}
	refHeaders = []string{"X-A", "X-B"}
	refValues  = []string{"", "1", "2"}
)

func pick[E any](rng *rand.Rand, s []E) E { return s[rng.IntN(len(s))] }

func randomRoute(rng *rand.Rand, i int) Route[int] {
	rt := Route[int]{Target: i}
	for range rng.IntN(3) {
		rt.Hosts = append(rt.Hosts, pick(rng, refHosts))
	}
	switch rng.IntN(5) {
	case 0, 1:
		rt.PathKind, rt.Path = PathPrefix, pick(rng, refSegs[1:])
		rt.PrefixFirst = rng.IntN(3) == 0
	case 2, 3:
		rt.PathKind, rt.Path = PathExact, pick(rng, refSegs[1:])
	default:
		rt.PathKind, rt.Path = PathRegex, pick(rng, refRegexes)
	}
	if rng.IntN(3) == 0 {
		for range 1 + rng.IntN(2) {
			rt.Methods = append(rt.Methods, pick(rng, refMethods))
		}
	}
	if rng.IntN(3) == 0 {
		h := HeaderMatch{Name: pick(rng, refHeaders)}
		switch rng.IntN(3) {
		case 0:
			h.Present = true
		case 1:
			h.Value = pick(rng, refValues)
		default:
			h.Regex = regexp.MustCompile("^[12]$")
		}
		rt.Headers = append(rt.Headers, h)
	}
	return rt
}

func randomRequest(rng *rand.Rand) *testReq {
	r := req(pick(rng, refReqHosts), pick(rng, refSegs)+pick(rng, refSegs)).withMethod(pick(rng, refMethods))
	for _, h := range refHeaders {
		if rng.IntN(2) == 0 {
			r.hdr[h] = []byte(pick(rng, refValues))
		}
	}
	return r
}

func TestMatchAgainstReference(t *testing.T) {
	const tables, requests = 300, 300
	rng := rand.New(rand.NewPCG(1, 2))
	matched := 0
	for n := range tables {
		routes := make([]Route[int], 1+rng.IntN(30))
		for i := range routes {
			routes[i] = randomRoute(rng, i)
		}
		tbl, conflicts := mustBuild(t, routes)
		shadowed := map[int]bool{}
		for _, c := range conflicts {
			shadowed[c.Index] = true
		}
		for range requests {
			r := randomRequest(rng)
			want := refMatch(routes, r)
			_, got, ok := tbl.Match(r)
			if got != want || ok != (want >= 0) {
				t.Fatalf("table %d: Match(host %q path %q method %s headers %q) = %d, reference %d\nroutes: %+v",
					n, r.host, r.path, r.method, r.hdr, got, want, routes)
			}
			if ok && shadowed[got] {
				t.Fatalf("table %d: Match selected route %d, reported as shadowed: %+v", n, got, conflicts)
			}
			if ok {
				matched++
			}
		}
	}
	// Guard against a generator that never matches anything.
	if matched < tables*requests/4 {
		t.Fatalf("only %d of %d requests matched; generator too sparse", matched, tables*requests)
	}
}
