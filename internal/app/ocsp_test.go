package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/fjord-gw/fjord/internal/app"
	fjocsp "github.com/fjord-gw/fjord/internal/ocsp"
)

// ocspResponder is an OCSP responder for ca; while failing it answers 500. valid is each response's
// NextUpdate - ThisUpdate.
type ocspResponder struct {
	ca      *testCA
	url     string
	hits    atomic.Int64
	mu      sync.Mutex
	failing bool
	valid   time.Duration
}

func newOCSPResponder(t *testing.T, ca *testCA) *ocspResponder {
	r := &ocspResponder{ca: ca, valid: time.Hour}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		body, _ := io.ReadAll(req.Body)
		q, err := ocsp.ParseRequest(body)
		r.mu.Lock()
		failing, valid := r.failing, r.valid
		r.mu.Unlock()
		if err != nil || failing {
			http.Error(w, "responder down", http.StatusInternalServerError)
			return
		}
		now := time.Now().Truncate(time.Second)
		der, err := ocsp.CreateResponse(ca.cert, ca.cert, ocsp.Response{Status: ocsp.Good, SerialNumber: q.SerialNumber,
			ThisUpdate: now, NextUpdate: now.Add(valid)}, ca.key)
		if err != nil {
			t.Errorf("CreateResponse: %v", err)
		}
		w.Write(der)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *ocspResponder) set(failing bool, valid time.Duration) {
	r.mu.Lock()
	r.failing, r.valid = failing, valid
	r.mu.Unlock()
}

// writeOCSPPair issues a certificate for names that names responder as its OCSP server and writes it, followed by
// the CA certificate (the issuer stapling verifies with), to dir/base.pem and its key to dir/base.key.
func (ca *testCA) writeOCSPPair(t *testing.T, dir, base, responder string, names ...string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: base},
		DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		OCSPServer: []string{responder}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})...)
	writeFile(t, filepath.Join(dir, base+".pem"), chain)
	writeFile(t, filepath.Join(dir, base+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// runOCSPGateway runs an App on cfg (written to dir/fjord.yaml) with fast stapler timings and returns it, its
// first listening address and its log.
func runOCSPGateway(t *testing.T, dir, cfg string) (*app.App, string, *logBuf) {
	t.Helper()
	path := filepath.Join(dir, "fjord.yaml")
	writeFile(t, path, []byte(cfg))
	logs := &logBuf{}
	a := app.New(app.FileSource(path), slog.New(slog.NewTextHandler(logs, nil)))
	a.OCSP = fjocsp.Options{MinRefresh: 10 * time.Millisecond, RetryMin: 10 * time.Millisecond,
		RetryMax: 50 * time.Millisecond, Timeout: 2 * time.Second}
	ready := make(chan []string, 1)
	a.Ready = func(addrs []string) { ready <- addrs }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, nil) }()
	returned := false
	t.Cleanup(func() {
		cancel()
		if returned {
			return
		}
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case addrs := <-ready:
		return a, addrs[0], logs
	case err := <-done:
		returned = true
		t.Fatalf("Run: %v\n%s", err, logs)
	case <-time.After(waitLimit):
		t.Fatal("not ready")
	}
	return nil, "", nil
}

// staple handshakes with addr as a client that checks any stapled response against ca (as a browser would) and
// returns the raw staple, nil when none came.
func staple(t *testing.T, addr string, ca *testCA) []byte {
	t.Helper()
	c, err := dialTLS(t, addr, &tls.Config{ServerName: "site.test", RootCAs: ca.pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if cs.OCSPResponse == nil {
				return nil
			}
			r, err := ocsp.ParseResponseForCert(cs.OCSPResponse, cs.PeerCertificates[0], ca.cert)
			if err != nil {
				return fmt.Errorf("stapled response: %w", err)
			}
			if r.Status != ocsp.Good {
				return fmt.Errorf("stapled status %d", r.Status)
			}
			return nil
		}})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().OCSPResponse
}

