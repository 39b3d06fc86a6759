package router

import (
	"errors"
	"slices"
	"testing"
)

// Tests for the nginx-derived rules: "location ^~" (PrefixFirst) and the
// server_name forms (".name", trailing and regex hosts).

func TestPrefixFirst(t *testing.T) {
	routes := []Route[string]{
		{Path: "/", Target: "root"},
		{Path: "/images/", PrefixFirst: true, Target: "images-pf"},
		{Path: "/images/big/", Target: "big-plain"},
		{PathKind: PathRegex, Path: `.*\.(gif|jpg)`, Target: "img-re"},
		{PathKind: PathExact, Path: "/images/logo.gif", Target: "logo-exact"},
		{Path: "/docs/", PrefixFirst: true, Methods: []string{"GET"}, Target: "docs-get-pf"},
		{Path: "/docs/", Target: "docs-plain"},
		{Path: "/d", PrefixFirst: true, Target: "d-pf"},
		{Path: "/dx/", PrefixFirst: true, Methods: []string{"GET"}, Target: "dx-get-pf"},
		{PathKind: PathRegex, Path: `.*\.pdf`, Target: "pdf-re"},
		{Path: "/same/", Target: "same-plain"},
		{Path: "/same/", PrefixFirst: true, Target: "same-pf"}, // shadowed
	}
	runMatchCases(t, routes, []matchCase{
		{"^~ longest prefix beats regex", req("h", "/images/a.gif"), "images-pf"},
		{"^~ without a regex match", req("h", "/images/a.txt"), "images-pf"},
		{"exact beats ^~", req("h", "/images/logo.gif"), "logo-exact"},
		{"longer plain prefix lets regex win", req("h", "/images/big/a.jpg"), "img-re"},
		{"longer plain prefix without regex", req("h", "/images/big/a.txt"), "big-plain"},
		{"regex beats root", req("h", "/a.gif"), "img-re"},
		{"^~ with conditions holding", req("h", "/docs/a.pdf"), "docs-get-pf"},
		{"^~ conditions fail, plain same key, regex wins", req("h", "/docs/a.pdf").withMethod("POST"), "pdf-re"},
		{"^~ conditions fail, plain same key", req("h", "/docs/a.txt").withMethod("POST"), "docs-plain"},
		{"^~ conditions fail, shorter ^~ wins", req("h", "/dx/a.pdf").withMethod("POST"), "d-pf"},
		{"^~ conditions hold on longer key", req("h", "/dx/a.pdf"), "dx-get-pf"},
		{"shorter ^~ beats regex", req("h", "/dy.pdf"), "d-pf"},
		{"first of a key is plain, regex wins", req("h", "/same/a.pdf"), "pdf-re"},
		{"first of a key is plain", req("h", "/same/a"), "same-plain"},
	})
	_, conflicts := mustBuild(t, routes)
	if len(conflicts) != 1 || conflicts[0].Index != 11 || conflicts[0].ShadowedBy != 10 {
		t.Fatalf("conflicts = %+v, want route 11 shadowed by 10", conflicts)
	}
}

// TestPrefixFirstPerGroup checks that ^~ in one host group does not change
// the order in another.
func TestPrefixFirstPerGroup(t *testing.T) {
	routes := []Route[string]{
		{Hosts: []string{"a.no"}, Path: "/p/", PrefixFirst: true, Target: "a-pf"},
		{Hosts: []string{"a.no"}, PathKind: PathRegex, Path: "/p/.*", Target: "a-re"},
		{Hosts: []string{"b.no"}, Path: "/p/", Target: "b-plain"},
		{Hosts: []string{"b.no"}, PathKind: PathRegex, Path: "/p/.*", Target: "b-re"},
	}
	runMatchCases(t, routes, []matchCase{
		{"group with ^~", req("a.no", "/p/x"), "a-pf"},
		{"group without ^~", req("b.no", "/p/x"), "b-re"},
	})
}

