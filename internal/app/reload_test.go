package app_test

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadConfig is generation gen of the hot-reload test's configuration: /x alternates between services a and b,
// the /extra route exists every third generation, and service b has a second instance in half of them.
func loadConfig(gen int, a, b1, b2 string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "listeners:\n  - address: \"127.0.0.1:0\"\nserver: {shutdown_timeout: 5s}\nservices:\n")
	fmt.Fprintf(&s, "  a:\n    timeouts: {connect: 1s}\n    instances: [%q]\n", a)
	fmt.Fprintf(&s, "  b:\n    timeouts: {connect: 1s}\n    instances: [%q", b1)
	if hasB2(gen) {
		fmt.Fprintf(&s, ", %q", b2)
	}
	s.WriteString("]\nroutes:\n")
	fmt.Fprintf(&s, "  - name: x\n    match: {path_prefix: /x}\n    service: %s\n", xService(gen))
	if hasExtra(gen) {
		s.WriteString("  - name: extra\n    match: {path: /extra}\n    return: {status: 200, body: extra}\n")
	}
	s.WriteString("  - name: fallback\n    match: {path_prefix: /}\n    return: {status: 404, body: none}\n")
	return s.String()
}

func hasB2(gen int) bool    { return gen%4 >= 2 }
func hasExtra(gen int) bool { return gen%3 == 0 }
func xService(gen int) string {
	if gen%2 == 0 {
		return "a"
	}
	return "b"
}

// expected reports whether status and body are what generation gen answers for path.
func expected(gen int, path string, status int, body string) bool {
	switch path {
	case "/x":
		if xService(gen) == "a" {
			return status == 200 && body == "a"
		}
		return status == 200 && (body == "b1" || hasB2(gen) && body == "b2")
	case "/extra":
		if hasExtra(gen) {
			return status == 200 && body == "extra"
		}
		return status == 404 && body == "none"
	}
	return false
}

// TestHotReloadUnderLoad rewrites the config 20 times while clients hammer the gateway over keep-alive
// connections. No request may fail, and every request that both started and ended while one generation was in
// force must be answered by that generation's routing.
func TestHotReloadUnderLoad(t *testing.T) {
	const (
		reloads = 20
		clients = 8
	)
	a, b1, b2 := newUpstream(t, "a", nil), newUpstream(t, "b1", nil), newUpstream(t, "b2", nil)
	g := startGateway(t, loadConfig(0, a.addr, b1.addr, b2.addr))
	client := newClient(t)

	// state is 2*gen while generation gen is in force, 2*gen+1 while the reload to gen+1 is under way.
	var state atomic.Int64
	var total, checked atomic.Int64
	var servedB2 atomic.Bool
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	progress := make(chan int64, clients)
	stop := make(chan struct{})
	deadline := time.Now().Add(20 * time.Second)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				select {
				case <-stop:
					return
				default:
				}
				path := "/x"
				if (n+i)%3 == 0 {
					path = "/extra"
				}
				s1 := state.Load()
				status, body, err := get(client, g.url(path))
				s2 := state.Load()
				total.Add(1)
				if err != nil {
					fail("GET %s in state %d: %v", path, s1, err)
					continue
				}
				if body == "b2" {
					servedB2.Store(true)
				}
				// Any generation in force at some point during the request may have answered it.
				ok := false
				for gen := s1 / 2; gen <= (s2+1)/2 && !ok; gen++ {
					ok = expected(int(gen), path, status, body)
				}
				if !ok {
					fail("GET %s = %d %q in states %d..%d", path, status, body, s1, s2)
				}
				if s1 == s2 && s1%2 == 0 {
					checked.Add(1)
					select {
					case progress <- s1:
					default:
					}
				}
			}
		}()
	}
	// waitLoad returns once the clients completed several requests entirely within state s.
	waitLoad := func(s int64) {
		t.Helper()
		timeout := time.After(waitLimit)
		for seen := 0; seen < clients; {
			select {
			case got := <-progress:
				if got == s {
					seen++
				}
			case <-timeout:
				t.Fatalf("no load observed in state %d", s)
			}
		}
	}

	check := newClient(t)
	waitLoad(0)
	for gen := 1; gen <= reloads; gen++ {
		state.Store(int64(2*gen - 1))
		if r := g.apply(loadConfig(gen, a.addr, b1.addr, b2.addr)); r.err != nil {
			t.Fatalf("reload to generation %d: %v", gen, r.err)
		}
		state.Store(int64(2 * gen))
		for _, path := range []string{"/x", "/extra"} {
			status, body, err := get(check, g.url(path))
			if err != nil || !expected(gen, path, status, body) {
				t.Errorf("generation %d: GET %s = %d %q %v", gen, path, status, body, err)
			}
		}
		waitLoad(int64(2 * gen))
	}
	close(stop)
	wg.Wait()

	t.Logf("%d requests, %d checked against a stable generation", total.Load(), checked.Load())
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more", len(failures)-10)
			break
		}
		t.Error(f)
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed", len(failures), total.Load())
	}
	if !servedB2.Load() {
		t.Error("the added instance b2 never served a request")
	}
	if n := strings.Count(g.logs.String(), "configuration reloaded"); n != reloads {
		t.Errorf("%d reloads logged, want %d", n, reloads)
	}
}

