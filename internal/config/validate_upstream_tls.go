package config

import "strings"

// This file checks the tls block of a service (TLS to its instances). Only the shape is checked here; the files are
// read, and a client key that does not match its certificate reported, by the compiler in internal/app.

func (v *validator) upstreamTLS(s *Service) {
	t := s.TLS
	for _, k := range []struct{ key, val string }{{"ca", t.CA}, {"cert", t.Cert}, {"key", t.Key}} {
		if t.Has(k.key) && strings.TrimSpace(k.val) == "" {
			v.diags.Errorf(t.At(k.key), "%s must be a file path, got an empty string", k.key)
		}
	}
	switch {
	case t.Has("cert") && !t.Has("key"):
		v.diags.Errorf(t.At("cert"), "cert needs key: a client certificate is useless without its private key")
	case t.Has("key") && !t.Has("cert"):
		v.diags.Errorf(t.At("key"), "key needs cert: give the client certificate that goes with this key")
	}
	if t.Has("server_name") && !isHostname(t.ServerName) && !isIP(t.ServerName) {
		v.diags.Errorf(t.At("server_name"), "invalid server_name %q: want a DNS name or an IP address", t.ServerName)
	}
	if !t.InsecureSkipVerify {
		return
	}
	// Loud on purpose: this setting turns authenticated TLS into encryption that any machine on the path can
	// intercept, and it tends to be copied from a test setup into production.
	v.diags.Warnf(t.At("insecure_skip_verify"), "WARNING: insecure_skip_verify is on: fjord will NOT verify the certificates of service %q; anyone on the network path can impersonate its instances and read or alter the traffic. Trust a private CA with ca instead", s.Name)
	if t.Has("ca") {
		v.diags.Warnf(t.At("ca"), "ca is ignored because insecure_skip_verify is on")
	}
}
