package proxy

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// digestUpstream answers with the length and sha256 of the request body and its trailers.
func digestUpstream(t testing.TB) string {
	t.Helper()
	ts := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("X-Len", fmt.Sprint(n))
		w.Header().Set("X-Sum", hex.EncodeToString(h.Sum(nil)))
		w.Header().Set("X-TE", strings.Join(r.TransferEncoding, ","))
		w.Header().Set("X-Trailer", r.Trailer.Get("X-Trail"))
		w.Header().Set("X-Path", r.URL.Path)
	})
	return hostOf(ts)
}

func sum(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func TestRequestBodies(t *testing.T) {
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, digestUpstream(t)))))
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB: larger than every buffer on the way
	tests := []struct {
		name, head, body, data, te, trailer string
	}{
		{"content-length small", "Content-Length: 5\r\n", "hello", "hello", "", ""},
		{"content-length zero", "Content-Length: 0\r\n", "", "", "", ""},
		{"content-length large", fmt.Sprintf("Content-Length: %d\r\n", len(big)), big, big, "", ""},
		{"chunked", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", "hello world", "chunked", ""},
		{"chunked large", "Transfer-Encoding: chunked\r\n", fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big), big, "chunked", ""},
		{"chunked with trailer", "Transfer-Encoding: chunked\r\nTrailer: X-Trail\r\n", "3\r\nabc\r\n0\r\nX-Trail: t1\r\n\r\n", "abc", "chunked", "t1"},
	}
	c := dialRaw(t, p.addr)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.write("POST /up HTTP/1.1\r\nHost: x\r\n" + tc.head + "\r\n" + tc.body)
			resp, body := c.readResponse("POST")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			for name, want := range map[string]string{"X-Len": fmt.Sprint(len(tc.data)), "X-Sum": sum(tc.data),
				"X-TE": tc.te, "X-Trailer": tc.trailer, "X-Path": "/up"} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

// fixedUpstream answers every request with the raw response resp (after reading its head), then closes the
// connection when closeAfter is set.
func fixedUpstream(t testing.TB, resp string, closeAfter bool) string {
	t.Helper()
	return rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := readHeadFrom(br); err != nil {
				return
			}
			if _, err := io.WriteString(c, resp); err != nil || closeAfter {
				return
			}
		}
	})
}

func TestResponseBodies(t *testing.T) {
	big := strings.Repeat("x", 300<<10)
	goUp := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		case "/big":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
		case "/chunked":
			io.WriteString(w, "hel")
			w.(http.Flusher).Flush()
			io.WriteString(w, "lo")
		case "/trailer":
			w.Header().Set("Trailer", "X-Checksum")
			io.WriteString(w, "body")
			w.(http.Flusher).Flush()
			w.Header().Set("X-Checksum", "c0ffee")
		}
	})
	rawTrailer := fixedUpstream(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"+
		"5\r\nhello\r\n1;x=y\r\n!\r\n0\r\nX-Sum: abc\r\nX-Other: 2\r\n\r\n", false)
	untilClose := fixedUpstream(t, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstreamed until close", true)
	noBody := fixedUpstream(t, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nETag: \"e\"\r\n\r\n", false)
	notModified := fixedUpstream(t, "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"e\"\r\n\r\n", false)
	p := startProxy(t, cfgOf(t,
		prefix("/raw-trailer", routeTo(t, rawTrailer)),
		prefix("/until-close", routeTo(t, untilClose)),
		prefix("/head", routeTo(t, noBody)),
		prefix("/304", routeTo(t, notModified)),
		prefix("/", routeTo(t, hostOf(goUp))),
	))

	tests := []struct {
		name, method, path, proto string
		body                      string
		chunked                   bool
		length                    int64
		trailers                  map[string]string
		closes                    bool
	}{
		{"length", "GET", "/length", "1.1", "hello", false, 5, nil, false},
		{"big", "GET", "/big", "1.1", big, false, int64(len(big)), nil, false},
		{"chunked", "GET", "/chunked", "1.1", "hello", true, -1, nil, false},
		{"httptest trailer", "GET", "/trailer", "1.1", "body", true, -1, map[string]string{"X-Checksum": "c0ffee"}, false},
		{"raw trailer", "GET", "/raw-trailer", "1.1", "hello!", true, -1, map[string]string{"X-Sum": "abc", "X-Other": "2"}, false},
		{"chunked to http/1.0", "GET", "/chunked", "1.0", "hello", false, -1, nil, true},
		{"until-close to chunked", "GET", "/until-close", "1.1", "streamed until close", true, -1, nil, false},
		{"until-close raw to http/1.0", "GET", "/until-close", "1.0", "streamed until close", false, -1, nil, true},
		{"head keeps length", "HEAD", "/head", "1.1", "", false, 1234, nil, false},
		{"304 keeps length", "GET", "/304", "1.1", "", false, 1234, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, p.addr)
			keep := ""
			if tc.proto == "1.0" {
				keep = "Connection: keep-alive\r\n"
			}
			req := fmt.Sprintf("%s %s HTTP/%s\r\nHost: x\r\n%s\r\n", tc.method, tc.path, tc.proto, keep)
			c.write(req)
			head := c.readHead()
			resp, body := parseAfterHead(t, head, c.br, tc.method)
			if resp.StatusCode >= 400 || body != tc.body {
				t.Fatalf("status %d, body %d bytes %.40q, want %.40q", resp.StatusCode, len(body), body, tc.body)
			}
			if got := len(resp.TransferEncoding) > 0; got != tc.chunked {
				t.Errorf("chunked = %v, want %v", got, tc.chunked)
			}
			// Read from the wire: net/http reports 0 for a 304 whatever the header says.
			if tc.length >= 0 && !strings.Contains(head, fmt.Sprintf("\r\nContent-Length: %d\r\n", tc.length)) {
				t.Errorf("head %q lacks Content-Length %d", head, tc.length)
			}
			if tc.length < 0 && strings.Contains(head, "Content-Length") {
				t.Errorf("head %q has a Content-Length", head)
			}
			for k, v := range tc.trailers {
				if got := resp.Trailer.Get(k); got != v {
					t.Errorf("trailer %s = %q, want %q (trailers %v)", k, got, v, resp.Trailer)
				}
			}
			if tc.closes {
				c.expectClosed()
				return
			}
			// The connection is still in sync: a second exchange on it works.
			c.write(req)
			if resp2, body2 := c.readResponse(tc.method); resp2.StatusCode != resp.StatusCode || body2 != tc.body {
				t.Errorf("second request: %d %.40q", resp2.StatusCode, body2)
			}
		})
	}
}

