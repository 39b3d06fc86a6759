package router

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		route Route[int]
		want  []string // fields, in order
	}{
		{"bad regex", Route[int]{PathKind: PathRegex, Path: "/a("}, []string{"path"}},
		{"regex only valid when wrapped", Route[int]{PathKind: PathRegex, Path: "a)(b"}, []string{"path"}},
		{"prefix without slash", Route[int]{Path: "api"}, []string{"path"}},
		{"empty exact", Route[int]{PathKind: PathExact, Path: ""}, []string{"path"}},
		{"unknown kind", Route[int]{PathKind: 9, Path: "/"}, []string{"path"}},
		{"wildcard in middle", Route[int]{Hosts: []string{"a.*.no"}, Path: "/"}, []string{"hosts"}},
		{"wildcard without dot", Route[int]{Hosts: []string{"*example.no"}, Path: "/"}, []string{"hosts"}},
		{"bare wildcard suffix", Route[int]{Hosts: []string{"*."}, Path: "/"}, []string{"hosts"}},
		{"host with port", Route[int]{Hosts: []string{"a.no:80"}, Path: "/"}, []string{"hosts"}},
		{"empty host", Route[int]{Hosts: []string{""}, Path: "/"}, []string{"hosts"}},
		{"empty label", Route[int]{Hosts: []string{"a..no"}, Path: "/"}, []string{"hosts"}},
		{"space in host", Route[int]{Hosts: []string{"a b"}, Path: "/"}, []string{"hosts"}},
		{"ipv6 with port", Route[int]{Hosts: []string{"[::1]:80"}, Path: "/"}, []string{"hosts"}},
		{"trailing empty label", Route[int]{Hosts: []string{"a.no.."}, Path: "/"}, []string{"hosts"}},
		{"ipv6 zone", Route[int]{Hosts: []string{"[fe80::1%eth0]"}, Path: "/"}, []string{"hosts"}},
		{"bad ipv6", Route[int]{Hosts: []string{"[zz::1]"}, Path: "/"}, []string{"hosts"}},
		{"empty header name", Route[int]{Path: "/", Headers: []HeaderMatch{{Value: "x"}}}, []string{"headers"}},
		{"bad header name", Route[int]{Path: "/", Headers: []HeaderMatch{{Name: "X Y"}}}, []string{"headers"}},
		{"several at once", Route[int]{Hosts: []string{"a:1", "*.b.*"}, PathKind: PathRegex, Path: "(", Headers: []HeaderMatch{{Name: ""}}},
			[]string{"hosts", "hosts", "path", "headers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A valid route first so the failing index is not trivially 0.
			tbl, conflicts, err := Build([]Route[int]{{Path: "/"}, tc.route})
			if err == nil {
				t.Fatal("Build succeeded, want error")
			}
			if tbl != nil || conflicts != nil {
				t.Fatal("Build returned a table with an error")
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var re *RouteError
				if !errors.As(e, &re) {
					t.Fatalf("part %v is not a *RouteError", e)
				}
				if re.Index != 1 {
					t.Fatalf("error %v has index %d, want 1", re, re.Index)
				}
				if !strings.HasPrefix(re.Error(), "route 1: "+re.Field+": ") {
					t.Fatalf("error text %q", re.Error())
				}
				got = append(got, re.Field)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("fields = %v, want %v (err: %v)", got, tc.want, err)
			}
		})
	}
}

func TestBuildErrorsAcrossRoutes(t *testing.T) {
	_, _, err := Build([]Route[int]{
		{Path: "bad"}, {Path: "/ok"}, {Hosts: []string{"x:1"}, Path: "/"},
	})
	var idx []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		idx = append(idx, e.(*RouteError).Index)
	}
	if !slices.Equal(idx, []int{0, 2}) {
		t.Fatalf("error indices = %v, want [0 2]", idx)
	}
}

