package app_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoClient is an upstream that answers with the client headers fjord sends, and counts requests, so a test can
// tell both who fjord thought the client was and whether a denied request reached the service.
func echoClient(t *testing.T) (*upstream, *atomic.Int64) {
	var hits atomic.Int64
	u := newUpstream(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintf(w, "real=%s xff=%s", r.Header.Get("X-Real-IP"), r.Header.Get("X-Forwarded-For"))
	})
	return u, &hits
}

// rawGet sends one request on a new connection, optionally preceded by pre (a PROXY header), and returns the
// response, or the error reading it (EOF when fjord closed the connection).
func rawGet(t *testing.T, addr string, pre []byte, path string, headers ...string) (*http.Response, string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitLimit))
	req := "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	if _, err := c.Write(append(append([]byte(nil), pre...), req+"\r\n"...)); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// TestAccessRules checks allow/deny through the gateway on both engines: first match wins, a route's list replaces
// the server's, a denied request is 403 without reaching the service, and the access log names the rule.
func TestAccessRules(t *testing.T) {
	for _, engine := range []string{"loop", "goroutines"} {
		t.Run(engine, func(t *testing.T) {
			u, hits := echoClient(t)
			logPath := filepath.Join(t.TempDir(), "access.log")
			g := startGateway(t, fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
access_log: {format: json, path: %q}
server:
  engine: %s
  access: ["deny 127.0.0.0/8"]
services:
  s: {instances: [%q]}
routes:
  - {name: default, match: {path_prefix: /default}, service: s}
  - {name: open, match: {path_prefix: /open}, service: s, access: []}
  - {name: lan, match: {path_prefix: /lan}, service: s, access: ["allow 127.0.0.1", "deny all"]}
  - {name: other, match: {path_prefix: /other}, service: s, access: ["allow 10.0.0.0/8", "deny all"]}
  - {name: ret, match: {path_prefix: /ret}, return: {status: 200, body: hi}, access: ["deny ::/0", "deny 0.0.0.0/0"]}
`, logPath, engine, u.addr))
			tests := []struct {
				path   string
				status int
				rule   string
			}{
				{"/default", 403, "access denied by rule 1 (deny 127.0.0.0/8)"},
				{"/open", 200, ""},
				{"/lan", 200, ""},
				{"/other", 403, "access denied by rule 2 (deny all)"},
				{"/ret", 403, "access denied by rule 2 (deny 0.0.0.0/0)"},
			}
			c := newClient(t)
			for _, tt := range tests {
				before := hits.Load()
				status, _, err := get(c, g.url(tt.path))
				if err != nil || status != tt.status {
					t.Fatalf("GET %s = %d, %v; want %d", tt.path, status, err, tt.status)
				}
				if tt.status == 403 && hits.Load() != before {
					t.Fatalf("GET %s: denied request reached the service", tt.path)
				}
			}
			// Keep-alive survives a 403 (no body to skip): the same client made all the requests above.
			for _, tt := range tests {
				if tt.rule != "" {
					waitFileContains(t, logPath, `"reason":"`+tt.rule+`"`)
				}
			}
		})
	}
}

// waitFileContains polls path until it contains s (the access log is written in batches).
func waitFileContains(t *testing.T, path, s string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not contain %s; it has:\n%s", path, s, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTrustedProxies checks which X-Forwarded-For addresses are believed: only a trusted peer's, walking from the
// right past trusted hops (or taking the rightmost without recursion), and that the result is what access rules
// and X-Real-IP use, while X-Forwarded-For gets the connecting hop appended.
func TestTrustedProxies(t *testing.T) {
	u, _ := echoClient(t)
	tests := []struct {
		name, server, xff string
		status            int
		body              string
	}{
		{"untrusted peer: header ignored", `{trusted_proxies: ["10.0.0.0/8"]}`, "203.0.113.7",
			200, "real=127.0.0.1 xff=203.0.113.7, 127.0.0.1"},
		{"trusted peer: rightmost untrusted", `{trusted_proxies: ["127.0.0.1", "10.0.0.0/8"]}`, "198.51.100.1, 203.0.113.7, 10.1.2.3",
			200, "real=203.0.113.7 xff=198.51.100.1, 203.0.113.7, 10.1.2.3, 127.0.0.1"},
		{"not recursive: rightmost", `{trusted_proxies: ["127.0.0.1", "10.0.0.0/8"], real_ip_recursive: false}`, "203.0.113.7, 10.1.2.3",
			200, "real=10.1.2.3 xff=203.0.113.7, 10.1.2.3, 127.0.0.1"},
		{"all trusted: leftmost", `{trusted_proxies: ["127.0.0.1", "10.0.0.0/8"]}`, "10.9.9.9, 10.1.2.3",
			200, "real=10.9.9.9 xff=10.9.9.9, 10.1.2.3, 127.0.0.1"},
		{"garbage stops the walk", `{trusted_proxies: ["127.0.0.0/8", "10.0.0.0/8"]}`, "203.0.113.7, nonsense, 10.1.2.3",
			200, "real=10.1.2.3 xff=203.0.113.7, nonsense, 10.1.2.3, 127.0.0.1"},
		{"header off", `{trusted_proxies: ["127.0.0.1"], real_ip_header: none}`, "203.0.113.7",
			200, "real=127.0.0.1 xff=203.0.113.7, 127.0.0.1"},
		{"denied by the real address", `{trusted_proxies: ["127.0.0.1"]}`, "192.0.2.66", 403, ""},
		{"port and brackets dropped", `{trusted_proxies: ["127.0.0.1"]}`, "[2001:db8::5]:443",
			200, "real=2001:db8::5 xff=[2001:db8::5]:443, 127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t, fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
server: %s
services:
  s: {instances: [%q]}
routes: [{service: s, access: ["deny 192.0.2.0/24"]}]
`, tt.server, u.addr))
			resp, body, err := rawGet(t, g.addrs[0], nil, "/", "X-Forwarded-For: "+tt.xff)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || tt.status == 200 && body != tt.body {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
		})
	}
}

