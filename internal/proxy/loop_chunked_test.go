//go:build linux

package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// relayGoroutines counts goroutines relaying a response body with the goroutine engine's code (a hand-off).
func relayGoroutines() int { return goroutinesIn("proxy.(*conn).relayBody(") }

// TestLoopChunkedStreams checks that a chunked response is relayed by the event loop itself, chunk by chunk as the
// upstream sends them (nothing waits for more), with no goroutine taking the exchange over.
func TestLoopChunkedStreams(t *testing.T) {
	next := make(chan struct{})
	up := rawUpstream(t, func(c net.Conn) {
		if _, err := readHeadFrom(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6;ext=1\r\nfirst.\r\n")
		for _, part := range []string{"7\r\nsecond.\r\n", "6\r\nthird.\r\n0\r\nX-Sum: 3\r\n\r\n"} {
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				return
			}
			// Split into single bytes: the decoder resumes anywhere.
			for i := range len(part) {
				if _, err := c.Write([]byte{part[i]}); err != nil {
					return
				}
				time.Sleep(time.Millisecond / 4)
			}
		}
		io.Copy(io.Discard, c)
	})
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, up))))
	c := dialRaw(t, p.addr)
	c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	head := c.readHead()
	if !strings.Contains(head, "Transfer-Encoding: chunked") {
		t.Fatalf("head %q is not chunked", head)
	}
	want := []string{"6\r\nfirst.\r\n", "7\r\nsecond.\r\n", "6\r\nthird.\r\n0\r\nX-Sum: 3\r\n\r\n"}
	for i, w := range want {
		got := make([]byte, len(w))
		if _, err := io.ReadFull(c.br, got); err != nil || string(got) != w {
			t.Fatalf("part %d: %q (%v), want %q", i, got, err, w)
		}
		if n := relayGoroutines(); n != 0 {
			t.Fatalf("%d goroutines relay the body; the loop should", n)
		}
		if i < len(want)-1 {
			next <- struct{}{} // the next part is sent only once this one arrived: nothing may wait to batch
		}
	}
}

// TestLoopChunkedBodies runs chunked responses of several shapes through the loop: canonical re-encoding for
// HTTP/1.1 clients, plain data and a close for HTTP/1.0 ones, keep-alive on both sides, and a slow reader of a
// large body (the upstream is read only as the client keeps up).
func TestLoopChunkedBodies(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	up, accepts := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			w.(http.Flusher).Flush() // no Content-Length: chunked
			io.WriteString(w, "hello")
		case "/big":
			for i := 0; i < len(big); i += 8 << 10 {
				io.WriteString(w, big[i:i+8<<10])
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.Header().Set("Transfer-Encoding", "chunked")
			w.(http.Flusher).Flush()
		}
	})
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, hostOf(up)))))

	c := dialRaw(t, p.addr)
	for i := range 3 {
		for _, tc := range []struct{ path, body string }{{"/small", "hello"}, {"/empty", ""}, {"/big", big}} {
			c.write("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			if tc.path == "/big" && i == 0 {
				time.Sleep(100 * time.Millisecond) // a reader that lags: the proxy must hold back, not buffer 1 MiB
			}
			resp, body := c.readResponse("GET")
			if resp.StatusCode != 200 || body != tc.body || len(resp.TransferEncoding) != 1 {
				t.Fatalf("round %d %s: %d, %d bytes, TE %v", i, tc.path, resp.StatusCode, len(body), resp.TransferEncoding)
			}
		}
	}
	if n := accepts.n.Load(); n != 1 {
		t.Errorf("upstream accepted %d connections for 9 sequential requests, want 1 (kept alive)", n)
	}

	// HTTP/1.0 has no chunked framing: the data alone, then the connection closes.
	c10 := dialRaw(t, p.addr)
	c10.write("GET /small HTTP/1.0\r\nHost: x\r\n\r\n")
	head := c10.readHead()
	if strings.Contains(head, "chunked") || !strings.Contains(head, "Connection: close") {
		t.Fatalf("HTTP/1.0 head %q", head)
	}
	rest, err := io.ReadAll(c10.br)
	if err != nil || string(rest) != "hello" {
		t.Fatalf("HTTP/1.0 body %q (%v), want hello then close", rest, err)
	}
}

// TestLoopChunkedMalformed: a chunked body that turns malformed mid-way ends the client connection (it got the head
// and the good chunks), never passes the bad bytes on, and the broken upstream connection is not reused.
func TestLoopChunkedMalformed(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"no CRLF after data", "5\r\nhello\r\n3\r\nabcXY"},
		{"bad size", "5\r\nhello\r\nzz\r\n"},
		{"bare LF", "5\r\nhello\r\n3\nabc\r\n0\r\n\r\n"},
		{"bad trailer", "5\r\nhello\r\n0\r\nBad Trailer: x\r\n\r\n"},
		{"size line too long", "5\r\nhello\r\n" + strings.Repeat("0", 20<<10) + "1\r\nx\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := fixedUpstream(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+tc.body, false)
			p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, up))))
			c := dialRaw(t, p.addr)
			c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			c.readHead()
			_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c.br)
			if err != nil {
				t.Fatalf("client connection not closed: %v (read %q)", err, got)
			}
			if !strings.HasPrefix(string(got), "5\r\nhello\r\n") || strings.Contains(string(got), "X") ||
				strings.Contains(string(got), "Bad") || strings.HasSuffix(string(got), "0\r\n\r\n") {
				t.Fatalf("client got %q", got)
			}
		})
	}
}

// BenchmarkProxyGETChunked is BenchmarkProxyGET with a chunked upstream response, which the loop relays itself:
// 0 allocs/op as well.
func BenchmarkProxyGETChunked(b *testing.B) {
	const body = "10\r\n0123456789abcdef\r\n0\r\n\r\n"
	up := benchUpstreamWith(b, []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+body))
	p := startProxy(b, cfgOf(b, prefix("/", routeTo(b, up))))
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c := dialRaw(b, p.addr)
	c.write(string(req))
	runKeepAlive(b, p.addr, req, len(c.readHead())+len(body), []byte(body))
}
