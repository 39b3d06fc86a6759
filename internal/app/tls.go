package app

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/ocsp"
	"github.com/fjord-gw/fjord/internal/proxy"
)

// This file compiles a listener's tls block and redirect_to_tls into what the engine serves with
// (proxy.ListenerMode), and keeps that per listening socket across reloads:
//
//   - The certificate files are read by load (so `fjord validate` reports unreadable files and mismatched keys at
//     their position) and again on every reload: a reload is how new certificates are put in force.
//   - Each socket has one listenerState. Its tls.Config reads the certificate set through an atomic pointer, so a
//     reload that changes only certificates swaps the set and nothing else: connections in flight keep theirs, new
//     handshakes see the new set, session tickets stay valid. A changed min_version or cipher list makes a new
//     tls.Config, cloned from the old one so that it keeps the session ticket keys.

// listenerSetup is what one listener's configuration compiles to.
type listenerSetup struct {
	name         string    // the listener's name
	tls          *tlsSetup // nil: plain
	redirectTo   string    // listener key of the redirect_to_tls target; "" for none
	redirectPort int       // redirect_port, 0 when not set (the target's port then)
	http2        bool      // offer h2 by ALPN (TLS listeners)
	h2c          bool      // serve HTTP/2 with prior knowledge (plain listeners)
	proxyProto   bool      // a PROXY protocol header starts every connection
	deferAccept  bool      // TCP_DEFER_ACCEPT on the listening socket
}

type tlsSetup struct {
	certs      *certSet
	minVersion uint16
	ciphers    []uint16 // nil: Go's defaults
}

// certSet is an immutable set of certificates with its SNI index.
type certSet struct {
	all    []*tls.Certificate // in file order; all[0] is the default
	exact  map[string][]*tls.Certificate
	suffix map[string][]*tls.Certificate // "*.example.no" is stored under "example.no"
	// wants are the certificates to staple OCSP responses to (ocsp.go); staplers is filled by publishCerts before
	// the set is published and only read after.
	wants    []stapleWant
	staplers map[*tls.Certificate]*ocsp.Stapler
}

// pick chooses the certificate for a ClientHello: an exact name first, then a wildcard one label up, then the
// default. Among certificates for the same name (say, an ECDSA and an RSA one) it takes the first the client
// supports. It never returns nil.
func (s *certSet) pick(hello *tls.ClientHelloInfo) *tls.Certificate {
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	cands := s.exact[name]
	if len(cands) == 0 {
		if _, parent, ok := strings.Cut(name, "."); ok {
			cands = s.suffix[parent]
		}
	}
	for _, c := range cands {
		if hello.SupportsCertificate(c) == nil {
			return c
		}
	}
	if len(cands) > 0 {
		return cands[0]
	}
	return s.all[0]
}

// listenerState is the mode of one listening socket, read by the engine for every connection it accepts.
// Concurrency: apply runs on the app's goroutine only; mode and certs are read by any connection goroutine.
type listenerState struct {
	mode   atomic.Pointer[proxy.ListenerMode]
	certs  atomic.Pointer[certSet]
	tls    *tls.Config // the config in mode, nil when plain; only apply touches it
	staple *stapling   // OCSP staplers of the set in certs (ocsp.go); only the app's goroutine touches it
}

func (st *listenerState) load() *proxy.ListenerMode { return st.mode.Load() }

