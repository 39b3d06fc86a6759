package app_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNginxStaticFiles serves one site from nginx and fjord (root + index + types, an alias location and a
// try_files $uri $uri/ =404 location) and compares the answers: status, Content-Type, body, the validators (ETag
// is nginx's "mtime-size" in hex, so both must send the same one), conditional requests (304), byte ranges (206,
// 416), the trailing-slash redirect, a directory without index (403) and a missing file (404).
func TestNginxStaticFiles(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not on PATH")
	}
	site, docs := t.TempDir(), t.TempDir()
	writeTree(t, site, map[string]string{
		"index.html":          "<p>home</p>\n",
		"style.css":           "p { color: teal; }\n",
		"sub/page.html":       "<p>sub page</p>\n",
		"empty/notes.txt":     "no index here\n",
		".well-hidden":        "a dot file\n",
		"try/index.html":      "<p>try index</p>\n",
		"try/a.txt":           "try file\n",
		"try/noindex/b.css":   "b{}\n",
		"try/noext":           "no extension\n",
		"sub/deeper/data.bin": "0123456789",
	})
	writeTree(t, docs, map[string]string{
		"index.html":   "<p>docs home</p>\n",
		"guide.txt":    "read me\n",
		"part/one.css": "one{}\n",
	})
	// Fixed, whole-second times: the ETag and Last-Modified of both servers come from them.
	mtime := time.Date(2024, 3, 5, 7, 9, 11, 0, time.UTC)
	for _, root := range []string{site, docs} {
		if err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Chtimes(p, mtime, mtime)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// No upstream at all: a site that only serves files converts to a config without services.
	tc := nginxCase{conf: fmt.Sprintf(`server { listen 127.0.0.1:{{PORT}};
  root %s;
  index index.html;
  types { text/html html; text/css css; text/plain txt; }
  location / { }
  location /docs/ { alias %s/; }
  location /try/ { try_files $uri $uri/ =404; }
}`, site, docs)}
	dir := t.TempDir()
	ps := ports(t, 4)
	nconf := writeCase(t, filepath.Join(dir, "n"), tc, ps[0:2], nil)
	fconf := writeCase(t, filepath.Join(dir, "f"), tc, ps[2:4], nil)
	startNginx(t, bin, filepath.Join(dir, "n"), nconf, ps[0])
	startFjord(t, fconf)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(client.CloseIdleConnections)

	etag := fmt.Sprintf(`"%x-%x"`, mtime.Unix(), len("p { color: teal; }\n"))
	lastMod := mtime.Format(http.TimeFormat)
	cases := []struct {
		name, path string
		header     map[string]string
		status     int // what both must answer, so that equal wrong answers fail too
	}{
		{name: "index", path: "/", status: 200},
		{name: "index file", path: "/index.html", status: 200},
		{name: "css", path: "/style.css", status: 200},
		{name: "subdirectory file", path: "/sub/page.html", status: 200},
		{name: "default type", path: "/sub/deeper/data.bin", status: 200},
		{name: "dot file", path: "/.well-hidden", status: 200},
		{name: "directory redirect", path: "/sub", status: 301},
		{name: "directory redirect keeps query", path: "/sub?x=1", status: 301},
		{name: "directory without index", path: "/empty/", status: 403},
		{name: "missing", path: "/missing.html", status: 404},
		{name: "if-none-match", path: "/style.css", header: map[string]string{"If-None-Match": etag}, status: 304},
		{name: "if-none-match other", path: "/style.css", header: map[string]string{"If-None-Match": `"1-2"`},
			status: 200},
		{name: "if-modified-since exact", path: "/style.css", header: map[string]string{"If-Modified-Since": lastMod},
			status: 304},
		{name: "range", path: "/style.css", header: map[string]string{"Range": "bytes=0-3"}, status: 206},
		{name: "suffix range", path: "/style.css", header: map[string]string{"Range": "bytes=-5"}, status: 206},
		{name: "open range", path: "/style.css", header: map[string]string{"Range": "bytes=10-"}, status: 206},
		{name: "unsatisfiable range", path: "/style.css", header: map[string]string{"Range": "bytes=1000-"},
			status: 416},
		{name: "if-range matches", path: "/style.css",
			header: map[string]string{"Range": "bytes=0-3", "If-Range": etag}, status: 206},
		{name: "if-range stale", path: "/style.css",
			header: map[string]string{"Range": "bytes=0-3", "If-Range": `"1-2"`}, status: 200},
		{name: "alias file", path: "/docs/guide.txt", status: 200},
		{name: "alias index", path: "/docs/", status: 200},
		{name: "alias subdirectory", path: "/docs/part/one.css", status: 200},
		{name: "alias directory redirect", path: "/docs/part", status: 301},
		{name: "alias missing", path: "/docs/nope.txt", status: 404},
		{name: "try file", path: "/try/a.txt", status: 200},
		{name: "try index", path: "/try/", status: 200},
		{name: "try default type", path: "/try/noext", status: 200},
		// nginx tests $uri/ as $uri and serves that, so a directory without its slash is redirected first.
		{name: "try directory without slash", path: "/try/noindex", status: 301},
		{name: "try directory without index", path: "/try/noindex/", status: 403},
		{name: "try missing", path: "/try/nothing", status: 404},
		{name: "try range", path: "/try/a.txt", header: map[string]string{"Range": "bytes=0-3"}, status: 206},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := staticAnswer(t, client, ps[0], c.path, c.header)
			f := staticAnswer(t, client, ps[2], c.path, c.header)
			if n != f {
				t.Errorf("nginx and fjord differ\nnginx:\n%s\nfjord:\n%s", n, f)
			}
			if want := fmt.Sprintf("status %d\n", c.status); !strings.HasPrefix(f, want) {
				t.Errorf("fjord answered\n%s\nwant status %d", f, c.status)
			}
		})
	}
	t.Run("etag format", func(t *testing.T) {
		if got := staticAnswer(t, client, ps[2], "/style.css", nil); !strings.Contains(got, "ETag: "+etag+"\n") {
			t.Errorf("fjord answered\n%s\nwant ETag %s", got, etag)
		}
	})
}

// staticAnswer describes the answer to GET path with extra request headers: the status, the headers that must be
// equal and the body. What is meant to differ is left out:
//   - Location: nginx makes the trailing-slash redirect absolute (relativeRedirect in docs/nginx.md), so only the
//     path and query are compared;
//   - 403, 404 and 416 bodies and their Content-Type: the built-in error pages are worded differently (fjord's are
//     its own, docs/nginx.md); so are 301 bodies;
//   - on 416, only Content-Range is compared besides the status: nginx answers it with its error page.
func staticAnswer(t *testing.T, c *http.Client, port, path string, header map[string]string) string {
	t.Helper()
	req, err := http.NewRequest("GET", "http://127.0.0.1:"+port+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "site.test"
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s on %s: %v", path, port, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s on %s: body: %v", path, port, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "status %d\n", resp.StatusCode)
	compared := []string{"Content-Type", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges", "Content-Range"}
	switch {
	case resp.StatusCode == 416:
		compared = []string{"Content-Range"}
	case resp.StatusCode >= 300 && resp.StatusCode != 304:
		compared = []string{"Location"}
	}
	for _, h := range compared {
		v := resp.Header.Get(h)
		if h == "Location" {
			v = strings.TrimPrefix(v, "http://site.test:"+port)
		}
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
	}
	if resp.StatusCode < 300 {
		b.Write(body)
	}
	return b.String()
}

// writeTree writes files (slash-separated names relative to root) with their parent directories.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
