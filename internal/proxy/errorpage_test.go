package proxy

import (
	"fmt"
	"net"
	"testing"
)

// TestErrorPages checks configured error pages on both engines: the server's pages for a request no route matches
// and for a route without its own, a route's own pages (which turn the server's off), =CODE, a redirect page, HEAD,
// and the built-in body where no page is configured.
func TestErrorPages(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there: connect refused, 502
	server := ErrorPages{404: {ContentType: "text/html", Body: []byte("<p>nowhere</p>")},
		502: {ContentType: "text/plain", Body: []byte("server says bad gateway")}}
	own := ErrorPages{502: {Status: 200, ContentType: "application/json", Body: []byte(`{"down":true}`)},
		503: {Status: 307, Location: "https://status.example/"}}
	for _, engine := range []Engine{EngineLoop, EngineGoroutines} {
		t.Run(fmt.Sprint(engine), func(t *testing.T) {
			plain := routeTo(t, dead)
			withOwn := routeTo(t, dead)
			withOwn.ErrorPages = own
			none := routeTo(t, dead)
			none.ErrorPages = ErrorPages{}
			cfg := cfgOf(t, prefix("/plain/", plain), prefix("/own/", withOwn), prefix("/none/", none))
			cfg.ErrorPages, cfg.Engine = server, engine
			p := startProxy(t, cfg)
			tests := []struct {
				name, method, path  string
				status              int
				ctype, body, locate string
			}{
				{"no route", "GET", "/missing", 404, "text/html", "<p>nowhere</p>", ""},
				{"no route, HEAD", "HEAD", "/missing", 404, "text/html", "", ""},
				{"server page", "GET", "/plain/x", 502, "text/plain", "server says bad gateway", ""},
				{"route page with status", "GET", "/own/x", 200, "application/json", `{"down":true}`, ""},
				{"route pages replace the server's", "GET", "/none/x", 502, "text/plain; charset=utf-8", "", ""},
			}
			c := dialRaw(t, p.addr)
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					c.write(tc.method + " " + tc.path + " HTTP/1.1\r\nHost: x.test\r\n\r\n")
					resp, body := c.readResponse(tc.method)
					if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.ctype {
						t.Fatalf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.ctype)
					}
					if tc.body != "" && body != tc.body {
						t.Errorf("body %q, want %q", body, tc.body)
					}
					if tc.body == "" && tc.method == "GET" && body == "" {
						t.Errorf("built-in answer has no body")
					}
					if resp.Header.Get("X-Request-Id") == "" {
						t.Errorf("no X-Request-Id")
					}
				})
			}
		})
	}
}

// TestErrorPageRedirect checks a redirect page in place of a 503 from a service whose only instance is down.
func TestErrorPageRedirect(t *testing.T) {
	rt := routeTo(t, "127.0.0.1:1")
	rt.Service.Pool.Instances()[0].SetHealthy(false)
	rt.ErrorPages = ErrorPages{503: {Status: 307, Location: "https://status.example/"}}
	p := startProxy(t, cfgOf(t, prefix("/", rt)))
	c := dialRaw(t, p.addr)
	c.write("GET /x HTTP/1.1\r\nHost: x.test\r\n\r\n")
	resp, body := c.readResponse("GET")
	if resp.StatusCode != 307 || resp.Header.Get("Location") != "https://status.example/" || body != "" {
		t.Errorf("got %d Location %q body %q", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if resp.Header.Get("Retry-After") != "" {
		t.Errorf("a redirect page carries Retry-After")
	}
}
