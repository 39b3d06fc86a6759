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
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/app"
)

// nginxCase is one config of the differential test. {{PORT}}, {{A}} and {{B}}
// are replaced by the listen port and the two echo upstreams' addresses.
type nginxCase struct {
	name string
	conf string
	reqs []nginxReq
}

type nginxReq struct{ host, path string }

var nginxCorpus = []nginxCase{
	{
		name: "locations and proxy_pass URI",
		conf: `upstream a { server {{A}}; } upstream b { server {{B}}; }
server { listen 127.0.0.1:{{PORT}};
  location / { proxy_pass http://a; }
  location = /exact { proxy_pass http://b; }
  location /api/ { proxy_pass http://b/v2/; }
  location ~ ^/img/.*\.png$ { proxy_pass http://b; }
  location ~* \.JPG$ { return 403 "no jpg"; }
  location /old { return 301 http://example.com/new; }
}`,
		reqs: []nginxReq{{"x", "/"}, {"x", "/exact"}, {"x", "/exact/more"}, {"x", "/api/users?id=1"},
			{"x", "/api"}, {"x", "/img/a.png"}, {"x", "/img/a.gif"}, {"x", "/api/pic.jpg"}, {"x", "/old"}},
	},
	{
		name: "server_name and default_server",
		conf: `server { listen 127.0.0.1:{{PORT}}; server_name one.test; location / { proxy_pass http://{{A}}; } }
server { listen 127.0.0.1:{{PORT}} default_server; server_name two.test *.wild.test;
  location / { proxy_pass http://{{B}}; } location /only-two { return 200 "two"; } }
server { listen 127.0.0.1:{{PORT}}; server_name .dot.test; location / { return 200 "dot"; } }`,
		reqs: []nginxReq{{"one.test", "/"}, {"two.test", "/"}, {"a.wild.test", "/x"}, {"unknown.test", "/"},
			{"one.test", "/only-two"}, {"unknown.test", "/only-two"}, {"dot.test", "/"}, {"a.dot.test", "/"}},
	},
	{
		name: "^~ beats regex, regex beats plain prefix, server_name forms",
		conf: `upstream a { server {{A}}; } upstream b { server {{B}}; }
server { listen 127.0.0.1:{{PORT}} default_server; server_name www.shop.*;
  location / { proxy_pass http://a; }
  location ^~ /static/ { proxy_pass http://b; }
  location /media/ { proxy_pass http://b; }
  location ~ \.(png|css)$ { return 200 "regex"; }
}
server { listen 127.0.0.1:{{PORT}}; server_name ~^api[0-9]+\.test$; location / { return 200 "api"; } }
server { listen 127.0.0.1:{{PORT}}; server_name *.shop.test; location / { return 200 "leading"; } }`,
		reqs: []nginxReq{{"www.shop.test", "/static/a.png"}, {"www.shop.test", "/media/a.png"},
			{"www.shop.test", "/media/a.txt"}, {"www.shop.test", "/x.css"}, {"api7.test", "/"}, {"apix.test", "/"},
			{"www.shop.test", "/"}, {"m.shop.test", "/"}},
	},
	{
		name: "proxy_set_header inheritance and variables",
		conf: `upstream a { server {{A}}; }
proxy_set_header X-Real-IP $remote_addr;
server { listen 127.0.0.1:{{PORT}};
  proxy_set_header X-Level server;
  location / { proxy_pass http://a; }
  location /own { proxy_set_header Host $host; proxy_set_header X-Custom "u=$http_x_user uri=$request_uri";
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_pass http://a; }
  location /named { proxy_set_header Host backend.internal; proxy_pass http://a; }
}`,
		reqs: []nginxReq{{"h.test", "/"}, {"h.test", "/own/x?q=1"}, {"h.test", "/named"}},
	},
}

// echoHeaders are the request headers the echo upstreams report.
var echoHeaders = []string{"Host", "X-Real-Ip", "X-Forwarded-For", "X-Forwarded-Proto", "X-Level", "X-Custom", "X-User"}

func echoUpstream(t *testing.T, name string) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
// that the same requests reach the same upstream with the same URI and headers.
func TestNginxDifferential(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not on PATH")
	}
	a, b := echoUpstream(t, "A"), echoUpstream(t, "B")
	for _, tc := range nginxCorpus {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, port string) string {
				conf := strings.NewReplacer("{{PORT}}", port, "{{A}}", a, "{{B}}", b).Replace(tc.conf)
				conf = "events {}\nhttp {\n" + conf + "\n}\n"
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			nport, fport := port(t), port(t)
			nginxAddr := startNginx(t, bin, dir, write("nginx.conf", nport), nport)
			fjordAddr := startFjord(t, write("fjord.conf", fport))
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			t.Cleanup(client.CloseIdleConnections)
			for _, rq := range tc.reqs {
				ns, nb := fetch(t, client, nginxAddr, rq)
				fs, fb := fetch(t, client, fjordAddr, rq)
				if ns != fs {
					t.Errorf("%s %s: status nginx %d, fjord %d\nnginx:\n%s\nfjord:\n%s", rq.host, rq.path, ns, fs, nb, fb)
					continue
				}
				// Upstream answers and return bodies must match exactly; error
				// pages (404) differ in wording only.
				if ns < 300 && nb != fb {
					t.Errorf("%s %s: upstream saw different requests\nnginx:\n%s\nfjord:\n%s", rq.host, rq.path, nb, fb)
				}
			}
		})
	}
}

func port(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// fetch sends one request; the client address is always 127.0.0.1, so the
// X-Forwarded-For and X-Real-IP the upstreams see are comparable.
func fetch(t *testing.T, c *http.Client, addr string, rq nginxReq) (int, string) {
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
	if loc := resp.Header.Get("Location"); loc != "" {
		body = append(body, "\nLocation: "+loc...)
	}
	return resp.StatusCode, string(body)
}

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
