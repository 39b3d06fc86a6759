package app_test

// Acceptance tests for fault isolation (docs/resilience.md): each test breaks one service in a way real services
// break — hang, crash, total outage, flapping health, a response that drips — through the real App with loopback
// upstreams, and checks what a client and a neighbouring service see. Every test logs its figures with t.Logf.
//
// Bounds are generous on purpose: the suite runs on a 2-core machine, also under -race, with the clients, the
// gateway and the upstreams in one process.

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sampler records the peak goroutine count and heap in use of this process while it runs.
type sampler struct {
	stop      chan struct{}
	done      chan struct{}
	goroutine int
	heap      uint64
}

func startSampler(every time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			s.goroutine = max(s.goroutine, runtime.NumGoroutine())
			runtime.ReadMemStats(&ms)
			s.heap = max(s.heap, ms.HeapInuse)
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// end stops the sampler; its fields are final afterwards.
func (s *sampler) end() *sampler {
	close(s.stop)
	<-s.done
	return s
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

const mib = 1 << 20

// TestAcceptHangIsContained: wishlist's upstream accepts and never answers. Its clients get 503/504 within their
// timeout, the requests stuck on it never exceed its bulkhead, auth next to it keeps its latency and every request,
// and the gateway's goroutines and heap stay bounded.
func TestAcceptHangIsContained(t *testing.T) {
	const (
		workers        = 8 // per service
		maxConcurrent  = 4
		queue          = 8
		responseHeader = 300 * time.Millisecond
		queueTimeout   = 200 * time.Millisecond
		p99Floor       = 20 * time.Millisecond
	)
	auth := newUpstream(t, "auth", nil)
	wish := newRawUpstream(t, hang)
	g := startGateway(t, fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
server: {shutdown_timeout: 5s}
services:
  auth:
    instances: ["%s"]
    timeouts: {connect: 1s, response_header: 2s}
  wishlist:
    instances: ["%s"]
    timeouts: {connect: 1s, response_header: %s}
    limits: {max_concurrent: %d, queue: %d, queue_timeout: %s}
routes:
  - match: {path_prefix: /wishlist}
    service: wishlist
  - match: {path_prefix: /}
    service: auth
`, auth.addr, wish.addr, responseHeader, maxConcurrent, queue, queueTimeout))
	authClient, wishClient := newClient(t), newClient(t)
	wishClient.Timeout = 2 * time.Second // the client gives up well after the gateway should have answered

	// No fault: auth alone, to measure its normal p99 and the process's goroutines and heap under that load.
	smp := startSampler(50 * time.Millisecond)
	base := startLoad(authClient, g.url("/auth"), workers, time.Second).waitFor(t)
	baseSmp := smp.end()
	baseHeap := liveHeap()

	smp = startSampler(50 * time.Millisecond)
	wl := startLoad(wishClient, g.url("/wishlist"), workers, 2*time.Second)
	fault := startLoad(authClient, g.url("/auth"), workers, 2*time.Second).waitFor(t)
	wres := wl.waitFor(t)
	faultSmp := smp.end()
	heapGrowth := int64(liveHeap()) - int64(baseHeap)

	t.Logf("auth no fault: %d requests, p50 %v, p99 %v, max %v", base.total(), base.p(.5), base.p(.99), base.maxLat)
	t.Logf("auth with wishlist hanging: %d requests, %.2f%% ok, p50 %v, p99 %v, max %v (p99 %.2fx no-fault)",
		fault.total(), 100*successRate(fault), fault.p(.5), fault.p(.99), fault.maxLat,
		float64(fault.p(.99))/float64(max(base.p(.99), 1)))
	t.Logf("wishlist: %d requests %v, client errors %d, max latency %v, upstream requests %d, peak upstream conns %d",
		wres.total(), wres.statuses, wres.errs, wres.maxLat, wish.reqs.Load(), wish.peak.Load())
	t.Logf("goroutines: peak %d no fault, %d with the hang; heap in use: peak %.1f / %.1f MiB, live growth %.2f MiB",
		baseSmp.goroutine, faultSmp.goroutine, float64(baseSmp.heap)/mib, float64(faultSmp.heap)/mib,
		float64(heapGrowth)/mib)

	for name, r := range map[string]loadResult{"no fault": base, "with the hang": fault} {
		if r.errs != 0 || r.statuses[200] != r.total() || r.total() == 0 {
			t.Errorf("auth %s: %d requests, statuses %v, %d errors (first %v); want all 200", name, r.total(),
				r.statuses, r.errs, r.firstErr)
		}
	}
	if limit := max(base.p(.99)*3/2, p99Floor); fault.p(.99) > limit {
		t.Errorf("auth p99 with wishlist hanging = %v, want <= %v (1.5x the no-fault %v, at least %v)",
			fault.p(.99), limit, base.p(.99), p99Floor)
	}

	checkHungService(t, wres, wish, maxConcurrent, queueTimeout, responseHeader)

	// What the hang may add on top of the no-fault peak: the wishlist load goroutines, the client and gateway
	// goroutines of their connections (at most 3 per keep-alive connection), the requests in flight or queued at the
	// wishlist bulkhead and the upstream's own goroutine per stuck connection; plus slack for timers and the runtime.
	const perConn, slack = 3, 16
	if limit := baseSmp.goroutine + workers*(1+perConn) + 2*maxConcurrent + queue + slack; faultSmp.goroutine > limit {
		t.Errorf("goroutines peaked at %d with wishlist hanging, want <= %d (no-fault peak %d)",
			faultSmp.goroutine, limit, baseSmp.goroutine)
	}
	if heapGrowth > 8*mib {
		t.Errorf("live heap grew by %.1f MiB over the hang, want < 8 MiB", float64(heapGrowth)/mib)
	}
	if faultSmp.heap > baseSmp.heap+32*mib {
		t.Errorf("heap in use peaked at %.1f MiB with the hang, want < no-fault peak %.1f MiB + 32 MiB",
			float64(faultSmp.heap)/mib, float64(baseSmp.heap)/mib)
	}
}

// checkHungService checks what the clients of the hanging service saw and what reached its upstream.
func checkHungService(t *testing.T, wres loadResult, wish *rawUpstream, maxConcurrent int, queueTimeout,
	responseHeader time.Duration) {
	t.Helper()
	if wres.errs != 0 || wres.statuses[503]+wres.statuses[504] != wres.total() || wres.statuses[504] == 0 {
		t.Errorf("wishlist: statuses %v, %d client errors (first %v); want only 503 and 504, some 504",
			wres.statuses, wres.errs, wres.firstErr)
	}
	// The longest a wishlist request may take: a full queue wait, then the whole response-header timeout.
	if limit := queueTimeout + responseHeader + 500*time.Millisecond; wres.maxLat > limit {
		t.Errorf("wishlist's slowest answer took %v, want <= %v", wres.maxLat, limit)
	}
	// The bulkhead, counted exactly: a request reaches the upstream only in one of max_concurrent slots, and each
	// slot is held for response_header, so over the run at most max_concurrent × (elapsed/response_header + 1).
	if limit := int64(maxConcurrent * (int(wres.elapsed/responseHeader) + 1)); wish.reqs.Load() > limit {
		t.Errorf("%d requests reached the hanging upstream in %v, want <= %d (max_concurrent %d)",
			wish.reqs.Load(), wres.elapsed, limit, maxConcurrent)
	}
	// The same seen as connections, which catches a gateway that leaks the connections it gave up on. The gateway
	// closes a timed-out connection before it frees the slot, but the upstream notices the close only a moment after
	// the slot's next request has dialled: when all slots time out together the upstream briefly sees each stale
	// connection next to its successor, never more (the stale ones are gone long before the next timeout).
	if n := wish.peak.Load(); n > int64(2*maxConcurrent) {
		t.Errorf("the hanging upstream held %d connections at once, want <= 2 × max_concurrent %d", n, maxConcurrent)
	}
}

func successRate(r loadResult) float64 {
	if r.total() == 0 {
		return 0
	}
	return float64(r.statuses[200]) / float64(r.total())
}

// waitFor stops the load at its deadline (or now, if it has passed) and fails the test if the workers do not
// return in time.
func (l *load) waitFor(t *testing.T) loadResult {
	t.Helper()
	done := make(chan loadResult, 1)
	go func() {
		l.wg.Wait()
		done <- l.wait()
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(waitLimit + 10*time.Second):
		t.Fatal("load workers did not finish")
	}
	return loadResult{}
}

// TestAcceptCrashIsRetried: one of two inventory instances is killed under GET load. Clients see no error: requests
// cut by the crash or refused are retried on the other instance. The instance comes back on the same address and,
// once its health check passes, gets traffic again within interval + slow_start.
func TestAcceptCrashIsRetried(t *testing.T) {
	const (
		interval  = 50 * time.Millisecond
		slowStart = 300 * time.Millisecond
		slack     = 500 * time.Millisecond
	)
	a, b := newRestartable(t, "a"), newRestartable(t, "b")
	g := startGateway(t, fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
server: {shutdown_timeout: 5s}
services:
  inventory:
    instances: ["%s", "%s"]
    timeouts: {connect: 1s, response_header: 2s}
    health_check: {path: /healthz, interval: %s, jitter: 5ms, timeout: 500ms, rise: 1, fall: 2}
    slow_start: %s
routes:
  - match: {path_prefix: /}
    service: inventory
`, a.addr, b.addr, interval, slowStart))
	l := startLoad(newClient(t), g.url("/item"), 4, 8*time.Second)
	defer l.wait()
	waitUntil(t, func() bool { c := l.counts(); return c["a"] >= 20 && c["b"] >= 20 })

	down := g.logs.waitFor(b.addr + " is DOWN")
	before := l.counts()
	b.crash()
	crashed := time.Now()
	select {
	case <-down:
	case <-time.After(waitLimit):
		t.Fatal("health checks did not take the crashed instance out")
	}
	t.Logf("crashed instance marked DOWN after %v", time.Since(crashed).Round(time.Millisecond))
	waitUntil(t, func() bool { return l.counts()["a"] >= before["a"]+50 }) // traffic while b is gone

	up := g.logs.waitFor(b.addr + " is UP")
	life := b.start()
	restarted := time.Now()
	var healthUp time.Duration
	select {
	case <-up:
		healthUp = time.Since(restarted)
	case <-time.After(waitLimit):
		t.Fatal("health checks did not bring the restarted instance back")
	}
	limit := interval + slowStart + slack
	recovery, share := time.Duration(-1), 0.0
	select {
	case <-life.first:
		recovery = time.Since(restarted)
		// Once slow start is over, b must be back to its full share: measure over a fixed window.
		<-time.After(slowStart - min(recovery, slowStart) + interval)
		c0 := l.counts()
		<-time.After(300 * time.Millisecond)
		c1 := l.counts()
		share = float64(c1["b"]-c0["b"]) / float64(max(1, c1["a"]+c1["b"]-c0["a"]-c0["b"]))
	case <-time.After(5 * time.Second):
	}
	res := l.wait()

	got := "none within 5s"
	if recovery >= 0 {
		got = recovery.Round(time.Millisecond).String()
	}
	t.Logf("load: %d requests, %v, client errors %d; restarted instance: health UP after %v, first request after %s "+
		"(limit %v), share after slow start %.0f%%", res.total(), res.statuses, res.errs,
		healthUp.Round(time.Millisecond), got, limit, 100*share)
	if res.errs != 0 || res.statuses[200] != res.total() {
		t.Errorf("clients saw failures across the crash: %v, %d errors (first %v)", res.statuses, res.errs, res.firstErr)
	}
	switch {
	case recovery < 0:
		t.Errorf("restarted instance got no request within 5s of its restart (health check UP after %v), want "+
			"within interval + slow_start + %v = %v", healthUp, slack, limit)
	case recovery > limit:
		t.Errorf("restarted instance got traffic after %v, want within interval + slow_start + %v = %v",
			recovery, slack, limit)
	case share < 0.3:
		t.Errorf("after slow start the restarted instance served %.0f%% of requests, want about half", 100*share)
	}
}

// TestAcceptOutageRetryBudget: every instance of orders fails. Retries stay within the budget — attempts at most
// (1 + budget_percent/100) × requests plus min_per_second × the 10 s window — and catalog next to it is unaffected.
func TestAcceptOutageRetryBudget(t *testing.T) {
	const (
		budgetPercent = 20
		minPerSecond  = 3
		budgetWindow  = 10 // seconds the budget counts over; the test is shorter than one window
		workers       = 4
	)
	for _, tc := range []struct {
		name  string
		fail  string // "503" or "refuse"
		wants []int  // statuses clients of orders may see
	}{
		{"all 503", "503", []int{503}},
		{"all refuse", "refuse", []int{502, 503}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var attempts atomic.Int64
			var addrs []string
			for range 3 {
				if tc.fail == "503" {
					u := newUpstream(t, "orders", func(w http.ResponseWriter, r *http.Request) {
						attempts.Add(1)
						w.WriteHeader(503)
					})
					addrs = append(addrs, fmt.Sprintf("%q", u.addr))
				} else {
					addrs = append(addrs, fmt.Sprintf("%q", freePort(t)))
				}
			}
			catalog := newUpstream(t, "catalog", nil)
			g := startGateway(t, fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
server: {shutdown_timeout: 5s}
services:
  orders:
    instances: [%s]
    timeouts: {connect: 1s, response_header: 5s}
    outlier: {consecutive_failures: 0}
    retries: {attempts: 2, budget_percent: %d, min_per_second: %d}
  catalog:
    instances: ["%s"]
    timeouts: {connect: 1s, response_header: 5s}
routes:
  - match: {path_prefix: /orders}
    service: orders
  - match: {path_prefix: /}
    service: catalog
`, strings.Join(addrs, ", "), budgetPercent, minPerSecond, catalog.addr))
			cl := newClient(t)
			ol := startLoad(cl, g.url("/orders"), workers, time.Second)
			cres := startLoad(cl, g.url("/catalog"), 2, time.Second).waitFor(t)
			ores := ol.waitFor(t)
			if tc.fail == "refuse" {
				attempts.Store(int64(strings.Count(g.logs.String(), "upstream connect failed")))
			}
			reqs, n := ores.total(), attempts.Load()
			// Concurrent retries may overshoot the budget by one each (limit package doc).
			limit := float64(reqs)*(1+budgetPercent/100.0) + minPerSecond*budgetWindow + workers
			t.Logf("orders: %d requests %v, %d upstream attempts (ratio %.3f, limit %.0f); catalog: %d requests, "+
				"%.2f%% ok", reqs, ores.statuses, n, float64(n)/float64(max(reqs, 1)), limit, cres.total(),
				100*successRate(cres))
			if float64(n) > limit {
				t.Errorf("%d upstream attempts for %d requests, want <= %.0f", n, reqs, limit)
			}
			if reqs == 0 || ores.errs != 0 {
				t.Errorf("orders: %d requests, %d client errors (first %v)", reqs, ores.errs, ores.firstErr)
			}
			got := 0
			for _, s := range tc.wants {
				got += ores.statuses[s]
			}
			if got != reqs {
				t.Errorf("orders statuses %v, want only %v", ores.statuses, tc.wants)
			}
			if cres.errs != 0 || cres.total() == 0 || cres.statuses[200] != cres.total() {
				t.Errorf("catalog next to the outage: %v, %d errors (first %v); want all 200", cres.statuses,
					cres.errs, cres.firstErr)
			}
		})
	}
}

// TestAcceptFlappingIsDamped: an instance whose health endpoint flips between up and down. With rise 3 / fall 3,
// its state can change at most once per three probes, and a flap faster than three probes never changes it.
func TestAcceptFlappingIsDamped(t *testing.T) {
	const (
		interval = 20 * time.Millisecond
		jitter   = 2 * time.Millisecond
		window   = 1500 * time.Millisecond
	)
	for _, tc := range []struct {
		name     string
		half     time.Duration // how long the endpoint stays up, then down
		minMoves int           // transitions the checker must see
	}{
		{"slow flap", 150 * time.Millisecond, 2},
		{"flap faster than rise and fall", 25 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var t0 time.Time // set once the gateway is up; zero means "up"
			flappy := newUpstream(t, "flappy", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				start := t0
				mu.Unlock()
				if r.URL.Path == "/healthz" && !start.IsZero() && (time.Since(start)/tc.half)%2 == 1 {
					w.WriteHeader(503)
					return
				}
				io.WriteString(w, "flappy")
			})
			steady := newUpstream(t, "steady", nil)
			g := startGateway(t, fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
server: {shutdown_timeout: 5s}
services:
  s:
    instances: ["%s", "%s"]
    timeouts: {connect: 1s, response_header: 1s}
    health_check: {path: /healthz, interval: %s, jitter: %s, timeout: 500ms, rise: 3, fall: 3}
routes:
  - match: {path_prefix: /}
    service: s
`, flappy.addr, steady.addr, interval, jitter))
			mu.Lock()
			t0 = time.Now()
			mu.Unlock()
			<-time.After(window)
			elapsed := time.Since(t0)
			logs := g.logs.String()
			downs := strings.Count(logs, flappy.addr+" is DOWN")
			ups := strings.Count(logs, flappy.addr+" is UP")
			moves := downs + ups
			// Probes of one instance are at least interval - jitter apart, and a transition needs three in a row.
			bound := int(elapsed / (3 * (interval - jitter)))
			t.Logf("%s (%v up, %v down): %d transitions (%d DOWN, %d UP) in %v; bound %d, signal changed %d times",
				tc.name, tc.half, tc.half, moves, downs, ups, elapsed.Round(time.Millisecond), bound,
				int(elapsed/tc.half))
			if moves > bound {
				t.Errorf("%d transitions in %v, want <= %d (elapsed / (3 × interval))", moves, elapsed, bound)
			}
			if moves > int(elapsed/tc.half)+1 {
				t.Errorf("%d transitions in %v, more than the health endpoint changed (%d)", moves, elapsed,
					int(elapsed/tc.half))
			}
			if moves < tc.minMoves {
				t.Errorf("%d transitions, want >= %d: the checker must follow a flap slower than rise/fall",
					moves, tc.minMoves)
			}
			if ups > downs || downs > ups+1 {
				t.Errorf("%d DOWN and %d UP lines: transitions must alternate, starting with DOWN", downs, ups)
			}
		})
	}
}

