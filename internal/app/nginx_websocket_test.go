package app_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// wsUpstream accepts upgrade requests: it checks that Upgrade: websocket and Connection: upgrade arrived, answers
// 101 and then echoes every byte. A request without them gets a 400 naming what it saw.
func wsUpstream(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveWS(c)
		}
	}()
	return ln.Addr().String()
}

func serveWS(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitLimit))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	up, conn := req.Header.Get("Upgrade"), strings.ToLower(req.Header.Get("Connection"))
	if up != "websocket" || !strings.Contains(conn, "upgrade") {
		msg := fmt.Sprintf("no upgrade: Upgrade=%q Connection=%q", up, conn)
		fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(msg), msg)
		return
	}
	io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	_, _ = io.Copy(c, br)
}

// TestNginxWebSocketIdiom runs the WebSocket idiom (map $http_upgrade $connection_upgrade; proxy_set_header
// Upgrade and Connection) in nginx and fjord: an upgrade request gets 101 and a working two-way tunnel through
// both, and a plain request reaches the upstream without the upgrade headers in both.
func TestNginxWebSocketIdiom(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not on PATH")
	}
	tc := nginxCase{conf: `map $http_upgrade $connection_upgrade { default upgrade; '' close; }
server { listen 127.0.0.1:{{PORT}};
  location /ws/ { proxy_pass http://{{A}}; proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; }
}`}
	ups := map[string]string{"{{A}}": wsUpstream(t)}
	dir := t.TempDir()
	ps := ports(t, 4)
	nconf := writeCase(t, filepath.Join(dir, "n"), tc, ps[0:2], ups)
	fconf := writeCase(t, filepath.Join(dir, "f"), tc, ps[2:4], ups)
	startNginx(t, bin, filepath.Join(dir, "n"), nconf, ps[0])
	startFjord(t, fconf)
	for _, side := range []struct{ name, port string }{{"nginx", ps[0]}, {"fjord", ps[2]}} {
		t.Run(side.name+" upgrade", func(t *testing.T) {
			c, err := net.Dial("tcp", "127.0.0.1:"+side.port)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(waitLimit))
			io.WriteString(c, "GET /ws/chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 101 {
				body, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d (%s), want 101", resp.StatusCode, body)
			}
			for _, msg := range []string{"ping", "pong pong"} {
				io.WriteString(c, msg)
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
					t.Fatalf("echo of %q through the tunnel: %q, %v", msg, got, err)
				}
			}
		})
		t.Run(side.name+" plain request", func(t *testing.T) {
			resp, err := http.Get("http://127.0.0.1:" + side.port + "/ws/plain")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || !strings.HasPrefix(string(body), `no upgrade: Upgrade=""`) {
				t.Errorf("plain request: %d %q, want the upstream's 400 with no Upgrade header", resp.StatusCode, body)
			}
		})
	}
}
