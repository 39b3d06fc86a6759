package health

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit bounds every wait on a channel so a broken checker fails the test instead of hanging it.
const waitLimit = 3 * time.Second

// flipServer is a loopback HTTP upstream whose status and body the test sets at will. Every request is counted and
// announced on hits (never blocking the handler), with the Host and User-Agent it carried.
type flipServer struct {
	*httptest.Server
	status atomic.Int32
	body   atomic.Pointer[string]
	hits   chan seen
	count  atomic.Int64
}

type seen struct{ host, ua, method, path, remote string }

func newFlipServer(t *testing.T, status int) *flipServer {
	t.Helper()
	s := &flipServer{hits: make(chan seen, 4096)}
	s.status.Store(int32(status))
	s.setBody("ok")
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count.Add(1)
		select {
		case s.hits <- seen{r.Host, r.UserAgent(), r.Method, r.URL.Path, r.RemoteAddr}:
		default:
		}
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(int(s.status.Load()))
		_, _ = w.Write([]byte(*s.body.Load()))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *flipServer) setBody(b string) { s.body.Store(&b) }
func (s *flipServer) addr() string     { return s.Listener.Addr().String() }

// waitHits waits until the server has seen n more requests.
func (s *flipServer) waitHits(t *testing.T, n int) []seen {
	t.Helper()
	var got []seen
	for range n {
		select {
		case h := <-s.hits:
			got = append(got, h)
		case <-time.After(waitLimit):
			t.Fatalf("server saw %d of %d expected probes", len(got), n)
		}
	}
	return got
}

type report struct {
	target  int
	healthy bool
	why     string
}

// recorder is a Reporter that forwards every call to a channel.
type recorder struct{ ch chan report }

func newRecorder() *recorder { return &recorder{ch: make(chan report, 64)} }

func (r *recorder) SetHealthy(target int, healthy bool, why string) {
	r.ch <- report{target, healthy, why}
}

// drain returns the reports received so far without waiting.
func (r *recorder) drain() []report {
	var got []report
	for {
		select {
		case x := <-r.ch:
			got = append(got, x)
		default:
			return got
		}
	}
}

func (r *recorder) next(t *testing.T) report {
	t.Helper()
	select {
	case x := <-r.ch:
		return x
	case <-time.After(waitLimit):
		t.Fatal("no transition reported")
		return report{}
	}
}

// TestThresholds drives single probes and checks that the state flips on exactly the Rise-th success and the
// Fall-th failure, that a streak is broken by one opposite result, and that only flips are reported.
func TestThresholds(t *testing.T) {
	const up, down = 200, 503
	tests := []struct {
		name           string
		rise, fall     int
		startUnhealthy bool
		statuses       []int
		healthy        []bool // Healthy after each probe
	}{
		{"defaults fall after 3", 0, 0, false,
			[]int{down, down, down, down},
			[]bool{true, true, false, false}},
		{"defaults rise after 2", 0, 0, false,
			[]int{down, down, down, up, up, up},
			[]bool{true, true, false, false, true, true}},
		{"streak broken", 2, 3, false,
			[]int{down, down, up, down, down, down, up, down, up, up},
			[]bool{true, true, true, true, true, false, false, false, false, true}},
		{"one and one", 1, 1, false,
			[]int{down, up, down, up},
			[]bool{false, true, false, true}},
		{"start unhealthy", 3, 1, true,
			[]int{up, up, down, up, up, up},
			[]bool{false, false, false, false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFlipServer(t, up)
			rec := newRecorder()
			c := New([]string{srv.addr()}, Check{Rise: tt.rise, Fall: tt.fall}, rec,
				Options{StartUnhealthy: tt.startUnhealthy})
			if got := c.Healthy(0); got == tt.startUnhealthy {
				t.Fatalf("start: Healthy = %v, want %v", got, !tt.startUnhealthy)
			}
			prev := !tt.startUnhealthy
			for i, st := range tt.statuses {
				srv.status.Store(int32(st))
				c.step(context.Background(), 0)
				want := tt.healthy[i]
				if got := c.Healthy(0); got != want {
					t.Fatalf("after probe %d (status %d): Healthy = %v, want %v", i+1, st, got, want)
				}
				reps := rec.drain()
				switch {
				case want == prev && len(reps) != 0:
					t.Fatalf("after probe %d: reported %v without a transition", i+1, reps)
				case want != prev && (len(reps) != 1 || reps[0].healthy != want || reps[0].target != 0):
					t.Fatalf("after probe %d: reports %v, want one with healthy=%v", i+1, reps, want)
				}
				prev = want
			}
		})
	}
}

