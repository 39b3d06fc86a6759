package ocsp_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ocsp"

	fjocsp "github.com/fjord-gw/fjord/internal/ocsp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitLimit = 10 * time.Second

// ca is a throw-away certificate authority that also signs OCSP responses.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &ca{cert: cert, key: key}
}

// leaf issues a certificate naming responder as its OCSP server and returns it with the CA as its chain.
func (c *ca) leaf(t *testing.T, responder string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "site"},
		DNSNames: []string{"site.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		OCSPServer: []string{responder}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: key, Leaf: leaf}
}

// responder answers OCSP requests as its fields say at the time of the request.
type responder struct {
	t      *testing.T
	mu     sync.Mutex
	signer *ca           // who signs; nil: answers 500
	status int           // ocsp.Good, Revoked, Unknown
	valid  time.Duration // NextUpdate - ThisUpdate; 0: no NextUpdate
	age    time.Duration // how long before now ThisUpdate is
	hits   atomic.Int64
	url    string
}

func newResponder(t *testing.T, signer *ca) *responder {
	r := &responder{t: t, signer: signer, status: ocsp.Good, valid: time.Hour}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *responder) set(f func(r *responder)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

func (r *responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.hits.Add(1)
	body, _ := io.ReadAll(req.Body)
	q, err := ocsp.ParseRequest(body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || r.signer == nil || req.Method != http.MethodPost {
		http.Error(w, "no", http.StatusInternalServerError)
		return
	}
	now := time.Now().Add(-r.age).Truncate(time.Second) // ASN.1 GeneralizedTime has whole seconds
	tmpl := ocsp.Response{Status: r.status, SerialNumber: q.SerialNumber, ThisUpdate: now}
	if r.valid > 0 {
		tmpl.NextUpdate = now.Add(r.valid)
	}
	if r.status == ocsp.Revoked {
		tmpl.RevokedAt = now
	}
	der, err := ocsp.CreateResponse(r.signer.cert, r.signer.cert, tmpl, r.signer.key)
	if err != nil {
		r.t.Errorf("CreateResponse: %v", err)
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Write(der)
}

// run starts s and stops it when the test ends.
func run(t *testing.T, s *fjocsp.Stapler) {
	g := fjocsp.Start([]*fjocsp.Stapler{s})
	t.Cleanup(g.Stop)
}

// waitFor polls cond until it holds or waitLimit passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var fast = fjocsp.Options{MinRefresh: 10 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond,
	Timeout: 2 * time.Second}

// TestStapleVerdicts: only a Good, current response signed by the issuer is stapled; everything else leaves the
// certificate bare after the responder was asked.
func TestStapleVerdicts(t *testing.T) {
	issuer, other := newCA(t, "issuer"), newCA(t, "other")
	for _, tc := range []struct {
		name   string
		set    func(r *responder)
		staple bool
	}{
		{"good", func(r *responder) {}, true},
		{"good without next update", func(r *responder) { r.valid = 0 }, true},
		{"revoked", func(r *responder) { r.status = ocsp.Revoked }, false},
		{"unknown", func(r *responder) { r.status = ocsp.Unknown }, false},
		{"signed by another CA", func(r *responder) { r.signer = other }, false},
		{"expired", func(r *responder) { r.age, r.valid = 2*time.Hour, time.Hour }, false},
		{"from the future", func(r *responder) { r.age = -time.Hour }, false},
		{"responder error", func(r *responder) { r.signer = nil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newResponder(t, issuer)
			r.set(tc.set)
			c := issuer.leaf(t, r.url)
			s, err := fjocsp.New("site", c, fast)
			if err != nil {
				t.Fatal(err)
			}
			run(t, s)
			if tc.staple {
				waitFor(t, "staple", func() bool { return s.Certificate().OCSPStaple != nil })
				if _, ok := s.Status(); !ok {
					t.Error("Status reports no staple")
				}
				return
			}
			waitFor(t, "two fetches", func() bool { return r.hits.Load() >= 2 })
			if got := s.Certificate(); got.OCSPStaple != nil || got != c {
				t.Errorf("stapled a rejected response")
			}
		})
	}
}

// TestStapleRefreshAndRecovery: a staple is refreshed at half its validity; a responder that fails keeps no staple
// until it answers again; Seed carries a staple over to a stapler of the same certificate.
func TestStapleRefreshAndRecovery(t *testing.T) {
	issuer := newCA(t, "issuer")
	t.Run("refresh", func(t *testing.T) {
		r := newResponder(t, issuer)
		r.set(func(r *responder) { r.valid = 2 * time.Second })
		s, err := fjocsp.New("site", issuer.leaf(t, r.url), fast)
		if err != nil {
			t.Fatal(err)
		}
		run(t, s)
		waitFor(t, "first staple", func() bool { return s.Certificate().OCSPStaple != nil })
		first := s.Certificate().OCSPStaple
		waitFor(t, "refreshed staple", func() bool { return !bytes.Equal(s.Certificate().OCSPStaple, first) })
		if n := r.hits.Load(); n < 2 || n > 4 {
			t.Errorf("%d fetches for one refresh, want 2 (refresh at half of the validity)", n)
		}
	})
	t.Run("failing then recovering", func(t *testing.T) {
		r := newResponder(t, nil)
		s, err := fjocsp.New("site", issuer.leaf(t, r.url), fast)
		if err != nil {
			t.Fatal(err)
		}
		run(t, s)
		waitFor(t, "retries", func() bool { return r.hits.Load() >= 3 })
		if s.Certificate().OCSPStaple != nil {
			t.Fatal("staple from a failing responder")
		}
		r.set(func(r *responder) { r.signer = issuer })
		waitFor(t, "staple after recovery", func() bool { return s.Certificate().OCSPStaple != nil })
	})
	t.Run("seed", func(t *testing.T) {
		r := newResponder(t, issuer)
		c := issuer.leaf(t, r.url)
		a, _ := fjocsp.New("site", c, fast)
		ga := fjocsp.Start([]*fjocsp.Stapler{a})
		waitFor(t, "staple", func() bool { return a.Certificate().OCSPStaple != nil })
		ga.Stop()
		b, _ := fjocsp.New("site", c, fast)
		b.Seed(a)
		if !bytes.Equal(b.Certificate().OCSPStaple, a.Certificate().OCSPStaple) {
			t.Error("Seed did not carry the staple over")
		}
		other, _ := fjocsp.New("site", issuer.leaf(t, r.url), fast)
		other.Seed(a)
		if other.Certificate().OCSPStaple != nil {
			t.Error("Seed carried a staple to another certificate")
		}
	})
}

// TestNewRejects: certificates that cannot be stapled are refused with a reason.
func TestNewRejects(t *testing.T) {
	issuer := newCA(t, "issuer")
	noResponder := issuer.leaf(t, "http://127.0.0.1:1")
	noResponder.Leaf.OCSPServer = nil
	noIssuer := issuer.leaf(t, "http://127.0.0.1:1")
	noIssuer.Certificate = noIssuer.Certificate[:1]
	wrongIssuer := issuer.leaf(t, "http://127.0.0.1:1")
	wrongIssuer.Certificate[1] = newCA(t, "other").cert.Raw
	for _, tc := range []struct {
		name string
		c    *tls.Certificate
	}{{"no responder", noResponder}, {"no issuer", noIssuer}, {"wrong issuer", wrongIssuer}} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fjocsp.New("x", tc.c, fast); err == nil {
				t.Fatal("accepted")
			} else if tc.name == "no responder" && !errors.Is(err, fjocsp.ErrNoResponder) {
				t.Errorf("err %v, want ErrNoResponder", err)
			}
		})
	}
}

// TestStopCancelsFetch: Stop returns promptly while a fetch hangs on a responder that never answers.
func TestStopCancelsFetch(t *testing.T) {
	issuer := newCA(t, "issuer")
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	var started atomic.Bool
	opts := fast
	opts.Timeout = time.Minute
	opts.Client = &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		started.Store(true)
		tr := &http.Transport{DisableKeepAlives: true}
		return tr.RoundTrip(r)
	})}
	s, _ := fjocsp.New("site", issuer.leaf(t, srv.URL), opts)
	g := fjocsp.Start([]*fjocsp.Stapler{s})
	waitFor(t, "fetch started", started.Load)
	stopped := make(chan struct{})
	go func() { g.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(waitLimit):
		t.Fatal("Stop did not cancel the fetch")
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
