package app

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fjord-gw/fjord/internal/config"
)

// This file compiles a service's tls block (TLS to its instances) into the *tls.Config that upstream.Instance dials
// with. The files are read here, so `fjord validate` reports an unreadable file or a client key that does not match
// its certificate at its position, and on every reload, which is how rotated certificates are put in force.

// errReported marks a failure whose diagnostics were already given at their own positions.
var errReported = errors.New("already reported")

// upstreamTLS is a compiled tls block. fingerprint identifies its inputs (settings and file contents): instances are
// carried over a reload only when it is unchanged, so that the reused instance's config is equivalent to the new one.
type upstreamTLS struct {
	config      *tls.Config
	fingerprint string
}

// compileUpstreamTLS reads the files of t and builds the client config; ok is false when a problem was reported.
// One config (and so one session cache) serves all instances of the service: upstream.Instance fills in each
// instance's host as ServerName when server_name is not set.
func compileUpstreamTLS(t *config.UpstreamTLS, diags *config.Diagnostics) (*upstreamTLS, bool) {
	h := sha256.New()
	fmt.Fprintf(h, "server_name=%q insecure=%t\n", t.ServerName, t.InsecureSkipVerify)
	c := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: t.ServerName,
		// The gateway speaks HTTP/1.1 to upstreams; saying so keeps an upstream that offers h2 from choosing it.
		NextProtos: []string{"http/1.1"},
		// Resumption saves a full handshake on every new connection to an instance already talked to.
		ClientSessionCache: tls.NewLRUClientSessionCache(0),
		InsecureSkipVerify: t.InsecureSkipVerify,
	}
	ok := true
	if t.CA != "" && !t.InsecureSkipVerify {
		pem, err := os.ReadFile(resolve(filepath.Dir(t.Pos.File), t.CA))
		if err != nil {
			diags.Errorf(t.At("ca"), "read ca: %v", err)
			ok = false
		} else {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				diags.Errorf(t.At("ca"), "ca %s holds no PEM CERTIFICATE block", t.CA)
				ok = false
			}
			c.RootCAs = pool
			fmt.Fprintf(h, "ca %d\n", len(pem))
			h.Write(pem)
		}
	}
	if t.Cert != "" && t.Key != "" {
		// loadPair reports at the "cert" and "key" keys, which the tls block names alike.
		pair, perr := loadPair(&config.Certificate{Positions: t.Positions, Cert: t.Cert, Key: t.Key})
		if perr != nil {
			diags.Errorf(perr.pos, "%s", perr.msg)
			ok = false
		} else {
			if now := time.Now(); now.After(pair.Leaf.NotAfter) {
				diags.Warnf(t.At("cert"), "client certificate %s expired on %s; upstreams that check it will refuse every connection",
					t.Cert, pair.Leaf.NotAfter.UTC().Format(time.DateOnly))
			}
			c.Certificates = []tls.Certificate{*pair}
			for _, der := range pair.Certificate {
				h.Write(der)
			}
			fmt.Fprintf(h, "key %T\n", pair.PrivateKey)
		}
	}
	if !ok {
		return nil, false
	}
	return &upstreamTLS{config: c, fingerprint: hex.EncodeToString(h.Sum(nil))}, true
}
