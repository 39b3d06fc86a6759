package router

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestExplainAgreesWithMatch checks on the benchmark tables (every path kind, conditions, wildcard and default
// hosts) and on prefix-first tables that Explain selects exactly what Match selects and lists every route once.
func TestExplainAgreesWithMatch(t *testing.T) {
	pf := []Route[int]{
		{PathKind: PathPrefix, Path: "/static/", PrefixFirst: true, Target: 0},
		{PathKind: PathRegex, Path: `/static/.*\.js`, Target: 1},
		{PathKind: PathPrefix, Path: "/static/js/", Target: 2},
		{PathKind: PathRegex, Path: `/api/.*`, Methods: []string{"POST"}, Target: 3},
		{PathKind: PathPrefix, Path: "/", Target: 4},
	}
	tables := map[string][]Route[int]{"bench": benchRoutes(20), "prefix-first": pf}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, routes := range tables {
		t.Run(name, func(t *testing.T) {
			tbl, _ := mustBuild(t, routes)
			reqs := benchRequests(20, 400)
			for _, p := range []string{"/static/x.js", "/static/js/a.js", "/static/a.css", "/api/x", "/"} {
				reqs = append(reqs, req("h", p), req("h", p).withMethod("POST"))
			}
			for _, r := range reqs {
				if rng.IntN(3) == 0 {
					r.method = []byte("POST")
				}
				_, want, _ := tbl.Match(r)
				ex := tbl.Explain(r)
				if ex.Matched != want {
					t.Fatalf("%s %s%s: Explain selects %d, Match %d", r.method, r.host, r.path, ex.Matched, want)
				}
				if len(ex.Candidates) != len(routes) {
					t.Fatalf("%d candidates for %d routes", len(ex.Candidates), len(routes))
				}
				matched := 0
				for _, c := range ex.Candidates {
					if c.Verdict == Matched {
						matched++
						if c.Index != want {
							t.Fatalf("candidate %d has verdict matched, Match selects %d", c.Index, want)
						}
					}
				}
				if (want >= 0) != (matched == 1) {
					t.Fatalf("%d matched candidates, Match selects %d", matched, want)
				}
			}
		})
	}
}

func TestExplainReasons(t *testing.T) {
	routes := []Route[string]{
		{Hosts: []string{"shop.example.no"}, PathKind: PathPrefix, Path: "/cart/", Methods: []string{"POST"}, Target: "cart-post"},
		{Hosts: []string{"shop.example.no"}, PathKind: PathPrefix, Path: "/cart/", Headers: []HeaderMatch{{Name: "X-Canary", Value: "1"}}, Target: "cart-canary"},
		{Hosts: []string{"shop.example.no"}, PathKind: PathPrefix, Path: "/cart/", Target: "cart"},
		{Hosts: []string{"shop.example.no"}, PathKind: PathPrefix, Path: "/cart/", Target: "cart-dup"},
		{Hosts: []string{"shop.example.no"}, PathKind: PathExact, Path: "/healthz", Target: "health"},
		{Hosts: []string{"shop.example.no"}, PathKind: PathPrefix, Path: "/", Target: "root"},
		{Hosts: []string{"*.example.com"}, PathKind: PathPrefix, Path: "/", Target: "other"},
	}
	tbl, _ := mustBuild(t, routes)
	ex := tbl.Explain(req("Shop.Example.No:8443", "/cart/items", "X-Canary", "0"))
	if ex.Host != "shop.example.no" || ex.HostGroup != "shop.example.no" || ex.Matched != 2 {
		t.Fatalf("host %q group %q matched %d", ex.Host, ex.HostGroup, ex.Matched)
	}
	want := []struct {
		target  string
		verdict Verdict
		reason  string
	}{
		{"cart-post", CondFailed, "method GET is not one of POST"},
		{"cart-canary", CondFailed, `header X-Canary: "0" is not "1"`},
		{"cart", Matched, `longest matching prefix "/cart/"`},
		{"cart-dup", Shadowed, "shadowed by route 2"},
		{"health", PathMismatch, `path is not exactly "/healthz"`},
		{"root", Outranked, "higher precedence"},
		{"other", OtherHost, `selects group shop.example.no; this route serves *.example.com`},
	}
	if len(ex.Candidates) != len(want) {
		t.Fatalf("%d candidates, want %d: %+v", len(ex.Candidates), len(want), ex.Candidates)
	}
	for i, w := range want {
		t.Run(w.target, func(t *testing.T) {
			c := ex.Candidates[i]
			if c.Target != w.target || c.Verdict != w.verdict || !strings.Contains(c.Reason, w.reason) {
				t.Fatalf("candidate %d = %s %v %q, want %s %v containing %q", i, c.Target, c.Verdict, c.Reason, w.target, w.verdict, w.reason)
			}
		})
	}
	if ex := tbl.Explain(req("nowhere.org", "/")); ex.Matched != -1 || ex.HostGroup != "" || ex.Candidates[0].Verdict != OtherHost {
		t.Fatalf("unknown host: %+v", ex)
	}
}
