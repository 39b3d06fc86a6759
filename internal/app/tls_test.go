package app_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/app"
)

// echoProto is an upstream that answers with the X-Forwarded-Proto it received and the X-Scheme the route sets from
// ${scheme}.
func echoProto(t *testing.T) *upstream {
	return newUpstream(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Scheme"))
	})
}

const echoRoutes = `services:
  echo: {instances: ["%s"], timeouts: {connect: 1s}}
routes:
  - match: {path_prefix: /}
    service: echo
    request_headers: {set: {X-Scheme: "${scheme}"}}
`

// httpsClient trusts ca and sends serverName as SNI whatever the URL's host; its idle connections are closed when
// the test ends.
func httpsClient(t *testing.T, ca *testCA, serverName string, cache tls.ClientSessionCache) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: serverName, ClientSessionCache: cache}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitLimit}
}

// TestTLSTermination: certificates are chosen by SNI (exact names, a wildcard one label deep, the first as the
// default), and a request over TLS reaches the upstream with X-Forwarded-Proto and ${scheme} "https".
func TestTLSTermination(t *testing.T) {
	ca, dir, up := newCA(t), t.TempDir(), echoProto(t)
	ca.writePair(t, dir, "default", "default", "default.test")
	ca.writePair(t, dir, "api", "api", "api.example.test")
	ca.writePair(t, dir, "wild", "wild", "*.shop.test")
	g := startGateway(t, fmt.Sprintf(`listeners:
  - name: web
    address: "127.0.0.1:0"
    tls:
      certificates:
        - {cert: %[1]s/default.pem, key: %[1]s/default.key}
        - {cert: %[1]s/api.pem, key: %[1]s/api.key}
        - {cert: %[1]s/wild.pem, key: %[1]s/wild.key}
`, dir)+fmt.Sprintf(echoRoutes, up.addr))

	for _, tc := range []struct{ sni, wantCN string }{
		{"api.example.test", "api"},
		{"API.example.test", "api"},
		{"x.shop.test", "wild"},
		{"a.b.shop.test", "default"}, // a wildcard covers one label only
		{"shop.test", "default"},
		{"other.test", "default"},
		{"", "default"}, // no SNI at all (dialled by IP)
	} {
		t.Run("sni="+tc.sni, func(t *testing.T) {
			c, err := dialTLS(t, g.addrs[0], &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true})
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if got := c.ConnectionState().PeerCertificates[0].Subject.CommonName; got != tc.wantCN {
				t.Errorf("certificate %q, want %q", got, tc.wantCN)
			}
		})
	}

	cl := httpsClient(t, ca, "api.example.test", nil)
	resp, err := cl.Get("https://" + g.addrs[0] + "/x")
	if err != nil {
		t.Fatalf("GET over TLS (verified): %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "https https" {
		t.Errorf("upstream saw X-Forwarded-Proto and ${scheme} %q, want \"https https\"", body)
	}
	// A client that prefers HTTP/2 gets it by ALPN (http2 is on by default with tls; see docs/protocols.md).
	c, err := dialTLS(t, g.addrs[0], &tls.Config{RootCAs: ca.pool, ServerName: "api.example.test", NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Errorf("ALPN %q, want h2", p)
	}
}

// TestTLSMinVersion: a client below the listener's min_version is refused during the handshake.
func TestTLSMinVersion(t *testing.T) {
	ca, dir, up := newCA(t), t.TempDir(), echoProto(t)
	ca.writePair(t, dir, "gw", "gw", "gw.test")
	g := startGateway(t, fmt.Sprintf(`listeners:
  - {name: v12, address: "127.0.0.1:0", tls: {certificates: [{cert: %[1]s/gw.pem, key: %[1]s/gw.key}]}}
  - {name: v13, address: "127.0.0.1:0", tls: {certificates: [{cert: %[1]s/gw.pem, key: %[1]s/gw.key}], min_version: "1.3"}}
`, dir)+fmt.Sprintf(echoRoutes, up.addr))
	for _, tc := range []struct {
		name           string
		listener       int
		clientMin, max uint16
		ok             bool
	}{
		{"1.2 listener refuses 1.1", 0, tls.VersionTLS10, tls.VersionTLS11, false},
		{"1.2 listener takes 1.2", 0, tls.VersionTLS12, tls.VersionTLS12, true},
		{"1.2 listener takes 1.3", 0, tls.VersionTLS12, tls.VersionTLS13, true},
		{"1.3 listener refuses 1.2", 1, tls.VersionTLS12, tls.VersionTLS12, false},
		{"1.3 listener takes 1.3", 1, tls.VersionTLS13, tls.VersionTLS13, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dialTLS(t, g.addrs[tc.listener], &tls.Config{RootCAs: ca.pool, ServerName: "gw.test", MinVersion: tc.clientMin, MaxVersion: tc.max})
			if tc.ok {
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				if v := c.ConnectionState().Version; v != tc.max {
					t.Errorf("negotiated %s, want %s", tls.VersionName(v), tls.VersionName(tc.max))
				}
			} else if err == nil {
				t.Fatalf("handshake with a client up to %s succeeded", tls.VersionName(tc.max))
			}
		})
	}
}

