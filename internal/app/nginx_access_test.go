package app_test

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestNginxAccess runs allow/deny (inherited from http, replaced in a location, and not applied to return, which
// nginx runs before its access phase) and set_real_ip_from with X-Forwarded-For in nginx and fjord, and compares
// the statuses of the same requests from loopback.
func TestNginxAccess(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not on PATH")
	}
	tc := nginxCase{conf: `deny 127.0.0.2;
allow 127.0.0.0/8;
deny all;
set_real_ip_from 127.0.0.1;
real_ip_header X-Forwarded-For;
server { listen 127.0.0.1:{{PORT}};
  location /open/ { proxy_pass http://{{A}}; }
  location /closed/ { deny 127.0.0.1; allow all; proxy_pass http://{{A}}; }
  location /lan/ { allow 10.0.0.0/8; deny all; proxy_pass http://{{A}}; }
  location /ret/ { deny all; return 200 "x"; }
}`}
	ups := map[string]string{"{{A}}": echoUpstream(t, "A")}
	dir := t.TempDir()
	ps := ports(t, 4)
	nconf := writeCase(t, filepath.Join(dir, "n"), tc, ps[0:2], ups)
	fconf := writeCase(t, filepath.Join(dir, "f"), tc, ps[2:4], ups)
	startNginx(t, bin, filepath.Join(dir, "n"), nconf, ps[0])
	startFjord(t, fconf)
	steps := []struct {
		path, xff string
		want      int
	}{
		{"/open/a", "", 200},
		{"/closed/a", "", 403},
		{"/lan/a", "", 403},
		{"/lan/a", "10.1.2.3", 200},        // the trusted loopback peer names a 10/8 client
		{"/open/a", "192.0.2.1", 403},      // ... or one that the http-level deny all refuses
		{"/open/a", "127.0.0.2", 403},      // first match wins: deny 127.0.0.2 before allow 127/8
		{"/ret/a", "", 200},                // return runs before the access phase
		{"/closed/a", "198.51.100.1", 200}, // allow all in the location
	}
	statuses := func(port string) []int {
		c := &http.Client{}
		t.Cleanup(c.CloseIdleConnections)
		var out []int
		for _, s := range steps {
			req, err := http.NewRequest("GET", "http://127.0.0.1:"+port+s.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if s.xff != "" {
				req.Header.Set("X-Forwarded-For", s.xff)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", s.path, err)
			}
			resp.Body.Close()
			out = append(out, resp.StatusCode)
		}
		return out
	}
	n, f := statuses(ps[0]), statuses(ps[2])
	for i, s := range steps {
		if n[i] != s.want || f[i] != s.want {
			t.Errorf("GET %s (X-Forwarded-For %q): nginx %d, fjord %d, want %d", s.path, s.xff, n[i], f[i], s.want)
		}
	}
}
