package http1

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

func TestReadRequestValid(t *testing.T) {
	tests := []struct {
		name                string
		raw                 string
		method, path, query string
		host                string
		minor               int
		framing             Framing
		cl                  int64
		close, expect       bool
		upgrade             string
		nHeaders            int
	}{
		{name: "simple get", raw: "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
			method: "GET", path: "/a/b", query: "x=1", host: "example.com", minor: 1, cl: -1, nHeaders: 1},
		{name: "http/1.0 closes", raw: "GET / HTTP/1.0\r\n\r\n",
			method: "GET", path: "/", cl: -1, close: true},
		{name: "http/1.0 keep-alive", raw: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			method: "GET", path: "/", cl: -1, nHeaders: 1},
		{name: "connection close", raw: "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n",
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, close: true, nHeaders: 2},
		{name: "content-length", raw: "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n",
			method: "POST", path: "/p", host: "h", minor: 1, framing: FramingLength, cl: 42, nHeaders: 2},
		{name: "content-length zero", raw: "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
			method: "POST", path: "/p", host: "h", minor: 1, framing: FramingLength, cl: 0, nHeaders: 2},
		{name: "identical content-lengths", raw: "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
			method: "POST", path: "/p", host: "h", minor: 1, framing: FramingLength, cl: 5, nHeaders: 3},
		{name: "chunked any case", raw: "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:  ChUnKeD \r\n\r\n",
			method: "POST", path: "/p", host: "h", minor: 1, framing: FramingChunked, cl: -1, nHeaders: 2},
		{name: "expect 100", raw: "PUT /p HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
			method: "PUT", path: "/p", host: "h", minor: 1, framing: FramingLength, cl: 1, expect: true, nHeaders: 3},
		{name: "upgrade", raw: "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
			method: "GET", path: "/ws", host: "h", minor: 1, cl: -1, upgrade: "websocket", nHeaders: 3},
		{name: "upgrade without connection token", raw: "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",
			method: "GET", path: "/ws", host: "h", minor: 1, cl: -1, nHeaders: 2},
		{name: "absolute form", raw: "GET http://Example.com:8080/x?y HTTP/1.1\r\nHost: other\r\n\r\n",
			method: "GET", path: "/x", query: "y", host: "Example.com:8080", minor: 1, cl: -1, nHeaders: 1},
		{name: "absolute form no path", raw: "GET https://e.com?q HTTP/1.1\r\nHost: e.com\r\n\r\n",
			method: "GET", path: "/", query: "q", host: "e.com", minor: 1, cl: -1, nHeaders: 1},
		{name: "options asterisk", raw: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
			method: "OPTIONS", path: "*", host: "h", minor: 1, cl: -1, nHeaders: 1},
		{name: "leading empty lines", raw: "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, nHeaders: 1},
		{name: "empty host on 1.1", raw: "GET / HTTP/1.1\r\nHost:\r\n\r\n",
			method: "GET", path: "/", minor: 1, cl: -1, nHeaders: 1},
		{name: "obs-text and tab in value", raw: "GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\xff\r\n\r\n",
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, nHeaders: 2},
		{name: "empty query", raw: "GET /? HTTP/1.1\r\nHost: h\r\n\r\n",
			method: "GET", path: "/", query: "", host: "h", minor: 1, cl: -1, nHeaders: 1},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: "", true: "/bytewise"}[oneByte], func(t *testing.T) {
				b := newStringReader(tt.raw, 4096, oneByte)
				var h Request
				if err := ReadRequest(b, &h, Limits{}); err != nil {
					t.Fatalf("ReadRequest: %v", err)
				}
				if string(h.Method) != tt.method || string(h.Path) != tt.path || string(h.Query) != tt.query ||
					string(h.Host) != tt.host || h.Minor != tt.minor {
					t.Fatalf("got method %q path %q query %q host %q minor %d", h.Method, h.Path, h.Query, h.Host, h.Minor)
				}
				if h.Framing != tt.framing || h.ContentLength != tt.cl || h.Close != tt.close ||
					h.Expect100 != tt.expect || string(h.Upgrade) != tt.upgrade {
					t.Fatalf("got framing %v cl %d close %v expect %v upgrade %q",
						h.Framing, h.ContentLength, h.Close, h.Expect100, h.Upgrade)
				}
				if len(h.Headers) != tt.nHeaders {
					t.Fatalf("got %d headers, want %d", len(h.Headers), tt.nHeaders)
				}
				if h.HeadLen != len(tt.raw) {
					t.Fatalf("HeadLen %d, want %d", h.HeadLen, len(tt.raw))
				}
			})
		}
	}
}