func proxyV2(src, dst netip.AddrPort) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c")
	b = append(b, src.Addr().AsSlice()...)
	b = append(b, dst.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// TestProxyProtocol checks PROXY-protocol listeners: v1 and v2 headers from a trusted peer name the client (for
// X-Real-IP, X-Forwarded-For and access rules); a missing header, a malformed one, or any connection from an
// untrusted peer is closed without an answer.
func TestProxyProtocol(t *testing.T) {
	u, hits := echoClient(t)
	cfg := func(trusted string) string {
		return fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0", proxy_protocol: true}]
server: {read_header_timeout: 2s, trusted_proxies: [%q]}
services:
  s: {instances: [%q]}
routes: [{service: s, access: ["deny 192.0.2.0/24"]}]
`, trusted, u.addr)
	}
	v2 := proxyV2(netip.MustParseAddrPort("198.51.100.9:4000"), netip.MustParseAddrPort("127.0.0.1:80"))
	tests := []struct {
		name, trusted string
		pre           []byte
		status        int // 0: the connection is closed without a response
		body          string
	}{
		{"v1", "127.0.0.1", []byte("PROXY TCP4 198.51.100.9 127.0.0.1 4000 80\r\n"), 200,
			"real=198.51.100.9 xff=198.51.100.9"},
		{"v1 ipv6", "127.0.0.1", []byte("PROXY TCP6 2001:db8::9 ::1 4000 80\r\n"), 200, "real=2001:db8::9 xff=2001:db8::9"},
		{"v2", "127.0.0.1", v2, 200, "real=198.51.100.9 xff=198.51.100.9"},
		{"v1 unknown keeps the peer", "127.0.0.1", []byte("PROXY UNKNOWN\r\n"), 200, "real=127.0.0.1 xff=127.0.0.1"},
		{"denied by the header's source", "127.0.0.1", []byte("PROXY TCP4 192.0.2.1 127.0.0.1 4000 80\r\n"), 403, ""},
		{"missing header", "127.0.0.1", nil, 0, ""},
		{"malformed header", "127.0.0.1", []byte("PROXY TCP4 198.51.100.9\r\n"), 0, ""},
		{"untrusted peer", "10.0.0.1", []byte("PROXY TCP4 198.51.100.9 127.0.0.1 4000 80\r\n"), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t, cfg(tt.trusted))
			before := hits.Load()
			resp, body, err := rawGet(t, g.addrs[0], tt.pre, "/")
			if tt.status == 0 {
				if err == nil {
					t.Fatalf("got %d %q, want the connection closed", resp.StatusCode, body)
				}
				if hits.Load() != before {
					t.Fatal("a refused connection reached the service")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || tt.status == 200 && body != tt.body {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
		})
	}
}

// TestSlowloris checks that read_header_timeout cuts a client that drips its head one byte every 100 ms, on both
// engines: the connection gets a 408 and is closed about when the timeout ends, long before the head would be done.
func TestSlowloris(t *testing.T) {
	u, hits := echoClient(t)
	for _, engine := range []string{"loop", "goroutines"} {
		t.Run(engine, func(t *testing.T) {
			g := startGateway(t, fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
server: {engine: %s, read_header_timeout: 1s}
services:
  s: {instances: [%q]}
routes: [{service: s}]
`, engine, u.addr))
			c, err := net.Dial("tcp", g.addrs[0])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			head := "GET / HTTP/1.1\r\nHost: x\r\nX-Padding: " + strings.Repeat("a", 200) + "\r\n\r\n" // 20 s at 100 ms a byte
			start := time.Now()
			got := make(chan string, 1)
			go func() {
				b, _ := io.ReadAll(c) // until fjord closes
				got <- string(b)
			}()
			var resp string
		drip:
			for i := 0; i < len(head); i++ {
				select {
				case resp = <-got:
					break drip
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := c.Write([]byte{head[i]}); err != nil {
					resp = <-got
					break
				}
			}
			elapsed := time.Since(start)
			if !strings.HasPrefix(resp, "HTTP/1.1 408 ") {
				t.Fatalf("got %q after %v, want a 408", resp, elapsed)
			}
			if elapsed > 5*time.Second {
				t.Fatalf("connection held for %v with read_header_timeout 1s", elapsed)
			}
			if hits.Load() != 0 {
				t.Fatal("the slow request reached the service")
			}
		})
	}
}
