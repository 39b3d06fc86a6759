// Package ocsp keeps OCSP responses stapled to TLS certificates (RFC 6960 responses, sent in the TLS
// status_request extension of RFC 6066 §8), so that clients learn a certificate is not revoked without asking the
// CA themselves.
//
// A Stapler owns one certificate. Run fetches a response from the responder the leaf names, checks it against the
// issuer (the next certificate of the chain), and publishes a copy of the certificate carrying it; Certificate
// returns that copy to new handshakes, or the bare certificate while there is no good, unexpired response. Nothing
// is ever stapled whose status is not Good, whose signature does not verify, or whose NextUpdate has passed.
package ocsp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Defaults for the zero values of Options.
const (
	defaultTimeout    = 10 * time.Second
	defaultMinRefresh = time.Minute
	defaultNoNext     = time.Hour // refresh interval for a response without NextUpdate
	defaultRetryMin   = time.Minute
	defaultRetryMax   = time.Hour
	maxResponseBytes  = 1 << 20
	// clockSkew is how far in the future a response's ThisUpdate may lie (the responder's clock may be ahead).
	clockSkew = 5 * time.Minute
)

// Options tune the staplers; the zero value is production's.
type Options struct {
	// Client fetches responses; nil: a client without keep-alive (fetches are hours apart, and an idle connection
	// would outlive Run).
	Client *http.Client
	// Timeout bounds one fetch; 0: 10s.
	Timeout time.Duration
	// MinRefresh is the shortest wait between two good fetches; 0: 1 minute.
	MinRefresh time.Duration
	// RetryMin and RetryMax bound the exponential back-off after a failed fetch; 0: 1 minute and 1 hour.
	RetryMin, RetryMax time.Duration
	// Log receives one line when fetching starts to fail and one when it recovers; nil: discarded.
	Log *slog.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Jitter returns a random duration in [0, d); nil: math/rand/v2.
	Jitter func(d time.Duration) time.Duration
}

// ErrNoResponder is returned by New for a certificate whose leaf names no OCSP server.
var ErrNoResponder = errors.New("the certificate names no OCSP responder")

// Stapler keeps one certificate's staple fresh. Concurrency: Certificate and Status may be called from any
// goroutine; Run runs on one goroutine at a time.
type Stapler struct {
	name         string
	base         *tls.Certificate // never modified
	leaf, issuer *x509.Certificate
	url          string
	opts         Options
	cur          atomic.Pointer[staple] // nil: none yet
}

// staple is one verified response and the certificate copy that carries it. Immutable.
type staple struct {
	cert                   *tls.Certificate
	thisUpdate, nextUpdate time.Time // nextUpdate zero: none given
}

// New returns a stapler for c, named name in logs. It fails when the leaf names no responder (ErrNoResponder) or
// the chain has no issuer certificate to verify responses with.
func New(name string, c *tls.Certificate, opts Options) (*Stapler, error) {
	leaf := c.Leaf
	if leaf == nil {
		if len(c.Certificate) == 0 {
			return nil, errors.New("empty certificate chain")
		}
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse leaf: %w", err)
		}
	}
	if len(leaf.OCSPServer) == 0 {
		return nil, ErrNoResponder
	}
	if len(c.Certificate) < 2 {
		return nil, errors.New("the chain has no issuer certificate after the leaf, so OCSP responses cannot be verified")
	}
	issuer, err := x509.ParseCertificate(c.Certificate[1])
	if err != nil {
		return nil, fmt.Errorf("parse issuer: %w", err)
	}
	if err := leaf.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("the chain's second certificate did not issue the leaf: %w", err)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Stapler{name: name, base: c, leaf: leaf, issuer: issuer, url: leaf.OCSPServer[0], opts: opts}, nil
}

// Certificate returns the certificate to serve: with its staple while one is good, else the bare certificate.
// It never blocks.
func (s *Stapler) Certificate() *tls.Certificate {
	if st := s.valid(s.now()); st != nil {
		return st.cert
	}
	return s.base
}

// Status describes the staple in force: its age (since the responder produced it) and whether there is one.
func (s *Stapler) Status() (age time.Duration, ok bool) {
	now := s.now()
	st := s.valid(now)
	if st == nil {
		return 0, false
	}
	return now.Sub(st.thisUpdate), true
}

// Name is the name given to New.
func (s *Stapler) Name() string { return s.name }

// Seed takes over prev's staple when prev staples the same certificate, so that a reload which re-reads unchanged
// files keeps stapling without a fetch. It reports whether prev staples the same certificate. Call it before Run.
func (s *Stapler) Seed(prev *Stapler) bool {
	if prev == nil || !bytes.Equal(prev.leaf.Raw, s.leaf.Raw) || !bytes.Equal(prev.issuer.Raw, s.issuer.Raw) {
		return false
	}
	st := prev.valid(s.now())
	if st == nil {
		return true
	}
	c := *s.base
	c.OCSPStaple = st.cert.OCSPStaple
	s.cur.Store(&staple{cert: &c, thisUpdate: st.thisUpdate, nextUpdate: st.nextUpdate})
	return true
}

