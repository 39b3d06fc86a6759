package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// deadAddr is a loopback address where nothing listens.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// refusedRoute routes to a dead address whose failure mark expires at once, so every request tries to connect
// (with the default fail timeout the second request would be a 503: no usable instance).
func refusedRoute(t testing.TB) *Route {
	in := upstream.NewInstance(deadAddr(t), 1, false, upstream.Options{FailTimeout: time.Nanosecond})
	pool, err := upstream.NewPool("dead", balancer.RoundRobin, []*upstream.Instance{in}, upstream.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &Route{Name: "dead", Service: &Service{Name: "dead", Pool: pool}}
}

// silentUpstream accepts, reads whatever comes and never answers.
func silentUpstream(t testing.TB) string {
	return rawUpstream(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
}

func TestGatewayErrors(t *testing.T) {
	ok := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") })
	failed := routeTo(t, hostOf(ok))
	failed.Service.Pool.Instances()[0].MarkFailed()
	rhTimeout := routeTo(t, silentUpstream(t))
	rhTimeout.Timeouts.ResponseHeader = 150 * time.Millisecond
	total := routeTo(t, silentUpstream(t))
	total.Timeouts = Timeouts{ResponseHeader: time.Minute, Total: 150 * time.Millisecond}
	p := startProxy(t, cfgOf(t,
		prefix("/refused", refusedRoute(t)),
		prefix("/rh-timeout", rhTimeout),
		prefix("/total-timeout", total),
		prefix("/all-failed", failed),
		prefix("/garbage", routeTo(t, fixedUpstream(t, "garbage\r\n\r\n", true))),
		prefix("/bad-status", routeTo(t, fixedUpstream(t, "HTTP/1.1 2x0 OK\r\n\r\n", true))),
		prefix("/closed", routeTo(t, fixedUpstream(t, "", true))),
	))
	tests := []struct {
		path       string
		status     int
		retryAfter string
	}{
		{"/refused", 502, ""},
		{"/rh-timeout", 504, ""},
		{"/total-timeout", 504, ""},
		{"/all-failed", 503, "1"},
		{"/garbage", 502, ""},
		{"/bad-status", 502, ""},
		{"/closed", 502, ""},
	}
	for _, tc := range tests {
		for _, accept := range []string{"text/html", "application/json"} {
			t.Run(tc.path+" "+accept, func(t *testing.T) {
				c := dialRaw(t, p.addr)
				c.write("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\nAccept: " + accept + "\r\n\r\n")
				resp, body := c.readResponse("GET")
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tc.status, body)
				}
				if got := resp.Header.Get("Retry-After"); got != tc.retryAfter {
					t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
				}
				isJSON := strings.HasPrefix(body, "{") && resp.Header.Get("Content-Type") == "application/json"
				if isJSON != (accept == "application/json") || len(body) > 200 {
					t.Errorf("body %q (Content-Type %q) for Accept %q", body, resp.Header.Get("Content-Type"), accept)
				}
				if id := resp.Header.Get("X-Request-Id"); !strings.Contains(body, id) || id == "" {
					t.Errorf("body %q does not name request id %q", body, id)
				}
			})
		}
	}
}

func TestConnectRetryOnOtherInstance(t *testing.T) {
	ok := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") })
	for _, order := range [][]string{{deadAddr(t), hostOf(ok)}, {hostOf(ok), deadAddr(t)}} {
		t.Run(order[0], func(t *testing.T) {
			rt := &Route{Name: "r", Service: newService(t, balancer.RoundRobin, order)}
			p := startProxy(t, cfgOf(t, prefix("/", rt)))
			cl := proxyClient(t)
			for i := range 20 {
				resp, err := cl.Get("http://" + p.addr + "/")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("request %d: status %d", i, resp.StatusCode)
				}
			}
		})
	}
}

func TestUpstreamDiesMidBody(t *testing.T) {
	tests := []struct{ name, resp string }{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial body"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nshort"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, fixedUpstream(t, tc.resp, true)))))
			c := dialRaw(t, p.addr)
			c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if head := c.readHead(); !strings.HasPrefix(head, "HTTP/1.1 200 ") {
				t.Fatalf("head %q", head)
			}
			_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := io.ReadAll(c.br)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("client connection left open after the upstream died")
			}
		})
	}
}

// TestGatewayErrorKeepsConnection checks that a 502 for a bodiless request leaves the client connection usable.
func TestGatewayErrorKeepsConnection(t *testing.T) {
	ok := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") })
	p := startProxy(t, cfgOf(t, prefix("/dead", refusedRoute(t)), prefix("/", routeTo(t, hostOf(ok)))))
	c := dialRaw(t, p.addr)
	for _, tc := range []struct {
		path   string
		status int
	}{{"/dead", 502}, {"/ok", 200}, {"/dead", 502}} {
		c.write("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := c.readResponse("GET"); resp.StatusCode != tc.status {
			t.Fatalf("%s: %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
	}
}
