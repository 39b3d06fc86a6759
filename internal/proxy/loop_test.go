//go:build linux

package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEngines checks that the event loops serve plain connections without a goroutine each, while the goroutine
// engine has one per connection, and that both answer the same. It counts the goroutines running conn.serve, so
// goroutines of other tests winding down do not disturb it.
func TestEngines(t *testing.T) {
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "path=%s", r.URL.Path)
	})
	const conns = 40
	for _, tc := range []struct {
		name     string
		engine   Engine
		wantServ func(n int) bool // conn.serve goroutines with conns idle keep-alive connections open
	}{
		{"loop", EngineLoop, func(n int) bool { return n == 0 }},
		{"goroutines", EngineGoroutines, func(n int) bool { return n >= conns }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cfgOf(t, prefix("/", routeTo(t, hostOf(up))))
			cfg.Engine = tc.engine
			p := startProxy(t, cfg)
			cs := make([]*rawConn, conns)
			for i := range cs {
				cs[i] = dialRaw(t, p.addr)
				cs[i].write(fmt.Sprintf("GET /c%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
			}
			for i, c := range cs {
				resp, body := c.readResponse("GET")
				if want := fmt.Sprintf("path=/c%d", i); resp.StatusCode != 200 || body != want {
					t.Fatalf("conn %d: %d %q, want 200 %q", i, resp.StatusCode, body, want)
				}
			}
			if n := serveGoroutines(); !tc.wantServ(n) {
				t.Errorf("%d idle keep-alive connections run %d conn.serve goroutines", conns, n)
			}
		})
	}
}

// goroutinesIn counts the goroutines whose stacks hold any of frames ("proxy.(*conn).serve(", say).
func goroutinesIn(frames ...string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			count := 0
			for _, g := range strings.Split(string(buf[:n]), "\n\n") {
				for _, f := range frames {
					if strings.Contains(g, f) {
						count++
						break
					}
				}
			}
			return count
		}
		buf = make([]byte, 2*len(buf))
	}
}

// serveGoroutines counts the goroutines in conn.serve (one per connection in the goroutine engine).
func serveGoroutines() int { return goroutinesIn("proxy.(*conn).serve(") }

// TestLoopPipelining sends several requests in one write: the loop answers them in order from its buffer, and a
// request it hands to a goroutine (a chunked body) sits between two it serves itself.
func TestLoopPipelining(t *testing.T) {
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		b := new(strings.Builder)
		_, _ = fmt.Fprintf(b, "%s %s", r.Method, r.URL.Path)
		if body, _ := io.ReadAll(r.Body); len(body) > 0 {
			_, _ = fmt.Fprintf(b, " %s", body)
		}
		_, _ = w.Write([]byte(b.String()))
	})
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, hostOf(up)))))
	c := dialRaw(t, p.addr)
	c.write("GET /one HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
		"GET /three HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"GET /one", "POST /two abc", "GET /three"} {
		resp, body := c.readResponse("GET")
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, want)
		}
	}
}

// TestLoopMixedLoad runs clients concurrently through every path of the loop engine at once — requests the loop
// serves itself, requests handed to a goroutine (a large upload), responses it relays itself (small, or of known
// length arriving in pieces) and responses a goroutine relays (chunked and large) — and checks every answer. Under
// -race it checks the hand-offs between the loop and the goroutines.
func TestLoopMixedLoad(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 8<<10) // 128 KiB
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/small":
			_, _ = w.Write([]byte("small"))
		case "/chunked":
			w.Header().Set("Content-Type", "text/plain")
			for i := 0; i < 4; i++ {
				_, _ = w.Write([]byte(big[:1000]))
				w.(http.Flusher).Flush()
			}
		case "/big":
			_, _ = w.Write([]byte(big))
		case "/pieces": // a known length that arrives in two writes
			w.Header().Set("Content-Length", "10")
			_, _ = w.Write([]byte("01234"))
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond)
			_, _ = w.Write([]byte("56789"))
		case "/upload":
			_, _ = fmt.Fprintf(w, "got %d", len(body))
		}
	})
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, hostOf(up)))))
	cases := []struct{ method, path, body, want string }{
		{"GET", "/small", "", "small"},
		{"GET", "/chunked", "", strings.Repeat(big[:1000], 4)},
		{"GET", "/big", "", big},
		{"GET", "/pieces", "", "0123456789"},
		{"POST", "/upload", big[:20000], "got 20000"},
		{"POST", "/upload", "tiny", "got 4"},
	}
	cl := proxyClient(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				tc := cases[(g+i)%len(cases)]
				req, _ := http.NewRequest(tc.method, "http://"+p.addr+tc.path, strings.NewReader(tc.body))
				if tc.body == "" {
					req.Body = nil
				}
				resp, err := cl.Do(req)
				if err != nil {
					errs <- fmt.Errorf("%s %s: %v", tc.method, tc.path, err)
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(got) != tc.want {
					errs <- fmt.Errorf("%s %s: %d, %d bytes, err %v", tc.method, tc.path, resp.StatusCode, len(got), err)
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

// TestLoopHalfClosedClient: a client that sends its request and then its FIN (shutdown of its write side) gets the
// response, then the connection closes at once. The FIN usually arrives with the request, in the same epoll event;
// the loop must still read on to the EOF rather than wait for an event that will not come (then the connection
// would sit until the idle timeout). The same holds for a body the loop collects, whose last piece comes with the FIN.
func TestLoopHalfClosedClient(t *testing.T) {
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "hello %d", n)
	})
	cfg := cfgOf(t, prefix("/", routeTo(t, hostOf(up))))
	cfg.Client.IdleTimeout = time.Minute
	p := startProxy(t, cfg)
	body := strings.Repeat("b", 20000)
	for _, tc := range []struct {
		method, want string
		pieces       []string
	}{
		{"GET", "hello 0", []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n"}},
		{"POST", "hello 20000", []string{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" + body[:5000], body[5000:]}},
	} {
		for i := range 5 {
			c := dialRaw(t, p.addr)
			for j, piece := range tc.pieces {
				if j > 0 {
					time.Sleep(5 * time.Millisecond)
				}
				c.write(piece)
			}
			if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if resp, got := c.readResponse(tc.method); resp.StatusCode != 200 || got != tc.want {
				t.Fatalf("%s, try %d: %d %q", tc.method, i, resp.StatusCode, got)
			}
			c.expectClosed()
		}
	}
}
