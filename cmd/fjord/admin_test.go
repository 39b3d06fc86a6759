package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestAdminCommands runs fjord with an admin token and drives it with drain, undrain, status, reload and explain.
func TestAdminCommands(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }))
	t.Cleanup(up.Close)
	inst := up.Listener.Addr().String()
	cfg := fmt.Sprintf(`listeners: [{address: "127.0.0.1:0"}]
services:
  web: {instances: [%q]}
routes:
  - name: web
    match: {path_prefix: /}
    service: web
`, inst)
	path := writeFile(t, "fjord.yaml", cfg)
	p := start(t, "run", "-c", path, "--admin", "127.0.0.1:0", "--admin-token", "tok")
	admin := p.stderr.wait(t, regexp.MustCompile(`msg="admin interface" address=(\S+)\n`), 0)[1]
	p.stderr.wait(t, regexp.MustCompile(`fjord started`), 0)
	t.Cleanup(func() { p.stop(t, syscall.SIGTERM) })

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no token", []string{"drain", "--admin", admin, "web", inst}, 1, "401"},
		{"drain", []string{"drain", "--admin", admin, "--token", "tok", "web", inst}, 0, "web " + inst + ": drained, 0 in flight"},
		{"drain again", []string{"drain", "--admin", admin, "--token", "tok", "web", inst}, 0, "(it already was)"},
		{"status shows it", []string{"status", "--admin", admin, "--token", "tok"}, 0, "drained"},
		{"explain live", []string{"explain", "--admin", admin, "--token", "tok", "http://any.host/x"}, 0, "drained by an operator"},
		{"unknown instance", []string{"undrain", "--admin", admin, "--token", "tok", "web", "10.9.9.9:1"}, 1, "no instance"},
		{"undrain", []string{"undrain", "--admin", admin, "--token", "tok", "web", inst}, 0, ": healthy, 0 in flight"},
		{"reload", []string{"reload", "--admin", admin, "--token", "tok"}, 0, "reloaded: generation 2"},
		{"explain offline", []string{"explain", "-c", path, "--method", "POST", "http://any.host/a/b?c=d"}, 0, "POST /a/b?c=d HTTP/1.1"},
		{"explain needs a source", []string{"explain", "http://any.host/"}, 2, "either -c FILE or --admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.want) {
				t.Fatalf("fjord %s: exit %d, want %d with %q\nstdout: %s\nstderr: %s", strings.Join(tt.args, " "), code, tt.code, tt.want, &out, &errb)
			}
		})
	}

	// A broken config: reload exits 1 with FILE:LINE, and the running config stays.
	line, _ := posOf(t, cfg, "service: web\n")
	rewrite(t, path, strings.Replace(cfg, "service: web\n", "service: webb\n", 1))
	var out, errb bytes.Buffer
	if code := run([]string{"reload", "--admin", admin, "--token", "tok"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), fmt.Sprintf("%s:%d:", path, line)) || !strings.Contains(errb.String(), "running configuration stays") {
		t.Fatalf("reload of a broken config: exit %d\nstdout: %s\nstderr: %s", code, &out, &errb)
	}
	out.Reset()
	if code := run([]string{"explain", "--json", "-c", path + ".missing", "http://h/"}, &out, &errb); code != 1 {
		t.Fatalf("explain of a missing file: exit %d", code)
	}
	out.Reset()
	rewrite(t, path, cfg)
	if code := run([]string{"explain", "--json", "-c", path, "http://h/"}, &out, &errb); code != 0 {
		t.Fatalf("explain --json: exit %d: %s", code, &errb)
	}
	var rep struct {
		Route string `json:"route"`
		Pick  struct {
			Chosen string `json:"chosen"`
		} `json:"pick"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Route != "web" || rep.Pick.Chosen != inst {
		t.Fatalf("explain --json: %v %+v\n%s", err, rep, &out)
	}
}

func rewrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
