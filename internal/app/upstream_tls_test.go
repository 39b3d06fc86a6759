package app_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/app"
)

// leaf issues a certificate from ca for 127.0.0.1 and the DNS names, with the given extended key usage, and returns
// it parsed and as PEM files.
func leaf(t *testing.T, ca *testCA, cn string, usage x509.ExtKeyUsage, names ...string) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		DNSNames: names, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPEM, keyPEM
}

// tlsUpstream is an HTTPS upstream with a certificate from ca for 127.0.0.1 and api.internal. It counts its TLS
// handshakes, and when clientCA is set it requires a client certificate from it.
type tlsUpstream struct {
	addr       string
	handshakes atomic.Int64
}

func newTLSUpstream(t *testing.T, ca, clientCA *testCA, h http.HandlerFunc) *tlsUpstream {
	t.Helper()
	u := &tlsUpstream{}
	pair, _, _ := leaf(t, ca, "upstream", x509.ExtKeyUsageServerAuth, "api.internal")
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{pair},
		// Called once per full or resumed handshake.
		VerifyConnection: func(tls.ConnectionState) error { u.handshakes.Add(1); return nil },
	}
	if clientCA != nil {
		srv.TLS.ClientAuth, srv.TLS.ClientCAs = tls.RequireAndVerifyClientCert, clientCA.pool
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u.addr = srv.Listener.Addr().String()
	return u
}

// tlsService is a config with one service on addr whose tls block is block, behind a plain listener.
func tlsService(addr, block string, maxIdle int) string {
	return fmt.Sprintf(`listeners: [{address: "127.0.0.1:0"}]
services:
  s:
    instances: ["%s"]
    timeouts: {connect: 2s}
    keepalive: {max_idle_per_instance: %d}
    tls: %s
routes: [{service: s}]
`, addr, maxIdle, block)
}

// TestUpstreamTLS: requests reach TLS upstreams when the certificate verifies (CA bundle, default and explicit
// server name, client certificate for mTLS), and get 502 with the certificate problem in the log when not.
func TestUpstreamTLS(t *testing.T) {
	ca, other, clientCA, dir := newCA(t), newCA(t), newCA(t), t.TempDir()
	writeFile(t, filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
	writeFile(t, filepath.Join(dir, "other.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.cert.Raw}))
	_, cc, ck := leaf(t, clientCA, "fjord", x509.ExtKeyUsageClientAuth)
	writeFile(t, filepath.Join(dir, "client.pem"), cc)
	writeFile(t, filepath.Join(dir, "client.key"), ck)
	hello := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "tls %s", r.TLS.NegotiatedProtocol) }
	plain, mtls := newTLSUpstream(t, ca, nil, hello), newTLSUpstream(t, ca, clientCA, hello)

	for _, tc := range []struct {
		name, addr, block string
		wantStatus        int
		wantLog           string // in the gateway's log when the request fails
	}{
		{"ca, instance IP as server name", plain.addr, `{ca: %s/ca.pem}`, 200, ""},
		{"ca, explicit server name", plain.addr, `{ca: %s/ca.pem, server_name: api.internal}`, 200, ""},
		{"wrong ca", plain.addr, `{ca: %s/other.pem}`, 502, "certificate signed by unknown authority"},
		{"system roots do not know the test ca", plain.addr, `{server_name: api.internal}`, 502, "certificate signed by unknown authority"},
		{"server name mismatch", plain.addr, `{ca: %s/ca.pem, server_name: other.internal}`, 502, "not other.internal"},
		{"insecure skip verify", plain.addr, `{ca: %s/other.pem, insecure_skip_verify: true}`, 200, ""},
		{"mtls with client certificate", mtls.addr, `{ca: %[1]s/ca.pem, cert: %[1]s/client.pem, key: %[1]s/client.key}`, 200, ""},
		{"mtls without client certificate", mtls.addr, `{ca: %s/ca.pem}`, 502, "certificate required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			block := tc.block
			if strings.Contains(block, "%") {
				block = fmt.Sprintf(block, dir)
			}
			g := startGateway(t, tlsService(tc.addr, block, 4))
			var logged <-chan struct{}
			if tc.wantLog != "" {
				logged = g.logs.waitFor(tc.wantLog)
			}
			status, body, err := get(newClient(t), g.url("/"))
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.wantStatus {
				t.Fatalf("status %d %q, want %d\nlog:\n%s", status, body, tc.wantStatus, g.logs)
			}
			if tc.wantStatus == 200 && body != "tls http/1.1" {
				t.Errorf("body %q, want the upstream to see TLS with ALPN http/1.1", body)
			}
			if logged != nil {
				select {
				case <-logged:
				case <-time.After(waitLimit):
					t.Errorf("log lacks %q:\n%s", tc.wantLog, g.logs)
				}
			}
		})
	}
}

