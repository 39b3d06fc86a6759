package app_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/app"
)

// TestCertReloadOnFileChange replaces a TLS listener's certificate files under a running gateway: a pair that does
// not load keeps the old certificate (and is logged), a good pair is served to new handshakes without a reload.
func TestCertReloadOnFileChange(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	ca.writePair(t, dir, "site", "first", "site.test")
	addr, logs := startCertGateway(t, dir, nil)
	served := func() string { t.Helper(); return servedCN(t, addr, ca) }
	if got := served(); got != "first" {
		t.Fatalf("served %q at start, want first", got)
	}

	t.Run("bad pair keeps the old certificate", func(t *testing.T) {
		failed := logs.waitFor("do not load")
		cert, _ := ca.issue(t, "mismatched", []string{"site.test"}, time.Now().Add(time.Hour))
		writeFile(t, filepath.Join(dir, "site.pem"), cert) // the key on disk belongs to "first"
		select {
		case <-failed:
		case <-time.After(waitLimit):
			t.Fatalf("no load error logged:\n%s", logs)
		}
		if got := served(); got != "first" {
			t.Fatalf("served %q after a bad pair, want first", got)
		}
	})
	t.Run("good pair is served", func(t *testing.T) {
		ca.writePair(t, dir, "site", "second", "site.test")
		deadline := time.Now().Add(waitLimit)
		for served() != "second" {
			if time.Now().After(deadline) {
				t.Fatalf("new certificate not served within %v:\n%s", waitLimit, logs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestCertChangeAtStartIsNotMissed replaces the certificate files in the moment the gateway starts serving (from
// its Ready callback, before its first poll): the change is noticed, because the files are stamped before they are
// read, not at the first poll.
func TestCertChangeAtStartIsNotMissed(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	ca.writePair(t, dir, "site", "first", "site.test")
	cert, key := ca.issue(t, "second-certificate", []string{"site.test"}, time.Now().Add(time.Hour))
	var writeErr error
	addr, logs := startCertGateway(t, dir, func() {
		if writeErr = os.WriteFile(filepath.Join(dir, "site.pem"), cert, 0o600); writeErr == nil {
			writeErr = os.WriteFile(filepath.Join(dir, "site.key"), key, 0o600)
		}
	})
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	deadline := time.Now().Add(waitLimit)
	for servedCN(t, addr, ca) != "second-certificate" {
		if time.Now().After(deadline) {
			t.Fatalf("certificate written at start not served within %v:\n%s", waitLimit, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startCertGateway runs a gateway with one TLS listener serving dir/site.pem and dir/site.key, polling them every
// 10 ms. onReady, when set, runs in the Ready callback. It returns the listener's address and the log.
func startCertGateway(t *testing.T, dir string, onReady func()) (string, *logBuf) {
	t.Helper()
	cfgPath := filepath.Join(dir, "fjord.yaml")
	writeFile(t, cfgPath, []byte(`listeners:
  - address: "127.0.0.1:0"
    tls: {certificates: [{cert: site.pem, key: site.key}]}
services:
  s: {instances: ["127.0.0.1:1"]}
routes: [{service: s}]
`))
	logs := &logBuf{}
	a := app.New(app.FileSource(cfgPath), slog.New(slog.NewTextHandler(logs, nil)))
	a.CertPoll = 10 * time.Millisecond
	ready := make(chan []string, 1)
	a.Ready = func(addrs []string) {
		if onReady != nil {
			onReady()
		}
		ready <- addrs
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case addrs := <-ready:
		return addrs[0], logs
	case err := <-done:
		t.Fatalf("Run: %v\n%s", err, logs)
		return "", nil
	}
}

// servedCN is the common name of the certificate the gateway at addr serves for site.test.
func servedCN(t *testing.T, addr string, ca *testCA) string {
	t.Helper()
	c, err := dialTLS(t, addr, &tls.Config{ServerName: "site.test", RootCAs: ca.pool})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}