// TestReloadWithErrorsKeepsRunningConfig feeds broken configs to a running app: each reload fails, is logged at the
// file:line:col of the problem, and the previous routing keeps serving.
func TestReloadWithErrorsKeepsRunningConfig(t *testing.T) {
	a := newUpstream(t, "a", nil)
	good := fmt.Sprintf(`listeners: [{address: "127.0.0.1:0"}]
services:
  a:
    timeouts: {connect: 1s}
    instances: [%q]
routes:
  - match: {path_prefix: /}
    service: a
`, a.addr)
	g := startGateway(t, good)
	c := newClient(t)
	mustGet(t, c, g.url("/"), 200, "a")

	tests := []struct {
		name, cfg, at, msg string // at: text whose position the error must name
	}{
		{
			name: "syntax error",
			cfg:  good + "  - match: {path: /y\n",
			msg:  "error",
		},
		{
			name: "unknown service",
			cfg:  strings.Replace(good, "service: a", "service: nope", 1),
			at:   "nope",
			msg:  "unknown service",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := g.apply(tt.cfg)
			if r.err == nil {
				t.Fatal("reload succeeded")
			}
			var want *regexp.Regexp
			if tt.at != "" {
				line, col := posOf(t, tt.cfg, tt.at)
				want = regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("%s:%d:%d: error: ", g.path, line, col)) + ".*" + regexp.QuoteMeta(tt.msg))
			} else {
				want = regexp.MustCompile(regexp.QuoteMeta(g.path) + `:\d+:\d+: error: `)
			}
			if logs := g.logs.String(); !want.MatchString(logs) {
				t.Errorf("log does not match %q:\n%s", want, logs)
			}
			mustGet(t, c, g.url("/"), 200, "a")
		})
	}
	if r := g.apply(good); r.err != nil {
		t.Fatalf("reload of the good config after errors: %v", r.err)
	}
	mustGet(t, c, g.url("/"), 200, "a")
}

// TestReloadOpensAndClosesListeners adds a listener by reload, serves through it, then removes it again.
func TestReloadOpensAndClosesListeners(t *testing.T) {
	a := newUpstream(t, "a", nil)
	base := fmt.Sprintf(`server: {shutdown_timeout: 5s}
services:
  a:
    timeouts: {connect: 1s}
    instances: [%q]
routes:
  - match: {path_prefix: /}
    service: a
listeners:
  - name: main
    address: "127.0.0.1:0"
`, a.addr)
	g := startGateway(t, base)
	extra := freePort(t)
	r := g.apply(base + fmt.Sprintf("  - name: extra\n    address: %q\n", extra))
	if r.err != nil {
		t.Fatalf("reload adding a listener: %v", r.err)
	}
	if len(r.addrs) != 2 || r.addrs[0] != g.addrs[0] || r.addrs[1] != extra {
		t.Fatalf("listening on %v after adding %s, want [%s %s]", r.addrs, extra, g.addrs[0], extra)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitLimit}
	mustGet(t, c, "http://"+extra+"/", 200, "a")
	mustGet(t, c, g.url("/"), 200, "a")

	r = g.apply(base)
	if r.err != nil {
		t.Fatalf("reload removing a listener: %v", r.err)
	}
	if len(r.addrs) != 1 || r.addrs[0] != g.addrs[0] {
		t.Fatalf("listening on %v after removing %s, want [%s]", r.addrs, extra, g.addrs[0])
	}
	if conn, err := net.DialTimeout("tcp", extra, waitLimit); err == nil {
		conn.Close()
		t.Fatalf("removed listener %s still accepts connections", extra)
	}
	mustGet(t, c, g.url("/"), 200, "a")
}

// TestReloadKeepsIdleUpstreamConnections checks that a reload which leaves a service alone keeps its warm
// keep-alive connections (the upstream sees no new accept), and one that changes the service's instances does not.
func TestReloadKeepsIdleUpstreamConnections(t *testing.T) {
	a, b := newUpstream(t, "a", nil), newUpstream(t, "b", nil)
	cfg := func(bRoute bool, aIdle string) string {
		s := fmt.Sprintf(`listeners: [{address: "127.0.0.1:0"}]
services:
  a:
    timeouts: {connect: 1s}
    keepalive: {idle_timeout: %s}
    instances: [%q]
  b:
    timeouts: {connect: 1s}
    instances: [%q]
routes:
  - match: {path_prefix: /a}
    service: a
`, aIdle, a.addr, b.addr)
		if bRoute {
			s += "  - match: {path_prefix: /b}\n    service: b\n"
		}
		return s
	}
	g := startGateway(t, cfg(false, "60s"))
	c := newClient(t)
	requests := func(n int) {
		t.Helper()
		for range n {
			mustGet(t, c, g.url("/a"), 200, "a")
		}
	}
	requests(5)
	if n := a.accepts.Load(); n != 1 {
		t.Fatalf("upstream a accepted %d connections for 5 sequential requests, want 1", n)
	}
	steps := []struct {
		name    string
		cfg     string
		accepts int64 // upstream a's total after the step's requests
	}{
		{"add a route to another service", cfg(true, "60s"), 1},
		{"same config again", cfg(true, "60s"), 1},
		{"remove that route", cfg(false, "60s"), 1},
		{"change service a's keepalive", cfg(false, "30s"), 2},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if r := g.apply(st.cfg); r.err != nil {
				t.Fatalf("reload: %v", r.err)
			}
			requests(5)
			if n := a.accepts.Load(); n != st.accepts {
				t.Fatalf("upstream a has accepted %d connections, want %d", n, st.accepts)
			}
		})
	}
}
