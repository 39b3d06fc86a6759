package app_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNginxTLS runs TLS configs in nginx and fjord: per-server certificates
// on one address (chosen by SNI), the default server's certificate for
// clients without a known name, ALPN h2 from `listen ... http2`, the TLS
// version floor, $scheme, and the port-80 redirect idiom. Both must answer
// each client alike, and as the case expects.
func TestNginxTLS(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not on PATH")
	}
	ups := map[string]string{"{{A}}": echoUpstream(t, "A")}
	type tlsReq struct {
		sni, host, path string
		maxVersion      uint16
		port            int    // 0: {{PORT}} (TLS), 1: {{PORT2}} (plain)
		want            string // a fragment the description must contain
	}
	tests := []struct {
		name string
		conf string
		reqs []tlsReq
	}{
		{
			name: "SNI certificates, http2, redirect",
			conf: `upstream a { server {{A}}; }
server { listen 127.0.0.1:{{PORT}} ssl http2; server_name a.test;
  ssl_certificate a.pem; ssl_certificate_key a.key;
  ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305; ssl_prefer_server_ciphers on;
  ssl_session_cache shared:SSL:1m; ssl_session_timeout 10m;
  location / { proxy_pass http://a; proxy_set_header X-Custom $scheme; } }
server { listen 127.0.0.1:{{PORT}} ssl; server_name b.test;
  ssl_certificate b.pem; ssl_certificate_key b.key;
  location / { return 200 "b $scheme $host\n"; } }
server { listen 127.0.0.1:{{PORT2}}; server_name _; return 301 https://$host$request_uri; }`,
			reqs: []tlsReq{
				{sni: "a.test", host: "a.test", path: "/x?y=1", want: "cert a.test HTTP/2.0 status 200\nupstream A\nGET /x?y=1"},
				{sni: "b.test", host: "b.test", path: "/", want: "cert b.test HTTP/2.0 status 200\nb https b.test"},
				{sni: "", host: "b.test", path: "/", want: "cert a.test HTTP/2.0 status 200\nb https b.test"},
				{sni: "other.test", host: "other.test", path: "/", want: "cert a.test HTTP/2.0 status 200\nupstream A"},
				{sni: "a.test", host: "a.test", path: "/", maxVersion: tls.VersionTLS11, want: "handshake failed"},
				{port: 1, host: "a.test", path: "/p?q=1", want: "status 301\nLocation: https://a.test/p?q=1"},
			},
		},
		{
			name: "TLS 1.3 only, HTTP/1.1",
			conf: `server { listen 127.0.0.1:{{PORT}} ssl; ssl_protocols TLSv1.3;
  ssl_certificate a.pem; ssl_certificate_key a.key; location / { return 200 "ok\n"; } }
server { listen 127.0.0.1:{{PORT2}}; location / { proxy_pass http://{{A}}; } }`,
			reqs: []tlsReq{
				{sni: "a.test", host: "a.test", path: "/", want: "cert a.test HTTP/1.1 status 200\nok"},
				{sni: "a.test", host: "a.test", path: "/", maxVersion: tls.VersionTLS12, want: "handshake failed"},
			},
		},
	}
	ca := newCA(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ps := ports(t, 4)
			c := nginxCase{conf: tc.conf}
			var confs [2]string
			for i, sub := range []string{"n", "f"} {
				confs[i] = writeCase(t, filepath.Join(dir, sub), c, ps[2*i:2*i+2], ups)
				ca.writePair(t, filepath.Join(dir, sub), "a", "a.test", "a.test")
				ca.writePair(t, filepath.Join(dir, sub), "b", "b.test", "b.test")
			}
			startNginx(t, bin, filepath.Join(dir, "n"), confs[0], ps[0])
			startFjord(t, confs[1])
			for _, rq := range tc.reqs {
				scheme := [2]string{"https", "http"}[rq.port]
				n := tlsAnswer(t, ca, scheme+"://127.0.0.1:"+ps[rq.port], rq.sni, rq.host, rq.path, rq.maxVersion)
				f := tlsAnswer(t, ca, scheme+"://127.0.0.1:"+ps[2+rq.port], rq.sni, rq.host, rq.path, rq.maxVersion)
				if n != f {
					t.Errorf("sni %q host %q %s: nginx and fjord differ\nnginx:\n%s\nfjord:\n%s", rq.sni, rq.host, rq.path, n, f)
				}
				if !strings.Contains(f, rq.want) {
					t.Errorf("sni %q host %q %s: fjord answered\n%s\nwant it to contain\n%s", rq.sni, rq.host, rq.path, f, rq.want)
				}
			}
		})
	}
}

// tlsAnswer sends one request to base (https://… with SNI sni, or http://…)
// and describes the certificate, protocol and answer.
func tlsAnswer(t *testing.T, ca *testCA, base, sni, host, path string, maxVersion uint16) string {
	cfg := &tls.Config{ServerName: sni, RootCAs: ca.pool, MaxVersion: maxVersion}
	if sni != "a.test" && sni != "b.test" {
		// No name the certificates carry: the test reads the served certificate's name itself.
		cfg.InsecureSkipVerify = true
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "tls: ") {
			return "handshake failed"
		}
		t.Fatalf("%s %s: %v", host, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var b strings.Builder
	if resp.TLS != nil {
		fmt.Fprintf(&b, "cert %s %s ", resp.TLS.PeerCertificates[0].Subject.CommonName, resp.Proto)
	}
	fmt.Fprintf(&b, "status %d\n", resp.StatusCode)
	if l := resp.Header.Get("Location"); l != "" {
		fmt.Fprintf(&b, "Location: %s\n", l)
	}
	if !generatedPage.Match(body) {
		b.Write(body)
	}
	return b.String()
}
