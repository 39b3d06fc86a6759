package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/compress"
	"github.com/klauspost/compress/zstd"
)

// compressUpstream answers /page with a large HTML body (ETag, Content-Length), /small with a short one, /png with
// a PNG-typed body, /pre with a body already gzip-encoded, /chunked without a length, /stream with three flushed
// chunks where the third waits for the test to release it, and /range with a 206.
func compressUpstream(t *testing.T, page string, release <-chan struct{}) string {
	t.Helper()
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/page":
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("ETag", `"v1"`)
			h.Set("Content-Length", fmt.Sprint(len(page)))
			io.WriteString(w, page)
		case "/small":
			h.Set("Content-Type", "text/html")
			io.WriteString(w, "tiny")
		case "/png":
			h.Set("Content-Type", "image/png")
			io.WriteString(w, page)
		case "/pre":
			h.Set("Content-Type", "text/html")
			h.Set("Content-Encoding", "br")
			io.WriteString(w, page)
		case "/chunked":
			h.Set("Content-Type", "application/json")
			io.WriteString(w, page[:len(page)/2])
			w.(http.Flusher).Flush()
			io.WriteString(w, page[len(page)/2:])
		case "/stream":
			h.Set("Content-Type", "text/plain")
			io.WriteString(w, "first event\n")
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, "last event\n")
		case "/range":
			h.Set("Content-Type", "text/html")
			h.Set("Content-Range", fmt.Sprintf("bytes 0-1999/%d", len(page)))
			w.WriteHeader(206)
			io.WriteString(w, page[:2000])
		}
	})
	return hostOf(up)
}

