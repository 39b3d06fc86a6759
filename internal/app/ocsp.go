package app

import (
	"crypto/tls"
	"errors"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/ocsp"
)

// OCSP stapling (docs/security.md). compileTLS marks the certificates to staple: those whose leaf names an OCSP
// responder and whose chain carries the issuer to verify responses with, unless the listener sets
// ocsp_stapling: false. That check is pure, so `fjord validate` reports it as a warning. When a certificate set is
// published on a listening socket (start, reload, certificate files changed), publishCerts gives each marked
// certificate a Stapler, seeded with the previous set's staple of the same certificate, starts them as one group,
// swaps the set in, and stops the previous set's group. closeListeners stops the group of a socket it closes, so
// shutdown leaves no stapler goroutine behind.

// stapleWant is a certificate of a set that is to be stapled.
type stapleWant struct {
	cert *tls.Certificate
	name string // the cert path as configured, for logs and metrics
}

// markStaple records c for stapling when t allows it and c can be stapled; a certificate that names a responder
// but cannot be stapled is a warning at its cert.
func (s *certSet) markStaple(c *tls.Certificate, ct *config.Certificate, t *config.TLS, diags *config.Diagnostics) {
	if t.OCSPStapling != nil && !*t.OCSPStapling {
		return
	}
	if _, err := ocsp.New(ct.Cert, c, ocsp.Options{}); err != nil {
		if !errors.Is(err, ocsp.ErrNoResponder) {
			diags.Warnf(ct.At("cert"), "certificate %s is served without OCSP stapling: %v", ct.Cert, err)
		}
		return
	}
	s.wants = append(s.wants, stapleWant{cert: c, name: ct.Cert})
}

// warnNoResponder warns when ocsp_stapling is set to true but no certificate of the set can be stapled.
func (s *certSet) warnNoResponder(t *config.TLS, diags *config.Diagnostics) {
	if t.OCSPStapling != nil && *t.OCSPStapling && len(s.wants) == 0 {
		diags.Warnf(t.At("ocsp_stapling"), "ocsp_stapling is on but no certificate names an OCSP responder (and carries its issuer), so nothing is stapled")
	}
}

// stapled returns the certificate to serve for c: a copy with its staple while one is good.
func (s *certSet) stapled(c *tls.Certificate) *tls.Certificate {
	if sp := s.staplers[c]; sp != nil {
		return sp.Certificate()
	}
	return c
}

// stapling is one socket's running staplers. Used by the app's goroutine only, except book.
type stapling struct {
	opts     ocsp.Options
	book     *stapleBook
	group    *ocsp.Group
	listener string // the listener name the staplers are booked under
}

// publishCerts makes set the socket's certificate set, stapling its marked certificates, and stops the staplers of
// the set it replaces.
func (st *listenerState) publishCerts(listener string, set *certSet) {
	sp := st.staple
	if sp == nil || len(set.wants) == 0 {
		st.certs.Store(set)
		st.stopStapling()
		return
	}
	old := st.certs.Load()
	set.staplers = make(map[*tls.Certificate]*ocsp.Stapler, len(set.wants))
	var run []*ocsp.Stapler
	opts := sp.opts
	opts.Log = opts.Log.With("listener", listener)
	for _, w := range set.wants {
		s, err := ocsp.New(w.name, w.cert, opts)
		if err != nil { // compileTLS checked the same; only a changed file between the two gets here
			sp.opts.Log.Warn("certificate served without OCSP stapling", "listener", listener, "certificate", w.name, "err", err)
			continue
		}
		if old != nil {
			for _, prev := range old.staplers {
				if s.Seed(prev) {
					break
				}
			}
		}
		set.staplers[w.cert] = s
		run = append(run, s)
	}
	st.certs.Store(set)
	prev := sp.group
	sp.group = ocsp.Start(run)
	prev.Stop()
	sp.book.set(sp.listener, listener, run)
	sp.listener = listener
}

// stopStapling stops the socket's staplers, if any.
func (st *listenerState) stopStapling() {
	if sp := st.staple; sp != nil {
		sp.group.Stop()
		sp.group = nil
		sp.book.set(sp.listener, "", nil)
		sp.listener = ""
	}
}

// stapleBook lists the running staplers by listener name for the metrics. Concurrency: written by the app's
// goroutine, read by scrapes, under mu.
type stapleBook struct {
	mu sync.Mutex
	by map[string][]*ocsp.Stapler
}

// set replaces the entry of oldName by list under newName ("" or an empty list: none).
func (b *stapleBook) set(oldName, newName string, list []*ocsp.Stapler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.by, oldName)
	if newName != "" && len(list) > 0 {
		if b.by == nil {
			b.by = map[string][]*ocsp.Stapler{}
		}
		b.by[newName] = list
	}
}

// newStapling is the stapling state of a new socket.
func (a *App) newStapling() *stapling {
	opts := a.OCSP
	if opts.Log == nil {
		opts.Log = a.log
	}
	return &stapling{opts: opts, book: &a.staples}
}

// ocspCollector exports each stapled certificate's staple: fjord_tls_ocsp_stapled (1 while a good response is
// stapled) and fjord_tls_ocsp_staple_age_seconds (since the responder produced it; only while stapled).
type ocspCollector struct {
	book         *stapleBook
	stapled, age *prometheus.Desc
}

func newOCSPCollector(a *App) *ocspCollector {
	labels := []string{"listener", "certificate"}
	return &ocspCollector{book: &a.staples,
		stapled: prometheus.NewDesc("fjord_tls_ocsp_stapled",
			"1 while a certificate has a good OCSP response stapled, 0 while it is served without one.", labels, nil),
		age: prometheus.NewDesc("fjord_tls_ocsp_staple_age_seconds",
			"Age of the stapled OCSP response (since its thisUpdate); absent while none is stapled.", labels, nil),
	}
}

func (c *ocspCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.stapled; ch <- c.age }

func (c *ocspCollector) Collect(ch chan<- prometheus.Metric) {
	c.book.mu.Lock()
	names := make([]string, 0, len(c.book.by))
	for n := range c.book.by {
		names = append(names, n)
	}
	sort.Strings(names)
	lists := make([][]*ocsp.Stapler, len(names))
	for i, n := range names {
		lists[i] = c.book.by[n]
	}
	c.book.mu.Unlock()
	for i, n := range names {
		for _, s := range lists[i] {
			age, ok := s.Status()
			v := 0.0
			if ok {
				v = 1
				ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age.Seconds(), n, s.Name())
			}
			ch <- prometheus.MustNewConstMetric(c.stapled, prometheus.GaugeValue, v, n, s.Name())
		}
	}
}

var _ prometheus.Collector = (*ocspCollector)(nil)
