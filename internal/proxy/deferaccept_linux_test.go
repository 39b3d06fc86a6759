//go:build linux

package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// deferAcceptOf reads TCP_DEFER_ACCEPT back from a listening socket.
func deferAcceptOf(t *testing.T, ln net.Listener) int {
	t.Helper()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT) }); err != nil || gerr != nil {
		t.Fatalf("getsockopt: %v %v", err, gerr)
	}
	return v
}

// TestDeferAccept: on a listener with TCP_DEFER_ACCEPT, a connection that has sent nothing is not handed to fjord;
// once it sends its request it is served, and so are keep-alive and pipelined requests after the first, on both
// engines (the event loop reads the first request as it accepts).
func TestDeferAccept(t *testing.T) {
	for _, e := range []struct {
		name   string
		engine Engine
	}{{"loop", EngineLoop}, {"goroutines", EngineGoroutines}} {
		t.Run(e.name, func(t *testing.T) {
			up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
			cfg := cfgOf(t, prefix("/", routeTo(t, hostOf(up))))
			cfg.Engine = e.engine
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := SetDeferAccept(ln, true); err != nil {
				t.Fatalf("SetDeferAccept: %v", err)
			}
			if v := deferAcceptOf(t, ln); v <= 0 {
				t.Fatalf("TCP_DEFER_ACCEPT is %d after SetDeferAccept(true)", v)
			}
			srv := NewServer(cfg, testLogger)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = srv.ServeMode(ln, "deferred", func() *ListenerMode { return &ListenerMode{DeferAccept: true} })
			}()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
				<-done
			})
			addr := ln.Addr().String()

			silent := dialRaw(t, addr)
			time.Sleep(200 * time.Millisecond)
			srv.mu.Lock()
			n := len(srv.conns)
			srv.mu.Unlock()
			if n != 0 {
				t.Fatalf("%d connections handed to fjord before any sent a byte", n)
			}

			c := dialRaw(t, addr)
			c.write("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, got := c.readResponse("GET"); resp.StatusCode != 200 || got != "/one" {
				t.Fatalf("first request: %d %q", resp.StatusCode, got)
			}
			c.write("GET /two HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nHost: x\r\n\r\n")
			for _, want := range []string{"/two", "/three"} {
				if resp, got := c.readResponse("GET"); resp.StatusCode != 200 || got != want {
					t.Fatalf("after the first: %d %q, want %q", resp.StatusCode, got, want)
				}
			}

			silent.write("GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, got := silent.readResponse("GET"); resp.StatusCode != 200 || got != "/late" {
				t.Fatalf("the connection that waited: %d %q", resp.StatusCode, got)
			}

			if err := SetDeferAccept(ln, false); err != nil || deferAcceptOf(t, ln) != 0 {
				t.Fatalf("SetDeferAccept(false): %v, option %d", err, deferAcceptOf(t, ln))
			}
		})
	}
}