// decode reverses a response's Content-Encoding.
func decode(t *testing.T, enc string, body []byte) string {
	t.Helper()
	var r io.Reader
	switch enc {
	case "":
		return string(body)
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	default:
		return string(body)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return string(out)
}

// TestCompression checks negotiation and eligibility through real sockets on both engines: every compressed body
// decodes to the upstream's, and what must pass untouched does.
func TestCompression(t *testing.T) {
	page := strings.Repeat("<p>fjord compresses text responses for clients that accept it.</p>\n", 400)
	addr := compressUpstream(t, page, nil)
	pol, err := compress.New(compress.Options{Gzip: true, Zstd: true, MinBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path, accept, method string
		wantEnc              string // "" = identity
		wantVary             bool
	}{
		{"/page", "gzip, deflate", "GET", "gzip", true},
		{"/page", "gzip, zstd", "GET", "zstd", true},
		{"/page", "zstd;q=0.5, gzip;q=0.8", "GET", "gzip", true},
		{"/page", "zstd;q=0, gzip", "GET", "gzip", true},
		{"/page", "gzip;q=0", "GET", "", true},
		{"/page", "*", "GET", "zstd", true},
		{"/page", "*, zstd;q=0", "GET", "gzip", true},
		{"/page", "", "GET", "", true},
		{"/page", "gzip", "HEAD", "", false},
		{"/small", "gzip", "GET", "", false},
		{"/png", "gzip, zstd", "GET", "", false},
		{"/pre", "gzip, zstd", "GET", "br", false},
		{"/range", "gzip", "GET", "", false},
		{"/chunked", "gzip", "GET", "gzip", true},
		{"/chunked", "zstd", "GET", "zstd", true},
	}
	for _, engine := range []Engine{EngineLoop, EngineGoroutines} {
		cfg := cfgOf(t, prefix("/", &Route{Name: "r", Service: newService(t, balancer.RoundRobin, []string{addr}), Compress: pol}))
		cfg.Engine = engine
		p := startProxy(t, cfg)
		for _, tc := range cases {
			t.Run(fmt.Sprintf("engine%d%s_%s_%q", engine, tc.method, tc.path, tc.accept), func(t *testing.T) {
				c := dialRaw(t, p.addr)
				// Two requests on one connection: the second proves the first was framed right.
				for range 2 {
					ae := ""
					if tc.accept != "" {
						ae = "Accept-Encoding: " + tc.accept + "\r\n"
					}
					c.write(tc.method + " " + tc.path + " HTTP/1.1\r\nHost: x\r\n" + ae + "\r\n")
					resp, body := c.readResponse(tc.method)
					if got := resp.Header.Get("Content-Encoding"); got != tc.wantEnc {
						t.Fatalf("Content-Encoding %q, want %q", got, tc.wantEnc)
					}
					if got := resp.Header.Get("Vary") == "Accept-Encoding"; got != tc.wantVary {
						t.Fatalf("Vary %q, want Accept-Encoding: %v", resp.Header.Get("Vary"), tc.wantVary)
					}
					if tc.method == "HEAD" {
						continue
					}
					want := page
					switch tc.path {
					case "/small":
						want = "tiny"
					case "/range":
						want = page[:2000]
					}
					if got := decode(t, tc.wantEnc, []byte(body)); got != want {
						t.Fatalf("decoded body: %d bytes, want %d", len(got), len(want))
					}
					if tc.wantEnc == "gzip" || tc.wantEnc == "zstd" {
						if resp.ContentLength != -1 || len(resp.TransferEncoding) == 0 {
							t.Fatalf("compressed response framed by Content-Length %d, want chunked", resp.ContentLength)
						}
						if tc.path == "/page" && resp.Header.Get("ETag") != `W/"v1"` {
							t.Fatalf("ETag %q, want weak W/\"v1\"", resp.Header.Get("ETag"))
						}
						if len(body) >= len(page) {
							t.Fatalf("compressed body %d bytes, not smaller than %d", len(body), len(page))
						}
					}
				}
			})
		}
	}
}

// TestCompressionHTTP10 checks that an HTTP/1.0 client gets a compressed body delimited by the connection's close.
func TestCompressionHTTP10(t *testing.T) {
	page := strings.Repeat("{\"k\": \"value value value\"},\n", 300)
	addr := compressUpstream(t, page, nil)
	pol, _ := compress.New(compress.Options{Gzip: true})
	p := startProxy(t, cfgOf(t, prefix("/", &Route{Name: "r", Service: newService(t, balancer.RoundRobin, []string{addr}), Compress: pol})))
	c := dialRaw(t, p.addr)
	c.write("GET /chunked HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
	resp, body := c.readResponse("GET")
	if resp.Header.Get("Content-Encoding") != "gzip" || len(resp.TransferEncoding) != 0 {
		t.Fatalf("HTTP/1.0: Content-Encoding %q, Transfer-Encoding %v", resp.Header.Get("Content-Encoding"), resp.TransferEncoding)
	}
	if got := decode(t, "gzip", []byte(body)); got != page {
		t.Fatalf("decoded %d bytes, want %d", len(got), len(page))
	}
	c.expectClosed()
}

// TestCompressionStreams checks that a flushing upstream's first chunk reaches the client, decodable, before the
// upstream has sent the rest.
func TestCompressionStreams(t *testing.T) {
	for _, enc := range []string{"gzip", "zstd"} {
		for _, engine := range []Engine{EngineLoop, EngineGoroutines} {
			t.Run(fmt.Sprintf("%s_engine%d", enc, engine), func(t *testing.T) {
				release := make(chan struct{})
				addr := compressUpstream(t, "", release)
				pol, _ := compress.New(compress.Options{Gzip: true, Zstd: true})
				cfg := cfgOf(t, prefix("/", &Route{Name: "r", Service: newService(t, balancer.RoundRobin, []string{addr}), Compress: pol}))
				cfg.Engine = engine
				p := startProxy(t, cfg)
				c := dialRaw(t, p.addr)
				c.write("GET /stream HTTP/1.1\r\nHost: x\r\nAccept-Encoding: " + enc + "\r\n\r\n")
				resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.Header.Get("Content-Encoding") != enc {
					t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
				}
				var dec io.Reader
				if enc == "gzip" {
					zr, err := gzip.NewReader(resp.Body)
					if err != nil {
						t.Fatal(err)
					}
					dec = zr
				} else {
					zr, err := zstd.NewReader(resp.Body)
					if err != nil {
						t.Fatal(err)
					}
					defer zr.Close()
					dec = zr
				}
				br := bufio.NewReader(dec)
				_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				line, err := br.ReadString('\n') // must arrive while the upstream is still holding the rest
				if err != nil || line != "first event\n" {
					t.Fatalf("first line %q, %v", line, err)
				}
				close(release)
				rest, err := io.ReadAll(br)
				if err != nil || string(rest) != "last event\n" {
					t.Fatalf("rest %q, %v", rest, err)
				}
			})
		}
	}
}
