package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/app"
)

// statusGateway runs a gateway whose service s has one healthy instance and one that never answers (port 1, taken
// out by its TCP health checks), a service broken with no usable instance, and routes /ok and /fail to s (the
// upstream answers /fail with 500). It returns the app and the traffic listener's address.
func statusGateway(t *testing.T) (*app.App, string) {
	t.Helper()
	up := newUpstream(t, "up", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fail") {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "up")
	})
	cfg := fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
services:
  s:
    instances: ["%s", "127.0.0.1:1"]
    timeouts: {connect: 1s}
    health_check: {type: tcp, interval: 20ms, jitter: 5ms, fall: 1}
    limits: {max_concurrent: 7}
  broken:
    instances: ["127.0.0.1:1"]
    timeouts: {connect: 1s}
    health_check: {type: tcp, interval: 20ms, jitter: 5ms, fall: 1}
routes:
  - {name: ok, match: {path_prefix: /ok}, service: s}
  - {name: fail, match: {path_prefix: /fail}, service: s}
  - {name: broken, match: {path_prefix: /broken}, service: broken}
`, up.addr)
	path := filepath.Join(t.TempDir(), "fjord.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a := app.New(app.FileSource(path), slog.New(slog.DiscardHandler))
	a.Version, a.SourceName = "test", path
	ready := make(chan []string, 1)
	a.Ready = func(addrs []string) { ready <- addrs }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	addrs := <-ready
	return a, addrs[0]
}

// readStatus GETs /status and decodes it.
func readStatus(t *testing.T, cl *http.Client, a *app.App) admin.Status {
	t.Helper()
	_, body, err := get(cl, "http://"+a.AdminAddress()+"/status")
	if err != nil {
		t.Fatal(err)
	}
	var st admin.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, body)
	}
	return st
}

// TestStatusTraffic: /status carries each route's request, 5xx and latency counters and their sum per service,
// which the status page turns into rates.
func TestStatusTraffic(t *testing.T) {
	a, addr := statusGateway(t)
	cl := newClient(t)
	waitUntil(t, func() bool { return readStatus(t, cl, a).Services[1].Instances[1].State == "unhealthy" })
	for path, n := range map[string]int{"/ok": 3, "/fail": 2} {
		for range n {
			if _, _, err := get(cl, "http://"+addr+path); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Requests are counted just after their response is written: wait until all five are in.
	var st admin.Status
	waitUntil(t, func() bool {
		st = readStatus(t, cl, a)
		n := uint64(0)
		for _, r := range st.Routes {
			if r.Traffic != nil {
				n += r.Traffic.Requests
			}
		}
		return n == 5
	})
	if len(st.LatencyBounds) == 0 {
		t.Fatal("no latency_bounds_seconds")
	}
	want := map[string][2]uint64{"ok": {3, 0}, "fail": {2, 2}, "broken": {0, 0}}
	for _, r := range st.Routes {
		t.Run(r.Name, func(t *testing.T) {
			w := want[r.Name]
			tr := r.Traffic
			if tr == nil {
				if w[0] == 0 {
					return // a route nobody asked has no counters yet
				}
				t.Fatal("no traffic")
			}
			if tr.Requests != w[0] || tr.Status5xx != w[1] {
				t.Fatalf("requests %d, 5xx %d; want %d, %d", tr.Requests, tr.Status5xx, w[0], w[1])
			}
			if n := len(tr.LatencyBuckets); n != len(st.LatencyBounds)+1 || tr.LatencyBuckets[n-1] != w[0] {
				t.Fatalf("latency buckets %v for %d requests", tr.LatencyBuckets, w[0])
			}
		})
	}
	for _, s := range st.Services {
		if s.Name == "s" && (s.Traffic == nil || s.Traffic.Requests != 5 || s.Traffic.Status5xx != 2 || s.Traffic.LatencySum <= 0) {
			t.Fatalf("service s traffic: %+v", s.Traffic)
		}
	}
}

// TestStatusPageChromium loads the status page in headless Chromium against a gateway with a healthy and an
// unhealthy instance and checks that the rendered page shows both states, then saves a screenshot (under the test's
// temp dir, or $FJORD_ARTIFACTS when set) for a person to look at. Skipped without chromium.
func TestStatusPageChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed")
	}
	a, addr := statusGateway(t)
	cl := newClient(t)
	waitUntil(t, func() bool {
		st := readStatus(t, cl, a)
		return st.Services[0].Instances[0].State == "unhealthy" && st.Services[1].Instances[1].State == "unhealthy"
	})
	// Some traffic, bounded in count, so the counters are not all zero.
	for i := range 40 {
		path := "/ok"
		if i%8 == 0 {
			path = "/fail"
		}
		if _, _, err := get(cl, "http://"+addr+path); err != nil {
			t.Fatal(err)
		}
	}
	page := "http://" + a.AdminAddress() + "/"

	dom := runChromium(t, chromium, "--dump-dom", page)
	for _, want := range []string{
		`data-state="healthy"`, `data-state="unhealthy"`, // both instance states
		`data-service="broken" data-level="trouble"`, `data-service="s" data-level="degraded"`,
		`data-route="fail"`, "ready",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
	// The service in trouble sorts first.
	if b, s := strings.Index(dom, `data-service="broken"`), strings.Index(dom, `data-service="s"`); b < 0 || s < 0 || b > s {
		t.Errorf("service broken (no usable instance) is not listed before s")
	}

	dir := os.Getenv("FJORD_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "status-page.png")
	// Traffic while the page polls, so the screenshot shows rates: bounded in count, stopped when Chromium is done.
	stop, loadDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(loadDone)
		for i := range 5000 {
			select {
			case <-stop:
				return
			default:
			}
			path := "/ok"
			if i%10 == 0 {
				path = "/fail"
			}
			_, _, _ = get(cl, "http://"+addr+path)
		}
	}()
	runChromium(t, chromium, "--screenshot="+shot, page)
	close(stop)
	<-loadDone
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("status page screenshot: %s", shot)
}

// runChromium runs headless Chromium on url with one action flag (--dump-dom or --screenshot=FILE) and returns its
// standard output. The virtual time budget lets the page poll /status a few times before the action.
func runChromium(t *testing.T, chromium, action, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--window-size=1280,900",
		"--virtual-time-budget=3500", action, url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", action, err, stderr.String())
	}
	return stdout.String()
}
