package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/app"
)

// demoOut is RunDemo's output; it reports the address of the ready line once.
type demoOut struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan string // buffered, receives once
	sent  bool
}

var readyLine = regexp.MustCompile(`fjord demo ready on (\S+)\n`)

func (o *demoOut) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if m := readyLine.FindSubmatch(o.buf.Bytes()); m != nil && !o.sent {
		o.sent = true
		o.ready <- string(m[1])
	}
	return len(p), nil
}

func (o *demoOut) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// startDemo runs the demo (admin interface on a free port) on a loopback port until the test ends and returns the gateway's address.
func startDemo(t *testing.T) (addr string, out *demoOut, logs *logBuf) {
	t.Helper()
	out, logs = &demoOut{ready: make(chan string, 1)}, &logBuf{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.RunDemoAdmin(ctx, "127.0.0.1:0", "127.0.0.1:0", "test", out, slog.New(slog.NewTextHandler(logs, nil)), nil)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunDemo: %v", err)
			}
		case <-time.After(waitLimit):
			t.Errorf("RunDemo did not return within %v", waitLimit)
		}
	})
	select {
	case addr = <-out.ready:
	case err := <-done:
		t.Fatalf("RunDemo returned before ready: %v\n%s\n%s", err, out, logs)
	case <-time.After(waitLimit):
		t.Fatalf("demo not ready after %v", waitLimit)
	}
	return addr, out, logs
}

// timedGet does a GET and returns the status and how long it took; a transport error fails the test.
func timedGet(t *testing.T, c *http.Client, url string) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	status, body, err := get(c, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if status == http.StatusOK && strings.Contains(url, "/chaos") && !strings.Contains(body, `"service"`) {
		t.Fatalf("GET %s: unexpected body %q", url, body)
	}
	return status, time.Since(start)
}

// TestDemoContainsHangingWishlist breaks wishlist through the gateway's /chaos route and checks that fjord
// contains it: auth stays fast, wishlist requests fail quickly with 503/504 and the log says why; after ok,
// wishlist serves again.
func TestDemoContainsHangingWishlist(t *testing.T) {
	addr, out, logs := startDemo(t)
	base := "http://" + addr
	for _, want := range []string{"curl -s '" + base + "/chaos/wishlist?mode=hang'", "fjord demo ready on " + addr} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	c := newClient(t)
	if status, _ := timedGet(t, c, base+"/chaos/wishlist?mode=hang"); status != http.StatusOK {
		t.Fatalf("switching to hang: %d", status)
	}
	// Four rounds: the first wishlist requests time out (504), later ones are refused at once (503) because the
	// health checks have taken both instances out. auth answers while a wishlist request is hanging.
	for i := range 4 {
		type result struct {
			status int
			took   time.Duration
		}
		wish := make(chan result, 1)
		go func() {
			start := time.Now()
			status, _, err := get(c, base+"/wishlist/item")
			if err != nil {
				status = 0
			}
			wish <- result{status, time.Since(start)}
		}()
		if status, took := timedGet(t, c, base+"/auth/login"); status != http.StatusOK || took > time.Second {
			t.Errorf("round %d: auth answered %d after %v while wishlist hangs", i, status, took)
		}
		r := <-wish // bounded by the gateway's 1.5 s response-header timeout, and by the client's waitLimit
		if (r.status != http.StatusServiceUnavailable && r.status != http.StatusGatewayTimeout) || r.took > 3*time.Second {
			t.Errorf("round %d: wishlist answered %d after %v, want 503 or 504 within 3 s", i, r.status, r.took)
		}
	}
	if l := logs.String(); !strings.Contains(l, "route=wishlist") || !strings.Contains(l, "upstream timed out") {
		t.Errorf("log does not say why wishlist failed:\n%s", l)
	}

	if status, _ := timedGet(t, c, base+"/chaos/wishlist?mode=ok"); status != http.StatusOK {
		t.Fatalf("switching to ok: %d", status)
	}
	// Health checks bring the instances back after two good probes a second apart; poll, bounded in count and time.
	deadline := time.Now().Add(waitLimit)
	for status := 0; status != http.StatusOK; {
		if time.Now().After(deadline) {
			t.Fatalf("wishlist still answers %d %v after mode=ok\n%s", status, waitLimit, logs)
		}
		if status, _ = timedGet(t, c, base+"/wishlist/item"); status != http.StatusOK {
			<-time.After(100 * time.Millisecond) // no event marks "usable again" for a client; poll gently
		}
	}
}
