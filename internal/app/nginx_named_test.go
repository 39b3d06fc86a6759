package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestNginxNamedLocationFallback runs the common "files first, else the application" idiom in nginx and fjord:
// try_files $uri $uri/ @app with a named location that proxies. A file is served from the root; any other path,
// with its query, goes upstream unchanged.
func TestNginxNamedLocationFallback(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not on PATH")
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app saw %s %s host=%s", r.Method, r.URL.RequestURI(), r.Host)
	}))
	t.Cleanup(app.Close)
	site := t.TempDir()
	if err := os.WriteFile(filepath.Join(site, "index.html"), []byte("<p>home</p>\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(site, "style.css"), []byte("p{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tc := nginxCase{conf: fmt.Sprintf(`upstream app { server %s; }
server { listen 127.0.0.1:{{PORT}};
  root %s;
  index index.html;
  types { text/html html; text/css css; }
  location / { try_files $uri $uri/ @app; }
  location @app { proxy_set_header Host $host; proxy_pass http://app; }
}`, app.Listener.Addr().String(), site)}
	dir := t.TempDir()
	ps := ports(t, 4)
	nconf := writeCase(t, filepath.Join(dir, "n"), tc, ps[0:2], nil)
	fconf := writeCase(t, filepath.Join(dir, "f"), tc, ps[2:4], nil)
	startNginx(t, bin, filepath.Join(dir, "n"), nconf, ps[0])
	startFjord(t, fconf)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(client.CloseIdleConnections)
	for _, p := range []string{"/", "/index.html", "/style.css", "/api/users?id=7", "/missing/page"} {
		t.Run(p, func(t *testing.T) {
			n, f := getBrief(t, client, ps[0], p), getBrief(t, client, ps[2], p)
			if n != f {
				t.Errorf("nginx and fjord differ\nnginx: %s\nfjord: %s", n, f)
			}
		})
	}
}

// getBrief is "STATUS Content-Type body" of GET path on 127.0.0.1:port.
func getBrief(t *testing.T, c *http.Client, port, path string) string {
	t.Helper()
	resp, err := c.Get("http://127.0.0.1:" + port + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
}
