package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/limit"
	"github.com/fjord-gw/fjord/internal/outlier"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// statusUpstream answers every request with status and its name in the body.
func statusUpstream(t *testing.T, name string, status int) string {
	t.Helper()
	return hostOf(upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, name)
	}))
}

func instances(addrs ...string) []*upstream.Instance {
	out := make([]*upstream.Instance, len(addrs))
	for i, a := range addrs {
		out[i] = upstream.NewInstance(a, 1, false, instOpts)
	}
	return out
}

func do(t *testing.T, cl *http.Client, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRetryOnStatus: a 503 from one instance is retried on the other for idempotent methods only, and only while the
// budget allows.
func TestRetryOnStatus(t *testing.T) {
	bad, good := statusUpstream(t, "bad", 503), statusUpstream(t, "good", 200)
	tests := []struct {
		name   string
		method string
		budget *limit.Budget
		want   int
	}{
		{"GET retried", "GET", nil, 200},
		{"PUT retried (idempotent)", "PUT", nil, 200},
		{"POST not retried", "POST", nil, 503},
		{"budget exhausted", "GET", limit.NewBudget(0, 0, nil), 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := serviceOver(t, balancer.RoundRobin, instances(bad, good), upstream.PoolOptions{})
			svc.Retry = RetryPolicy{Attempts: 1, Budget: tt.budget}
			svc.Retry.Statuses.Add(503)
			p := startProxy(t, cfgOf(t, prefix("/", &Route{Name: "r", Service: svc})))
			cl := proxyClient(t)
			// Round robin alternates: of two requests, one starts on the bad instance.
			got := map[int]int{}
			for range 2 {
				st, _ := do(t, cl, tt.method, "http://"+p.addr+"/")
				got[st]++
			}
			if tt.want == 200 && got[200] != 2 {
				t.Fatalf("statuses %v, want both 200 (503 retried)", got)
			}
			if tt.want == 503 && got[503] != 1 {
				t.Fatalf("statuses %v, want one 503 passed through", got)
			}
		})
	}
}

// TestOutlierEjection: an instance failing every request is ejected after consecutive_failures and gets no more
// traffic until its ejection ends.
func TestOutlierEjection(t *testing.T) {
	bad, good := statusUpstream(t, "bad", 502), statusUpstream(t, "good", 200)
	svc := serviceOver(t, balancer.RoundRobin, instances(bad, good), upstream.PoolOptions{
		Outlier: outlier.Config{ConsecutiveFailures: 2, BaseEjection: time.Minute, MaxEjection: time.Hour, MaxEjectedPercent: 50},
	})
	svc.Retry = RetryPolicy{} // observe the raw outcomes
	svc.FailureStatuses.Add(502)
	p := startProxy(t, cfgOf(t, prefix("/", &Route{Name: "r", Service: svc})))
	cl := proxyClient(t)
	bads := 0
	for range 20 {
		if _, body := do(t, cl, "GET", "http://"+p.addr+"/"); body == "bad" {
			bads++
		}
	}
	if bads != 2 {
		t.Fatalf("bad instance served %d of 20 requests, want exactly 2 (then ejected)", bads)
	}
	if st := svc.Pool.States(time.Now()); st[0].EjectedUntil.IsZero() || st[0].Ejections != 1 {
		t.Fatalf("state of bad instance: %+v, want ejected once", st[0])
	}
}

// TestOutlierNeverEjectsEverything: with every instance failing, the max-ejected share keeps one in rotation, so the
// client sees the upstream's errors rather than a self-inflicted total outage.
func TestOutlierNeverEjectsEverything(t *testing.T) {
	a, b := statusUpstream(t, "a", 502), statusUpstream(t, "b", 502)
	svc := serviceOver(t, balancer.RoundRobin, instances(a, b), upstream.PoolOptions{
		Outlier: outlier.Config{ConsecutiveFailures: 1, BaseEjection: time.Minute, MaxEjection: time.Hour, MaxEjectedPercent: 100},
	})
	svc.Retry = RetryPolicy{}
	svc.FailureStatuses.Add(502)
	p := startProxy(t, cfgOf(t, prefix("/", &Route{Name: "r", Service: svc})))
	cl := proxyClient(t)
	for i := range 10 {
		if st, _ := do(t, cl, "GET", "http://"+p.addr+"/"); st != 502 {
			t.Fatalf("request %d: status %d, want the upstream's 502 (not a 503 from ejecting everything)", i, st)
		}
	}
}