func TestReadRequestInvalid(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		status int
	}{
		{"bare LF line ending", "GET / HTTP/1.1\nHost: h\n\n", 400},
		{"bare LF in header", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400},
		{"bare CR in header value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400},
		{"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", 400},
		{"control byte in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", 400},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\n", 400},
		{"empty header name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost: h\r\nfoo\r\n\r\n", 400},
		{"bad name byte", "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", 400},
		{"invalid method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"double space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
		{"missing version", "GET /\r\nHost: h\r\n\r\n", 400},
		{"lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
		{"http/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
		{"http/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505},
		{"http/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
		{"non-ascii target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"DEL in target", "GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"tab in target", "GET /\t HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"fragment in target", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"relative target", "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"asterisk without options", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"connect", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 405},
		{"absolute with userinfo", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"absolute empty authority", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"ftp scheme", "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"missing host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"duplicate host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
		{"host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
		{"host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"conflicting content-length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
		{"conflicting content-length list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n", 400},
		{"content-length empty element", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,,5\r\n\r\n", 400},
		{"content-length empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
		{"content-length plus", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400},
		{"content-length minus", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
		{"content-length hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n", 400},
		{"content-length inner space", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400},
		{"content-length over 2^62", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4611686018427387905\r\n\r\n", 400},
		{"content-length overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"cl then te", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"te then cl", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
		{"te gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"te gzip chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"te identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 501},
		{"te xchunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501},
		{"te chunked twice in list", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
		{"te chunked not last", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
		{"te duplicate headers", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"te empty", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400},
		{"te trailing comma", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n\r\n", 400},
		{"te quoted", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400},
		{"te vertical tab", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0bchunked\r\n\r\n", 400},
		{"te on http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"expect other", "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417},
		{"bad connection token", "GET / HTTP/1.1\r\nHost: h\r\nConnection: a b\r\n\r\n", 400},
		{"too many empty lines", strings.Repeat("\r\n", 17) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"request line too long", "GET /" + strings.Repeat("a", 300) + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
		{"head too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 300) + "\r\n\r\n", 431},
		{"too many headers", "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: "", true: "/bytewise"}[oneByte], func(t *testing.T) {
				b := newStringReader(tt.raw, 256, oneByte)
				var h Request
				err := ReadRequest(b, &h, Limits{MaxHeaders: 3})
				if got := statusOf(err); got != tt.status {
					t.Fatalf("err %v: status %d, want %d", err, got, tt.status)
				}
			})
		}
	}
}

func TestReadRequestEOF(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"nothing", "", io.EOF},
		{"only empty lines", "\r\n\r\n", io.EOF},
		{"partial request line", "GET / HT", io.ErrUnexpectedEOF},
		{"partial headers", "GET / HTTP/1.1\r\nHost: h\r\n", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Request
			err := ReadRequest(newStringReader(tt.raw, 256, true), &h, Limits{})
			if err != tt.want {
				t.Fatalf("err %v, want %v (returned as is)", err, tt.want)
			}
		})
	}
}

func TestReadRequestHeaderKinds(t *testing.T) {
	raw := "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret, upgrade\r\nx-secret: 1\r\n" +
		"Keep-Alive: 5\r\nTE: trailers\r\nProxy-Authorization: b\r\nProxy-Connection: c\r\nUpgrade: h2c\r\n" +
		"Proxy-Authenticate: d\r\nContent-Length: 0\r\nAccept: */*\r\n\r\n"
	var h Request
	if err := ReadRequest(newStringReader(raw, 1024, false), &h, Limits{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]HeaderKind{
		"Host": HeaderNormal, "Connection": HeaderHop, "x-secret": HeaderHop, "Keep-Alive": HeaderHop, "TE": HeaderHop,
		"Proxy-Authorization": HeaderHop, "Proxy-Connection": HeaderHop, "Upgrade": HeaderHop,
		"Proxy-Authenticate": HeaderHop, "Content-Length": HeaderFraming, "Accept": HeaderNormal,
	}
	if len(h.Headers) != len(want) {
		t.Fatalf("%d headers, want %d", len(h.Headers), len(want))
	}
	for _, hd := range h.Headers {
		if k, ok := want[string(hd.Name)]; !ok || k != hd.Kind {
			t.Errorf("header %q: kind %d, want %d", hd.Name, hd.Kind, k)
		}
	}
	if v, ok := h.Header("X-SECRET"); !ok || string(v) != "1" {
		t.Errorf("Header lookup: %q %v", v, ok)
	}
	if _, ok := h.Header("missing"); ok {
		t.Error("lookup of a missing header succeeded")
	}
	if string(h.Upgrade) != "h2c" {
		t.Errorf("Upgrade %q", h.Upgrade)
	}
}

// TestReadRequestPipelinedLoopback sends pipelined requests with bodies over a real loopback connection and reads
// them back with ReadRequest and CopyBody, checking that each head and body lands exactly.
func TestReadRequestPipelinedLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	payload := "GET /one HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /three HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\n" +
		"GET /four HTTP/1.0\r\n\r\n"
	sent := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		_, err = io.WriteString(c, payload)
		sent <- err
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	want := []struct{ path, body string }{{"/one", ""}, {"/two", "hello"}, {"/three", "abcde"}, {"/four", ""}}
	b := NewReader(conn, 128)
	var h Request
	wbuf := make([]byte, 64)
	for i, w := range want {
		if err := ReadRequest(b, &h, Limits{}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if string(h.Path) != w.path {
			t.Fatalf("request %d: path %q, want %q", i, h.Path, w.path)
		}
		b.Discard(h.HeadLen)
		var body strings.Builder
		if _, err := CopyBody(&body, b, h.Framing, h.ContentLength, FramingUntilClose, wbuf); err != nil {
			t.Fatalf("request %d body: %v", i, err)
		}
		if body.String() != w.body {
			t.Fatalf("request %d body %q, want %q", i, body.String(), w.body)
		}
	}
	if err := ReadRequest(b, &h, Limits{}); !errors.Is(err, io.EOF) {
		t.Fatalf("after last request: %v, want EOF", err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}
