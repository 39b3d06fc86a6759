package config

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// This file checks the tls block of listeners and the HTTP→HTTPS redirect. Only the shape is checked here: the
// certificate files are read (and a key that does not match its certificate reported) by the compiler in
// internal/app, which needs their contents anyway.

var tlsVersions = []string{"1.2", "1.3"}

// tls13Suites are the TLS 1.3 suites: Go always enables them and offers no way to choose, so naming one in
// ciphers is a mistake worth an error rather than silence.
var tls13Suites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

func (v *validator) listenerTLS(c *Config) {
	byName := map[string]*Listener{}
	for i := range c.Listeners {
		byName[c.Listeners[i].Name] = &c.Listeners[i]
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.TLS != nil {
			v.tlsBlock(l.TLS)
		}
		v.redirect(l, byName)
	}
}

func (v *validator) tlsBlock(t *TLS) {
	if t.Has("certificates") && len(t.Certificates) == 0 {
		v.diags.Errorf(t.At("certificates"), "certificates must list at least one {cert, key} pair")
	}
	for i := range t.Certificates {
		ct := &t.Certificates[i]
		for _, k := range []struct{ key, val string }{{"cert", ct.Cert}, {"key", ct.Key}} {
			if ct.Has(k.key) && strings.TrimSpace(k.val) == "" {
				v.diags.Errorf(ct.At(k.key), "%s must be a file path, got an empty string", k.key)
			}
		}
	}
	v.oneOf(t.Positions, "min_version", t.MinVersion, tlsVersions)
	if !t.Has("ciphers") {
		return
	}
	if len(t.Ciphers) == 0 {
		v.diags.Errorf(t.At("ciphers"), "ciphers must list at least one suite; leave the key out for Go's secure defaults")
		return
	}
	if t.MinVersion == "1.3" {
		v.diags.Warnf(t.At("ciphers"), "ciphers choose TLS 1.2 suites only; with min_version \"1.3\" they are ignored")
	}
	for i, name := range t.Ciphers {
		if msg := cipherProblem(name); msg != "" {
			v.diags.Errorf(t.At(fmt.Sprintf("ciphers.%d", i)), "%s", msg)
		}
	}
}

// cipherProblem explains why name is not a TLS 1.2 suite fjord accepts, or returns "".
func cipherProblem(name string) string {
	if slices.Contains(tls13Suites, name) {
		return fmt.Sprintf("cipher %q is a TLS 1.3 suite; TLS 1.3 suites are always enabled and cannot be chosen", name)
	}
	for _, s := range tls.InsecureCipherSuites() {
		if s.Name == name {
			return fmt.Sprintf("cipher %q is insecure and not allowed", name)
		}
	}
	var known []string
	for _, s := range tls.CipherSuites() {
		if s.Name == name {
			return ""
		}
		if !slices.Contains(tls13Suites, s.Name) {
			known = append(known, s.Name)
		}
	}
	return fmt.Sprintf("unknown cipher %q: want a TLS 1.2 suite by its Go name, e.g. TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256%s", name, suggest(name, known))
}

// redirect checks redirect_to_tls and redirect_port of l.
func (v *validator) redirect(l *Listener, byName map[string]*Listener) {
	if l.Has("redirect_port") && (l.RedirectPort < 1 || l.RedirectPort > 65535) {
		v.diags.Errorf(l.At("redirect_port"), "redirect_port must be between 1 and 65535, got %d", l.RedirectPort)
	}
	if !l.Has("redirect_to_tls") {
		if l.Has("redirect_port") {
			v.diags.Errorf(l.At("redirect_port"), "redirect_port needs redirect_to_tls")
		}
		return
	}
	if l.TLS != nil {
		v.diags.Errorf(l.At("redirect_to_tls"), "listener %q has tls and redirect_to_tls; only a plain listener redirects to a TLS one", l.Name)
		return
	}
	target, ok := byName[l.RedirectToTLS]
	switch {
	case !ok:
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		slices.Sort(names)
		v.diags.Errorf(l.At("redirect_to_tls"), "redirect_to_tls names unknown listener %q%s", l.RedirectToTLS, suggest(l.RedirectToTLS, names))
	case target.TLS == nil:
		v.diags.Errorf(l.At("redirect_to_tls"), "redirect_to_tls names listener %q, which has no tls block", l.RedirectToTLS)
	}
}
