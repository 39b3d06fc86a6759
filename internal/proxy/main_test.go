package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
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

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/router"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// TestMain fails the package when any test leaves a goroutine behind (proxy connections, upstream handlers,
// tunnels).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testProxy is a running Server on a loopback listener.
type testProxy struct {
	srv      *Server
	addr     string
	done     chan struct{} // closed when Serve returned
	serveErr error         // Serve's result, valid after done
}

// startProxy serves cfg on 127.0.0.1:0 and shuts the server down when the test ends.
func startProxy(t testing.TB, cfg *Config) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &testProxy{srv: NewServer(cfg, testLogger), addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.serveErr = p.srv.Serve(ln, "http")
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-p.done
		if p.serveErr != nil && !errors.Is(p.serveErr, ErrServerClosed) {
			t.Errorf("serve: %v", p.serveErr)
		}
	})
	return p
}

// table builds a route table, failing the test on a build error.
func table(t testing.TB, routes ...router.Route[*Route]) *router.Table[*Route] {
	t.Helper()
	tb, _, err := router.Build(routes)
	if err != nil {
		t.Fatalf("router.Build: %v", err)
	}
	return tb
}

// cfgOf is a Config over routes.
func cfgOf(t testing.TB, routes ...router.Route[*Route]) *Config {
	t.Helper()
	return &Config{Routes: table(t, routes...)}
}

// prefix is a prefix route for target.
func prefix(path string, target *Route) router.Route[*Route] {
	return router.Route[*Route]{PathKind: router.PathPrefix, Path: path, Target: target}
}

// instOpts are the upstream options tests use: keep-alive on.
var instOpts = upstream.Options{MaxIdle: 64, ConnectTimeout: 2 * time.Second}

// newService builds a service over addrs (each weight 1 unless weights are given) and closes its instances when
// the test ends.
func newService(t testing.TB, policy balancer.Policy, addrs []string, weights ...int) *Service {
	t.Helper()
	insts := make([]*upstream.Instance, len(addrs))
	for i, a := range addrs {
		w := 1
		if i < len(weights) {
			w = weights[i]
		}
		insts[i] = upstream.NewInstance(a, w, false, instOpts)
	}
	return serviceOver(t, policy, insts, upstream.PoolOptions{})
}

// serviceOver builds a service over instances with pool options, retrying connect failures once (as the config
// defaults do), and closes its instances when the test ends.
func serviceOver(t testing.TB, policy balancer.Policy, insts []*upstream.Instance, opts upstream.PoolOptions) *Service {
	t.Helper()
	pool, err := upstream.NewPool("svc", policy, insts, opts)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() {
		for _, in := range insts {
			in.Close()
		}
	})
	return &Service{Name: "svc", Pool: pool, Retry: RetryPolicy{Attempts: 1, OnConnect: true}}
}

// routeTo is a plain route to a service over addrs.
func routeTo(t testing.TB, addrs ...string) *Route {
	t.Helper()
	return &Route{Name: "r", Service: newService(t, balancer.RoundRobin, addrs)}
}

// hostOf strips the scheme of an httptest URL.
func hostOf(ts *httptest.Server) string { return strings.TrimPrefix(ts.URL, "http://") }

// upstreamServer is an httptest server that closes when the test ends.
func upstreamServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// proxyClient is a net/http client whose idle connections are closed when the test ends.
func proxyClient(t testing.TB) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// rawConn is a client connection for exact wire checks.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *rawConn) write(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readResponse parses one response (for a request with the given method) and reads its whole body.
func (c *rawConn) readResponse(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

// readHead reads a raw response head up to and including the empty line.
func (c *rawConn) readHead() string {
	c.t.Helper()
	var sb strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			c.t.Fatalf("read head: %v (have %q)", err, sb.String())
		}
		if line == "\r\n" {
			return sb.String()
		}
	}
}

// expectClosed asserts that the proxy closes the connection (EOF or reset, never a timeout).
func (c *rawConn) expectClosed() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection not closed by the proxy (read %q)", rest)
	}
	if len(rest) > 0 {
		c.t.Fatalf("unexpected bytes before close: %q", rest)
	}
}

// countingListener counts accepted connections (upstream side of keep-alive checks).
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// countingUpstream is an httptest server whose accepted connections are counted.
func countingUpstream(t testing.TB, h http.HandlerFunc) (*httptest.Server, *countingListener) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	cl := &countingListener{Listener: ts.Listener}
	ts.Listener = cl
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, cl
}

// rawUpstream accepts connections and runs serve on each until the test ends. serve owns the connection; it is
// closed after serve returns, and when the test ends (which unblocks a serve stuck in a read).
func rawUpstream(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		mu       sync.Mutex
		conns    []net.Conn
		handlers sync.WaitGroup
	)
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			handlers.Add(1)
			go func() {
				defer handlers.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-acceptDone
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		handlers.Wait()
	})
	return ln.Addr().String()
}

// readHeadFrom reads one request head from an upstream-side reader.
func readHeadFrom(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			return sb.String(), err
		}
		if line == "\r\n" {
			return sb.String(), nil
		}
	}
}

// testLogger is nil (discard); point it at os.Stderr when debugging.
var testLogger *slog.Logger
