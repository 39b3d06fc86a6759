package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/router"
)

// seenRequest is what the corpus upstream received: one complete request after net/http's parsing, or an
// incomplete one (its head arrived, its body was cut) marked Partial.
type seenRequest struct {
	Method, URI, Host string
	Header            http.Header
	Body              string
	Partial           bool
}

func (s seenRequest) String() string {
	p := ""
	if s.Partial {
		p = " (partial)"
	}
	return fmt.Sprintf("%s %s host=%s body=%q%s", s.Method, s.URI, s.Host, s.Body, p)
}

// corpusUpstream records every request it reads, before answering it, so that once a client has its answer the
// record is complete. Each answer is 200 "ok".
func corpusUpstream(t *testing.T) (string, <-chan seenRequest) {
	t.Helper()
	seen := make(chan seenRequest, 64)
	addr := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, err := io.ReadAll(req.Body)
			seen <- seenRequest{req.Method, req.RequestURI, req.Host, req.Header, string(body), err != nil}
			if err != nil {
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	return addr, seen
}

// want is one request the upstream must see: method, URI and the headers named (a "" value = must be absent).
type want struct {
	method, uri, body string
	host              string // "" = not checked
	headers           map[string]string
}

// corpusCase is one raw request (or pipelined series) and what must come of it.
type corpusCase struct {
	name     string
	raw      string
	statuses []int  // the answers, in order; the last one decides the connection
	closes   bool   // the proxy must close the connection after the last answer
	upstream []want // exactly these, in order; nil = the upstream saw nothing
	// partial: a chunked body is streamed, so its head goes upstream before the bad chunk is read; the upstream
	// must then see exactly that one request, cut (its body never completes), and nothing else.
	partial bool
}

const okHost = "Host: a.example\r\n"

func getReq(path string) string { return "GET " + path + " HTTP/1.1\r\n" + okHost + "\r\n" }

// smugglingCorpus is the raw-socket corpus. Every malformed framing is a 400/501 that closes the connection, so
// nothing after it on the wire can be read as another request.
func smugglingCorpus() []corpusCase {
	bad := []int{400}
	post := "POST /p HTTP/1.1\r\n" + okHost
	one := func(w want) []want { return []want{w} }
	return []corpusCase{
		// Content-Length and Transfer-Encoding together, in either order.
		{"CL then TE", post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", bad, true, nil, false},
		{"TE then CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", bad, true, nil, false},
		{"CL.TE classic with smuggled prefix", post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", bad, true, nil, false},
		{"TE.CL classic", post + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", bad, true, nil, false},
		// Content-Length values.
		{"duplicate CL conflicting", post + "Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", bad, true, nil, false},
		{"CL list conflicting", post + "Content-Length: 4, 5\r\n\r\nabcde", bad, true, nil, false},
		{"duplicate CL identical is one length", post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", []int{200}, false,
			one(want{method: "POST", uri: "/p", body: "abc", headers: map[string]string{"Content-Length": "3"}}), false},
		{"CL with plus sign", post + "Content-Length: +3\r\n\r\nabc", bad, true, nil, false},
		{"CL negative", post + "Content-Length: -1\r\n\r\n", bad, true, nil, false},
		{"CL inner space", post + "Content-Length: 1 2\r\n\r\nabcdefghijkl", bad, true, nil, false},
		{"CL hex", post + "Content-Length: 0x3\r\n\r\nabc", bad, true, nil, false},
		{"CL overflow", post + "Content-Length: 99999999999999999999\r\n\r\nabc", bad, true, nil, false},
		{"CL empty", post + "Content-Length: \r\n\r\n", bad, true, nil, false},
		{"CL with vertical tab", post + "Content-Length: 3\v\r\n\r\nabc", bad, true, nil, false},
		// Obfuscated Transfer-Encoding.
		{"TE chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", bad, true, nil, false},
		{"TE identity, chunked", post + "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n", []int{501}, true, nil, false},
		{"TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", []int{501}, true, nil, false},
		{"TE space before colon", post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", bad, true, nil, false},
		{"TE tab before colon", post + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n", bad, true, nil, false},
		{"TE vertical tab before value", post + "Transfer-Encoding: \vchunked\r\n\r\n0\r\n\r\n", bad, true, nil, false},
		{"TE repeated", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", bad, true, nil, false},
		{"TE chunked twice in list", post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", bad, true, nil, false},
		{"TE in HTTP/1.0", "POST /p HTTP/1.0\r\n" + okHost + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", bad, true, nil, false},
		{"TE with tab OWS is chunked", post + "Transfer-Encoding:\tCHUNKED \r\n\r\n3\r\nabc\r\n0\r\n\r\n", []int{200}, false,
			one(want{method: "POST", uri: "/p", body: "abc", headers: map[string]string{"Content-Length": ""}}), false},
		// Chunk sizes and chunk lines.
		{"chunk size overflow", post + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nabc\r\n0\r\n\r\n", bad, true, nil, true},
		{"chunk size negative", post + "Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n", bad, true, nil, true},
		{"chunk size with 0x", post + "Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", bad, true, nil, true},
		{"chunk data without CRLF", post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", bad, true, nil, true},
		{"chunk extension with bare CR", post + "Transfer-Encoding: chunked\r\n\r\n3;a=\rb\r\nabc\r\n0\r\n\r\n", bad, true, nil, true},
		{"chunk size line with bare LF", post + "Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", bad, true, nil, true},
		// Line endings, folding, control bytes.
		{"obs-fold", "GET / HTTP/1.1\r\n" + okHost + "X-A: a\r\n b\r\n\r\n", bad, true, nil, false},
		{"bare LF everywhere", "GET / HTTP/1.1\nHost: a.example\n\n", bad, true, nil, false},
		{"bare LF ends a header", "GET / HTTP/1.1\r\n" + okHost + "X-A: a\n\r\n", bad, true, nil, false},
		{"bare CR in value", "GET / HTTP/1.1\r\n" + okHost + "X-A: a\rb\r\n\r\n", bad, true, nil, false},
		{"bare CR in request line", "GET /\r HTTP/1.1\r\n" + okHost + "\r\n", bad, true, nil, false},
		{"NUL in value", "GET / HTTP/1.1\r\n" + okHost + "X-A: a\x00b\r\n\r\n", bad, true, nil, false},
		{"NUL in target", "GET /a\x00b HTTP/1.1\r\n" + okHost + "\r\n", bad, true, nil, false},
		{"control byte in value", "GET / HTTP/1.1\r\n" + okHost + "X-A: a\x01b\r\n\r\n", bad, true, nil, false},
		{"DEL in value", "GET / HTTP/1.1\r\n" + okHost + "X-A: a\x7fb\r\n\r\n", bad, true, nil, false},
		{"tab in request line", "GET\t/ HTTP/1.1\r\n" + okHost + "\r\n", bad, true, nil, false},
		{"double space in request line", "GET  / HTTP/1.1\r\n" + okHost + "\r\n", bad, true, nil, false},
		{"lower-case version", "GET / http/1.1\r\n" + okHost + "\r\n", bad, true, nil, false},
		// Header names.
		{"space before colon", "GET / HTTP/1.1\r\n" + okHost + "X-A : b\r\n\r\n", bad, true, nil, false},
		{"non-token name", "GET / HTTP/1.1\r\n" + okHost + "X(A): b\r\n\r\n", bad, true, nil, false},
		{"empty name", "GET / HTTP/1.1\r\n" + okHost + ": b\r\n\r\n", bad, true, nil, false},
		{"line without colon", "GET / HTTP/1.1\r\n" + okHost + "Foo\r\n\r\n", bad, true, nil, false},
		// Host.
		{"multiple Host", "GET / HTTP/1.1\r\n" + okHost + "Host: b.example\r\n\r\n", bad, true, nil, false},
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", bad, true, nil, false},
		{"Host with userinfo", "GET / HTTP/1.1\r\nHost: a@b.example\r\n\r\n", bad, true, nil, false},
		{"absolute-form wins over Host", "GET http://b.example/x HTTP/1.1\r\nHost: evil.example\r\n\r\n", []int{200}, false,
			one(want{method: "GET", uri: "/x", host: "b.example"}), false},
		{"absolute-form with userinfo", "GET http://evil.example@b.example/x HTTP/1.1\r\n" + okHost + "\r\n", bad, true, nil, false},
		// Sizes (the proxy under test has a 4 KiB head buffer).
		{"oversized head", "GET / HTTP/1.1\r\n" + okHost + "X-A: " + strings.Repeat("a", 5000) + "\r\n\r\n", []int{431}, true, nil, false},
		{"too many headers", "GET / HTTP/1.1\r\n" + okHost + strings.Repeat("X-A: a\r\n", 101) + "\r\n", []int{431}, true, nil, false},
		{"long URI", "GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\n" + okHost + "\r\n", []int{414}, true, nil, false},
		{"body over the route limit", "POST /small/p HTTP/1.1\r\n" + okHost + "Content-Length: 11\r\n\r\nhello world", []int{413}, true, nil, false},
		// Paths: normalised before routing and forwarding, never with a dot-dot segment upstream.
		{"dot-dot above root", getReq("/../etc/passwd"), bad, true, nil, false},
		{"dot-dot resolved", getReq("/a/b/../c"), []int{200}, false, one(want{method: "GET", uri: "/a/c"}), false},
		{"encoded dot-dot above root", getReq("/%2e%2e/etc/passwd"), bad, true, nil, false},
		{"encoded dot-dot resolved", getReq("/a/%2E%2e/c"), []int{200}, false, one(want{method: "GET", uri: "/c"}), false},
		{"dot-dot into the limited route", getReq("/x/../small/y"), []int{200}, false, one(want{method: "GET", uri: "/small/y"}), false},
		{"dot-dot-semicolon", getReq("/a/..;/admin"), bad, true, nil, false},
		{"encoded dot-dot-semicolon", getReq("/a/%2e%2e;x/admin"), bad, true, nil, false},
		{"backslash dot-dot", getReq("/a/..\\admin"), bad, true, nil, false},
		{"encoded backslash dot-dot", getReq("/a/..%5cadmin"), bad, true, nil, false},
		{"backslash without dots passes", getReq("/a\\b"), []int{200}, false, one(want{method: "GET", uri: "/a\\b"}), false},
		{"encoded slash", getReq("/a%2f..%2fadmin"), bad, true, nil, false},
		{"encoded NUL", getReq("/a%00.txt"), bad, true, nil, false},
		// Pipelining: nothing after a rejected request is read, and a good request before it is forwarded once.
		{"pipelined after conflicting CL", post + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n" + getReq("/smuggled"), bad, true, nil, false},
		{"good then CL.TE with smuggled GET", getReq("/first") + post + "Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + getReq("/smuggled"),
			[]int{200, 400}, true, one(want{method: "GET", uri: "/first"}), false},
		{"body bytes are not a request", post + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(getReq("/smuggled"))) + getReq("/smuggled") + getReq("/second"), []int{200, 200}, false,
			[]want{{method: "POST", uri: "/p", body: getReq("/smuggled")}, {method: "GET", uri: "/second"}}, false},
		// Expect.
		{"unknown expectation", post + "Expect: 101-switch\r\nContent-Length: 3\r\n\r\nabc", []int{417}, true, nil, false},
		{"expect 100-continue with the body sent", post + "Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc", []int{200}, false,
			one(want{method: "POST", uri: "/p", body: "abc"}), false},
	}
}

// corpusProxy is a proxy with a catch-all route and a /small/ route limited to 10 body bytes, both to one
// recording upstream, with a 4 KiB head buffer.
func corpusProxy(t *testing.T, engine Engine) (string, <-chan seenRequest) {
	t.Helper()
	up, seen := corpusUpstream(t)
	small := routeTo(t, up)
	small.MaxBodyBytes = 10
	cfg := cfgOf(t, prefix("/", routeTo(t, up)), router.Route[*Route]{PathKind: router.PathPrefix, Path: "/small/", Target: small})
	cfg.Engine = engine
	cfg.Client.MaxHeaderBytes = 4096
	return startProxy(t, cfg).addr, seen
}

func TestSmugglingCorpus(t *testing.T) {
	corpus := smugglingCorpus()
	if len(corpus) < 40 {
		t.Fatalf("corpus has %d cases, want at least 40", len(corpus))
	}
	for _, e := range []struct {
		name   string
		engine Engine
	}{{"loop", EngineLoop}, {"goroutines", EngineGoroutines}} {
		t.Run(e.name, func(t *testing.T) {
			addr, seen := corpusProxy(t, e.engine)
			for _, tc := range corpus {
				t.Run(tc.name, func(t *testing.T) { runCorpusCase(t, addr, seen, tc) })
			}
		})
	}
}

func runCorpusCase(t *testing.T, addr string, seen <-chan seenRequest, tc corpusCase) {
	drainSeen(seen) // a failed case before this one may have left records
	c := dialRaw(t, addr)
	// The proxy may answer and close before it has read everything (431, 414): a failed write is not a failure.
	_, _ = io.WriteString(c.nc, tc.raw)
	for i, status := range tc.statuses {
		method := "GET"
		if strings.HasPrefix(tc.raw, "HEAD") {
			method = "HEAD"
		}
		resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != status {
			t.Fatalf("answer %d: status %d, want %d", i+1, resp.StatusCode, status)
		}
		if i == len(tc.statuses)-1 && tc.closes && !resp.Close {
			t.Errorf("final %d does not say Connection: close", status)
		}
	}
	if tc.closes {
		c.expectClosed()
	} else {
		// The connection stays usable: a follow-up request is answered.
		c.write(getReq("/after"))
		if resp, _ := c.readResponse("GET"); resp.StatusCode != 200 {
			t.Fatalf("follow-up: status %d", resp.StatusCode)
		}
		tc.upstream = append(tc.upstream, want{method: "GET", uri: "/after"})
	}
	if tc.partial {
		select {
		case s := <-seen:
			if !s.Partial {
				t.Fatalf("upstream saw a complete request %v, want one cut short", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("upstream saw no cut request")
		}
	}
	// A canary on a new connection: once it is answered, anything forwarded before it has been recorded.
	cc := dialRaw(t, addr)
	cc.write(getReq("/canary"))
	if resp, _ := cc.readResponse("GET"); resp.StatusCode != 200 {
		t.Fatalf("canary: status %d", resp.StatusCode)
	}
	got := drainSeen(seen)
	if len(got) == 0 || got[len(got)-1].URI != "/canary" {
		t.Fatalf("upstream record does not end with the canary: %v", got)
	}
	got = got[:len(got)-1]
	if err := matchSeen(got, tc.upstream); err != nil {
		t.Fatal(err)
	}
}

// drainSeen collects what the upstream has recorded so far.
func drainSeen(seen <-chan seenRequest) []seenRequest {
	var got []seenRequest
	for {
		select {
		case s := <-seen:
			got = append(got, s)
		default:
			return got
		}
	}
}

func matchSeen(got []seenRequest, wants []want) error {
	if len(got) != len(wants) {
		return fmt.Errorf("upstream saw %d requests %v, want %d", len(got), got, len(wants))
	}
	var errs []error
	for i, w := range wants {
		g := got[i]
		if g.Partial || g.Method != w.method || g.URI != w.uri || g.Body != w.body {
			errs = append(errs, fmt.Errorf("request %d: upstream saw %v, want %s %s body=%q", i+1, g, w.method, w.uri, w.body))
			continue
		}
		if w.host != "" && g.Host != w.host {
			errs = append(errs, fmt.Errorf("request %d: Host %q, want %q", i+1, g.Host, w.host))
		}
		for name, v := range w.headers {
			if got := strings.Join(g.Header.Values(name), ","); got != v {
				errs = append(errs, fmt.Errorf("request %d: header %s = %q, want %q", i+1, name, got, v))
			}
		}
	}
	return errors.Join(errs...)
}
