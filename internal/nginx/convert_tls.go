package nginx

import (
	"crypto/tls"
	"path/filepath"
	"slices"
	"strings"
)

// tlsScope is the ssl_* and http2 configuration in force at the http or
// server level. nginx inherits each directive from http into server unless
// the server sets it; ssl_certificate and ssl_certificate_key are arrays
// (several key types) replaced as a whole.
type tlsScope struct {
	certs, keys []Arg
	protocols   *Directive // ssl_protocols; nil: nginx's default (TLSv1 … TLSv1.3)
	ciphers     *Directive // ssl_ciphers; nil: Go's defaults
	sslOn       bool       // legacy `ssl on`: every listen of the server is ssl
	http2On     bool       // `http2 on` (nginx 1.25.1+)
	certHere    bool
	keyHere     bool
}

// tlsListener is what the servers of one listen address say about TLS and
// HTTP/2. fjord sets TLS per listener, so the servers of an address pool
// their certificates (chosen by SNI) and the default server's protocols and
// ciphers apply, as they do in nginx before SNI picks a server.
type tlsListener struct {
	ssl, http2 bool
	pos        Pos // the first listen that made it ssl
	certs      [][2]string
	minVersion string
	ciphers    []string
}

// tlsSetting applies an ssl_* or http2 directive of the http or server level
// to ts and reports whether d was one.
func (c *converter) tlsSetting(d *Directive, ts *tlsScope) bool {
	switch d.Name {
	case "ssl_certificate", "ssl_certificate_key":
		if !c.nargs(d, 1, 1) {
			return true
		}
		a := d.Args[0]
		if strings.Contains(a.Value, "$") || strings.HasPrefix(a.Value, "data:") ||
			strings.HasPrefix(a.Value, "engine:") {
			c.errorf(a.Pos, "%s %q: variables, data: and engine: keys are not supported", d.Name, a.Value)
			return true
		}
		if d.Name == "ssl_certificate" {
			pushArg(&ts.certs, &ts.certHere, a)
		} else {
			pushArg(&ts.keys, &ts.keyHere, a)
		}
	case "ssl":
		if c.nargs(d, 1, 1) {
			ts.sslOn = c.onOff(d)
			c.diag(d.Pos, SeverityInfo, "ssl on is nginx's legacy form of listen ... ssl")
		}
	case "http2":
		if c.nargs(d, 1, 1) {
			ts.http2On = c.onOff(d)
		}
	case "ssl_protocols":
		if c.nargs(d, 1, 6) {
			ts.protocols = d
		}
	case "ssl_ciphers":
		if c.nargs(d, 1, 1) {
			ts.ciphers = d
		}
	case "ssl_prefer_server_ciphers":
		c.diag(d.Pos, SeverityInfo, "ssl_prefer_server_ciphers accepted: Go orders TLS 1.2 suites by the server's "+
			"preference and the client's hardware")
	case "ssl_session_cache", "ssl_session_timeout", "ssl_session_ticket_key", "ssl_buffer_size",
		"ssl_ecdh_curve", "ssl_dhparam", "ssl_stapling", "ssl_stapling_verify", "ssl_trusted_certificate",
		"ssl_early_data", "ssl_conf_command", "ssl_handshake_timeout":
		c.ignored(d, tlsIgnored[d.Name])
	case "ssl_session_tickets":
		if v := d.Values(); len(v) == 1 && v[0] == "off" {
			c.diag(d.Pos, SeverityWarning, "ssl_session_tickets off: fjord always resumes sessions with tickets")
		} else {
			c.diag(d.Pos, SeverityInfo, "ssl_session_tickets accepted: fjord resumes sessions with tickets")
		}
	default:
		// ssl_client_certificate, ssl_verify_client, ssl_password_file, ssl_crl…: refusing them is
		// safer than serving without the client authentication they ask for.
		if strings.HasPrefix(d.Name, "ssl_") {
			c.unsupported(d)
			return true
		}
		return false
	}
	return true
}

// tlsIgnored says why each accepted-but-ignored TLS directive needs no counterpart in fjord.
var tlsIgnored = map[string]string{
	"ssl_session_cache":       "fjord resumes sessions with Go's session tickets, keys rotated automatically",
	"ssl_session_timeout":     "fjord resumes sessions with Go's session tickets, valid up to 7 days",
	"ssl_session_ticket_key":  "fjord makes and rotates its own ticket keys",
	"ssl_buffer_size":         "tunes nginx's TLS record size",
	"ssl_ecdh_curve":          "Go chooses the curves (X25519, P-256, …)",
	"ssl_dhparam":             "fjord offers no DHE suites",
	"ssl_stapling":            "fjord does not staple OCSP responses yet",
	"ssl_stapling_verify":     "fjord does not staple OCSP responses yet",
	"ssl_trusted_certificate": "used by nginx for OCSP stapling, which fjord does not do yet",
	"ssl_early_data":          "fjord does not accept TLS 1.3 early data (0-RTT)",
	"ssl_conf_command":        "OpenSSL configuration commands have no Go counterpart",
	"ssl_handshake_timeout":   "fjord bounds the handshake by server.read_header_timeout",
}