func (s *Stapler) valid(now time.Time) *staple {
	st := s.cur.Load()
	if st == nil || (!st.nextUpdate.IsZero() && !now.Before(st.nextUpdate)) {
		return nil
	}
	return st
}

func (s *Stapler) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Stapler) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	if s.opts.Jitter != nil {
		return s.opts.Jitter(d)
	}
	return rand.N(d)
}

// Run fetches and refreshes the staple until ctx is done: at once (unless Seed gave it a good one), then at half
// of each response's validity window, and after a failure again with exponential back-off and jitter. A failure
// keeps a staple that has not expired; an expired one stops being served (Certificate checks the time).
func (s *Stapler) Run(ctx context.Context) {
	var wait, retry time.Duration
	if st := s.valid(s.now()); st != nil {
		wait = s.refreshIn(st, s.now())
	}
	failing := false
	for {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		st, err := s.fetch(ctx)
		if ctx.Err() != nil {
			return
		}
		now := s.now()
		if err != nil {
			retry = s.backoff(retry)
			wait = retry/2 + s.jitter(retry/2)
			if cur := s.valid(now); cur != nil {
				if !cur.nextUpdate.IsZero() {
					wait = min(wait, cur.nextUpdate.Sub(now))
				}
				if !failing {
					s.opts.Log.Warn("OCSP fetch failed; keeping the current staple until it expires", "certificate", s.name,
						"responder", s.url, "expires", cur.nextUpdate, "err", err)
				}
			} else if !failing {
				s.opts.Log.Warn("OCSP fetch failed; serving the certificate without a staple", "certificate", s.name,
					"responder", s.url, "err", err)
			}
			failing = true
			continue
		}
		s.cur.Store(st)
		if failing {
			s.opts.Log.Info("OCSP staple fetched again", "certificate", s.name, "responder", s.url)
		}
		failing, retry = false, 0
		wait = s.refreshIn(st, now)
	}
}

// refreshIn is the wait until st's half-life (minus up to a tenth of it as jitter), at least MinRefresh.
func (s *Stapler) refreshIn(st *staple, now time.Time) time.Duration {
	var d time.Duration
	if st.nextUpdate.IsZero() {
		d = defaultNoNext
	} else {
		d = st.thisUpdate.Add(st.nextUpdate.Sub(st.thisUpdate) / 2).Sub(now)
	}
	d -= s.jitter(d / 10)
	return max(d, or(s.opts.MinRefresh, defaultMinRefresh))
}

func (s *Stapler) backoff(prev time.Duration) time.Duration {
	lo, hi := or(s.opts.RetryMin, defaultRetryMin), or(s.opts.RetryMax, defaultRetryMax)
	if prev == 0 {
		return lo
	}
	return min(prev*2, hi)
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// fetch asks the responder for a response and returns it verified, or an error saying what failed.
func (s *Stapler) fetch(ctx context.Context) (*staple, error) {
	req, err := ocsp.CreateRequest(s.leaf, s.issuer, nil)
	if err != nil {
		return nil, fmt.Errorf("create OCSP request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, or(s.opts.Timeout, defaultTimeout))
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("OCSP request to %s: %w", s.url, err)
	}
	hr.Header.Set("Content-Type", "application/ocsp-request")
	hr.Header.Set("Accept", "application/ocsp-response")
	resp, err := s.client().Do(hr)
	if err != nil {
		return nil, fmt.Errorf("OCSP request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("OCSP responder %s answered %s", s.url, resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read OCSP response from %s: %w", s.url, err)
	}
	if len(raw) > maxResponseBytes {
		return nil, fmt.Errorf("OCSP response from %s is over %d bytes", s.url, maxResponseBytes)
	}
	return s.verify(raw, s.now())
}

// verify parses raw as a response for s's leaf signed by its issuer (or a responder the issuer delegated to) and
// accepts it only when Good and current.
func (s *Stapler) verify(raw []byte, now time.Time) (*staple, error) {
	r, err := ocsp.ParseResponseForCert(raw, s.leaf, s.issuer)
	if err != nil {
		return nil, fmt.Errorf("OCSP response does not verify: %w", err)
	}
	switch {
	case r.Status != ocsp.Good:
		return nil, fmt.Errorf("OCSP status is %s, not good", statusName(r.Status))
	case r.ThisUpdate.After(now.Add(clockSkew)):
		return nil, fmt.Errorf("OCSP response is from the future (thisUpdate %s)", r.ThisUpdate.UTC().Format(time.RFC3339))
	case !r.NextUpdate.IsZero() && !now.Before(r.NextUpdate):
		return nil, fmt.Errorf("OCSP response expired at %s", r.NextUpdate.UTC().Format(time.RFC3339))
	}
	c := *s.base
	c.OCSPStaple = raw
	return &staple{cert: &c, thisUpdate: r.ThisUpdate, nextUpdate: r.NextUpdate}, nil
}

func statusName(st int) string {
	switch st {
	case ocsp.Revoked:
		return "revoked"
	case ocsp.Unknown:
		return "unknown"
	}
	return fmt.Sprint(st)
}

func (s *Stapler) client() *http.Client {
	if s.opts.Client != nil {
		return s.opts.Client
	}
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true}}
}