func TestValidHostPatterns(t *testing.T) {
	for _, h := range []string{"*", "a.no", "A.NO.", "*.a.no", "xn--bcher-kva.example", "_srv.a.no", "::1", "[2001:DB8::1]", "10.0.0.1", "localhost"} {
		t.Run(h, func(t *testing.T) {
			if _, _, err := Build([]Route[int]{{Hosts: []string{h}, Path: "/"}}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConflicts(t *testing.T) {
	re := regexp.MustCompile("^a")
	type pair struct{ index, by int }
	tests := []struct {
		name   string
		routes []Route[int]
		want   []pair
	}{
		{"same prefix no conditions", []Route[int]{{Path: "/api"}, {Path: "/api"}}, []pair{{1, 0}}},
		{"same exact", []Route[int]{{PathKind: PathExact, Path: "/a"}, {PathKind: PathExact, Path: "/a", Methods: []string{"GET"}}}, []pair{{1, 0}}},
		{"same regex", []Route[int]{{PathKind: PathRegex, Path: "/a.*"}, {PathKind: PathRegex, Path: "/a.*"}}, []pair{{1, 0}}},
		{"methods superset", []Route[int]{{Path: "/", Methods: []string{"GET", "POST"}}, {Path: "/", Methods: []string{"POST"}}}, []pair{{1, 0}}},
		{"header subset", []Route[int]{
			{Path: "/", Headers: []HeaderMatch{{Name: "x-a", Value: "1"}}},
			{Path: "/", Headers: []HeaderMatch{{Name: "X-B", Present: true}, {Name: "X-A", Value: "1"}}},
		}, []pair{{1, 0}}},
		{"presence implied by value", []Route[int]{
			{Path: "/", Headers: []HeaderMatch{{Name: "X-A", Present: true}}},
			{Path: "/", Headers: []HeaderMatch{{Name: "X-A", Value: "1"}}},
		}, []pair{{1, 0}}},
		{"regex implied by value", []Route[int]{
			{Path: "/", Headers: []HeaderMatch{{Name: "X-A", Regex: re}}},
			{Path: "/", Headers: []HeaderMatch{{Name: "X-A", Value: "abc"}}},
		}, []pair{{1, 0}}},
		{"same regex header", []Route[int]{
			{Path: "/", Headers: []HeaderMatch{{Name: "X-A", Regex: re}}},
			{Path: "/", Headers: []HeaderMatch{{Name: "X-A", Regex: regexp.MustCompile("^a")}}},
		}, []pair{{1, 0}}},
		{"first shadower reported", []Route[int]{{Path: "/"}, {Path: "/"}, {Path: "/"}}, []pair{{1, 0}, {2, 0}}},
		{"same wildcard host", []Route[int]{{Hosts: []string{"*.a.no"}, Path: "/"}, {Hosts: []string{"*.A.NO."}, Path: "/"}}, []pair{{1, 0}}},
		{"shadowed in every host", []Route[int]{
			{Hosts: []string{"a.no"}, Path: "/"}, {Hosts: []string{"b.no"}, Path: "/"}, {Hosts: []string{"a.no", "b.no"}, Path: "/"},
		}, []pair{{2, 0}}},
		{"default and star", []Route[int]{{Path: "/"}, {Hosts: []string{"*"}, Path: "/"}}, []pair{{1, 0}}},
		// Non-conflicts.
		{"different methods", []Route[int]{{Path: "/", Methods: []string{"GET"}}, {Path: "/", Methods: []string{"POST"}}}, nil},
		{"later has no methods", []Route[int]{{Path: "/", Methods: []string{"GET"}}, {Path: "/"}}, nil},
		{"longer prefix", []Route[int]{{Path: "/api"}, {Path: "/api/v1"}}, nil},
		{"prefix vs exact", []Route[int]{{Path: "/api"}, {PathKind: PathExact, Path: "/api"}}, nil},
		{"different hosts", []Route[int]{{Hosts: []string{"a.no"}, Path: "/"}, {Hosts: []string{"b.no"}, Path: "/"}}, nil},
		{"reachable via other host", []Route[int]{{Hosts: []string{"a.no"}, Path: "/"}, {Hosts: []string{"a.no", "b.no"}, Path: "/"}}, nil},
		{"earlier has extra header", []Route[int]{{Path: "/", Headers: []HeaderMatch{{Name: "X", Present: true}}}, {Path: "/"}}, nil},
		{"different header values", []Route[int]{
			{Path: "/", Headers: []HeaderMatch{{Name: "X", Value: "1"}}}, {Path: "/", Headers: []HeaderMatch{{Name: "X", Value: "2"}}},
		}, nil},
		{"value does not imply presence-only exact", []Route[int]{
			{Path: "/", Headers: []HeaderMatch{{Name: "X", Value: "1"}}}, {Path: "/", Headers: []HeaderMatch{{Name: "X", Present: true}}},
		}, nil},
		{"regex rejects value", []Route[int]{
			{Path: "/", Headers: []HeaderMatch{{Name: "X", Regex: re}}}, {Path: "/", Headers: []HeaderMatch{{Name: "X", Value: "b"}}},
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, conflicts := mustBuild(t, tc.routes)
			var got []pair
			for _, c := range conflicts {
				got = append(got, pair{c.Index, c.ShadowedBy})
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("conflicts = %v, want %v", conflicts, tc.want)
			}
		})
	}
}

func TestConflictReason(t *testing.T) {
	routes := make([]Route[int], 8)
	for i := range routes {
		routes[i] = Route[int]{Path: "/x" + strings.Repeat("x", i)}
	}
	routes[3].Path = "/api"
	routes[7].Path = "/api"
	_, conflicts := mustBuild(t, routes)
	want := `route 7 (prefix "/api") is shadowed by route 3: same host and path, and route 3 has no extra conditions`
	if len(conflicts) != 1 || conflicts[0].Reason != want {
		t.Fatalf("conflicts = %+v, want one with reason %q", conflicts, want)
	}
}