// TestTLSReloadSwapsCertificate: a reload puts new certificate files in force for new handshakes while an
// existing keep-alive TLS connection keeps working, and a session ticket issued before the reload still resumes.
func TestTLSReloadSwapsCertificate(t *testing.T) {
	ca, dir, up := newCA(t), t.TempDir(), echoProto(t)
	ca.writePair(t, dir, "gw", "old", "gw.test")
	cfg := fmt.Sprintf(`listeners:
  - {address: "127.0.0.1:0", tls: {certificates: [{cert: %[1]s/gw.pem, key: %[1]s/gw.key}]}}
`, dir) + fmt.Sprintf(echoRoutes, up.addr)
	g := startGateway(t, cfg)
	url := "https://" + g.addrs[0] + "/"
	cache := tls.NewLRUClientSessionCache(4)
	kept := httpsClient(t, ca, "gw.test", cache)

	// do GETs url with c and returns the certificate's name, whether the connection was reused and resumed.
	do := func(c *http.Client) (cn string, reused, resumed bool) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "https https" {
			t.Fatalf("body %q", body)
		}
		return resp.TLS.PeerCertificates[0].Subject.CommonName, reused, resp.TLS.DidResume
	}
	if cn, _, _ := do(kept); cn != "old" {
		t.Fatalf("before reload: certificate %q, want old", cn)
	}

	ca.writePair(t, dir, "gw", "new", "gw.test")
	r := g.apply(cfg)
	if r.err != nil {
		t.Fatalf("reload: %v", r.err)
	}
	if r.addrs[0] != g.addrs[0] {
		t.Fatalf("listener moved from %s to %s", g.addrs[0], r.addrs[0])
	}
	if cn, reused, _ := do(kept); !reused || cn != "old" {
		t.Errorf("existing connection after reload: reused %v, certificate %q; want the same connection (old)", reused, cn)
	}
	if cn, _, resumed := do(httpsClient(t, ca, "gw.test", cache)); !resumed {
		t.Errorf("a session from before the reload did not resume (certificate %q)", cn)
	}
	if cn, reused, resumed := do(httpsClient(t, ca, "gw.test", nil)); cn != "new" || reused || resumed {
		t.Errorf("new connection after reload: certificate %q (reused %v, resumed %v), want new", cn, reused, resumed)
	}
}

// TestTLSConfigDiagnostics: certificate problems are reported at the position of the offending path.
func TestTLSConfigDiagnostics(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	ca.writePair(t, dir, "a", "a", "a.test")
	ca.writePair(t, dir, "b", "b", "b.test")
	c, k := ca.issue(t, "old", []string{"old.test"}, time.Now().Add(-time.Hour))
	writeFile(t, filepath.Join(dir, "old.pem"), c)
	writeFile(t, filepath.Join(dir, "old.key"), k)
	writeFile(t, filepath.Join(dir, "junk.pem"), []byte("not a certificate\n"))
	tail := fmt.Sprintf(echoRoutes, "127.0.0.1:1")
	for _, tc := range []struct {
		name, certs string
		at          string // the text the diagnostic points at
		want        string // the diagnostic after "FILE:LINE:COL: "
	}{
		{"relative paths ok", `[{cert: a.pem, key: a.key}]`, "", ""},
		{"missing cert", `[{cert: nope.pem, key: a.key}]`, "nope.pem", "error: read certificate: open " + dir + "/nope.pem: no such file or directory"},
		{"missing key", `[{cert: a.pem, key: nope.key}]`, "nope.key", "error: read key: open " + dir + "/nope.key: no such file or directory"},
		{"key of another certificate", `[{cert: a.pem, key: b.key}]`, "b.key", "error: key b.key does not match certificate a.pem: it is the private key of another certificate (the first certificate in the file must be the one for this key)"},
		{"not a certificate", `[{cert: junk.pem, key: a.key}]`, "junk.pem", "error: certificate junk.pem: no PEM CERTIFICATE block in the file"},
		{"expired", `[{cert: old.pem, key: old.key}]`, "old.pem", "warning: certificate old.pem expired on " + time.Now().Add(-time.Hour).UTC().Format(time.DateOnly) + "; clients will reject it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "listeners:\n  - address: \"127.0.0.1:0\"\n    tls:\n      certificates: " + tc.certs + "\n" + tail
			path := filepath.Join(dir, "fjord.yaml")
			writeFile(t, path, []byte(text))
			b, diags := app.Load(app.FileSource(path), nil)
			if tc.want == "" {
				if len(diags) != 0 || b == nil {
					t.Fatalf("want no diagnostics, got:\n%s", diags)
				}
				return
			}
			line, col := posOf(t, text, tc.at)
			want := fmt.Sprintf("%s:%d:%d: %s", path, line, col, tc.want)
			if got := strings.TrimSpace(diags.String()); got != want {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", got, want)
			}
			if isErr := strings.HasPrefix(tc.want, "error"); isErr != (b == nil) {
				t.Errorf("Load returned a configuration: %v, want %v", b != nil, !isErr)
			}
		})
	}
}