func waitStaple(t *testing.T, addr string, ca *testCA, what string, ok func([]byte) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		s := staple(t, addr, ca)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const ocspCfg = `listeners:
  - name: web
    address: "127.0.0.1:0"
    tls: {certificates: [{cert: site.pem, key: site.key}]%s}
admin: {address: "127.0.0.1:0"}
services: {s: {instances: ["127.0.0.1:1"]}}
routes: [{return: {status: 200, body: "ok"}}]
`

// TestOCSPStapling: a certificate whose leaf names a responder is served with a verified Good staple, refreshed
// before it expires and exported as a metric; a failing responder leaves the certificate unstapled (logged once)
// while requests are served, and stapling resumes when it recovers; ocsp_stapling: false asks no responder.
func TestOCSPStapling(t *testing.T) {
	t.Run("stapled, refreshed, exported", func(t *testing.T) {
		ca, dir := newCA(t), t.TempDir()
		r := newOCSPResponder(t, ca)
		r.set(false, 2*time.Second) // refreshed at half: after about a second
		ca.writeOCSPPair(t, dir, "site", r.url, "site.test")
		a, addr, logs := runOCSPGateway(t, dir, fmt.Sprintf(ocspCfg, ""))
		first := waitStaple(t, addr, ca, "first staple", func(s []byte) bool { return s != nil })
		waitStaple(t, addr, ca, "refreshed staple", func(s []byte) bool { return s != nil && !bytes.Equal(s, first) })
		_, body, err := get(newClient(t), "http://"+a.AdminAddress()+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`fjord_tls_ocsp_stapled{certificate="site.pem",listener="web"} 1`,
			`fjord_tls_ocsp_staple_age_seconds{certificate="site.pem",listener="web"}`} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s\n%s", want, logs)
			}
		}
	})
	t.Run("failing responder, then recovering", func(t *testing.T) {
		ca, dir := newCA(t), t.TempDir()
		r := newOCSPResponder(t, ca)
		r.set(true, time.Hour)
		ca.writeOCSPPair(t, dir, "site", r.url, "site.test")
		_, addr, logs := runOCSPGateway(t, dir, fmt.Sprintf(ocspCfg, ""))
		select {
		case <-logs.waitFor("without a staple"): // waitFor also sees a line written before it was called
		case <-time.After(waitLimit):
			t.Fatalf("responder failure not logged:\n%s", logs)
		}
		waitUntil(t, func() bool { return r.hits.Load() >= 3 }) // retried, and still unstapled
		if s := staple(t, addr, ca); s != nil {
			t.Fatal("stapled while the responder fails")
		}
		code, body, err := get(httpsClient(t, ca, "site.test", nil), "https://"+addr+"/")
		if err != nil || code != 200 || body != "ok" {
			t.Fatalf("request while the responder fails: %d %q %v", code, body, err)
		}
		if n := strings.Count(logs.String(), "without a staple"); n != 1 {
			t.Errorf("failure logged %d times, want once", n)
		}
		r.set(false, time.Hour)
		waitStaple(t, addr, ca, "staple after recovery", func(s []byte) bool { return s != nil })
	})
	t.Run("ocsp_stapling false", func(t *testing.T) {
		ca, dir := newCA(t), t.TempDir()
		r := newOCSPResponder(t, ca)
		ca.writeOCSPPair(t, dir, "site", r.url, "site.test")
		_, addr, _ := runOCSPGateway(t, dir, fmt.Sprintf(ocspCfg, ", ocsp_stapling: false"))
		if s := staple(t, addr, ca); s != nil {
			t.Error("stapled with ocsp_stapling: false")
		}
		if n := r.hits.Load(); n != 0 {
			t.Errorf("responder asked %d times with ocsp_stapling: false", n)
		}
	})
}

// TestOCSPStaplingValidate: a certificate that names a responder but lacks its issuer, and ocsp_stapling: true
// with nothing to staple, are warnings at their position.
func TestOCSPStaplingValidate(t *testing.T) {
	ca, dir := newCA(t), t.TempDir()
	ca.writePair(t, dir, "plain", "plain", "site.test") // no responder
	ca.writeOCSPPair(t, dir, "site", "http://127.0.0.1:1", "site.test")
	chain, err := os.ReadFile(filepath.Join(dir, "site.pem"))
	if err != nil {
		t.Fatal(err)
	}
	leafOnly, _ := pem.Decode(chain)
	writeFile(t, filepath.Join(dir, "leaf.pem"), pem.EncodeToMemory(leafOnly))
	for _, tc := range []struct{ name, tls, want string }{
		{"no issuer", `{certificates: [{cert: leaf.pem, key: site.key}]}`,
			"fjord.yaml:4:33: warning: certificate leaf.pem is served without OCSP stapling: the chain has no issuer"},
		{"nothing to staple", `{certificates: [{cert: plain.pem, key: plain.key}], ocsp_stapling: true}`,
			"fjord.yaml:4:77: warning: ocsp_stapling is on but no certificate names an OCSP responder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "fjord.yaml")
			writeFile(t, path, []byte("listeners:\n  - name: web\n    address: \"127.0.0.1:0\"\n    tls: "+tc.tls+
				"\nservices: {s: {instances: [\"127.0.0.1:1\"]}}\nroutes: [{return: {status: 200}}]\n"))
			_, diags := app.Load(app.FileSource(path), nil)
			if diags.HasErrors() || !strings.Contains(diags.String(), tc.want) {
				t.Errorf("diagnostics:\n%s\nwant %q", diags, tc.want)
			}
		})
	}
}
