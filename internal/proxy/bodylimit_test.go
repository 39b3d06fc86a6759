package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// recordingUpstream reads each connection to its end (the proxy closes it after a cut body) and sends what it
// received on the returned channel; it never answers.
func recordingUpstream(t testing.TB) (string, <-chan string) {
	t.Helper()
	got := make(chan string, 8)
	addr := rawUpstream(t, func(c net.Conn) {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		got <- string(b)
	})
	return addr, got
}

func TestMaxBodyBytes(t *testing.T) {
	const limit = 100
	ok := strings.Repeat("a", limit)
	over := strings.Repeat("b", limit+1)
	tests := []struct {
		name     string
		head     string // framing headers
		body     string
		limit    int64
		want     int    // status
		wantUp   string // for a refused chunked body: a prefix of what the upstream must see; "" = nothing at all
		noDigest bool   // the upstream never answers (cut body)
	}{
		{"length at limit", fmt.Sprintf("Content-Length: %d\r\n", limit), ok, limit, 200, "", false},
		{"length over limit", fmt.Sprintf("Content-Length: %d\r\n", limit+1), over, limit, 413, "", true},
		{"length over limit, expect 100", fmt.Sprintf("Content-Length: %d\r\nExpect: 100-continue\r\n", limit+1), "", limit, 413, "", true},
		{"length over, unlimited", fmt.Sprintf("Content-Length: %d\r\n", limit+1), over, 0, 200, "", false},
		{"chunked at limit", "Transfer-Encoding: chunked\r\n", "32\r\n" + ok[:50] + "\r\n32\r\n" + ok[:50] + "\r\n0\r\n\r\n", limit, 200, "", false},
		{"chunked over limit", "Transfer-Encoding: chunked\r\n", "32\r\n" + ok[:50] + "\r\n33\r\n" + over[:51] + "\r\n0\r\n\r\n", limit, 413,
			"POST /up HTTP/1.1\r\n", true},
		{"chunked one huge chunk", "Transfer-Encoding: chunked\r\n", "ffffff\r\n" + over, limit, 413, "POST /up HTTP/1.1\r\n", true},
		{"chunked over, unlimited", "Transfer-Encoding: chunked\r\n", "65\r\n" + over + "\r\n0\r\n\r\n", 0, 200, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rt *Route
			var seen <-chan string
			if tc.noDigest {
				var addr string
				addr, seen = recordingUpstream(t)
				rt = routeTo(t, addr)
			} else {
				rt = routeTo(t, digestUpstream(t))
			}
			rt.MaxBodyBytes = tc.limit
			p := startProxy(t, cfgOf(t, prefix("/", rt)))
			c := dialRaw(t, p.addr)
			c.write("POST /up HTTP/1.1\r\nHost: x\r\n" + tc.head + "\r\n" + tc.body)
			resp, body := c.readResponse("POST")
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if tc.want != 413 {
				return
			}
			if !resp.Close {
				t.Errorf("413 without Connection: close: %v", resp.Header)
			}
			c.expectClosed()
			if tc.wantUp == "" {
				// Content-Length refusals happen before any connection to the upstream.
				select {
				case s := <-seen:
					t.Fatalf("upstream saw %q", s)
				default:
				}
				return
			}
			s := <-seen
			if !strings.HasPrefix(s, tc.wantUp) {
				t.Fatalf("upstream saw %q, want a prefix %q", s, tc.wantUp)
			}
			if strings.Contains(s, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb") || strings.HasSuffix(s, "0\r\n\r\n") {
				t.Fatalf("upstream saw the over-limit chunk or a complete body: %q", s)
			}
		})
	}
}

// TestMaxBodyBytesClient checks that a net/http client that uploads a body over the limit reads the 413 rather than
// a reset, thanks to the lingering close.
func TestMaxBodyBytesClient(t *testing.T) {
	rt := routeTo(t, digestUpstream(t))
	rt.MaxBodyBytes = 1 << 10
	p := startProxy(t, cfgOf(t, prefix("/", rt)))
	cl := proxyClient(t)
	for _, n := range []int{512, 64 << 10, 1 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			for _, chunked := range []bool{false, true} {
				var body io.Reader = bytes.NewReader(make([]byte, n))
				if chunked {
					body = io.MultiReader(body) // hides the length: net/http sends it chunked
				}
				resp, err := cl.Post("http://"+p.addr+"/", "application/octet-stream", body)
				if err != nil {
					t.Fatalf("chunked=%v: %v", chunked, err)
				}
				_ = resp.Body.Close()
				want := http.StatusOK
				if n > 1<<10 {
					want = http.StatusRequestEntityTooLarge
				}
				if resp.StatusCode != want {
					t.Errorf("chunked=%v: status %d, want %d", chunked, resp.StatusCode, want)
				}
			}
		})
	}
}

// TestChunkLimiter feeds canonical chunked encodings split at every offset and checks where the limiter cuts.
func TestChunkLimiter(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int64
		cut   string // what passes before errBodyTooLarge; "" = the whole input passes
	}{
		{"under", "3\r\nabc\r\n0\r\n\r\n", 5, ""},
		{"exact", "5\r\nabcde\r\n0\r\nX-T: 1\r\n\r\n", 5, ""},
		{"over in second", "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 5, "3\r\nabc\r\n3\r\n"},
		{"over at once", "1a\r\n" + strings.Repeat("z", 26) + "\r\n0\r\n\r\n", 25, "1a\r\n"},
		{"hex digits", "ff\r\n" + strings.Repeat("z", 255) + "\r\n100\r\n", 300, "ff\r\n" + strings.Repeat("z", 255) + "\r\n100\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for split := 0; split <= len(tc.in); split++ {
				var out bytes.Buffer
				var l chunkLimiter
				l.reset(&out, tc.limit)
				_, err := l.Write([]byte(tc.in[:split]))
				if err == nil {
					_, err = l.Write([]byte(tc.in[split:]))
				}
				switch {
				case tc.cut == "" && err != nil:
					t.Fatalf("split %d: %v", split, err)
				case tc.cut == "" && out.String() != tc.in:
					t.Fatalf("split %d: passed %q", split, out.String())
				case tc.cut != "" && !errors.Is(err, errBodyTooLarge):
					t.Fatalf("split %d: err %v, want errBodyTooLarge", split, err)
				case tc.cut != "" && out.String() != tc.cut:
					t.Fatalf("split %d: passed %q, want %q", split, out.String(), tc.cut)
				}
			}
		})
	}
}
