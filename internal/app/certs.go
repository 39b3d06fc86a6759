package app

import (
	"os"
	"path/filepath"
	"time"

	"github.com/fjord-gw/fjord/internal/config"
)

// Certificate reload when the files change. Run polls the certificate and key files of every TLS listener (mtime
// and size, every CertPoll) on its own goroutine, the one that applies reloads, so a poll and a reload never race.
// When a file changed, each TLS listener's certificates are read again and swapped in through the listener's
// atomic certificate set (listenerState.certs): new handshakes get them, connections in flight keep theirs, and
// nothing else about the listener changes. A pair that fails to load (a half-written file, a key that does not
// match) keeps the old set in force and is logged; the next change is tried again.

// defaultCertPoll is how often the certificate files are checked when App.CertPoll is zero.
const defaultCertPoll = 5 * time.Second

// fileStamp is what a poll compares: a rewrite changes the mtime, and almost always the size too.
type fileStamp struct {
	mod  time.Time
	size int64
}

// certWatch is the poll's memory. Used by Run's goroutine only.
type certWatch struct {
	cfg  *config.Config // the configuration the stamps belong to; a reload starts a new set
	seen map[string]fileStamp
}

// certFiles lists the certificate and key files of every TLS listener of cfg, resolved like loadPair does.
func certFiles(cfg *config.Config) []string {
	var out []string
	for _, l := range cfg.Listeners {
		if l.TLS == nil {
			continue
		}
		for _, ct := range l.TLS.Certificates {
			dir := filepath.Dir(ct.Pos.File)
			out = append(out, resolve(dir, ct.Cert), resolve(dir, ct.Key))
		}
	}
	return out
}

// changed stamps the files of cfg and reports whether any differs from the last poll. The first poll of a
// configuration only records: a reload has just read the files.
func (w *certWatch) changed(cfg *config.Config) bool {
	fresh := w.cfg != cfg
	if fresh {
		w.cfg, w.seen = cfg, map[string]fileStamp{}
	}
	diff := false
	for _, f := range certFiles(cfg) {
		var st fileStamp
		if fi, err := os.Stat(f); err == nil {
			st = fileStamp{fi.ModTime(), fi.Size()}
		}
		if old, ok := w.seen[f]; !ok || old != st {
			diff = diff || ok
			w.seen[f] = st
		}
	}
	return diff && !fresh
}

// pollCerts reloads the certificates of every TLS listener when their files changed since the last poll.
func (a *App) pollCerts() {
	cfg := a.built.Config
	if !a.certs.changed(cfg) {
		return
	}
	for _, l := range cfg.Listeners {
		if l.TLS == nil {
			continue
		}
		st := a.modes[listenerKey(l)]
		if st == nil {
			continue
		}
		var diags config.Diagnostics
		s := compileTLS(l.TLS, &diags)
		if s == nil || diags.HasErrors() {
			a.log.Error("certificate files changed but do not load; the previous certificates stay in force",
				"listener", l.Name, "errors", diags.String())
			continue
		}
		st.publishCerts(l.Name, s.certs)
		a.log.Info("certificates reloaded after their files changed", "listener", l.Name, "certificates", len(s.certs.all))
	}
}

// certPoll is the interval of the certificate-file poll.
func (a *App) certPoll() time.Duration {
	if a.CertPoll > 0 {
		return a.CertPoll
	}
	return defaultCertPoll
}