// TestAcceptSlowDripIsCut: the upstream sends its head, then one body byte every 500 ms. The idle timeout (200 ms)
// ends the exchange long before the body would be complete, and the gateway logs why.
func TestAcceptSlowDripIsCut(t *testing.T) {
	const (
		size  = 20
		every = 500 * time.Millisecond
		idle  = 200 * time.Millisecond
	)
	up := newRawUpstream(t, drip(size, every))
	g := startGateway(t, fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
server: {shutdown_timeout: 5s}
services:
  feed:
    instances: ["%s"]
    timeouts: {connect: 1s, response_header: 1s, idle: %s}
routes:
  - match: {path_prefix: /}
    service: feed
`, up.addr, idle))
	logged := g.logs.waitFor("upstream failed during response body")
	start := time.Now()
	resp, err := newClient(t).Get(g.url("/feed"))
	if err != nil {
		t.Fatalf("GET: %v (the head should have been relayed)", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	full := time.Duration(size-1) * every
	t.Logf("status %d, %d of %d body bytes, read error %v, after %v (full body would take %v)",
		resp.StatusCode, len(body), size, err, elapsed.Round(time.Millisecond), full)
	if resp.StatusCode != 200 {
		t.Errorf("status %d, want the upstream's 200", resp.StatusCode)
	}
	if err == nil && len(body) == size {
		t.Errorf("got the whole body, want the exchange cut by the idle timeout")
	}
	if elapsed > every+idle+time.Second {
		t.Errorf("the connection ended after %v, want well before the %v the full body takes (idle %v)",
			elapsed, full, idle)
	}
	select {
	case <-logged:
	case <-time.After(waitLimit):
		t.Fatalf("no log line for the cut; log:\n%s", g.logs)
	}
	line := ""
	for l := range strings.Lines(g.logs.String()) {
		if strings.Contains(l, "upstream failed during response body") {
			line = l
		}
	}
	if !strings.Contains(line, "timed out") || !strings.Contains(line, up.addr) {
		t.Errorf("log line %q should name the upstream and the timeout", line)
	}
	t.Logf("gateway log: %s", strings.TrimSpace(line))
}
