package router

import (
	"regexp"
	"testing"
)

type matchCase struct {
	name string
	r    *testReq
	want string // target, "" = no match
}

func runMatchCases(t *testing.T, routes []Route[string], cases []matchCase) {
	t.Helper()
	tbl, _ := mustBuild(t, routes)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, idx, ok := tbl.Match(tc.r)
			if tc.want == "" {
				if ok {
					t.Fatalf("Match = %q (route %d), want no match", got, idx)
				}
				if idx != -1 {
					t.Fatalf("index = %d on no match, want -1", idx)
				}
				return
			}
			if !ok || got != tc.want {
				t.Fatalf("Match = %q, %v, want %q", got, ok, tc.want)
			}
			if routes[idx].Target != got {
				t.Fatalf("index %d has target %q, Match returned %q", idx, routes[idx].Target, got)
			}
		})
	}
}

func TestHostPrecedence(t *testing.T) {
	routes := []Route[string]{
		{Hosts: []string{"*.example.no"}, Path: "/", Target: "wild"},
		{Hosts: []string{"*.b.example.no"}, Path: "/", Target: "wild-b"},
		{Hosts: []string{"api.example.no"}, Path: "/", Target: "api"},
		{Hosts: []string{"API2.Example.NO."}, Path: "/", Target: "api2"},
		{Path: "/", Target: "default"},
		{Hosts: []string{"[::1]"}, Path: "/", Target: "v6"},
		{Hosts: []string{"127.0.0.1"}, Path: "/", Target: "v4"},
		{Hosts: []string{"only.example.no"}, PathKind: PathExact, Path: "/x", Target: "only-x"},
	}
	runMatchCases(t, routes, []matchCase{
		{"exact beats wildcard", req("api.example.no", "/"), "api"},
		{"wildcard one level", req("www.example.no", "/"), "wild"},
		{"wildcard any depth", req("a.c.example.no", "/"), "wild"},
		{"longest wildcard suffix", req("a.b.example.no", "/"), "wild-b"},
		{"deeper under longest", req("x.y.b.example.no", "/"), "wild-b"},
		{"wildcard excludes apex", req("example.no", "/"), "default"},
		{"apex of narrower wildcard", req("b.example.no", "/"), "wild"},
		{"unknown host default", req("other.test", "/"), "default"},
		{"empty host default", req("", "/"), "default"},
		{"case insensitive", req("API.Example.No", "/"), "api"},
		{"port ignored", req("api.example.no:8443", "/"), "api"},
		{"trailing dot ignored", req("api.example.no.", "/"), "api"},
		{"trailing dot and port", req("api.example.no.:80", "/"), "api"},
		{"configured upper case and dot", req("api2.example.no", "/"), "api2"},
		{"wildcard case and port", req("WWW.EXAMPLE.NO:80", "/"), "wild"},
		{"ipv6 with port", req("[::1]:8080", "/"), "v6"},
		{"ipv6 without port", req("[::1]", "/"), "v6"},
		{"bare ipv6", req("::1", "/"), "v6"},
		{"ipv4 with port", req("127.0.0.1:80", "/"), "v4"},
		{"no fallback to default", req("only.example.no", "/y"), ""},
		{"group route matches", req("only.example.no", "/x"), "only-x"},
		{"overlong host default", req(string(make([]byte, 300)), "/"), "default"},
	})
}

func TestNoDefaultGroup(t *testing.T) {
	routes := []Route[string]{
		{Hosts: []string{"a.test"}, Path: "/", Target: "a"},
		{Hosts: []string{"*"}, PathKind: PathExact, Path: "/star", Target: "star"},
		{Hosts: []string{"b.test", "c.test", "B.TEST"}, Path: "/", Target: "bc"},
	}
	runMatchCases(t, routes, []matchCase{
		{"listed host", req("a.test", "/z"), "a"},
		{"second of several hosts", req("c.test", "/z"), "bc"},
		{"star is default", req("x.test", "/star"), "star"},
		{"default misses", req("x.test", "/z"), ""},
	})
}

