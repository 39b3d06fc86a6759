package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/app"
)

// echoHeaders are the request headers the echo upstreams report.
var echoHeaders = []string{"Host", "X-Real-Ip", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
	"X-Level", "X-Custom", "X-User", "X-Loc", "X-Outer"}

// resultHeaders are the response headers compared between nginx and fjord.
var resultHeaders = []string{"Location", "X-Secret", "X-Added", "X-Server-Added"}

// echoUpstream answers every request with what it received, and a response
// header X-Secret that configs may hide.
func echoUpstream(t *testing.T, name string) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Secret", "s3cret")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "upstream %s\n%s %s\n", name, r.Method, r.RequestURI)
		for _, h := range echoHeaders {
			v := r.Header.Get(h)
			if h == "Host" {
				v = r.Host
			}
			fmt.Fprintf(w, "%s: %s\n", h, v)
		}
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// TestNginxDifferential runs nginx and fjord on the same configs and checks
// that the same requests reach the same upstream with the same URI and
// headers, and that the client gets the same status, body and headers.
func TestNginxDifferential(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not on PATH")
	}
	if len(nginxCorpus) < 25 {
		t.Errorf("corpus has %d configs, want at least 25", len(nginxCorpus))
	}
	ups := map[string]string{"{{A}}": echoUpstream(t, "A"), "{{B}}": echoUpstream(t, "B"),
		"{{C}}": echoUpstream(t, "C"), "{{D}}": echoUpstream(t, "D")}
	for _, tc := range nginxCorpus {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ps := ports(t, 5)
			nports, fports := ps[0:2], ps[2:4]
			ups["{{DEAD}}"] = "127.0.0.1:" + ps[4]
			nconf := writeCase(t, filepath.Join(dir, "n"), tc, nports, ups)
			fconf := writeCase(t, filepath.Join(dir, "f"), tc, fports, ups)
			startNginx(t, bin, filepath.Join(dir, "n"), nconf, nports[0])
			startFjord(t, fconf)
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			t.Cleanup(client.CloseIdleConnections)
			for _, rq := range tc.reqs {
				n := answers(t, client, "127.0.0.1:"+nports[rq.port], rq, tc.differs)
				f := answers(t, client, "127.0.0.1:"+fports[rq.port], rq, tc.differs)
				if n != f {
					t.Errorf("%s %s (port %d): nginx and fjord differ\nnginx:\n%s\nfjord:\n%s", rq.host, rq.path, rq.port, n, f)
				}
			}
		})
	}
}

// writeCase writes the case's main config and extra files under dir with the
// placeholders replaced, and returns the main config's path.
func writeCase(t *testing.T, dir string, tc nginxCase, ports []string, ups map[string]string) string {
	pairs := []string{"{{PORT}}", ports[0], "{{PORT2}}", ports[1]}
	for k, v := range ups {
		pairs = append(pairs, k, v)
	}
	r := strings.NewReplacer(pairs...)
	conf := tc.conf
	if !tc.raw {
		conf = "events {}\nhttp {\n" + conf + "\n}\n"
	}
	files := map[string]string{"nginx.conf": conf}
	for name, body := range tc.files {
		files[name] = body
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(r.Replace(body)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "nginx.conf")
}

// answers sends rq (repeat times, at least once) and describes what came
// back. Repeated requests to a balanced pool reach the instances in an order
// that need not match, so their distinct answers are listed sorted.
func answers(t *testing.T, c *http.Client, addr string, rq nginxReq, diff difference) string {
	seen := map[string]bool{}
	for range max(rq.repeat, 1) {
		seen[fetch(t, c, addr, rq, diff)] = true
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, "\n--\n")
}

// ports returns n distinct free ports: all are held open until all are chosen.
func ports(t *testing.T, n int) []string {
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		out = append(out, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
	}
	return out
}

// fetch sends one request and describes the answer: status, compared
// headers and body. nginx's own HTML error and redirect pages are reduced to
// their status, since fjord words them differently. The client address is
// always 127.0.0.1, so X-Forwarded-For and X-Real-IP are comparable.
func fetch(t *testing.T, c *http.Client, addr string, rq nginxReq, diff difference) string {
	req, err := http.NewRequest("GET", "http://"+addr+rq.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = rq.host
	req.Header.Set("X-User", "u1")
	req.Header.Set("X-Forwarded-For", "10.0.0.9")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s via %s: %v", rq.host, rq.path, addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var b strings.Builder
	fmt.Fprintf(&b, "status %d\n", resp.StatusCode)
	for _, h := range resultHeaders {
		v := resp.Header.Get(h)
		if h == "Location" && diff&relativeRedirect != 0 {
			v = strings.TrimPrefix(v, "http://"+rq.host+":"+addr[strings.LastIndexByte(addr, ':')+1:])
		}
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
	}
	if !generatedPage.Match(body) {
		b.Write(body)
	}
	return b.String()
}

// generatedPage matches the error and redirect pages nginx and fjord write
// themselves, which differ in wording only.
var generatedPage = regexp.MustCompile(`^(<html>|[0-9]{3} [^\n]* \(request id [^)]*\)\n$)`)

// startNginx runs nginx in the foreground with all its state under dir.
func startNginx(t *testing.T, bin, dir, conf, port string) string {
	for _, d := range []string{"t", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(conf)
	tmp := "http {\naccess_log off; client_body_temp_path t/b; proxy_temp_path t/p; fastcgi_temp_path t/f; " +
		"uwsgi_temp_path t/u; scgi_temp_path t/s;\n"
	if err := os.WriteFile(conf, []byte(strings.Replace(string(data), "http {\n", tmp, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir+"/", "-e", filepath.Join(dir, "error.log"), "-c", conf,
		"-g", "daemon off; master_process off; pid "+filepath.Join(dir, "nginx.pid")+";")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	addr := "127.0.0.1:" + port
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("nginx exited: %v\n%s", err, stderr.String())
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not listening on %s: %s", addr, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startFjord runs the app on the nginx config through NginxSource.
func startFjord(t *testing.T, conf string) string {
	a := app.New(app.NginxSource(conf), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ready := make(chan []string, 1)
	a.Ready = func(addrs []string) { ready <- addrs }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case addrs := <-ready:
		return addrs[0]
	case err := <-done:
		done <- err
		t.Fatalf("fjord on %s: %v", conf, err)
	case <-time.After(5 * time.Second):
		t.Fatal("fjord not ready")
	}
	return ""
}
