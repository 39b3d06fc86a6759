package proxy

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// TestCurlHTTP2 runs the curl binary (skipped when it is not installed) against fjord: HTTP/2 by ALPN over TLS,
// h2c with prior knowledge, and --http2 on a plain listener, where curl's h2c upgrade offer is answered in HTTP/1.1.
// Go's own TLS and HTTP/2 clients are in TestH2Downstream.
func TestCurlHTTP2(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed (.ci/run installs it)")
	}
	tests := []struct {
		name    string
		mode    func(t *testing.T) *ListenerMode
		scheme  string
		flag    string
		version string // curl's %{http_version}
	}{
		{"tls alpn", func(t *testing.T) *ListenerMode { return h2Modes()[0].mode(t) }, "https", "--http2", "2"},
		{"h2c prior knowledge", func(t *testing.T) *ListenerMode { return &ListenerMode{H2C: true} }, "http", "--http2-prior-knowledge", "2"},
		{"plain listener declines the h2c upgrade", func(t *testing.T) *ListenerMode { return &ListenerMode{} }, "http", "--http2", "1.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := routeTo(t, echoUpstream(t))
			addr := startModeProxy(t, cfgOf(t, prefix("/", rt)), tc.mode(t))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, curl, "-sS", "-k", tc.flag, "--data-binary", "hello",
				"-w", "\n%{http_version} %{http_code}", tc.scheme+"://"+addr+"/curl/x?q=1").CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			body, status, _ := strings.Cut(string(out), "\n")
			if want := tc.version + " 200"; status != want {
				t.Fatalf("curl reports %q, want %q (body %q)", status, want, body)
			}
			if !strings.HasPrefix(body, "POST /curl/x?q=1 proto=HTTP/1.1") || !strings.HasSuffix(body, "body=hello") {
				t.Fatalf("upstream echo %q", body)
			}
		})
	}
}

// TestWebSocketClient sends messages with a real WebSocket client (golang.org/x/net/websocket) through fjord to a
// WebSocket echo server from the same package, on both engines: the handshake (Sec-WebSocket-Accept computed by the
// upstream from the client's key) and the frames must pass through unchanged, in both directions.
func TestWebSocketClient(t *testing.T) {
	// Whole messages are echoed (io.Copy would echo each read as its own frame, splitting large messages).
	up := upstreamServer(t, websocket.Handler(func(ws *websocket.Conn) {
		for {
			var msg string
			if websocket.Message.Receive(ws, &msg) != nil || websocket.Message.Send(ws, msg) != nil {
				return
			}
		}
	}).ServeHTTP)
	for _, e := range []struct {
		name   string
		engine Engine
	}{{"loop", EngineLoop}, {"goroutines", EngineGoroutines}} {
		t.Run(e.name, func(t *testing.T) {
			cfg := cfgOf(t, prefix("/", routeTo(t, hostOf(up))))
			cfg.Engine = e.engine
			addr := startProxy(t, cfg).addr
			ws, err := websocket.Dial("ws://"+addr+"/ws", "", "http://"+addr+"/")
			if err != nil {
				t.Fatalf("websocket handshake through fjord: %v", err)
			}
			defer ws.Close()
			_ = ws.SetDeadline(time.Now().Add(10 * time.Second))
			for i, msg := range []string{"hello", strings.Repeat("x", 70_000), "", "bye"} {
				if err := websocket.Message.Send(ws, msg); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				var got string
				if err := websocket.Message.Receive(ws, &got); err != nil {
					t.Fatalf("receive %d: %v", i, err)
				}
				if got != msg {
					t.Fatalf("message %d: echoed %d bytes, want %d", i, len(got), len(msg))
				}
			}
			bin := []byte{0, 1, 2, 0xff}
			if err := websocket.Message.Send(ws, bin); err != nil {
				t.Fatalf("send binary: %v", err)
			}
			var gotBin []byte
			if err := websocket.Message.Receive(ws, &gotBin); err != nil || fmt.Sprint(gotBin) != fmt.Sprint(bin) {
				t.Fatalf("binary echo %v, %v", gotBin, err)
			}
		})
	}
}