func TestHostForms(t *testing.T) {
	routes := []Route[string]{
		{Hosts: []string{`~^www\.example\.`}, Path: "/", Target: "re-www-example"},
		{Hosts: []string{"example.no"}, Path: "/", Target: "exact"},
		{Hosts: []string{".example.no"}, Path: "/", Target: "dot"},
		{Hosts: []string{"*.api.example.no"}, Path: "/", Target: "wild-api"},
		{Hosts: []string{".shop.no"}, Path: "/", Target: "dot-shop"},
		{Hosts: []string{"*.shop.no"}, PathKind: PathExact, Path: "/x", Target: "wild-shop-x"},
		{Hosts: []string{"*.no"}, Path: "/", Target: "wild-no"},
		{Hosts: []string{"www.example.*"}, Path: "/", Target: "trail-www"},
		{Hosts: []string{"WWW.Example.CO.*"}, Path: "/", Target: "trail-www-co"},
		{Hosts: []string{`~^(www\.)?foo\.(no|se)$`}, Path: "/", Target: "re-foo"},
		{Hosts: []string{"~FOO"}, Path: "/", Target: "re-foo2"},
		{Hosts: []string{`~^\[::1\]$`}, Path: "/", Target: "re-v6"},
		{Path: "/", Target: "default"},
	}
	runMatchCases(t, routes, []matchCase{
		{"exact beats .name", req("example.no", "/"), "exact"},
		{".name matches a subdomain", req("a.example.no", "/"), "dot"},
		{".name matches any depth", req("a.b.example.no", "/"), "dot"},
		{"longer leading wildcard beats .name", req("x.api.example.no", "/"), "wild-api"},
		{"*.name excludes its apex", req("api.example.no", "/"), "dot"},
		{".name apex beats shorter wildcard", req("shop.no", "/"), "dot-shop"},
		{".name apex is not *.name", req("shop.no", "/x"), "dot-shop"},
		{"*.name and .name share subdomains", req("a.shop.no", "/x"), "wild-shop-x"},
		{"shared group, .name route", req("a.shop.no", "/y"), "dot-shop"},
		{"short leading wildcard", req("a.no", "/"), "wild-no"},
		{"leading beats trailing", req("www.example.no", "/"), "dot"},
		{"trailing beats earlier regex", req("www.example.com", "/"), "trail-www"},
		{"longest trailing wildcard", req("www.example.co.uk", "/"), "trail-www-co"},
		{"trailing any depth", req("www.example.com.au:443", "/"), "trail-www"},
		{"trailing case-insensitive", req("WWW.EXAMPLE.CO.UK", "/"), "trail-www-co"},
		{"trailing needs a label", req("www.example.", "/"), "default"},
		{"leading beats regex", req("foo.no", "/"), "wild-no"},
		{"first regex in file order", req("www.foo.se", "/"), "re-foo"},
		{"regex on apex", req("foo.se", "/"), "re-foo"},
		{"second regex when first fails", req("barfoo.dk", "/"), "re-foo2"},
		{"regex case-insensitive, port ignored", req("WWW.FOO.SE:8080", "/"), "re-foo"},
		{"regex trailing dot ignored", req("foo.se.", "/"), "re-foo"},
		{"regex on bracketed ipv6", req("[::1]:80", "/"), "re-v6"},
		{"regex on bare ipv6", req("::1", "/"), "re-v6"},
		{"nothing matches", req("other.dk", "/"), "default"},
		{"empty host", req("", "/"), "default"},
	})
}

func TestHostFormErrors(t *testing.T) {
	for _, h := range []string{"*.a.*", ".a.*", "~(", "~", ".", ".*", "..a", "a.*.*", "*.*", "a:1.*"} {
		t.Run(h, func(t *testing.T) {
			_, _, err := Build([]Route[int]{{Hosts: []string{h}, Path: "/"}})
			var re *RouteError
			if !errors.As(err, &re) || re.Field != "hosts" {
				t.Fatalf("Build(host %q) error = %v, want a hosts error", h, err)
			}
		})
	}
}