// TestRedirectToTLS: a plain listener with redirect_to_tls answers every request with 308 to the same host and URI
// on the TLS listener's port, or on redirect_port.
func TestRedirectToTLS(t *testing.T) {
	ca, dir, up := newCA(t), t.TempDir(), echoProto(t)
	ca.writePair(t, dir, "gw", "gw", "gw.test")
	g := startGateway(t, fmt.Sprintf(`listeners:
  - {name: web, address: "127.0.0.1:0", tls: {certificates: [{cert: %[1]s/gw.pem, key: %[1]s/gw.key}]}}
  - {name: plain, address: "127.0.0.1:0", redirect_to_tls: web}
  - {name: public, address: "127.0.0.1:0", redirect_to_tls: web, redirect_port: 443}
`, dir)+fmt.Sprintf(echoRoutes, up.addr))
	_, tlsPort, _ := net.SplitHostPort(g.addrs[0])
	cl := &http.Client{Timeout: waitLimit, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(cl.CloseIdleConnections)
	for _, tc := range []struct {
		name           string
		listener       int
		method, host   string
		target, wantTo string
	}{
		{"port of the tls listener", 1, "GET", "shop.test:8080", "/a/b?x=1&y", "https://shop.test:" + tlsPort + "/a/b?x=1&y"},
		{"post", 1, "POST", "shop.test", "/form", "https://shop.test:" + tlsPort + "/form"},
		{"redirect_port 443 is left out", 2, "GET", "shop.test:80", "/", "https://shop.test/"},
		{"ipv6 host", 2, "HEAD", "[::1]:80", "/p", "https://[::1]/p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://"+g.addrs[tc.listener]+tc.target, strings.NewReader("body"))
			req.Host = tc.host
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 308 || resp.Header.Get("Location") != tc.wantTo {
				t.Errorf("%d Location %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), tc.wantTo)
			}
		})
	}
}

// TestTLSHandshakeTimeout: a client that connects and never sends a ClientHello is cut after read_header_timeout,
// and meanwhile other clients are served.
func TestTLSHandshakeTimeout(t *testing.T) {
	ca, dir, up := newCA(t), t.TempDir(), echoProto(t)
	ca.writePair(t, dir, "gw", "gw", "gw.test")
	const timeout = 300 * time.Millisecond
	g := startGateway(t, fmt.Sprintf(`listeners:
  - {address: "127.0.0.1:0", tls: {certificates: [{cert: %[1]s/gw.pem, key: %[1]s/gw.key}]}}
server: {read_header_timeout: 300ms}
`, dir)+fmt.Sprintf(echoRoutes, up.addr))
	start := time.Now()
	silent, err := net.Dial("tcp", g.addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	half, err := net.Dial("tcp", g.addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	// The first bytes of a TLS record announcing a ClientHello longer than what follows.
	if _, err := half.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}); err != nil {
		t.Fatal(err)
	}

	resp, err := httpsClient(t, ca, "gw.test", nil).Get("https://" + g.addrs[0] + "/")
	if err != nil {
		t.Fatalf("a normal client was not served while others stalled their handshake: %v", err)
	}
	resp.Body.Close()
	served := time.Since(start)

	for _, c := range []net.Conn{silent, half} {
		c.SetReadDeadline(time.Now().Add(waitLimit))
		_, err := c.Read(make([]byte, 1))
		if !errors.Is(err, io.EOF) && !isReset(err) {
			t.Fatalf("stalled handshake: read %v, want the gateway to close the connection", err)
		}
	}
	if took := time.Since(start); took < timeout-50*time.Millisecond {
		t.Errorf("stalled handshakes cut after %v, before read_header_timeout %v", took, timeout)
	}
	if served >= timeout {
		t.Errorf("normal client served after %v, not before the stalled handshakes timed out", served)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && strings.Contains(err.Error(), "reset")
}
