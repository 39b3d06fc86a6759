package router

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// FuzzMatch feeds arbitrary hosts and paths to a fixed table. Whatever it
// selects must be a route of the right host group whose path really matches,
// and ASCII case or a port on the host must not change the choice.
func FuzzMatch(f *testing.F) {
	routes := benchRoutes(10)
	routes = append(routes, Route[int]{Hosts: []string{"[::1]"}, PathKind: PathRegex, Path: `/(a|b)+`, Target: len(routes)})
	routes = append(routes, Route[int]{Hosts: []string{".x.no", "svc1.example.*", `~^[a-c]+\.`}, Path: "/s", PrefixFirst: true, Target: len(routes)})
	tbl, _ := mustBuild(f, routes)
	for _, s := range []struct{ host, path string }{
		{"svc1.example.no", "/api/v1/item3"}, {"a.tenant4.example.no:1", "/static/1/x"}, {"[::1]:80", "/abab"},
		{"::1", "/a"}, {"[::1", "/"}, {"..", ""}, {"x.", "/api/v2/users/9"}, {strings.Repeat("a", 300), "/"},
	} {
		f.Add(s.host, s.path)
	}
	f.Fuzz(func(t *testing.T, host, path string) {
		_, idx, ok := tbl.Match(req(host, path))
		if !ok {
			if idx != -1 {
				t.Fatalf("no match but index %d", idx)
			}
			return
		}
		rt := routes[idx]
		var pathOK bool
		switch rt.PathKind {
		case PathExact:
			pathOK = rt.Path == path
		case PathPrefix:
			pathOK = strings.HasPrefix(path, rt.Path)
		case PathRegex:
			pathOK = regexp.MustCompile("^(?:" + rt.Path + ")$").MatchString(path)
		}
		if !pathOK {
			t.Fatalf("route %d (%s %q) selected for path %q", idx, rt.PathKind, rt.Path, path)
		}
		if !strings.ContainsAny(host, ":[]") {
			upper := string(bytes.ToUpper([]byte(host))) + ":8080"
			if _, idx2, _ := tbl.Match(req(upper, path)); idx2 != idx {
				t.Fatalf("host %q selects route %d, %q selects %d", host, idx, upper, idx2)
			}
		}
	})
}

// FuzzHostPattern checks that accepted host patterns are normalized to a
// fixed point: parsing the normalized form gives the same key.
func FuzzHostPattern(f *testing.F) {
	for _, h := range []string{"*", "A.no.", "*.x.NO", "[::1]", "::1", "a:1", "*.*", "a..b", "[::1]:2",
		".X.no", "www.Example.*", "*.a.*", "~^(www\\.)?x\\.NO$", "~(", "~", ".", ".*"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		k, _, err := parseHostPattern(h)
		if err != nil {
			return
		}
		k2, _, err := parseHostPattern(k.String())
		if err != nil || k2 != k {
			t.Fatalf("%q -> %v -> %v, %v", h, k, k2, err)
		}
		if k.kind != hostDefault {
			var buf [maxHostLen]byte
			if got, ok := canonicalHost(&buf, []byte(strings.ToUpper(k.name))); k.kind == hostExact && (!ok || string(got) != k.name) {
				t.Fatalf("request host %q canonicalizes to %q, want %q", strings.ToUpper(k.name), got, k.name)
			}
		}
	})
}