// apply publishes s with port as the redirect port (0: no redirect).
func (st *listenerState) apply(s *listenerSetup, port int) {
	if s.tls == nil {
		st.tls = nil
		st.stopStapling()
		st.mode.Store(&proxy.ListenerMode{RedirectPort: port, H2C: s.h2c, ProxyProtocol: s.proxyProto,
			DeferAccept: s.deferAccept})
		return
	}
	protos := []string{"http/1.1"}
	if s.http2 {
		protos = []string{"h2", "http/1.1"}
	}
	st.publishCerts(s.name, s.tls.certs)
	if st.tls == nil || st.tls.MinVersion != s.tls.minVersion || !slices.Equal(st.tls.CipherSuites, s.tls.ciphers) ||
		!slices.Equal(st.tls.NextProtos, protos) {
		var c *tls.Config
		if st.tls != nil {
			c = st.tls.Clone() // keeps the session ticket keys, so resumption survives the change
		} else {
			c = &tls.Config{
				// Session tickets stay on (Go's default, keys rotated automatically). ALPN offers h2 unless the
				// listener turns http2 off; proxy serves either on the same listener.
				GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
					set := st.certs.Load()
					return set.stapled(set.pick(hello)), nil
				},
			}
		}
		c.MinVersion, c.CipherSuites, c.NextProtos = s.tls.minVersion, s.tls.ciphers, protos
		st.tls = c
	}
	st.mode.Store(&proxy.ListenerMode{TLS: st.tls, ProxyProtocol: s.proxyProto, DeferAccept: s.deferAccept})
}

// compileListeners reads the certificates of every TLS listener and compiles each listener's mode, keyed by
// listenerKey. Problems are diagnostics at the position of the offending value.
func compileListeners(cfg *config.Config) (map[string]*listenerSetup, config.Diagnostics) {
	var diags config.Diagnostics
	keyOf := map[string]string{}
	for _, l := range cfg.Listeners {
		keyOf[l.Name] = listenerKey(l)
	}
	out := map[string]*listenerSetup{}
	for _, l := range cfg.Listeners {
		s := &listenerSetup{name: l.Name, redirectTo: keyOf[l.RedirectToTLS], redirectPort: l.RedirectPort,
			http2: l.HTTP2 == nil || *l.HTTP2, h2c: l.H2C, proxyProto: l.ProxyProtocol, deferAccept: l.DeferAccept}
		if l.DeferAccept && !proxy.DeferAcceptSupported {
			diags.Errorf(l.At("defer_accept"), "defer_accept needs Linux (TCP_DEFER_ACCEPT)")
		}
		if l.TLS != nil {
			s.tls = compileTLS(l.TLS, &diags)
		}
		out[listenerKey(l)] = s
	}
	return out, diags
}

func compileTLS(t *config.TLS, diags *config.Diagnostics) *tlsSetup {
	s := &tlsSetup{minVersion: tls.VersionTLS12, certs: &certSet{
		exact: map[string][]*tls.Certificate{}, suffix: map[string][]*tls.Certificate{},
	}}
	if t.MinVersion == "1.3" {
		s.minVersion = tls.VersionTLS13
	}
	for _, name := range t.Ciphers {
		for _, cs := range tls.CipherSuites() {
			if cs.Name == name {
				s.ciphers = append(s.ciphers, cs.ID)
			}
		}
	}
	for i := range t.Certificates {
		ct := &t.Certificates[i]
		c, err := loadPair(ct)
		if err != nil {
			diags.Errorf(err.pos, "%s", err.msg)
			continue
		}
		s.certs.add(c, ct, len(s.certs.all) == 0, diags)
		s.certs.markStaple(c, ct, t, diags)
	}
	s.certs.warnNoResponder(t, diags)
	if len(s.certs.all) == 0 {
		return nil // every certificate failed: already reported
	}
	return s
}