// TestBulkheadContainsSlowService: a service whose instance hangs uses at most its own max_concurrent + queue; the
// overflow gets a fast 503 with Retry-After and a reason, and another service behind the same gateway is unaffected.
func TestBulkheadContainsSlowService(t *testing.T) {
	release := make(chan struct{})
	var inflight sync.WaitGroup
	slow := hostOf(upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "slow")
	}))
	fast := statusUpstream(t, "fast", 200)
	slowSvc := serviceOver(t, balancer.RoundRobin, instances(slow), upstream.PoolOptions{})
	slowSvc.Limiter, slowSvc.QueueTimeout = limit.NewLimiter(2, 1), 200*time.Millisecond
	fastSvc := serviceOver(t, balancer.RoundRobin, instances(fast), upstream.PoolOptions{})
	p := startProxy(t, cfgOf(t,
		prefix("/slow/", &Route{Name: "slow", Service: slowSvc}),
		prefix("/", &Route{Name: "fast", Service: fastSvc})))
	cl := proxyClient(t)

	// Two requests take the slots.
	results := make(chan int, 2)
	for range 2 {
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			st, _ := do(t, cl, "GET", "http://"+p.addr+"/slow/x")
			results <- st
		}()
	}
	waitFor(t, func() bool { return slowSvc.Limiter.InUse() == 2 })

	// The third waits in the queue and times out; meanwhile a fourth finds the queue full at once.
	queued := make(chan *http.Response, 1)
	go func() {
		resp, err := cl.Get("http://" + p.addr + "/slow/x")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		queued <- resp
	}()
	waitFor(t, func() bool { return slowSvc.Limiter.Waiting() == 1 })
	start := time.Now()
	st, body := do(t, cl, "GET", "http://"+p.addr+"/slow/y")
	if st != 503 || time.Since(start) > 150*time.Millisecond {
		t.Fatalf("queue full: status %d after %v, want an immediate 503", st, time.Since(start))
	}
	if !strings.Contains(body, "503") {
		t.Fatalf("queue-full body %q", body)
	}
	// The other service answers at once while the slow one is saturated.
	for range 20 {
		start := time.Now()
		if st, body := do(t, cl, "GET", "http://"+p.addr+"/other"); st != 200 || body != "fast" {
			t.Fatalf("fast service: %d %q", st, body)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("fast service took %v while the slow one was saturated", d)
		}
	}
	resp := <-queued
	if resp == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("queued request: %+v, want 503 with Retry-After after queue_timeout", resp)
	}
	close(release)
	inflight.Wait()
	for range 2 {
		if st := <-results; st != 200 {
			t.Fatalf("in-flight slow request: status %d", st)
		}
	}
}

// TestMaxPerInstance: an instance at its cap is skipped; with every instance at its cap the answer is 503.
func TestMaxPerInstance(t *testing.T) {
	release := make(chan struct{})
	hold := func(name string) string {
		return hostOf(upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				<-release
			}
			io.WriteString(w, name)
		}))
	}
	a, b := hold("a"), hold("b")
	svc := serviceOver(t, balancer.RoundRobin, instances(a, b), upstream.PoolOptions{MaxPerInstance: 1})
	p := startProxy(t, cfgOf(t, prefix("/", &Route{Name: "r", Service: svc})))
	cl := proxyClient(t)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); do(t, cl, "GET", "http://"+p.addr+"/hold") }()
	}
	waitFor(t, func() bool {
		n := int64(0)
		for _, in := range svc.Pool.Instances() {
			n += in.Active()
		}
		return n == 2
	})
	st, body := do(t, cl, "GET", "http://"+p.addr+"/x")
	if st != 503 {
		t.Fatalf("all instances at max_per_instance: status %d %q, want 503", st, body)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
