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

// stampCerts stamps the certificate files of cfg. load calls it before the files are read, so a file replaced
// while (or just after) a configuration loads differs from its stamp at the next poll and is not missed.
func stampCerts(cfg *config.Config) map[string]fileStamp {
	out := map[string]fileStamp{}
	for _, f := range certFiles(cfg) {
		out[f] = stampOf(f)
	}
	return out
}

// stampOf is f's stamp; a file that cannot be stat'ed has the zero stamp.
func stampOf(f string) fileStamp {
	if fi, err := os.Stat(f); err == nil {
		return fileStamp{fi.ModTime(), fi.Size()}
	}
	return fileStamp{}
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

// changed stamps the files of b's configuration and reports whether any differs from the last poll, or, at the
// first poll of a configuration, from the stamps load took before it read the files.
func (w *certWatch) changed(b *Built) bool {
	if w.cfg != b.Config {
		w.cfg, w.seen = b.Config, b.certStamps
		if w.seen == nil {
			w.seen = stampCerts(b.Config)
		}
	}
	diff := false
	for _, f := range certFiles(b.Config) {
		st := stampOf(f)
		if w.seen[f] != st {
			diff = true
			w.seen[f] = st
		}
	}
	return diff
}

// pollCerts reloads the certificates of every TLS listener when their files changed since the last poll.
func (a *App) pollCerts() {
	cfg := a.built.Config
	if !a.certs.changed(a.built) {
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