// add indexes c by its DNS names and warns about certificates that are expired, not yet valid, or can never be
// chosen.
func (s *certSet) add(c *tls.Certificate, ct *config.Certificate, isDefault bool, diags *config.Diagnostics) {
	s.all = append(s.all, c)
	leaf, now := c.Leaf, time.Now()
	switch {
	case now.After(leaf.NotAfter):
		diags.Warnf(ct.At("cert"), "certificate %s expired on %s; clients will reject it", ct.Cert, leaf.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(leaf.NotBefore):
		diags.Warnf(ct.At("cert"), "certificate %s is not valid before %s", ct.Cert, leaf.NotBefore.UTC().Format(time.DateTime))
	}
	if len(leaf.DNSNames) == 0 && !isDefault {
		diags.Warnf(ct.At("cert"), "certificate %s has no DNS names, so SNI never selects it (only the first certificate is the default)", ct.Cert)
	}
	for _, n := range leaf.DNSNames {
		n = strings.ToLower(n)
		if parent, ok := strings.CutPrefix(n, "*."); ok {
			s.suffix[parent] = append(s.suffix[parent], c)
		} else {
			s.exact[n] = append(s.exact[n], c)
		}
	}
}

// pairError is a certificate problem with where to report it.
type pairError struct {
	pos config.Pos
	msg string
}

// loadPair reads a certificate chain and its key and checks that they belong together.
func loadPair(ct *config.Certificate) (*tls.Certificate, *pairError) {
	dir := filepath.Dir(ct.Pos.File)
	certPath, keyPath := resolve(dir, ct.Cert), resolve(dir, ct.Key)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, &pairError{ct.At("cert"), fmt.Sprintf("read certificate: %v", err)}
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, &pairError{ct.At("key"), fmt.Sprintf("read key: %v", err)}
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err == nil {
		return &c, nil
	}
	leaf, lerr := firstCertificate(certPEM)
	if lerr != nil {
		return nil, &pairError{ct.At("cert"), fmt.Sprintf("certificate %s: %v", ct.Cert, lerr)}
	}
	key, kerr := privateKey(keyPEM)
	if kerr != nil {
		return nil, &pairError{ct.At("key"), fmt.Sprintf("key %s: %v", ct.Key, kerr)}
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); ok && !pub.Equal(leaf.PublicKey) {
		return nil, &pairError{ct.At("key"), fmt.Sprintf("key %s does not match certificate %s: it is the private key of another certificate (the first certificate in the file must be the one for this key)", ct.Key, ct.Cert)}
	}
	return nil, &pairError{ct.At("cert"), fmt.Sprintf("certificate %s with key %s: %v", ct.Cert, ct.Key, err)}
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// firstCertificate parses the first CERTIFICATE block of a PEM file (the leaf).
func firstCertificate(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM CERTIFICATE block in the file")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

// privateKey parses the first private key block of a PEM file in any of the encodings tls.X509KeyPair accepts.
func privateKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM PRIVATE KEY block in the file")
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			continue
		}
		var k any
		var err error
		if k, err = x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
			if k, err = x509.ParsePKCS1PrivateKey(b.Bytes); err != nil {
				if k, err = x509.ParseECPrivateKey(b.Bytes); err != nil {
					return nil, errors.New("cannot parse the private key (want PKCS#8, PKCS#1 or SEC 1 PEM)")
				}
			}
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", k)
		}
		return s, nil
	}
}

// modeOf returns the state of the socket with key k, creating it when new.
func (a *App) modeOf(k string) *listenerState {
	st := a.modes[k]
	if st == nil {
		st = &listenerState{staple: a.newStapling()}
		st.mode.Store(&proxy.ListenerMode{})
		a.modes[k] = st
	}
	return st
}

// applyMode publishes the mode that setups compiled for the listener with key k. The redirect port is
// redirect_port, else the port the target listener is bound to (which differs from its address for port 0).
func (a *App) applyMode(k string, setups map[string]*listenerSetup) {
	s := setups[k]
	if s == nil {
		return
	}
	port := s.redirectPort
	if port == 0 && s.redirectTo != "" {
		if ln := a.listeners[s.redirectTo]; ln != nil {
			port = portOf(ln.Addr().String())
		} else {
			port = portOf(strings.SplitN(s.redirectTo, "#", 2)[0])
		}
	}
	if ln := a.listeners[k]; ln != nil {
		// Set on every apply, so that a reload turning defer_accept on or off changes the socket it keeps.
		if err := proxy.SetDeferAccept(ln, s.deferAccept); err != nil {
			a.log.Warn("listener: cannot set defer_accept", "listener", s.name, "err", err)
			s.deferAccept = false
		}
	}
	a.modeOf(k).apply(s, port)
}

func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 443
	}
	n, err := strconv.Atoi(p)
	if err != nil || n == 0 {
		return 443
	}
	return n
}
