package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/app"
)

// waitLimit bounds every wait in these tests, so a hang fails the test instead of the whole package timing out.
const waitLimit = 10 * time.Second

// upstream is a loopback HTTP server that answers every request with its name and counts the connections it
// accepted, so tests can tell which instance served a request and whether fjord reused a keep-alive connection.
type upstream struct {
	name    string
	addr    string
	accepts atomic.Int64
}

// newUpstream starts an upstream; h, when non-nil, replaces the default handler that writes the name.
func newUpstream(t *testing.T, name string, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{name: name}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.accepts.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	u.addr = srv.Listener.Addr().String()
	return u
}

// logBuf collects the app's log output and lets a test wait for a line containing some text.
type logBuf struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	waiters []logWaiter
}

type logWaiter struct {
	substr string
	ch     chan struct{}
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	kept := l.waiters[:0]
	for _, w := range l.waiters {
		if strings.Contains(l.buf.String(), w.substr) {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	l.waiters = kept
	return len(p), nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor returns a channel closed once the log contains substr.
func (l *logBuf) waitFor(substr string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(l.buf.String(), substr) {
		close(ch)
		return ch
	}
	l.waiters = append(l.waiters, logWaiter{substr, ch})
	return ch
}

// reloadResult is what App.Reloaded reported for one reload.
type reloadResult struct {
	addrs []string
	err   error
}

// gateway is an App running on a config file in a temp dir.
type gateway struct {
	app      *app.App
	t        *testing.T
	path     string
	addrs    []string // listening addresses at start
	logs     *logBuf
	reload   chan struct{}
	reloaded chan reloadResult
	cancel   context.CancelFunc
	done     chan error // receives Run's result once
}

// startGateway writes cfg to a file and runs an App on it until the test ends.
func startGateway(t *testing.T, cfg string) *gateway {
	t.Helper()
	g := &gateway{
		t:        t,
		path:     filepath.Join(t.TempDir(), "fjord.yaml"),
		logs:     &logBuf{},
		reload:   make(chan struct{}),
		reloaded: make(chan reloadResult, 1),
		done:     make(chan error, 1),
	}
	g.write(cfg)
	a := app.New(app.FileSource(g.path), slog.New(slog.NewTextHandler(g.logs, nil)))
	a.Version, a.SourceName = "test", g.path
	g.app = a
	ready := make(chan []string, 1)
	a.Ready = func(addrs []string) { ready <- addrs }
	a.Reloaded = func(addrs []string, err error) { g.reloaded <- reloadResult{addrs, err} }
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	go func() { g.done <- a.Run(ctx, g.reload) }()
	select {
	case g.addrs = <-ready:
	case err := <-g.done:
		cancel()
		t.Fatalf("Run returned before ready: %v\nlog:\n%s", err, g.logs)
	case <-time.After(waitLimit):
		t.Fatalf("app not ready after %v", waitLimit)
	}
	t.Cleanup(func() {
		if g.done == nil {
			return
		}
		if err := g.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return g
}

func (g *gateway) write(cfg string) {
	g.t.Helper()
	if err := os.WriteFile(g.path, []byte(cfg), 0o600); err != nil {
		g.t.Fatal(err)
	}
}

// apply writes cfg, triggers a reload and returns what the app reported once the reload was handled.
func (g *gateway) apply(cfg string) reloadResult {
	g.t.Helper()
	g.write(cfg)
	select {
	case g.reload <- struct{}{}:
	case <-time.After(waitLimit):
		g.t.Fatal("app did not take the reload signal")
	}
	select {
	case r := <-g.reloaded:
		return r
	case <-time.After(waitLimit):
		g.t.Fatal("reload not reported")
	}
	return reloadResult{}
}

// stop cancels Run and returns its result; later calls return nil.
func (g *gateway) stop() error {
	if g.done == nil {
		return nil
	}
	g.cancel()
	defer func() { g.done = nil }()
	select {
	case err := <-g.done:
		return err
	case <-time.After(waitLimit):
		return fmt.Errorf("Run did not return within %v", waitLimit)
	}
}

// url returns the address of the first listener with path appended.
func (g *gateway) url(path string) string { return "http://" + g.addrs[0] + path }

// newClient returns a keep-alive client whose idle connections are closed when the test ends.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 32, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitLimit}
}

// get does a GET and returns the status and body.
func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// mustGet does a GET that must succeed with want status and body.
func mustGet(t *testing.T, c *http.Client, url string, wantStatus int, wantBody string) {
	t.Helper()
	status, body, err := get(c, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if status != wantStatus || body != wantBody {
		t.Fatalf("GET %s = %d %q, want %d %q", url, status, body, wantStatus, wantBody)
	}
}

// posOf returns the 1-based line and column of the first occurrence of needle in text.
func posOf(t *testing.T, text, needle string) (line, col int) {
	t.Helper()
	i := strings.Index(text, needle)
	if i < 0 {
		t.Fatalf("%q not in config", needle)
	}
	line = strings.Count(text[:i], "\n") + 1
	col = i - strings.LastIndex(text[:i], "\n")
	return line, col
}

// freePort returns a loopback address that was free a moment ago, for configs that must name a fixed port.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
