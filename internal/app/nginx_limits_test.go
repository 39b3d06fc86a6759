package app_test

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNginxLimits runs client_max_body_size and limit_req (burst, nodelay, limit_req_status 429 and its default
// 503) in nginx and fjord and compares the statuses of the same request sequence.
func TestNginxLimits(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not on PATH")
	}
	tc := nginxCase{conf: `limit_req_zone $binary_remote_addr zone=ip:1m rate=1r/m;
limit_req_zone $binary_remote_addr zone=ip2:1m rate=1r/m;
client_max_body_size 1k;
server { listen 127.0.0.1:{{PORT}};
  location /small/ { proxy_pass http://{{A}}; }
  location /big/ { client_max_body_size 0; proxy_pass http://{{A}}; }
  location /limited/ { limit_req_status 429; limit_req zone=ip burst=1 nodelay; proxy_pass http://{{A}}; }
  location /default/ { limit_req zone=ip2 nodelay; proxy_pass http://{{A}}; }
}`}
	ups := map[string]string{"{{A}}": echoUpstream(t, "A")}
	dir := t.TempDir()
	ps := ports(t, 4)
	nconf := writeCase(t, filepath.Join(dir, "n"), tc, ps[0:2], ups)
	fconf := writeCase(t, filepath.Join(dir, "f"), tc, ps[2:4], ups)
	startNginx(t, bin, filepath.Join(dir, "n"), nconf, ps[0])
	startFjord(t, fconf)
	steps := []struct {
		method, path string
		body         int
	}{
		{"POST", "/small/a", 1000}, {"POST", "/small/a", 1025}, {"POST", "/big/a", 5000},
		{"GET", "/limited/a", 0}, {"GET", "/limited/a", 0}, {"GET", "/limited/a", 0}, {"GET", "/small/a", 0},
		{"GET", "/default/a", 0}, {"GET", "/default/a", 0}, // limit_req_status's default: 503
	}
	statuses := func(port string) []int {
		c := &http.Client{}
		t.Cleanup(c.CloseIdleConnections)
		var out []int
		for _, s := range steps {
			req, err := http.NewRequest(s.method, "http://127.0.0.1:"+port+s.path, strings.NewReader(strings.Repeat("x", s.body)))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", s.method, s.path, err)
			}
			resp.Body.Close()
			out = append(out, resp.StatusCode)
		}
		return out
	}
	n, f := statuses(ps[0]), statuses(ps[2])
	want := []int{200, 413, 200, 200, 200, 429, 200, 200, 503}
	for i := range steps {
		if n[i] != want[i] || f[i] != want[i] {
			t.Errorf("%s %s (%d bytes): nginx %d, fjord %d, want %d", steps[i].method, steps[i].path, steps[i].body,
				n[i], f[i], want[i])
		}
	}
}