func TestExpectContinue(t *testing.T) {
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, digestUpstream(t)))))
	for _, tc := range []struct{ name, head, body, data string }{
		{"length", "Content-Length: 11\r\n", "hello world", "hello world"},
		{"chunked", "Transfer-Encoding: chunked\r\n", "b\r\nhello world\r\n0\r\n\r\n", "hello world"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, p.addr)
			c.write("PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n" + tc.head + "\r\n")
			if head := c.readHead(); head != "HTTP/1.1 100 Continue\r\n\r\n" {
				t.Fatalf("interim head %q, want 100 Continue", head)
			}
			c.write(tc.body)
			resp, _ := c.readResponse("PUT")
			if resp.StatusCode != 200 || resp.Header.Get("X-Sum") != sum(tc.data) {
				t.Fatalf("status %d, sum %q", resp.StatusCode, resp.Header.Get("X-Sum"))
			}
		})
	}
}

func TestPipelining(t *testing.T) {
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, digestUpstream(t)))))
	c := dialRaw(t, p.addr)
	c.write("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
		"POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n" +
		"GET /4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	for i, want := range []struct{ path, data string }{{"/1", ""}, {"/2", "abc"}, {"/3", "de"}, {"/4", ""}} {
		resp, _ := c.readResponse("GET")
		if resp.StatusCode != 200 || resp.Header.Get("X-Path") != want.path || resp.Header.Get("X-Sum") != sum(want.data) {
			t.Fatalf("response %d: status %d path %q, want %s", i, resp.StatusCode, resp.Header.Get("X-Path"), want.path)
		}
	}
	c.expectClosed()
}

func TestHTTP10KeepAlive(t *testing.T) {
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, digestUpstream(t)))))
	tests := []struct {
		name, head, conn string
		keep             bool
	}{
		{"1.0 default close", "GET / HTTP/1.0\r\nHost: x\r\n\r\n", "close", false},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", "keep-alive", true},
		{"1.1 default keep", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "", true},
		{"1.1 close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "close", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, p.addr)
			c.write(tc.head)
			head := c.readHead()
			hasConn := strings.Contains(head, "\r\nConnection: "+tc.conn+"\r\n")
			if tc.conn == "" {
				hasConn = !strings.Contains(head, "\r\nConnection:")
			}
			if !hasConn {
				t.Errorf("head %q lacks Connection %q", head, tc.conn)
			}
			if !strings.Contains(head, "Content-Length: ") {
				t.Fatalf("no Content-Length in %q", head)
			}
			parseAfterHead(t, head, c.br, "GET")
			if !tc.keep {
				c.expectClosed()
				return
			}
			c.write(tc.head)
			if resp, _ := c.readResponse("GET"); resp.StatusCode != 200 {
				t.Errorf("second request on kept connection: %d", resp.StatusCode)
			}
		})
	}
}

// parseAfterHead parses a response whose head was already read off br, reading its body from br.
func parseAfterHead(t testing.TB, head string, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(head), br)), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("parse response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}