// TestHTTPProbe checks what counts as a pass: status range, body substring, method, path, redirects not followed.
func TestHTTPProbe(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		check   Check
		wantOK  bool
		wantErr string // substring of Result.Err
	}{
		{"200 default", 200, "", Check{}, true, ""},
		{"204 default", 204, "", Check{}, true, ""},
		{"399 default", 399, "", Check{}, true, ""},
		{"400 default", 400, "", Check{}, false, "status 400 (want 200-399)"},
		{"503 default", 503, "", Check{}, false, "status 503 (want 200-399)"},
		{"exact range", 204, "", Check{StatusMin: 200, StatusMax: 200}, false, "status 204 (want 200-200)"},
		{"min only above 399", 418, "", Check{StatusMin: 418}, true, ""},
		{"min only rejects below", 200, "", Check{StatusMin: 418}, false, "want 418-418"},
		{"body contains", 200, "status: ready\n", Check{BodyContains: "ready"}, true, ""},
		{"body lacks", 200, "status: starting\n", Check{BodyContains: "ready"}, false, `body does not contain "ready"`},
		{"body beyond 64KiB", 200, strings.Repeat("x", 70<<10) + "ready", Check{BodyContains: "ready"}, false, "read 65536 bytes"},
		{"body checked only after status", 500, "ready", Check{BodyContains: "ready"}, false, "status 500"},
		{"redirect not followed", 200, "", Check{Path: "/moved"}, true, ""},
		{"redirect outside range", 200, "", Check{Path: "/moved", StatusMax: 299}, false, "status 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFlipServer(t, tt.status)
			srv.setBody(tt.body)
			c := New([]string{srv.addr()}, tt.check, nil, Options{})
			c.step(context.Background(), 0)
			res := c.Last(0)
			if res.OK != tt.wantOK || !strings.Contains(res.Err, tt.wantErr) || (res.OK && res.Err != "") {
				t.Fatalf("Result = %+v, want OK=%v and Err containing %q", res, tt.wantOK, tt.wantErr)
			}
			if res.At.IsZero() || res.Status == 0 {
				t.Fatalf("Result = %+v, want At and Status set", res)
			}
			hits := srv.waitHits(t, 1)
			if srv.count.Load() != 1 {
				t.Fatalf("server saw %d requests, want 1 (redirects must not be followed)", srv.count.Load())
			}
			if want := c.check.Path; hits[0].path != want {
				t.Fatalf("path = %q, want %q", hits[0].path, want)
			}
		})
	}
}

// TestHTTPRequest checks the request a probe sends: method, path, Host header and User-Agent.
func TestHTTPRequest(t *testing.T) {
	const ua = "fjord-health/1"
	tests := []struct {
		name  string
		check Check
		want  seen // host "" means the target address
	}{
		{"defaults", Check{}, seen{"", ua, "GET", "/", ""}},
		{"host header", Check{Host: "api.example.com"}, seen{"api.example.com", ua, "GET", "/", ""}},
		{"method and path", Check{Method: "HEAD", Path: "/healthz"}, seen{"", ua, "HEAD", "/healthz", ""}},
		{"path without slash", Check{Path: "ready"}, seen{"", ua, "GET", "/ready", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFlipServer(t, 200)
			c := New([]string{srv.addr()}, tt.check, nil, Options{})
			c.step(context.Background(), 0)
			if res := c.Last(0); !res.OK {
				t.Fatalf("probe failed: %+v", res)
			}
			want := tt.want
			if want.host == "" {
				want.host = srv.addr()
			}
			got := srv.waitHits(t, 1)[0]
			got.remote = ""
			if got != want {
				t.Fatalf("request = %+v, want %+v", got, want)
			}
		})
	}
}

// TestFreshConnectionEachProbe checks that keep-alives are off: every probe must test a new connect. The body is read
// to its end, so a keep-alive transport would reuse the connection.
func TestFreshConnectionEachProbe(t *testing.T) {
	srv := newFlipServer(t, 200)
	c := New([]string{srv.addr()}, Check{BodyContains: "ok"}, nil, Options{})
	const probes = 3
	for range probes {
		c.step(context.Background(), 0)
	}
	remotes := map[string]bool{}
	for _, h := range srv.waitHits(t, probes) {
		remotes[h.remote] = true
	}
	if len(remotes) != probes {
		t.Fatalf("%d probes used %d connections, want one each", probes, len(remotes))
	}
}

