package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestHostWithoutPort(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"shop.test", "shop.test"},
		{"shop.test:8080", "shop.test"},
		{"[::1]:80", "[::1]"},
		{"[::1]", "[::1]"},
		{"[::1", ""},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := string(hostWithoutPort([]byte(tc.in))); got != tc.want {
				t.Errorf("hostWithoutPort(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// selfSigned returns a TLS server config with a fresh self-signed certificate.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "proxy.test"},
		DNSNames: []string{"proxy.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// stallConn passes the first Write (the ClientHello) and blocks every later one until release is closed.
type stallConn struct {
	net.Conn
	writes  int
	stalled chan struct{} // closed when the second Write starts
	release chan struct{}
}

func (c *stallConn) Write(p []byte) (int, error) {
	c.writes++
	if c.writes == 1 {
		return c.Conn.Write(p)
	}
	if c.writes == 2 {
		close(c.stalled)
	}
	<-c.release
	return 0, net.ErrClosed
}

// TestServeModeTLS: a TLS connection is served with scheme https and keeps alive; Shutdown does not wait for a
// client stuck before its handshake (the handshake counts as idle), however long read_header_timeout is.
func TestServeModeTLS(t *testing.T) {
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Header.Get("X-Forwarded-Proto")) })
	cfg := cfgOf(t, prefix("/", routeTo(t, hostOf(up))))
	cfg.Client.ReadHeaderTimeout = time.Minute
	srv := NewServer(cfg, testLogger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mode := &ListenerMode{TLS: selfSigned(t)}
	done := make(chan error, 1)
	go func() { done <- srv.ServeMode(ln, "", func() *ListenerMode { return mode }) }()

	tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	c := &rawConn{t: t, nc: tc, br: bufio.NewReader(tc)}
	for i := 0; i < 2; i++ { // twice on one connection: keep-alive over TLS
		c.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, body := c.readResponse("GET"); resp.StatusCode != 200 || body != "https" {
			t.Fatalf("request %d: %d %q, want 200 \"https\" (X-Forwarded-Proto)", i, resp.StatusCode, body)
		}
	}
	tc.Close()

	// A client whose handshake stops after the server's flight: the server is then surely inside Handshake.
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := &stallConn{Conn: nc, stalled: make(chan struct{}), release: make(chan struct{})}
	hsDone := make(chan error, 1)
	go func() { hsDone <- tls.Client(sc, &tls.Config{InsecureSkipVerify: true}).Handshake() }()
	defer func() {
		close(sc.release)
		nc.Close()
		<-hsDone
	}()
	select {
	case <-sc.stalled:
	case <-time.After(5 * time.Second):
		t.Fatal("handshake did not reach the client's second flight")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown waited for a pending handshake: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("ServeMode: %v", err)
	}
}
