package app_test

import (
	"bufio"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawUpstream is a loopback TCP server whose connections are served by a function, for upstreams that misbehave
// below HTTP (hang, drip). It counts the connections open at once. Every connection is closed and every goroutine
// joined when the test ends, so the package's leak check stays meaningful.
type rawUpstream struct {
	addr  string
	ln    net.Listener
	done  chan struct{} // closed when the test ends: serve functions must return
	open  atomic.Int64
	peak  atomic.Int64
	reqs  atomic.Int64 // requests whose head was read (see readRequest)
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newRawUpstream(t *testing.T, serve func(u *rawUpstream, c net.Conn, br *bufio.Reader)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{addr: ln.Addr().String(), ln: ln, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.track(c, true)
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer u.track(c, false)
				defer c.Close()
				serve(u, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		close(u.done)
		ln.Close()
		u.mu.Lock()
		for c := range u.conns {
			c.Close()
		}
		u.mu.Unlock()
		u.wg.Wait()
	})
	return u
}

func (u *rawUpstream) track(c net.Conn, add bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if add {
		u.conns[c] = struct{}{}
		n := u.open.Add(1)
		if n > u.peak.Load() {
			u.peak.Store(n) // under mu, so the max is exact
		}
		return
	}
	delete(u.conns, c)
	u.open.Add(-1)
}

// readRequest reads one request head (and discards its body) and counts it.
func (u *rawUpstream) readRequest(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	u.reqs.Add(1)
	return true
}

// hang reads a request and never answers: it keeps reading (so it notices when the gateway gives up and closes the
// connection) until the peer or the test ends the connection.
func hang(u *rawUpstream, c net.Conn, br *bufio.Reader) {
	if u.readRequest(br) {
		_, _ = io.Copy(io.Discard, br)
	}
}

// drip answers with a head announcing size body bytes, then sends one byte at once and one more every every.
func drip(size int, every time.Duration) func(*rawUpstream, net.Conn, *bufio.Reader) {
	return func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
		if !u.readRequest(br) {
			return
		}
		head := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\nx"
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for range size - 1 {
			select {
			case <-u.done:
				return
			case <-tick.C:
			}
			if _, err := io.WriteString(c, "x"); err != nil {
				return
			}
		}
	}
}

// restartable is an HTTP upstream that can crash (listener and every connection closed at once, requests in flight
// cut) and come back on the same address. It counts the non-health requests each incarnation served.
type restartable struct {
	t    *testing.T
	name string
	addr string

	mu    sync.Mutex
	srv   *httptest.Server
	life  *incarnation
	total atomic.Int64
}

// incarnation is one run of a restartable upstream between a start and a crash.
type incarnation struct {
	served atomic.Int64
	first  chan struct{} // closed on the first non-health request served
	once   sync.Once
}

func newRestartable(t *testing.T, name string) *restartable {
	r := &restartable{t: t, name: name, addr: "127.0.0.1:0"}
	r.start()
	t.Cleanup(r.crash)
	return r
}

// start listens on r's address (a fresh port the first time) and serves until crash.
func (r *restartable) start() *incarnation {
	r.t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("restart %s on %s: %v", r.name, r.addr, err)
	}
	life := &incarnation{first: make(chan struct{})}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/healthz" {
			life.served.Add(1)
			r.total.Add(1)
			life.once.Do(func() { close(life.first) })
		}
		io.WriteString(w, r.name)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	r.mu.Lock()
	r.srv, r.life, r.addr = srv, life, ln.Addr().String()
	r.mu.Unlock()
	return life
}

// crash closes the listener and cuts every connection, idle or busy, like a killed process. It is a no-op when the
// upstream is already down.
func (r *restartable) crash() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Listener.Close()
	srv.CloseClientConnections()
	srv.Close()
}

// loadResult is what a load run saw.
type loadResult struct {
	lat      []time.Duration // per request, only for requests that got a response
	statuses map[int]int
	bodies   map[string]int
	errs     int
	firstErr error
	maxLat   time.Duration // including failed requests
	elapsed  time.Duration
}

func (r *loadResult) total() int { return len(r.lat) + r.errs }

// p returns the q-quantile (0..1) of the latencies of requests that got a response.
func (r *loadResult) p(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// load is a background GET loop: workers goroutines, each until stop is called or dur has passed.
type load struct {
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	mu   sync.Mutex
	res  loadResult
	t0   time.Time
}

func startLoad(c *http.Client, url string, workers int, dur time.Duration) *load {
	l := &load{stop: make(chan struct{}), res: loadResult{statuses: map[int]int{}, bodies: map[string]int{}}}
	l.t0 = time.Now()
	deadline := l.t0.Add(dur)
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for time.Now().Before(deadline) {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				status, body, err := get(c, url)
				l.record(time.Since(start), status, body, err)
			}
		}()
	}
	return l
}

func (l *load) record(d time.Duration, status int, body string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.res.maxLat = max(l.res.maxLat, d)
	if err != nil {
		l.res.errs++
		if l.res.firstErr == nil {
			l.res.firstErr = err
		}
		return
	}
	l.res.lat = append(l.res.lat, d)
	l.res.statuses[status]++
	l.res.bodies[body]++
}

// counts returns how many requests got each body so far.
func (l *load) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.res.bodies)
}

// wait stops the workers (each finishes its request in flight) and returns what they saw.
func (l *load) wait() loadResult {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.res.elapsed = time.Since(l.t0)
	return l.res
}
