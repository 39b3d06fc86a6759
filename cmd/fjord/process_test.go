package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitLimit bounds every wait on the fjord process.
const waitLimit = 10 * time.Second

// watcher collects a process's output stream and lets a test wait for a regexp to appear in it.
type watcher struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	change chan struct{} // closed and replaced on every write
}

func newWatcher() *watcher { return &watcher{change: make(chan struct{})} }

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	close(w.change)
	w.change = make(chan struct{})
	return len(p), nil
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// wait returns the submatches of the first match of re after offset from, once it appears.
func (w *watcher) wait(t *testing.T, re *regexp.Regexp, from int) []string {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		w.mu.Lock()
		m := re.FindStringSubmatch(w.buf.String()[from:])
		ch := w.change
		w.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("no %q in output after %v:\n%s", re, waitLimit, w.String())
		}
	}
}

func (w *watcher) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Len()
}

// process is a running fjord binary.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *watcher
	done           chan error
}

func start(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary, args...), stdout: newWatcher(), stderr: newWatcher(), done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stop sends sig and expects a clean exit within a few seconds.
func (p *process) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("after %v: %v\nstderr:\n%s", sig, err, p.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5s after %v", sig)
	}
}

func httpGet(t *testing.T, c *http.Client, url string, cookie string) string {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %q %v", url, resp.StatusCode, b, err)
	}
	return string(b)
}

func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitLimit}
}

// TestDemo starts `fjord demo` with its admin interface on a free port, checks that every demo service answers
// through the gateway from both of its instances and that the admin interface is where --admin put it, and that
// SIGINT stops it cleanly.
func TestDemo(t *testing.T) {
	p := start(t, "demo", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	admin := p.stderr.wait(t, regexp.MustCompile(`msg="admin interface" address=(\S+)\n`), 0)[1]
	addr := p.stdout.wait(t, regexp.MustCompile(`fjord demo ready on (\S+)\n`), 0)[1]
	c := newClient(t)
	if live := httpGet(t, c, "http://"+admin+"/live", ""); !strings.HasPrefix(live, "ok") {
		t.Fatalf("admin /live: %q", live)
	}
	for _, svc := range []string{"auth", "cart", "inventory", "billing", "wishlist"} {
		t.Run(svc, func(t *testing.T) {
			seen := map[string]bool{}
			for i := range 20 {
				// cart is sticky by session cookie, so vary it; the others ignore it.
				body := httpGet(t, c, fmt.Sprintf("http://%s/%s/item", addr, svc), fmt.Sprintf("session=user%d", i))
				var info struct{ Service, Instance string }
				if err := json.Unmarshal([]byte(body), &info); err != nil {
					t.Fatalf("body is not JSON: %v\n%s", err, body)
				}
				if info.Service != svc {
					t.Fatalf("answered by service %q, want %q", info.Service, svc)
				}
				seen[info.Instance] = true
			}
			if len(seen) != 2 {
				t.Errorf("instances used: %v, want both", seen)
			}
		})
	}
	p.stop(t, os.Interrupt)
}

// TestRunReloadsOnSIGHUP runs `fjord run -c FILE`, edits the file, sends SIGHUP and checks the new routing, then
// stops fjord with SIGTERM.
func TestRunReloadsOnSIGHUP(t *testing.T) {
	upstream := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	a, b := upstream("a"), upstream("b")
	cfg := func(target string) string {
		return fmt.Sprintf(`listeners: [{address: "127.0.0.1:0"}]
services:
  a: {timeouts: {connect: 1s}, instances: [%q]}
  b: {timeouts: {connect: 1s}, instances: [%q]}
routes:
  - match: {path_prefix: /x}
    service: %s
`, a, b, target)
	}
	path := writeFile(t, "fjord.yaml", cfg("a"))
	p := start(t, "run", "-c", path)
	addr := p.stderr.wait(t, regexp.MustCompile(`msg=listening address=(\S+)\n`), 0)[1]
	p.stderr.wait(t, regexp.MustCompile(`fjord started`), 0)
	c := newClient(t)
	url := "http://" + addr + "/x"
	if got := httpGet(t, c, url, ""); got != "a" {
		t.Fatalf("before reload: %q, want a", got)
	}
	for i, target := range []string{"b", "a", "b"} {
		if err := os.WriteFile(path, []byte(cfg(target)), 0o600); err != nil {
			t.Fatal(err)
		}
		from := p.stderr.len()
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		p.stderr.wait(t, regexp.MustCompile(`configuration reloaded`), from)
		if got := httpGet(t, c, url, ""); got != target {
			t.Fatalf("after reload %d: %q, want %q", i+1, got, target)
		}
	}
	p.stop(t, syscall.SIGTERM)
	if !strings.Contains(p.stderr.String(), "msg=stopped") {
		t.Errorf("no clean stop logged:\n%s", p.stderr)
	}
}

func TestStatusCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }))
	t.Cleanup(srv.Close)
	path := writeFile(t, "fjord.yaml", fmt.Sprintf(`listeners: [{address: "127.0.0.1:0"}]
services:
  inventory: {timeouts: {connect: 1s}, instances: [%q, "127.0.0.1:1"], limits: {max_concurrent: 9}}
routes:
  - match: {path_prefix: /}
    service: inventory
`, srv.Listener.Addr().String()))
	p := start(t, "run", "-c", path, "--admin", "127.0.0.1:0")
	admin := p.stderr.wait(t, regexp.MustCompile(`msg="admin interface" address=(\S+)\n`), 0)[1]
	p.stderr.wait(t, regexp.MustCompile(`fjord started`), 0)
	var out, errb strings.Builder
	if code := run([]string{"status", "--admin", admin}, &out, &errb); code != 0 {
		t.Fatalf("status exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"ready", "inventory", "0/9", srv.Listener.Addr().String(), "healthy"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"status", "--admin", admin, "--json"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"max_concurrent": 9`) {
		t.Errorf("status --json exit %d:\n%s", code, out.String())
	}
	if code := run([]string{"status", "--admin", "127.0.0.1:1"}, &out, &errb); code != 1 {
		t.Errorf("status against nothing: exit %d, want 1", code)
	}
	p.stop(t, syscall.SIGTERM)
}
