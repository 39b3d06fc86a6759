package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowUpstream holds requests to /slow until release is closed; entered receives one value per held request.
func slowUpstream(t testing.TB) (addr string, entered chan struct{}, release func()) {
	entered = make(chan struct{}, 16)
	ch := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	ts := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			select {
			case <-ch:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "done")
	})
	t.Cleanup(release) // registered after ts.Close, so it runs first and ts.Close does not wait on a held handler
	return hostOf(ts), entered, release
}

func TestGracefulShutdown(t *testing.T) {
	up, entered, release := slowUpstream(t)
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, up))))

	idle := dialRaw(t, p.addr)
	if got := get(t, idle, "/fast", ""); got != "done" {
		t.Fatalf("warm-up: %q", got)
	}
	busy := dialRaw(t, p.addr)
	busy.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- p.srv.Shutdown(ctx)
	}()
	t.Run("idle connection closed", func(t *testing.T) { idle.expectClosed() })
	t.Run("new connections refused", func(t *testing.T) {
		<-p.done // Serve returned: the listener is closed
		if p.serveErr != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", p.serveErr)
		}
		if nc, err := net.Dial("tcp", p.addr); err == nil {
			nc.Close()
			t.Errorf("dial after shutdown succeeded")
		}
	})
	t.Run("shutdown waits for the active request", func(t *testing.T) {
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v with a request in flight", err)
		default:
		}
	})
	release()
	t.Run("in-flight request completes", func(t *testing.T) {
		head := busy.readHead()
		resp, body := parseAfterHead(t, head, busy.br, "GET")
		if resp.StatusCode != 200 || body != "done" || !strings.Contains(head, "\r\nConnection: close\r\n") {
			t.Errorf("%q %q", head, body)
		}
		busy.expectClosed()
	})
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	up, entered, _ := slowUpstream(t)
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, up))))
	stuck := dialRaw(t, p.addr)
	stuck.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.srv.Shutdown(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v after its 100ms deadline", d)
	}
	if err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Errorf("Shutdown = %v, want a deadline error", err)
	}
	stuck.expectClosed()
	if n := p.srv.Connections(); n != 0 {
		t.Errorf("%d connections still tracked", n)
	}
}

func TestConcurrentRequests(t *testing.T) {
	a, b := namedUpstream(t, "a", nil), namedUpstream(t, "b", nil)
	svc := newService(t, "round_robin", []string{a, b})
	p := startProxy(t, cfgOf(t, prefix("/", &Route{Name: "r", Service: svc})))
	const workers, perWorker = 50, 200
	cl := proxyClient(t)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				resp, err := cl.Get("http://" + p.addr + "/w/" + string(rune('a'+w%26)))
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || (string(body) != "a" && string(body) != "b") {
					errs <- &reqError{i, resp.StatusCode, string(body), err}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

type reqError struct {
	i, status int
	body      string
	err       error
}

func (e *reqError) Error() string {
	return "request " + string(rune('0'+e.i%10)) + ": status " + http.StatusText(e.status) + " body " + e.body
}
