package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/router"
)

// echoHeadUpstream answers every bodiless request with its raw head as the body, adding extra response headers.
func echoHeadUpstream(t testing.TB, extra string) string {
	t.Helper()
	return rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			head, err := readHeadFrom(br)
			if err != nil {
				return
			}
			resp := fmt.Sprintf("HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s", extra, len(head), head)
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	})
}

// headerLines parses a raw head (as echoed) into its request line and headers, keeping repeats and order.
func headerLines(t testing.TB, head string) (string, [][2]string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
	var hs [][2]string
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("bad header line %q in %q", l, head)
		}
		hs = append(hs, [2]string{name, value})
	}
	return lines[0], hs
}

// values returns every value of a header (case-insensitive).
func values(hs [][2]string, name string) []string {
	var out []string
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			out = append(out, h[1])
		}
	}
	return out
}

func mustTemplate(t testing.TB, parts ...Part) Template {
	t.Helper()
	tp, err := CompileTemplate(parts)
	if err != nil {
		t.Fatalf("CompileTemplate: %v", err)
	}
	return tp
}

func TestRouting(t *testing.T) {
	up := echoHeadUpstream(t, "")
	svc := newService(t, balancer.RoundRobin, []string{up})
	named := func(name string) *Route {
		return &Route{Name: name, Service: svc,
			Request: NewHeaderOps([]HeaderValue{{Name: "X-Route", Value: Literal(name)}}, nil, nil)}
	}
	strip := named("strip")
	strip.StripPrefix = "/strip"
	rewrite := named("rewrite")
	rewrite.Rewrite, rewrite.RewriteWith = regexp.MustCompile(`^/old/(.*)$`), "/new/$1"
	hostUp := named("host-upstream")
	hostUp.Host = HostUpstream
	hostTpl := named("host-template")
	hostTpl.Host = HostTemplate
	hostTpl.HostValue = mustTemplate(t, Part{Literal: "backend."}, Part{Var: "host"})
	ret := &Route{Name: "return", Return: &Return{Status: 418, Headers: [][2]string{{"X-Fixed", "1"}}, Body: []byte("teapot\n")}}
	cfg := cfgOf(t,
		router.Route[*Route]{Hosts: []string{"api.test"}, PathKind: router.PathPrefix, Path: "/", Target: named("api-host")},
		router.Route[*Route]{PathKind: router.PathExact, Path: "/m", Methods: []string{"POST"}, Target: named("post-only")},
		router.Route[*Route]{PathKind: router.PathExact, Path: "/m", Target: named("any-method")},
		router.Route[*Route]{PathKind: router.PathPrefix, Path: "/h",
			Headers: []router.HeaderMatch{{Name: "X-Tenant", Value: "blue"}}, Target: named("blue")},
		prefix("/h", named("not-blue")),
		prefix("/strip", strip),
		prefix("/old/", rewrite),
		prefix("/hu", hostUp),
		prefix("/ht", hostTpl),
		prefix("/teapot", ret),
	)
	p := startProxy(t, cfg)

	tests := []struct {
		name, method, host, uri, extra string
		status                         int
		route, line, upHost            string
	}{
		{"host group", "GET", "API.test:8080", "/anything?a=1", "", 200, "api-host", "GET /anything?a=1 HTTP/1.1", "API.test:8080"},
		{"method match", "POST", "x.test", "/m", "Content-Length: 0\r\n", 200, "post-only", "POST /m HTTP/1.1", "x.test"},
		{"method fallback", "GET", "x.test", "/m", "", 200, "any-method", "GET /m HTTP/1.1", "x.test"},
		{"header match", "GET", "x.test", "/h", "X-Tenant: blue\r\n", 200, "blue", "GET /h HTTP/1.1", "x.test"},
		{"header mismatch", "GET", "x.test", "/h", "X-Tenant: red\r\n", 200, "not-blue", "GET /h HTTP/1.1", "x.test"},
		{"strip prefix", "GET", "x.test", "/strip/a/b?x=1&y=2", "", 200, "strip", "GET /a/b?x=1&y=2 HTTP/1.1", "x.test"},
		{"strip prefix to root", "GET", "x.test", "/strip", "", 200, "strip", "GET / HTTP/1.1", "x.test"},
		{"regex rewrite", "GET", "x.test", "/old/p/q?k=v", "", 200, "rewrite", "GET /new/p/q?k=v HTTP/1.1", "x.test"},
		{"host upstream", "GET", "x.test", "/hu", "", 200, "host-upstream", "GET /hu HTTP/1.1", up},
		{"host template", "GET", "x.test:81", "/ht", "", 200, "host-template", "GET /ht HTTP/1.1", "backend.x.test"},
		{"no route", "GET", "x.test", "/nowhere", "", 404, "", "", ""},
	}
	c := dialRaw(t, p.addr)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.write(fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", tc.method, tc.uri, tc.host, tc.extra))
			resp, body := c.readResponse(tc.method)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				return
			}
			line, hs := headerLines(t, body)
			if line != tc.line {
				t.Errorf("request line %q, want %q", line, tc.line)
			}
			if got := values(hs, "X-Route"); len(got) != 1 || got[0] != tc.route {
				t.Errorf("route %q, want %q", got, tc.route)
			}
			if got := values(hs, "Host"); len(got) != 1 || got[0] != tc.upHost {
				t.Errorf("upstream Host %q, want %q", got, tc.upHost)
			}
		})
	}

	t.Run("return route", func(t *testing.T) {
		for _, m := range []string{"GET", "HEAD"} {
			c.write(m + " /teapot HTTP/1.1\r\nHost: x.test\r\n\r\n")
			resp, body := c.readResponse(m)
			want := "teapot\n"
			if m == "HEAD" {
				want = ""
			}
			if resp.StatusCode != 418 || resp.Header.Get("X-Fixed") != "1" || body != want || resp.ContentLength != 7 {
				t.Errorf("%s: %d %v %q, want 418 with X-Fixed, Content-Length 7 and body %q", m, resp.StatusCode, resp.Header, body, want)
			}
		}
	})
	t.Run("404 text and json", func(t *testing.T) {
		for _, tc := range []struct{ accept, ctype, has string }{
			{"", "text/plain; charset=utf-8", "404 Not Found"},
			{"application/json", "application/json", `"status":404`},
		} {
			c.write("GET /nowhere HTTP/1.1\r\nHost: x.test\r\nAccept: " + tc.accept + "\r\n\r\n")
			resp, body := c.readResponse("GET")
			if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != tc.ctype || !strings.Contains(body, tc.has) {
				t.Errorf("accept %q: %d %q %q", tc.accept, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if len(body) > 200 {
				t.Errorf("error body too long: %d bytes", len(body))
			}
		}
	})
}

func TestHeaderEdits(t *testing.T) {
	up := echoHeadUpstream(t, "X-Secret: s3cr3t\r\nX-Resp-Set: from-upstream\r\n")
	v := func(name string) Template { return mustTemplate(t, Part{Var: name}) }
	rt := routeTo(t, up)
	rt.Request = NewHeaderOps(
		[]HeaderValue{
			{"X-Replace", Literal("new")},
			{"X-Client-IP", v("client_ip")},
			{"X-Client-Port", v("client_port")},
			{"X-Host", v("host")},
			{"X-Scheme", v("scheme")},
			{"X-Rid", v("request_id")},
			{"X-Uri", v("request_uri")},
			{"X-Path", v("path")},
			{"X-Query", v("query")},
			{"X-Method", v("method")},
			{"X-Hdr", mustTemplate(t, Part{Var: "header", Header: "X-In"})},
			{"X-Combo", mustTemplate(t, Part{Literal: "pre-"}, Part{Var: "method"}, Part{Literal: "-post"})},
		},
		[]HeaderValue{{"X-In", Literal("added")}},
		[]string{"x-drop"},
	)
	rt.Response = NewHeaderOps(
		[]HeaderValue{{"X-Resp-Set", mustTemplate(t, Part{Literal: "rid="}, Part{Var: "request_id"})}},
		[]HeaderValue{{"X-Resp-Add", Literal("a")}},
		[]string{"X-Secret"},
	)
	p := startProxy(t, cfgOf(t, prefix("/", rt)))
	c := dialRaw(t, p.addr)
	port := fmt.Sprint(c.nc.LocalAddr().(*net.TCPAddr).Port)
	c.write("GET /p/a?q=1&b=2 HTTP/1.1\r\nHost: example.test:8080\r\nX-Request-Id: abc-123\r\nX-In: hello\r\n" +
		"X-Drop: bye\r\nX-Replace: old\r\n\r\n")
	resp, body := c.readResponse("GET")
	_, hs := headerLines(t, body)
	tests := []struct{ name, want string }{
		{"X-Replace", "new"}, {"X-Client-IP", "127.0.0.1"}, {"X-Client-Port", port}, {"X-Host", "example.test"},
		{"X-Scheme", "http"}, {"X-Rid", "abc-123"}, {"X-Uri", "/p/a?q=1&b=2"}, {"X-Path", "/p/a"},
		{"X-Query", "q=1&b=2"}, {"X-Method", "GET"}, {"X-Hdr", "hello"}, {"X-Combo", "pre-GET-post"},
		{"X-In", "hello,added"}, {"X-Drop", ""},
	}
	for _, tc := range tests {
		t.Run("request "+tc.name, func(t *testing.T) {
			if got := strings.Join(values(hs, tc.name), ","); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, want string }{
		{"X-Secret", ""}, {"X-Resp-Set", "rid=abc-123"}, {"X-Resp-Add", "a"},
	} {
		t.Run("response "+tc.name, func(t *testing.T) {
			if got := strings.Join(resp.Header.Values(tc.name), ","); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestForwardingHeaders(t *testing.T) {
	up := echoHeadUpstream(t, "Connection: X-Resp-Hop\r\nX-Resp-Hop: 1\r\nKeep-Alive: timeout=5\r\n"+
		"Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTE: trailers\r\nX-End: kept\r\n")
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, up))))
	tests := []struct {
		name, extra string
		check       func(t *testing.T, hs [][2]string)
	}{
		{"xff appended", "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n", func(t *testing.T, hs [][2]string) {
			if got := values(hs, "X-Forwarded-For"); len(got) != 1 || got[0] != "10.0.0.1, 10.0.0.2, 127.0.0.1" {
				t.Errorf("X-Forwarded-For %q", got)
			}
		}},
		{"forwarding set", "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\nX-Real-IP: 1.2.3.4\r\n", func(t *testing.T, hs [][2]string) {
			for name, want := range map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http",
				"X-Forwarded-Host": "front.test", "X-Real-IP": "127.0.0.1"} {
				if got := values(hs, name); len(got) != 1 || got[0] != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		}},
		{"request id generated", "", func(t *testing.T, hs [][2]string) {
			if got := values(hs, "X-Request-Id"); len(got) != 1 || !hex32.MatchString(got[0]) {
				t.Errorf("X-Request-Id %q, want 32 hex digits", got)
			}
		}},
		{"request id passed on", "X-Request-Id: client-id-7\r\n", func(t *testing.T, hs [][2]string) {
			if got := values(hs, "X-Request-Id"); len(got) != 1 || got[0] != "client-id-7" {
				t.Errorf("X-Request-Id %q", got)
			}
		}},
		{"hop-by-hop removed", "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n" +
			"Proxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: websocket\r\nProxy-Authorization: x\r\nX-End: kept\r\n",
			func(t *testing.T, hs [][2]string) {
				for _, name := range []string{"Connection", "X-Hop", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade", "Proxy-Authorization"} {
					if got := values(hs, name); len(got) != 0 {
						t.Errorf("%s leaked upstream: %q", name, got)
					}
				}
				if got := values(hs, "X-End"); len(got) != 1 {
					t.Errorf("end-to-end header lost: %q", got)
				}
			}},
	}
	c := dialRaw(t, p.addr)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.write("GET / HTTP/1.1\r\nHost: front.test\r\n" + tc.extra + "\r\n")
			resp, body := c.readResponse("GET")
			_, hs := headerLines(t, body)
			tc.check(t, hs)
			// Response direction: the upstream's hop-by-hop headers never reach the client.
			for _, name := range []string{"X-Resp-Hop", "Keep-Alive", "Proxy-Connection", "Upgrade", "TE", "Connection"} {
				if got := resp.Header.Values(name); len(got) != 0 {
					t.Errorf("response %s leaked: %q", name, got)
				}
			}
			if resp.Header.Get("X-End") != "kept" {
				t.Errorf("response end-to-end header lost")
			}
		})
	}
}
