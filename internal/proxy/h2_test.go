package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/ratelimit"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// startModeProxy serves cfg with a listener mode on 127.0.0.1:0 and shuts it down when the test ends.
func startModeProxy(t *testing.T, cfg *Config, mode *ListenerMode) string {
	t.Helper()
	srv := NewServer(cfg, testLogger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeMode(ln, "", func() *ListenerMode { return mode }) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// h2Mode is one way to reach the proxy over HTTP/2: ALPN on TLS, or h2c with prior knowledge.
type h2Mode struct {
	name   string
	mode   func(t *testing.T) *ListenerMode
	scheme string
	client func(t *testing.T) *http.Client
}

func h2Modes() []h2Mode {
	return []h2Mode{
		{"tls-alpn", func(t *testing.T) *ListenerMode {
			cfg := selfSigned(t)
			cfg.NextProtos = []string{"h2", "http/1.1"}
			return &ListenerMode{TLS: cfg}
		}, "https", func(t *testing.T) *http.Client {
			tr := &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
			t.Cleanup(tr.CloseIdleConnections)
			return &http.Client{Transport: tr, Timeout: 10 * time.Second}
		}},
		{"h2c", func(t *testing.T) *ListenerMode { return &ListenerMode{H2C: true} }, "http", h2cClient},
	}
}

// h2cClient speaks HTTP/2 with prior knowledge over plain TCP.
func h2cClient(t *testing.T) *http.Client {
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// echoUpstream answers with the request's method, path, selected headers and body, and a response header.
func echoUpstream(t *testing.T) string {
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Up", "1")
		w.Header().Set("Connection", "keep-alive") // connection-specific: must not reach an HTTP/2 client
		fmt.Fprintf(w, "%s %s proto=%s xfp=%s xff=%s rid=%v trace=%v added=%s te=%q cl=%d body=%s",
			r.Method, r.URL.RequestURI(), r.Proto, r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-For"),
			r.Header.Get("X-Request-Id") != "", r.Header.Get("Traceparent") != "", r.Header.Get("X-Added"),
			r.TransferEncoding, r.ContentLength, body)
	})
	return hostOf(up)
}

func TestH2Downstream(t *testing.T) {
	for _, m := range h2Modes() {
		t.Run(m.name, func(t *testing.T) {
			rt := routeTo(t, echoUpstream(t))
			rt.StripPrefix = "/api"
			rt.Request = NewHeaderOps([]HeaderValue{{Name: "X-Added", Value: Literal("yes")}}, nil, nil)
			rt.Response = NewHeaderOps([]HeaderValue{{Name: "X-Resp", Value: Literal("r")}}, nil, []string{"X-Up"})
			addr := startModeProxy(t, cfgOf(t, prefix("/api/", rt)), m.mode(t))
			cl := m.client(t)
			big := strings.Repeat("b", 100<<10)
			cases := []struct {
				name, method, path string
				body               io.Reader
				want               []string
			}{
				{"get", "GET", "/api/x?q=1", nil, []string{"GET /x?q=1 proto=HTTP/1.1 xfp=" + m.scheme, "xff=127.0.0.1",
					"rid=true", "trace=true", "added=yes", "cl=0 body="}},
				{"small body", "POST", "/api/p", strings.NewReader("hello"), []string{"POST /p", "cl=5 body=hello"}},
				{"large body", "PUT", "/api/p", strings.NewReader(big), []string{"PUT /p", "cl=102400 body=" + big}},
				{"unknown length", "POST", "/api/p", io.MultiReader(strings.NewReader("ab"), strings.NewReader("cd")),
					[]string{`te=["chunked"] cl=-1 body=abcd`}},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					req, _ := http.NewRequest(tc.method, m.scheme+"://"+addr+tc.path, tc.body)
					resp, err := cl.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
						t.Fatalf("%s %d: %s", resp.Proto, resp.StatusCode, body)
					}
					for _, w := range tc.want {
						if !strings.Contains(string(body), w) {
							t.Errorf("upstream saw %q, want it to contain %q", body, w)
						}
					}
					if resp.Header.Get("X-Resp") != "r" || resp.Header.Get("X-Up") != "" {
						t.Errorf("response headers %v: want X-Resp set and X-Up removed", resp.Header)
					}
				})
			}
		})
	}
}