// TestUpstreamTLSConnections: keep-alive reuses one TLS connection (one handshake for many requests), and without
// keep-alive every new connection resumes the session instead of a full handshake.
func TestUpstreamTLSConnections(t *testing.T) {
	ca, dir := newCA(t), t.TempDir()
	writeFile(t, filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
	up := newTLSUpstream(t, ca, nil, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "resumed=%t", r.TLS.DidResume)
	})
	const n = 5
	t.Run("keep-alive", func(t *testing.T) {
		g := startGateway(t, tlsService(up.addr, fmt.Sprintf(`{ca: %s/ca.pem}`, dir), 4))
		before, c := up.handshakes.Load(), newClient(t)
		for range n {
			mustGet(t, c, g.url("/"), 200, "resumed=false")
		}
		if got := up.handshakes.Load() - before; got != 1 {
			t.Errorf("%d handshakes for %d requests, want 1 (keep-alive reuse)", got, n)
		}
	})
	t.Run("resumption", func(t *testing.T) {
		g := startGateway(t, tlsService(up.addr, fmt.Sprintf(`{ca: %s/ca.pem}`, dir), 0))
		before, c := up.handshakes.Load(), newClient(t)
		for i := range n {
			mustGet(t, c, g.url("/"), 200, fmt.Sprintf("resumed=%t", i > 0))
		}
		if got := up.handshakes.Load() - before; got != n {
			t.Errorf("%d handshakes for %d requests, want %d (keep-alive off)", got, n, n)
		}
	})
}

// TestUpstreamTLSLargeBodies: 1 MiB request and response bodies pass through a TLS upstream intact (splice needs two
// TCP sockets, so these take the buffered copy).
func TestUpstreamTLSLargeBodies(t *testing.T) {
	ca, dir := newCA(t), t.TempDir()
	writeFile(t, filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	sum := sha256.Sum256(big)
	up := newTLSUpstream(t, ca, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, err := io.ReadAll(r.Body)
			h := sha256.Sum256(b)
			fmt.Fprintf(w, "%d %x %v", len(b), h, err)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		w.Write(big)
	})
	g := startGateway(t, tlsService(up.addr, fmt.Sprintf(`{ca: %s/ca.pem}`, dir), 4))
	c := newClient(t)
	for i := range 2 { // the second round runs on the reused connection
		resp, err := c.Post(g.url("/"), "application/octet-stream", bytes.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("%d %s <nil>", len(big), hex.EncodeToString(sum[:])); string(got) != want {
			t.Fatalf("round %d: upload: upstream saw %q, want %q", i, got, want)
		}
		status, body, err := get(c, g.url("/"))
		if err != nil || status != 200 || body != string(big) {
			t.Fatalf("round %d: download: %d, %d bytes, err %v", i, status, len(body), err)
		}
	}
}

// TestUpstreamTLSDiagnostics: the files of a service's tls block are read at load, and problems are reported at the
// position of the offending value.
func TestUpstreamTLSDiagnostics(t *testing.T) {
	ca, dir := newCA(t), t.TempDir()
	writeFile(t, filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
	writeFile(t, filepath.Join(dir, "junk.pem"), []byte("not a certificate\n"))
	ca.writePair(t, dir, "a", "a", "a.test")
	ca.writePair(t, dir, "b", "b", "b.test")
	for _, tc := range []struct {
		name, block string
		at          string // the text the diagnostic points at
		want        string // the diagnostic after "FILE:LINE:COL: "
	}{
		{"relative paths ok", `{ca: ca.pem, cert: a.pem, key: a.key}`, "", ""},
		{"missing ca", `{ca: nope.pem}`, "nope.pem", "error: read ca: open " + dir + "/nope.pem: no such file or directory"},
		{"ca without certificates", `{ca: junk.pem}`, "junk.pem", "error: ca junk.pem holds no PEM CERTIFICATE block"},
		{"missing client key", `{cert: a.pem, key: nope.key}`, "nope.key", "error: read key: open " + dir + "/nope.key: no such file or directory"},
		{"key of another certificate", `{cert: a.pem, key: b.key}`, "b.key", "error: key b.key does not match certificate a.pem: it is the private key of another certificate (the first certificate in the file must be the one for this key)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := tlsService("127.0.0.1:1", tc.block, 4)
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
			if got := strings.TrimSpace(diags.String()); got != want || b != nil {
				t.Errorf("diagnostics:\n%s\nwant:\n%s\n(config returned: %v)", got, want, b != nil)
			}
		})
	}
}

// TestUpstreamTLSHealthChecks: active health checks reach a TLS-only upstream over TLS, so it stays in rotation.
func TestUpstreamTLSHealthChecks(t *testing.T) {
	ca, dir := newCA(t), t.TempDir()
	writeFile(t, filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
	up := newTLSUpstream(t, ca, nil, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	cfg := strings.Replace(tlsService(up.addr, fmt.Sprintf(`{ca: %s/ca.pem}`, dir), 4),
		"    tls:", "    health_check: {path: /healthz, interval: 20ms, jitter: 5ms, fall: 1, rise: 1}\n    tls:", 1)
	g := startGateway(t, cfg)
	cl := newClient(t)
	// Long enough for several probes: a plain-TCP probe against the TLS port would have marked it down by now.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if code, body, err := get(cl, g.url("/x")); err != nil || code != 200 || body != "ok" {
			t.Fatalf("TLS upstream with health checks: %d %q %v (log:\n%s)", code, body, err, g.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