func TestPathPrecedence(t *testing.T) {
	routes := []Route[string]{
		{Path: "/", Target: "root"},
		{Path: "/api", Target: "api-prefix"},
		{Path: "/api/v1/", Target: "v1-prefix"},
		{PathKind: PathExact, Path: "/api/v1/users", Target: "users-exact"},
		{PathKind: PathRegex, Path: `/api/v[0-9]+/users`, Target: "users-re"},
		{PathKind: PathRegex, Path: `/api/v1/.*`, Target: "v1-re"},
		{PathKind: PathRegex, Path: `/api/v[0-9]+/.*`, Target: "vn-re"},
		{PathKind: PathRegex, Path: `.*\.png`, Target: "png-re"},
		{PathKind: PathExact, Path: "/static", Target: "static-exact"},
		{Path: "/static/", Target: "static-prefix"},
	}
	runMatchCases(t, routes, []matchCase{
		{"exact beats regex", req("h", "/api/v1/users"), "users-exact"},
		{"first regex in file order", req("h", "/api/v2/users"), "users-re"},
		{"later regex when earlier fails", req("h", "/api/v1/orders"), "v1-re"},
		{"third regex", req("h", "/api/v7/orders"), "vn-re"},
		{"regex beats prefix", req("h", "/api/v9/x"), "vn-re"},
		{"regex anchored at end", req("h", "/api/v2/users/1"), "vn-re"},
		{"regex anchored at start", req("h", "/x/api/v2/users"), "root"},
		{"unprefixed regex", req("h", "/img/a.png"), "png-re"},
		{"longest prefix", req("h", "/api/v1"), "api-prefix"},
		{"plain string prefix", req("h", "/apix"), "api-prefix"},
		{"root fallback", req("h", "/other"), "root"},
		{"exact only equal", req("h", "/static"), "static-exact"},
		{"exact not a prefix", req("h", "/staticx"), "root"},
		{"prefix below exact", req("h", "/static/a"), "static-prefix"},
		{"empty path", req("h", ""), ""},
	})
}

func TestConditions(t *testing.T) {
	version := regexp.MustCompile(`^v[0-9]+$`)
	routes := []Route[string]{
		{Path: "/", Target: "root"},
		{Path: "/api", Methods: []string{"POST", "PUT"}, Target: "api-write"},
		{Path: "/api", Headers: []HeaderMatch{{Name: "x-canary", Value: "yes"}}, Target: "api-canary"},
		{Path: "/api", Target: "api"},
		{PathKind: PathExact, Path: "/x", Headers: []HeaderMatch{{Name: "X-Debug", Present: true}}, Target: "x-debug"},
		{PathKind: PathRegex, Path: `/x|/y`, Headers: []HeaderMatch{{Name: "Accept-Version", Regex: version}}, Target: "xy-version"},
		{Path: "/x", Methods: []string{"get"}, Target: "x-lower-get"},
		{PathKind: PathExact, Path: "/e", Headers: []HeaderMatch{{Name: "X-Empty"}}, Target: "e-empty"},
		{Path: "/m", Methods: []string{"DELETE"}, Headers: []HeaderMatch{{Name: "X-A", Value: "1"}, {Name: "X-B", Present: true}}, Target: "m-all"},
	}
	runMatchCases(t, routes, []matchCase{
		{"method holds", req("h", "/api/1").withMethod("PUT"), "api-write"},
		{"method fails, header holds", req("h", "/api/1", "X-Canary", "yes"), "api-canary"},
		{"header value case-sensitive", req("h", "/api/1", "X-Canary", "YES"), "api"},
		{"header name case-insensitive", req("h", "/api/1", "x-CANARY", "yes"), "api-canary"},
		{"unconditional after conditions", req("h", "/api"), "api"},
		{"exact with present header", req("h", "/x", "X-Debug", ""), "x-debug"},
		{"exact fails, regex header holds", req("h", "/x", "Accept-Version", "v2"), "xy-version"},
		{"regex header fails, down to root", req("h", "/x", "Accept-Version", "2"), "root"},
		{"method case-sensitive", req("h", "/x").withMethod("get"), "x-lower-get"},
		{"method case-sensitive miss", req("h", "/x"), "root"},
		{"empty value needs header", req("h", "/e"), "root"},
		{"empty value matches empty", req("h", "/e", "X-Empty", ""), "e-empty"},
		{"empty value rejects other", req("h", "/e", "X-Empty", "a"), "root"},
		{"all conditions", req("h", "/m", "X-A", "1", "X-B", "z").withMethod("DELETE"), "m-all"},
		{"one condition missing", req("h", "/m", "X-A", "1").withMethod("DELETE"), "root"},
	})
}

func TestEmptyAndNil(t *testing.T) {
	tbl, conflicts := mustBuild[int](t, nil)
	if tbl.Len() != 0 || len(conflicts) != 0 {
		t.Fatalf("empty build: Len %d, conflicts %v", tbl.Len(), conflicts)
	}
	if _, idx, ok := tbl.Match(req("h", "/")); ok || idx != -1 {
		t.Fatalf("empty table matched route %d", idx)
	}
	var nilTable *Table[int]
	if _, _, ok := nilTable.Match(req("h", "/")); ok || nilTable.Len() != 0 {
		t.Fatal("nil table matched or has routes")
	}
}

func TestLen(t *testing.T) {
	tbl, _ := mustBuild(t, []Route[int]{{Path: "/"}, {Path: "/"}, {Path: "/a"}})
	if got := tbl.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}
}
