package proxy

import (
	"fmt"
	"testing"
)

// TestReturnTemplates checks fixed responses with static and per-request
// values: nginx's `return 301 https://$host$request_uri` and `return 200 "$remote_addr"`.
func TestReturnTemplates(t *testing.T) {
	body := mustTemplate(t, Part{Literal: "ip="}, Part{Var: "client_ip"}, Part{Literal: " uri="}, Part{Var: "request_uri"})
	cfg := cfgOf(t,
		prefix("/static", &Route{Name: "static", Return: &Return{Status: 200, Body: []byte("fixed")}}),
		prefix("/redirect", &Route{Name: "redirect", Return: &Return{Status: 301,
			Headers:   [][2]string{{"X-Fixed", "1"}},
			Templates: []HeaderValue{{Name: "Location", Value: mustTemplate(t, Part{Literal: "https://"}, Part{Var: "host"}, Part{Var: "request_uri"})}}}}),
		prefix("/echo", &Route{Name: "echo", Return: &Return{Status: 200, BodyTemplate: &body}}),
	)
	p := startProxy(t, cfg)
	tests := []struct {
		name, method, uri     string
		status                int
		location, fixed, body string
	}{
		{"static", "GET", "/static", 200, "", "", "fixed"},
		{"templated location", "GET", "/redirect/a?b=c", 301, "https://x.test/redirect/a?b=c", "1", ""},
		{"templated body", "GET", "/echo/p?q=1", 200, "", "", "ip=127.0.0.1 uri=/echo/p?q=1"},
		{"templated body, HEAD", "HEAD", "/echo/p", 200, "", "", ""},
		{"keep-alive after templates", "GET", "/echo/again", 200, "", "", "ip=127.0.0.1 uri=/echo/again"},
	}
	c := dialRaw(t, p.addr)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.write(fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x.test:8080\r\n\r\n", tc.method, tc.uri))
			resp, got := c.readResponse(tc.method)
			if resp.StatusCode != tc.status || string(got) != tc.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, got, tc.status, tc.body)
			}
			if l := resp.Header.Get("Location"); l != tc.location {
				t.Errorf("Location %q, want %q", l, tc.location)
			}
			if f := resp.Header.Get("X-Fixed"); f != tc.fixed {
				t.Errorf("X-Fixed %q, want %q", f, tc.fixed)
			}
			if tc.method == "HEAD" && resp.ContentLength != int64(len("ip=127.0.0.1 uri=/echo/p")) {
				t.Errorf("HEAD Content-Length %d, want the rendered body's length", resp.ContentLength)
			}
		})
	}
}