// onOff reads the on|off argument of d.
func (c *converter) onOff(d *Directive) bool {
	switch d.Args[0].Value {
	case "on":
		return true
	case "off":
		return false
	}
	c.errorf(d.Args[0].Pos, "invalid value %q in %q directive, it must be \"on\" or \"off\"", d.Args[0].Value, d.Name)
	return false
}

func pushArg(list *[]Arg, here *bool, a Arg) {
	if !*here {
		*list, *here = nil, true
	}
	*list = append(*list, a)
}

// tlsListenerOf returns ln's TLS state, creating it.
func (c *converter) tlsListenerOf(ln *listener) *tlsListener {
	tl := c.tlsAt[ln]
	if tl == nil {
		tl = &tlsListener{}
		c.tlsAt[ln] = tl
	}
	return tl
}

// markListen records the ssl and http2 flags of one listen directive.
func (c *converter) markListen(ln *listener, ssl, http2 bool, p Pos) {
	if !ssl && !http2 {
		return
	}
	tl := c.tlsListenerOf(ln)
	if ssl && !tl.ssl {
		tl.ssl, tl.pos = true, p
	}
	if !tl.pos.IsValid() {
		tl.pos = p
	}
	tl.http2 = tl.http2 || http2
}

// buildTLS decides each listener's TLS settings once every server was read:
// the certificates of all its servers (the default server's first, since
// fjord serves the first to clients without SNI), and the default server's
// protocols and ciphers. `ssl on` and `http2 on` of a server apply to all
// its listeners, as nginx's listen options are per address.
func (c *converter) buildTLS() {
	for _, s := range c.servers {
		if ts := c.tlsOf[s]; ts != nil && (ts.sslOn || ts.http2On) {
			for _, ln := range c.serverListeners[s] {
				c.markListen(ln, ts.sslOn, ts.http2On, s.Pos)
			}
		}
	}
	for _, ln := range c.listeners {
		tl := c.tlsAt[ln]
		if tl == nil || !tl.ssl {
			continue
		}
		servers := []*Directive{ln.dflt}
		for _, s := range c.servers {
			if s != ln.dflt && slices.Contains(c.serverListeners[s], ln) {
				servers = append(servers, s)
			}
		}
		for i, s := range servers {
			ts := c.tlsOf[s]
			if ts == nil {
				continue
			}
			c.certPairs(s, ts, tl)
			if i == 0 {
				tl.minVersion = c.minVersion(ts.protocols)
				tl.ciphers = c.cipherSuites(ts.ciphers)
			}
		}
		if len(tl.certs) == 0 {
			c.errorf(tl.pos, "no \"ssl_certificate\" is defined for the listen ... ssl directive")
		}
	}
}

// mergeTLS folds the TLS state of listener from into into, when a
// dual-stack pair becomes one fjord listener.
func (c *converter) mergeTLS(into, from *listener) {
	f := c.tlsAt[from]
	if f == nil {
		return
	}
	t := c.tlsListenerOf(into)
	if f.ssl && !t.ssl {
		t.ssl, t.pos, t.minVersion, t.ciphers = true, f.pos, f.minVersion, f.ciphers
	}
	t.http2 = t.http2 || f.http2
	for _, p := range f.certs {
		if !slices.Contains(t.certs, p) {
			t.certs = append(t.certs, p)
		}
	}
}

// certPairs adds server s's certificate and key pairs to tl.
func (c *converter) certPairs(s *Directive, ts *tlsScope, tl *tlsListener) {
	if len(ts.certs) == 0 {
		return
	}
	if len(ts.keys) != len(ts.certs) {
		c.errorf(s.Pos, "server has %d ssl_certificate and %d ssl_certificate_key directives: they must pair up",
			len(ts.certs), len(ts.keys))
		return
	}
	for i := range ts.certs {
		p := [2]string{absPath(c.mainDir, ts.certs[i].Value), absPath(c.mainDir, ts.keys[i].Value)}
		if !slices.Contains(tl.certs, p) {
			tl.certs = append(tl.certs, p)
		}
	}
}

