package router

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// benchRoutes builds a realistic table: groups host groups (4/5 exact
// hosts, the rest wildcards) plus a default group, 20 routes each, mixing
// exact paths, nested prefixes, a method condition, a header condition and,
// in every tenth group, a regex.
func benchRoutes(groups int) []Route[int] {
	var routes []Route[int]
	add := func(hosts []string, kind PathKind, path string, methods []string, headers []HeaderMatch) {
		routes = append(routes, Route[int]{Hosts: hosts, PathKind: kind, Path: path, Methods: methods, Headers: headers, Target: len(routes)})
	}
	for g := 0; g <= groups; g++ {
		var hosts []string
		switch {
		case g == groups: // default group
		case g%5 == 4:
			hosts = []string{fmt.Sprintf("*.tenant%d.example.no", g)}
		default:
			hosts = []string{fmt.Sprintf("svc%d.example.no", g), fmt.Sprintf("svc%d.example.com", g)}
		}
		if g%10 == 0 {
			add(hosts, PathRegex, `/api/v[0-9]+/users/[0-9]+`, nil, nil)
		}
		for k := range 10 {
			add(hosts, PathExact, fmt.Sprintf("/api/v1/item%d", k), nil, nil)
		}
		for k := range 6 {
			add(hosts, PathPrefix, fmt.Sprintf("/static/%d/", k), nil, nil)
		}
		add(hosts, PathPrefix, "/api/v1/", []string{"POST"}, nil)
		add(hosts, PathPrefix, "/api/v1/", nil, []HeaderMatch{{Name: "X-Canary", Value: "1"}})
		add(hosts, PathPrefix, "/api/v1/", nil, nil)
		add(hosts, PathPrefix, "/api/", nil, nil)
		add(hosts, PathPrefix, "/", nil, nil)
	}
	return routes
}

// benchRequests returns n requests over the hosts of benchRoutes(groups),
// deterministic so runs compare.
func benchRequests(groups, n int) []*testReq {
	rng := rand.New(rand.NewPCG(7, 7))
	paths := []string{"/api/v1/item3", "/api/v1/orders/17", "/static/4/app.js", "/api/v2/users/42", "/index.html", "/api/v9"}
	out := make([]*testReq, n)
	for i := range out {
		g := rng.IntN(groups + 1)
		var host string
		switch {
		case g == groups:
			host = "unknown.example.org"
		case g%5 == 4:
			host = fmt.Sprintf("a.b.tenant%d.example.no", g)
		default:
			host = fmt.Sprintf("Svc%d.Example.No:8443", g)
		}
		out[i] = req(host, pick(rng, paths), "X-Canary", "0")
	}
	return out
}

func benchmarkMatch(b *testing.B, groups int) {
	tbl, _ := mustBuild(b, benchRoutes(groups))
	reqs := benchRequests(groups, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, _, ok := tbl.Match(reqs[i&1023]); !ok {
			b.Fatal("no match")
		}
		i++
	}
}

// 491 host groups (~400 exact, ~100 wildcard, default) x ~20 routes.
func BenchmarkMatch10k(b *testing.B) { benchmarkMatch(b, 490) }

func BenchmarkMatch100(b *testing.B) { benchmarkMatch(b, 4) }

func BenchmarkBuild10k(b *testing.B) {
	routes := benchRoutes(490)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Build(routes); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchTableSize(t *testing.T) {
	if n := len(benchRoutes(490)); n < 10000 || n > 10500 {
		t.Fatalf("benchRoutes(490) has %d routes, want about 10k", n)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	tbl, _ := mustBuild(t, benchRoutes(490))
	for _, r := range benchRequests(490, 64) {
		isRegex := string(r.path) == "/api/v2/users/42"
		if isRegex && raceEnabled {
			continue // sync.Pool drops items under -race
		}
		if n := testing.AllocsPerRun(100, func() { tbl.Match(r) }); n != 0 {
			t.Errorf("Match(%s %s) allocates %v times", r.host, r.path, n)
		}
	}
}

// TestConcurrentMatch shares one Table between goroutines; under -race it
// proves Match only reads. Results are checked against sequential ones.
func TestConcurrentMatch(t *testing.T) {
	const groups, workers, rounds = 20, 8, 200
	tbl, _ := mustBuild(t, benchRoutes(groups))
	reqs := benchRequests(groups, 256)
	want := make([]int, len(reqs))
	for i, r := range reqs {
		_, want[i], _ = tbl.Match(r)
	}
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range workers {
		wg.Go(func() {
			for n := range rounds {
				i := (n*workers + w) % len(reqs)
				if _, got, _ := tbl.Match(reqs[i]); got != want[i] {
					errs <- fmt.Sprintf("request %d: got route %d, want %d", i, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