// TestH2CSharesListenerWithHTTP1 checks that an h2c listener still serves HTTP/1.1, including a request whose first
// bytes look like the preface's start.
func TestH2CSharesListenerWithHTTP1(t *testing.T) {
	addr := startModeProxy(t, cfgOf(t, prefix("/", routeTo(t, echoUpstream(t)))), &ListenerMode{H2C: true})
	for _, first := range []string{"GET /a HTTP/1.1\r\n", "PUT /a HTTP/1.1\r\nContent-Length: 0\r\n"} {
		c := dialRaw(t, addr)
		c.write(first + "Host: x\r\n\r\n")
		resp, body := c.readResponse("GET")
		if resp.StatusCode != 200 || !strings.Contains(body, "/a proto=HTTP/1.1") {
			t.Errorf("%q: %d %q", first, resp.StatusCode, body)
		}
	}
}

// TestH2Policies runs HTTP/2 requests into each policy step and checks they answer as over HTTP/1.1.
func TestH2Policies(t *testing.T) {
	ok := echoUpstream(t)
	failing := statusUpstream(t, "bad", 503)
	retrySvc := serviceOver(t, balancer.RoundRobin, instances(failing, ok), upstream.PoolOptions{})
	retrySvc.Retry = RetryPolicy{Attempts: 1, Statuses: statusSet(503)}
	deadSvc := newService(t, balancer.RoundRobin, []string{h2DeadAddr(t)})
	limited := routeTo(t, ok)
	limited.RateLimit = &RateLimit{Key: RateByRoute, Limiter: ratelimit.New(ratelimit.Limit{Rate: 0.01, Burst: 1}, ratelimit.Options{MaxKeys: 64})}
	small := routeTo(t, ok)
	small.MaxBodyBytes = 10
	cfg := cfgOf(t,
		prefix("/ret/", &Route{Name: "ret", Return: &Return{Status: 418, Headers: [][2]string{{"X-R", "1"}}, Body: []byte("tea")}}),
		prefix("/retry/", &Route{Name: "retry", Service: retrySvc}),
		prefix("/dead/", &Route{Name: "dead", Service: deadSvc}),
		prefix("/limited/", limited),
		prefix("/small/", small),
	)
	addr := startModeProxy(t, cfg, &ListenerMode{H2C: true})
	cl := h2cClient(t)
	cases := []struct {
		name, method, path, body string
		want                     int
		header                   string // a response header that must be present
	}{
		{"return", "GET", "/ret/x", "", 418, "X-R"},
		{"no route", "GET", "/none", "", 404, "X-Request-Id"},
		{"retry on 503", "GET", "/retry/x", "", 200, ""},
		{"retry on 503 again", "GET", "/retry/x", "", 200, ""},
		{"connect failure", "GET", "/dead/x", "", 502, "X-Request-Id"},
		{"rate limit first", "GET", "/limited/x", "", 200, ""},
		{"rate limited", "GET", "/limited/x", "", 429, "Ratelimit-Limit"},
		{"body limit by length", "POST", "/small/x", strings.Repeat("x", 11), 413, ""},
		{"body under limit", "POST", "/small/x", "0123456789", 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, body)
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.want)
			}
			if tc.header != "" && resp.Header.Get(tc.header) == "" {
				t.Errorf("no %s in %v", tc.header, resp.Header)
			}
		})
	}
	t.Run("chunked body over the limit", func(t *testing.T) {
		// No Content-Length: cut while it streams.
		req, _ := http.NewRequest("POST", "http://"+addr+"/small/x", io.MultiReader(strings.NewReader("0123456789"), bytes.NewReader([]byte("abc"))))
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Errorf("status %d, want 413", resp.StatusCode)
		}
	})
}

// statusSet is a StatusSet of the given statuses.
func statusSet(statuses ...int) StatusSet {
	var s StatusSet
	for _, st := range statuses {
		s.Add(st)
	}
	return s
}

// h2DeadAddr is a loopback address where nothing listens.
func h2DeadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
