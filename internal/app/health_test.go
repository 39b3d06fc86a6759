package app_test

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestHealthChecksTakeInstancesOut runs the whole chain: an instance whose health endpoint fails is taken out of
// rotation by the active checks, traffic goes to the healthy one, and the instance comes back after it recovers.
func TestHealthChecksTakeInstancesOut(t *testing.T) {
	var sick atomic.Bool
	a := newUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && sick.Load() {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "a")
	})
	b := newUpstream(t, "b", nil)
	g := startGateway(t, fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
services:
  s:
    instances: ["%s", "%s"]
    timeouts: {connect: 1s}
    health_check: {path: /healthz, interval: 20ms, jitter: 5ms, timeout: 1s, rise: 1, fall: 1}
routes:
  - match: {path_prefix: /}
    service: s
`, a.addr, b.addr))
	cl := newClient(t)
	served := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			_, body, err := get(cl, g.url("/x"))
			if err != nil {
				t.Fatal(err)
			}
			got[body]++
		}
		return got
	}
	if got := served(10); got["a"] == 0 || got["b"] == 0 {
		t.Fatalf("healthy pool: %v, want both instances used", got)
	}
	sick.Store(true)
	waitUntil(t, func() bool { got := served(6); return got["a"] == 0 })
	if got := served(20); got["a"] != 0 {
		t.Fatalf("a failing its health checks still served %d of 20", got["a"])
	}
	sick.Store(false)
	waitUntil(t, func() bool { return served(6)["a"] > 0 })
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