// TestTCPProbe connects to an open port and to one nobody listens on.
func TestTCPProbe(t *testing.T) {
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { open.Close() })
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			conn, err := open.Accept()
			if err != nil {
				return
			}
			conn.Close()
			accepted <- struct{}{}
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name    string
		addr    string
		wantOK  bool
		wantErr string
	}{
		{"open", open.Addr().String(), true, ""},
		{"closed", closedAddr, false, "connect " + closedAddr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New([]string{tt.addr}, Check{Kind: TCP, Fall: 1}, nil, Options{})
			c.step(context.Background(), 0)
			res := c.Last(0)
			if res.OK != tt.wantOK || !strings.Contains(res.Err, tt.wantErr) || res.Status != 0 {
				t.Fatalf("Result = %+v, want OK=%v and Err containing %q", res, tt.wantOK, tt.wantErr)
			}
			if c.Healthy(0) != tt.wantOK {
				t.Fatalf("Healthy = %v after one probe with Fall 1", c.Healthy(0))
			}
			if tt.wantOK {
				select {
				case <-accepted:
				case <-time.After(waitLimit):
					t.Fatal("listener never saw the connection")
				}
			}
		})
	}
}

// TestTimeout probes servers that accept but never answer: the probe must fail after Timeout, not hang.
func TestTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	release := make(chan struct{})
	t.Cleanup(func() { close(release); ln.Close(); conns.Wait() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { <-release; conn.Close() }) // hold the connection, say nothing
		}
	}()
	const timeout = 50 * time.Millisecond
	tests := []struct {
		name  string
		check Check
	}{
		{"http", Check{Kind: HTTP, Timeout: timeout}},
		{"http with body check", Check{Kind: HTTP, Timeout: timeout, BodyContains: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New([]string{ln.Addr().String()}, tt.check, nil, Options{})
			c.step(context.Background(), 0)
			res := c.Last(0)
			if res.OK || !strings.Contains(res.Err, "timeout after 50ms") {
				t.Fatalf("Result = %+v, want a timeout failure", res)
			}
			if res.Took < timeout || res.Took > timeout+time.Second {
				t.Fatalf("Took = %v, want about %v", res.Took, timeout)
			}
		})
	}
}

// TestTransitionLog checks the one line logged per transition: Warn for DOWN, Info for UP, none otherwise.
func TestTransitionLog(t *testing.T) {
	srv := newFlipServer(t, 503)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	c := New([]string{srv.addr()}, Check{Rise: 1, Fall: 2}, nil, Options{Log: log})
	tests := []struct {
		status int
		want   string // "" = nothing logged
	}{
		{503, ""},
		{503, "level=WARN msg=\"health: " + srv.addr() + " is DOWN after 2 failed checks: status 503 (want 200-399)\""},
		{503, ""},
		{200, "level=INFO msg=\"health: " + srv.addr() + " is UP after 1 successful check\""},
		{200, ""},
	}
	for i, tt := range tests {
		buf.Reset()
		srv.status.Store(int32(tt.status))
		c.step(context.Background(), 0)
		got := buf.String()
		if tt.want == "" && got != "" || tt.want != "" && (!strings.Contains(got, tt.want) || strings.Count(got, "\n") != 1) {
			t.Fatalf("probe %d logged %q, want one line containing %q", i+1, got, tt.want)
		}
	}
}

// seqRand returns the given values in order, then repeats the last one.
func seqRand(vals ...uint64) func() uint64 {
	var i int
	return func() uint64 {
		v := vals[min(i, len(vals)-1)]
		i++
		return v
	}
}

func TestDelays(t *testing.T) {
	tests := []struct {
		name      string
		check     Check
		rnd       uint64
		wantFirst time.Duration
		wantNext  time.Duration
	}{
		{"zero draws", Check{Interval: time.Second, Jitter: 100 * time.Millisecond}, 0, 0, 900 * time.Millisecond},
		{"mid draw", Check{Interval: time.Second, Jitter: 100 * time.Millisecond},
			uint64(100 * time.Millisecond), 100 * time.Millisecond, time.Second},
		{"top draw", Check{Interval: time.Second, Jitter: 100 * time.Millisecond},
			uint64(200 * time.Millisecond), 200 * time.Millisecond, 1100 * time.Millisecond},
		{"wraps", Check{Interval: time.Second, Jitter: 100 * time.Millisecond},
			uint64(time.Second + 5), 5, 900 * time.Millisecond}, // 1s+5 is 5×(2·Jitter+1): offset -Jitter
		{"default jitter is a tenth", Check{Interval: 10 * time.Second}, 0, 0, 9 * time.Second},
		{"jitter capped at half the interval", Check{Interval: time.Second, Jitter: time.Hour}, 0, 0, 500 * time.Millisecond},
		{"negative jitter is none", Check{Interval: time.Second, Jitter: -1}, 12345, 12345, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(nil, tt.check, nil, Options{Rand: seqRand(tt.rnd)})
			if got := c.firstDelay(); got != tt.wantFirst {
				t.Errorf("firstDelay = %v, want %v", got, tt.wantFirst)
			}
			if got := c.nextDelay(); got != tt.wantNext {
				t.Errorf("nextDelay = %v, want %v", got, tt.wantNext)
			}
		})
	}
}
