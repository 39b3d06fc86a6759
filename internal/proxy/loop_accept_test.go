//go:build linux

package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLoopAccept covers the listeners the event loops accept from: requests are served, a reload that switches
// the engine to goroutines makes the loops hand new connections to goroutines, and the listener stops accepting
// when it is closed, through CloseListener (at once) or directly (within listenerPoll).
func TestLoopAccept(t *testing.T) {
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "path=%s", r.URL.Path) })
	for _, tc := range []struct {
		name  string
		close func(s *Server, ln net.Listener) error
	}{
		{"CloseListener", func(s *Server, ln net.Listener) error { return s.CloseListener(ln) }},
		{"direct close", func(_ *Server, ln net.Listener) error { return ln.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cfgOf(t, prefix("/", routeTo(t, hostOf(up))))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			s := NewServer(cfg, testLogger)
			done := make(chan error, 1)
			go func() { done <- s.Serve(ln, "http") }()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = s.Shutdown(ctx)
			})
			addr := ln.Addr().String()
			get := func(path string) {
				t.Helper()
				c := dialRaw(t, addr)
				c.write("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				if resp, body := c.readResponse("GET"); resp.StatusCode != 200 || body != "path="+path {
					t.Fatalf("GET %s: %d %q", path, resp.StatusCode, body)
				}
			}
			get("/loop")
			waitUntil(t, "the loops to accept from the listener", func() bool {
				s.mu.Lock()
				defer s.mu.Unlock()
				return len(s.lls) == 1
			})

			goroutines := *cfg
			goroutines.Engine = EngineGoroutines
			s.Update(&goroutines)
			get("/goroutine")

			if err := tc.close(s, ln); err != nil {
				t.Fatalf("close: %v", err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Serve after the listener closed: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return after its listener closed")
			}
			// Serve returned only after the loops let go of their descriptor: the port refuses connections now.
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatalf("%s still accepts connections after the listener closed", addr)
			}
		})
	}
}

// TestSockaddrPort checks the parsing of the kernel's socket addresses that accept4 returns.
func TestSockaddrPort(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			ln, err := net.Listen(network, map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network])
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer ln.Close()
			c, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			raw, err := ln.(*net.TCPListener).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var got, want = "", c.LocalAddr().String()
			deadline := time.Now().Add(5 * time.Second)
			for got == "" && time.Now().Before(deadline) {
				var aerr error
				_ = raw.Control(func(fd uintptr) {
					nfd, peer, e := accept4(int(fd))
					if e != 0 {
						aerr = e
						return
					}
					_ = unix.Close(nfd)
					got = peer.String()
				})
				if aerr != nil && !errors.Is(aerr, unix.EAGAIN) {
					t.Fatalf("accept4: %v", aerr)
				}
			}
			if got != want {
				t.Fatalf("peer %q, want %q", got, want)
			}
		})
	}
}

// waitUntil polls cond every 5 ms until it holds, failing the test after 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline: nothing signals this state
	}
}

// TestLoopsShareConnections opens a burst of keep-alive connections to a server with four event loops and checks
// that none of the loops took clearly more than its share (the kernel reports a new connection to every loop, and
// the busiest one, which polls without parking, would otherwise take most of them).
func TestLoopsShareConnections(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // four loops: their count is GOMAXPROCS when they start
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, hostOf(up)))))
	const conns = 200
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.Dial("tcp", p.addr)
			if err != nil {
				errs <- err
				return
			}
			t.Cleanup(func() { nc.Close() })
			_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				errs <- err
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	loops := *p.srv.peers.Load()
	if len(loops) != 4 {
		t.Fatalf("%d loops, want 4", len(loops))
	}
	var counts []int32
	var total int32
	for _, l := range loops {
		counts = append(counts, l.clients.Load())
		total += l.clients.Load()
	}
	share := total / int32(len(loops))
	if total != conns {
		t.Fatalf("loops hold %d connections, want %d", total, conns)
	}
	for _, n := range counts {
		if n > share+max(shareSlack, share/4)+1 {
			t.Fatalf("connections per loop %v: one loop holds more than its share of %d", counts, share)
		}
	}
}
