package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNginxErrorPages runs error_page and proxy_redirect in nginx and fjord on the same config and compares the
// answers: a 502 from a dead upstream with a page from a return location, a 404 no location matches with a static
// page, a page with =200, an error_page redirect, a location that turns the server's pages off with its own, and
// upstream redirects rewritten by proxy_redirect default and FROM TO (and left alone by off).
func TestNginxErrorPages(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not on PATH")
	}
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Redirect to the URL the upstream believes it serves: its Host and the path it received.
		w.Header().Set("Location", "http://"+r.Host+r.URL.Path+"next")
		w.Header().Set("Refresh", "3; url=http://"+r.Host+r.URL.Path+"later")
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	site := t.TempDir()
	if err := os.WriteFile(filepath.Join(site, "404.html"), []byte("<p>custom not found</p>\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// One upstream per location: fjord stops dialing an address that refused a connection for a while (503 instead
	// of 502), where nginx keeps trying a lone server; each location is asked once.
	tc := nginxCase{conf: fmt.Sprintf(`upstream dead1 { server {{DEAD}}; } upstream dead2 { server {{DEAD}}; }
upstream dead3 { server {{DEAD}}; } upstream dead4 { server {{DEAD}}; }
upstream red { server %s; }
server { listen 127.0.0.1:{{PORT}};
  error_page 502 503 504 /50x;
  error_page 404 /404.html;
  location = /50x { return 200 "gateway trouble\n"; }
  location = /404.html { root %s; }
  location /api/ { proxy_pass http://dead1; }
  location /ok/ { error_page 502 =200 /50x; proxy_pass http://dead2; }
  location /moved/ { error_page 502 https://status.example/; proxy_pass http://dead3; }
  location /own/ { error_page 500 /50x; proxy_pass http://dead4; }
  location /one/ { proxy_pass http://red/two/; }
  location /plain/ { proxy_pass http://red; }
  location /mapped/ { proxy_redirect http://red/mapped/ /elsewhere/; proxy_pass http://red; }
  location /off/ { proxy_redirect off; proxy_pass http://red; }
}`, redirector.Listener.Addr().String(), site)}
	dir := t.TempDir()
	ps := ports(t, 5)
	ups := map[string]string{"{{DEAD}}": "127.0.0.1:" + ps[4]}
	nconf := writeCase(t, filepath.Join(dir, "n"), tc, ps[0:2], ups)
	fconf := writeCase(t, filepath.Join(dir, "f"), tc, ps[2:4], ups)
	startNginx(t, bin, filepath.Join(dir, "n"), nconf, ps[0])
	startFjord(t, fconf)
	paths := []string{"/api/x", "/nothing/here", "/ok/x", "/moved/x", "/own/x", "/one/a/", "/plain/b/",
		"/mapped/c/", "/off/d/"}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(client.CloseIdleConnections)
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			n := errorAnswer(t, client, ps[0], p)
			f := errorAnswer(t, client, ps[2], p)
			if n != f {
				t.Errorf("nginx and fjord differ\nnginx:\n%s\nfjord:\n%s", n, f)
			}
		})
	}
}

// errorAnswer describes the answer to GET path: status, Content-Type (without parameters), Location and Refresh
// (nginx's absolute form of a relative one reduced to the path: relativeRedirect) and the body, unless it is one of
// the built-in pages, which differ in wording and type only.
func errorAnswer(t *testing.T, c *http.Client, port, path string) string {
	t.Helper()
	req, err := http.NewRequest("GET", "http://127.0.0.1:"+port+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "site.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	var b strings.Builder
	fmt.Fprintf(&b, "status %d\n", resp.StatusCode)
	builtin := generatedPage.Match(body) // the built-in pages differ in wording and type (nginx's are HTML)
	if resp.StatusCode/100 != 3 && !builtin {
		fmt.Fprintf(&b, "Content-Type: %s\n", ct)
	}
	for _, h := range []string{"Location", "Refresh"} {
		if v := resp.Header.Get(h); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, strings.Replace(v, "http://site.test:"+port, "", 1))
		}
	}
	if !builtin && resp.StatusCode/100 != 3 {
		b.Write(body)
	}
	return b.String()
}
