package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestCheckCommand runs fjord with a good and a sick service and checks the plugin's exit status and line.
func TestCheckCommand(t *testing.T) {
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }))
	t.Cleanup(good.Close)
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	t.Cleanup(sick.Close)
	path := writeFile(t, "fjord.yaml", fmt.Sprintf(`listeners: [{address: "127.0.0.1:0"}]
services:
  good: {instances: [%q]}
  sick: {instances: [%q]}
routes:
  - match: {path_prefix: /sick/}
    service: sick
  - match: {path_prefix: /}
    service: good
`, good.Listener.Addr().String(), sick.Listener.Addr().String()))
	p := start(t, "run", "-c", path, "--admin", "127.0.0.1:0")
	admin := p.stderr.wait(t, regexp.MustCompile(`msg="admin interface" address=(\S+)\n`), 0)[1]
	addr := p.stderr.wait(t, regexp.MustCompile(`msg=listening address=(\S+)\n`), 0)[1]
	p.stderr.wait(t, regexp.MustCompile(`fjord started`), 0)
	get := func(path string, n int) {
		for range n {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	get("/", 20)
	get("/sick/", 5)

	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{") }))
	t.Cleanup(garbage.Close)
	gaddr := strings.TrimPrefix(garbage.URL, "http://")
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"good service", []string{"--service", "good", "--window", "0"}, 0, []string{
			"FJORD OK - 1 service, 1/1 instances usable, 0% errors | 'good_error_rate'=0%;1;5 'good_p99'=", "'good_down'=0;1;1"}},
		{"sick service makes it critical", []string{"--window", "0"}, 2, []string{
			"FJORD CRITICAL - sick 100.0% errors >= 5%; 2 services, 2/2 instances usable, ",
			"'sick_error_rate'=100%;1;5"}},
		{"threshold out of range", []string{"--window", "0", "--warn-error-rate", "50%", "--crit-error-rate", "100.1%"}, 3,
			[]string{"FJORD UNKNOWN - error rate \"100.1%\""}},
		{"slow warns", []string{"--service", "good", "--window", "0", "--warn-p99", "0s"}, 1,
			[]string{"FJORD WARNING - good p99 ", " >= 0s; 1 service"}},
		{"errors before the window do not count", []string{"--window", "50ms"}, 0, []string{"FJORD OK - 2 services"}},
		{"unknown service", []string{"--service", "nope", "--window", "0"}, 3, []string{`FJORD UNKNOWN - service "nope": no such service`}},
		{"bad flag", []string{"--warn-p99", "soon"}, 3, []string{"FJORD UNKNOWN - bad arguments"}},
		{"admin unreachable", []string{"--admin", "127.0.0.1:1", "--window", "0"}, 3, []string{"FJORD UNKNOWN - cannot reach"}},
		{"bad JSON", []string{"--admin", gaddr, "--window", "0"}, 3, []string{"FJORD UNKNOWN - bad status from"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb strings.Builder
			args := append([]string{"check", "--admin", admin}, tt.args...)
			code := run(args, &out, &errb)
			if code != tt.code {
				t.Errorf("exit %d, want %d: %s%s", code, tt.code, out.String(), errb.String())
			}
			if strings.Count(out.String(), "\n") != 1 {
				t.Errorf("want one line, got %q", out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	p.stop(t, syscall.SIGTERM)
}

// TestDoctorCommand runs fjord doctor on a fake, badly tuned /proc and /sys tree.
func TestDoctorCommand(t *testing.T) {
	root := t.TempDir()
	for p, c := range map[string]string{
		"proc/sys/net/core/somaxconn":           "128",
		"proc/sys/net/ipv4/ip_local_port_range": "1024 65535",
		"sys/block/vda/queue/scheduler":         "mq-deadline [bfq] none",
	} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb strings.Builder
	if code := run([]string{"doctor", "--root", root}, &out, &errb); code != 1 {
		t.Errorf("doctor exit %d, want 1: %s", code, errb.String())
	}
	for _, want := range []string{"WARN  net.core.somaxconn: 128 (recommended: 4096)", "fix: sysctl -w net.core.somaxconn",
		"OK    net.ipv4.ip_local_port_range: 1024 65535", "SKIP  net.ipv4.tcp_tw_reuse", "WARN  I/O scheduler of vda: bfq"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"doctor", "--root", root, "--json"}, &out, &errb); code != 1 {
		t.Errorf("doctor --json exit %d, want 1", code)
	}
	var findings []struct{ Name, Level string }
	if err := json.Unmarshal([]byte(out.String()), &findings); err != nil || len(findings) != 7 {
		t.Fatalf("doctor --json: %v\n%s", err, out.String())
	}
	if f := findings[1]; f.Name != "net.core.somaxconn" || f.Level != "WARN" {
		t.Errorf("somaxconn finding: %+v", f)
	}
	if code := run([]string{"doctor", "extra"}, &out, &errb); code != 2 {
		t.Errorf("doctor with an argument: exit %d, want 2", code)
	}
}