func TestPrefixFirstErrors(t *testing.T) {
	for _, kind := range []PathKind{PathExact, PathRegex} {
		t.Run(kind.String(), func(t *testing.T) {
			_, _, err := Build([]Route[int]{{PathKind: kind, Path: "/a", PrefixFirst: true}})
			var re *RouteError
			if !errors.As(err, &re) || re.Field != "path" {
				t.Fatalf("error = %v, want a path error", err)
			}
		})
	}
}

func TestHostFormConflicts(t *testing.T) {
	type pair struct{ index, by int }
	tests := []struct {
		name   string
		routes []Route[int]
		want   []pair
	}{
		{".name after *.name is reachable on the apex", []Route[int]{{Hosts: []string{"*.a.no"}, Path: "/"}, {Hosts: []string{".a.no"}, Path: "/"}}, nil},
		{"*.name after .name", []Route[int]{{Hosts: []string{".a.no"}, Path: "/"}, {Hosts: []string{"*.a.no"}, Path: "/"}}, []pair{{1, 0}}},
		{"same regex host", []Route[int]{{Hosts: []string{"~^a"}, Path: "/"}, {Hosts: []string{"~^a"}, Path: "/"}}, []pair{{1, 0}}},
		{"different regex hosts", []Route[int]{{Hosts: []string{"~^a"}, Path: "/"}, {Hosts: []string{"~^A"}, Path: "/"}}, nil},
		{"same trailing host", []Route[int]{{Hosts: []string{"a.*"}, Path: "/"}, {Hosts: []string{"A.*"}, Path: "/"}}, []pair{{1, 0}}},
		{"trailing vs exact", []Route[int]{{Hosts: []string{"a.*"}, Path: "/"}, {Hosts: []string{"a"}, Path: "/"}}, nil},
		{"plain then ^~", []Route[int]{{Path: "/a"}, {Path: "/a", PrefixFirst: true}}, []pair{{1, 0}}},
		{"^~ then plain", []Route[int]{{Path: "/a", PrefixFirst: true}, {Path: "/a"}}, []pair{{1, 0}}},
		{"^~ longer key", []Route[int]{{Path: "/a", PrefixFirst: true}, {Path: "/ab"}}, nil},
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

// hostFormRoutes is a table using every host form, for the allocation test
// and the benchmark.
func hostFormRoutes() []Route[int] {
	var routes []Route[int]
	for i, h := range []string{"a.example.no", ".example.no", "*.x.example.no", "www.example.*", `~^(www\.)?foo\.(no|se)$`, `~^bar\.`} {
		routes = append(routes,
			Route[int]{Hosts: []string{h}, PathKind: PathExact, Path: "/x", Target: 3 * i},
			Route[int]{Hosts: []string{h}, Path: "/api/", PrefixFirst: true, Target: 3*i + 1},
			Route[int]{Hosts: []string{h}, Path: "/", Target: 3*i + 2})
	}
	return routes
}

var hostFormRequests = []*testReq{
	req("A.example.no", "/x"), req("example.no:80", "/api/v1"), req("b.x.example.no", "/"),
	req("www.example.com", "/api/"), req("WWW.FOO.SE", "/x"), req("bar.dk", "/api/x"),
}

func TestHostFormsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race, so regex matches allocate")
	}
	tbl, _ := mustBuild(t, hostFormRoutes())
	for _, r := range hostFormRequests {
		if _, _, ok := tbl.Match(r); !ok {
			t.Fatalf("Match(%s %s) found nothing", r.host, r.path)
		}
		if n := testing.AllocsPerRun(100, func() { tbl.Match(r) }); n != 0 {
			t.Errorf("Match(%s %s) allocates %v times", r.host, r.path, n)
		}
	}
}

func BenchmarkMatchHostForms(b *testing.B) {
	tbl, _ := mustBuild(b, hostFormRoutes())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, ok := tbl.Match(hostFormRequests[i%len(hostFormRequests)]); !ok {
			b.Fatal("no match")
		}
		i++
	}
}