// minVersion maps ssl_protocols to min_version. fjord's floor is TLS 1.2.
func (c *converter) minVersion(d *Directive) string {
	if d == nil {
		return "1.2"
	}
	vs := d.Values()
	old := false
	for _, v := range vs {
		switch v {
		case "SSLv2", "SSLv3", "TLSv1", "TLSv1.1":
			old = true
		case "TLSv1.2", "TLSv1.3":
		default:
			c.errorf(d.Pos, "ssl_protocols: invalid value %q", v)
			return ""
		}
	}
	if old {
		c.diag(d.Pos, SeverityWarning, "ssl_protocols: fjord accepts TLS 1.2 and 1.3 only; older clients fail the handshake")
	}
	if !slices.Contains(vs, "TLSv1.3") {
		c.diag(d.Pos, SeverityWarning, "ssl_protocols without TLSv1.3: fjord offers TLS 1.3 too")
	}
	if !slices.Contains(vs, "TLSv1.2") && !old {
		return "1.3"
	}
	return "1.2"
}

// openSSLSuites maps OpenSSL's names of TLS 1.2 suites to Go's.
var openSSLSuites = map[string]string{
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-RSA-AES128-GCM-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-RSA-CHACHA20-POLY1305":   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-AES128-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"ECDHE-RSA-AES128-SHA":          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-AES256-SHA":          "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"AES128-GCM-SHA256":             "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"AES256-GCM-SHA384":             "TLS_RSA_WITH_AES_256_GCM_SHA384",
	"AES128-SHA":                    "TLS_RSA_WITH_AES_128_CBC_SHA",
	"AES256-SHA":                    "TLS_RSA_WITH_AES_256_CBC_SHA",
	"ECDHE-ECDSA-AES128-SHA256":     "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-AES128-SHA256":       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"AES128-SHA256":                 "TLS_RSA_WITH_AES_128_CBC_SHA256",
	"DES-CBC3-SHA":                  "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	"ECDHE-RSA-DES-CBC3-SHA":        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	"RC4-SHA":                       "TLS_RSA_WITH_RC4_128_SHA",
	"ECDHE-RSA-RC4-SHA":             "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
	"ECDHE-ECDSA-RC4-SHA":           "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
}

// cipherSuites maps an ssl_ciphers list to Go suite names. Suites Go has
// and considers secure are kept in order; the rest (cipher-string keywords
// like HIGH or !aNULL, DHE suites, insecure suites) are left out with a
// warning. An empty result means Go's secure defaults.
func (c *converter) cipherSuites(d *Directive) []string {
	if d == nil {
		return nil
	}
	secure := map[string]bool{}
	for _, s := range tls.CipherSuites() {
		secure[s.Name] = true
	}
	var out, skipped []string
	for _, name := range strings.FieldsFunc(d.Args[0].Value, func(r rune) bool { return r == ':' || r == ' ' || r == ',' }) {
		g := openSSLSuites[name]
		switch {
		case secure[g]:
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		case strings.HasPrefix(name, "TLS_AES_") || strings.HasPrefix(name, "TLS_CHACHA20_"):
			// TLS 1.3 suites are always on in Go.
		case strings.HasPrefix(name, "!") || strings.HasPrefix(name, "-"):
			// An exclusion: fjord's list never holds what it excludes.
		default:
			skipped = append(skipped, name)
		}
	}
	if len(skipped) > 0 {
		c.diag(d.Args[0].Pos, SeverityWarning, "ssl_ciphers: left out %s (cipher-string keywords, DHE and insecure "+
			"suites have no Go counterpart)", strings.Join(skipped, ":"))
	}
	if len(out) == 0 {
		c.diag(d.Args[0].Pos, SeverityWarning, "ssl_ciphers: no suite maps to a secure Go suite: fjord uses Go's "+
			"secure defaults")
	}
	return out
}

// emitListenerTLS writes the tls, http2 and h2c keys of listener l.
func emitListenerTLS(w *yamlWriter, tl *tlsListener) {
	if tl == nil {
		return
	}
	if !tl.ssl {
		if tl.http2 {
			w.printf(tl.pos, "    h2c: true")
		}
		return
	}
	w.printf(tl.pos, "    tls:")
	w.printf(tl.pos, "      certificates:")
	for _, p := range tl.certs {
		w.printf(tl.pos, "        - {cert: %s, key: %s}", q(p[0]), q(p[1]))
	}
	w.printf(tl.pos, "      min_version: %s", q(tl.minVersion))
	if len(tl.ciphers) > 0 {
		w.printf(tl.pos, "      ciphers: [%s]", quoteAll(tl.ciphers))
	}
	w.printf(tl.pos, "    http2: %t", tl.http2)
}

// absPath resolves a relative certificate path p as nginx does, against the
// directory of the main configuration file (nginx's conf prefix when started
// with -c), so that `fjord convert` output works wherever it is saved. A
// relative dir leaves p relative: fjord then resolves it against the
// directory of the configuration file, which is the same place.
func absPath(dir, p string) string {
	if filepath.IsAbs(p) || !filepath.IsAbs(dir) {
		return p
	}
	return filepath.Join(dir, p)
}
