package proxy

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fjord-gw/fjord/internal/static"
)

// staticSite writes a site into a temporary directory, with a secret next to it that no request may reach.
func staticSite(t *testing.T) (root string, big []byte) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "site")
	big = bytes.Repeat([]byte("0123456789abcdef"), 20<<10) // 320 KiB: sent with sendfile in chunks
	files := map[string]string{
		"index.html":     "<h1>home</h1>",
		"a.txt":          "hello world",
		"big.bin":        string(big),
		"dir/keep.txt":   "k",
		"sub/index.html": "sub index",
		".env":           "SECRET=1",
		"app.js":         "plain js",
		"app.js.gz":      "gzip bytes",
		"app.js.br":      "brotli bytes",
		`a\b.txt`:        "backslash name",
		"spa/index.html": "spa shell",
		"spa/real.css":   "body{}",
		"../secret.txt":  "outside",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(root, "in")); err != nil {
		t.Fatal(err)
	}
	return root, big
}

func staticServer(t *testing.T, opt static.Options) *static.Server {
	t.Helper()
	s, err := static.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestStatic serves files through real sockets on both engines: the security cases, validators, ranges,
// precompressed siblings, try_files and the fallback to a proxied route.
func TestStatic(t *testing.T) {
	root, big := staticSite(t)
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "upstream %s", r.URL.Path) })
	app := routeTo(t, hostOf(up))
	app.Name = "app"
	site := &Route{Name: "site", Static: staticServer(t, static.Options{Root: root, Precompressed: true}),
		Response: NewHeaderOps(nil, []HeaderValue{{Name: "X-Static", Value: mustTemplate(t, Part{Literal: "1"})}}, nil)}
	spa := &Route{Name: "spa", Static: staticServer(t, static.Options{Root: filepath.Join(root, "spa"), Prefix: "/spa/",
		TryFiles: []string{"$uri", "$uri/"}, Final: "/index.html"})}
	fb := &Route{Name: "fb", Static: staticServer(t, static.Options{Root: root, TryFiles: []string{"$uri"}, Fallback: true}),
		StaticFallback: app}
	a := mustStat(t, filepath.Join(root, "a.txt"))
	etag, lastMod := static.ETag(a), a.ModTime().UTC().Format(http.TimeFormat)

	tests := []struct {
		name, method, uri, extra string
		status                   int
		body                     string
		hdr                      map[string]string
	}{
		{"file", "GET", "/a.txt", "", 200, "hello world", map[string]string{"Content-Type": "text/plain", "ETag": etag,
			"Last-Modified": lastMod, "X-Static": "1", "Accept-Ranges": "bytes", "Vary": "Accept-Encoding"}},
		{"head", "HEAD", "/a.txt", "", 200, "", map[string]string{"Content-Length": "11"}},
		{"index", "GET", "/", "", 200, "<h1>home</h1>", map[string]string{"Content-Type": "text/html"}},
		{"sub index", "GET", "/sub/", "", 200, "sub index", nil},
		{"directory without index", "GET", "/dir/", "", 403, "", nil},
		{"directory without slash", "GET", "/sub?x=1", "", 301, "", map[string]string{"Location": "/sub/?x=1"}},
		{"missing", "GET", "/nope.txt", "", 404, "", nil},
		{"hidden", "GET", "/.env", "", 404, "", nil},
		{"symlink out of root", "GET", "/out", "", 404, "", nil},
		{"symlink inside root", "GET", "/in", "", 200, "hello world", nil},
		{"encoded backslash", "GET", "/a%5Cb.txt", "", 404, "", nil},
		{"encoded dots above root", "GET", "/%2e%2e/secret.txt", "", 400, "", nil},
		{"dots inside", "GET", "/sub/../a.txt", "", 200, "hello world", nil},
		{"encoded slash", "GET", "/..%2fsecret.txt", "", 400, "", nil},
		{"NUL", "GET", "/a.txt%00.html", "", 400, "", nil},
		{"post", "POST", "/a.txt", "Content-Length: 0\r\n", 405, "", map[string]string{"Allow": "GET, HEAD"}},
		{"if-none-match", "GET", "/a.txt", "If-None-Match: " + etag + "\r\n", 304, "", map[string]string{"ETag": etag}},
		{"if-none-match other", "GET", "/a.txt", "If-None-Match: \"x\"\r\n", 200, "hello world", nil},
		{"if-modified-since", "GET", "/a.txt", "If-Modified-Since: " + lastMod + "\r\n", 304, "", nil},
		{"range", "GET", "/a.txt", "Range: bytes=0-4\r\n", 206, "hello", map[string]string{"Content-Range": "bytes 0-4/11"}},
		{"suffix range", "GET", "/a.txt", "Range: bytes=-5\r\n", 206, "world", nil},
		{"open range", "GET", "/a.txt", "Range: bytes=6-\r\n", 206, "world", nil},
		{"unsatisfiable range", "GET", "/a.txt", "Range: bytes=20-\r\n", 416, "", map[string]string{"Content-Range": "bytes */11"}},
		{"if-range mismatch", "GET", "/a.txt", "Range: bytes=0-4\r\nIf-Range: \"old\"\r\n", 200, "hello world", nil},
		{"big file", "GET", "/big.bin", "", 200, string(big), nil},
		{"big range", "GET", "/big.bin", "Range: bytes=100000-299999\r\n", 206, string(big[100000:300000]), nil},
		{"gzip sibling", "GET", "/app.js", "Accept-Encoding: gzip\r\n", 200, "gzip bytes",
			map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/javascript", "Vary": "Accept-Encoding"}},
		{"br preferred", "GET", "/app.js", "Accept-Encoding: gzip, br\r\n", 200, "brotli bytes", map[string]string{"Content-Encoding": "br"}},
		{"gzip refused", "GET", "/app.js", "Accept-Encoding: gzip;q=0\r\n", 200, "plain js", map[string]string{"Content-Encoding": ""}},
		{"alias", "GET", "/spa/real.css", "", 200, "body{}", map[string]string{"Content-Type": "text/css"}},
		{"try_files final uri", "GET", "/spa/deep/link", "", 200, "spa shell", nil},
		{"fallback route", "GET", "/fb/nofile", "", 200, "upstream /fb/nofile", nil},
		{"fallback file", "GET", "/fb/../a.txt", "", 200, "hello world", nil},
	}
	for _, engine := range []Engine{EngineLoop, EngineGoroutines} {
		cfg := cfgOf(t, prefix("/", site), prefix("/spa/", spa), prefix("/fb/", fb))
		cfg.Engine = engine
		p := startProxy(t, cfg)
		c := dialRaw(t, p.addr)
		for _, tc := range tests {
			t.Run(fmt.Sprintf("engine%d/%s", engine, tc.name), func(t *testing.T) {
				c := c
				if tc.status == 400 || tc.method == "POST" {
					c = dialRaw(t, p.addr) // the connection closes after a 400 or a request with a body
				}
				c.write(fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n", tc.method, tc.uri, tc.extra))
				resp, body := c.readResponse(tc.method)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d (body %.100q)", resp.StatusCode, tc.status, body)
				}
				if tc.status < 300 && body != tc.body {
					t.Errorf("body %.100q (%d bytes), want %.100q (%d bytes)", body, len(body), tc.body, len(tc.body))
				}
				if strings.Contains(body, "outside") || strings.Contains(body, "SECRET") || strings.Contains(body, "backslash") {
					t.Errorf("body leaks a file it must not: %q", body)
				}
				for k, v := range tc.hdr {
					got := resp.Header.Get(k)
					if k == "Content-Length" {
						got = fmt.Sprint(resp.ContentLength)
					}
					if got != v {
						t.Errorf("%s: %q, want %q", k, got, v)
					}
				}
			})
		}
	}
}

func mustStat(t *testing.T, name string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}
