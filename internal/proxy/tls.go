package proxy

import (
	"crypto/tls"
	"net"
	"strconv"
	"time"

	"github.com/fjord-gw/fjord/internal/accesslog"
	"github.com/fjord-gw/fjord/internal/http1"
)

// ListenerMode says how a listener serves the connections it accepts. The zero value (or nil) is plain HTTP.
//
// A mode is read once per accepted connection, so a reload that publishes a new one (say, a new certificate set or
// a changed min_version) applies to new connections; connections already open keep the mode they started with.
type ListenerMode struct {
	// TLS, when set, terminates TLS: each connection is wrapped with tls.Server and does its handshake in its own
	// goroutine before the first request, within the client ReadHeaderTimeout, so a client that never completes it
	// holds only its own goroutine. Requests then report the scheme "https". A connection whose ALPN negotiates
	// "h2" (NextProtos ["h2", "http/1.1"]) is served as HTTP/2 (see h2.go); others as HTTP/1.1.
	TLS *tls.Config
	// H2C, on a plain listener, serves connections that start with the HTTP/2 client preface as HTTP/2 (prior
	// knowledge, RFC 9113 section 3.3); HTTP/1.1 keeps working on the same listener.
	H2C bool
	// RedirectPort, when non-zero, answers every request with 308 Permanent Redirect to
	// https://HOST[:RedirectPort]URI (HOST from the request, port omitted when 443) instead of routing it. Meant for
	// plain listeners.
	RedirectPort int
	// ProxyProtocol requires a PROXY protocol (v1 or v2) header at the start of every connection, from a peer in
	// the trusted proxies (Config.RealIP); others are closed. Such connections are served by goroutines.
	ProxyProtocol bool
	// DeferAccept says that the listening socket has TCP_DEFER_ACCEPT set (see SetDeferAccept): an accepted
	// connection has its first bytes in already, so the event loop reads them as it accepts rather than waiting
	// for the socket's first event.
	DeferAccept bool
}

// ServeMode is ServeListener with a per-listener mode: mode is called for every accepted connection (it must not
// block; typically an atomic pointer's Load) and may return nil for plain HTTP. The scheme is "https" for connections
// with TLS and "http" for the others.
func (s *Server) ServeMode(ln net.Listener, name string, mode func() *ListenerMode) error {
	return s.serve(ln, name, "http", mode)
}

// setMode applies m to a freshly accepted connection, before its goroutine starts.
func (c *conn) setMode(m *ListenerMode) {
	if m == nil {
		return
	}
	c.redirectPort = m.RedirectPort
	if m.ProxyProtocol {
		c.wrapProxyProto() // below TLS: the header comes before the handshake
	}
	c.h2c = m.H2C && m.TLS == nil
	if m.TLS == nil {
		return
	}
	c.tls = tls.Server(c.nc, m.TLS)
	c.nc = c.tls
	c.dc.Conn = c.tls
	// The idle wait without a buffer reads the socket directly, which would skip the TLS layer; a TLS conn waits
	// with a buffered Fill instead (see waitRequest).
	c.raw = nil
	c.scheme = "https"
}

// handshake runs the TLS handshake, bounded by the client ReadHeaderTimeout, and reports whether it succeeded.
// Failures are routine on the internet (scanners, clients that reject the certificate), so they are logged at debug
// level only.
func (c *conn) handshake(cfg *Config) bool {
	if err := c.nc.SetDeadline(time.Now().Add(cfg.Client.ReadHeaderTimeout)); err != nil {
		return false
	}
	// Marked idle so that Shutdown's wake-up (a read deadline of now) cuts a pending handshake short: no request is
	// in flight yet. The deadline is set first so that the wake-up cannot be overwritten; the closing check after
	// the store pairs with Shutdown's store-then-check, so one of the two always sees the other.
	c.state.Store(stateIdle)
	if c.srv.closing.Load() {
		return false
	}
	err := c.tls.Handshake()
	c.state.Store(stateActive)
	if err != nil {
		c.srv.handshakes[1].Add(1)
		c.srv.log.Debug("tls handshake failed", "client", c.remote.String(), "listener", c.listener, "err", err)
		return false
	}
	c.srv.handshakes[0].Add(1)
	// readRequest sets the read deadline it needs; the writes have none until a request sets them.
	return c.nc.SetWriteDeadline(time.Time{}) == nil
}

// redirect answers the current request with a 308 to the same host and URI over https, and reports whether the
// connection stays open.
func (c *conn) redirect(cfg *Config) bool {
	c.takeRequestID()
	c.log = accesslog.Entry{}
	keep := c.writeRedirect()
	c.finishLog(cfg, time.Since(c.start))
	return keep && !c.srv.closing.Load()
}

func (c *conn) writeRedirect() bool {
	host := hostWithoutPort(c.req.Host)
	if len(host) == 0 {
		return c.writeErrorAfterBody(400, "no Host header to redirect to")
	}
	// The body, if any, is not read: closing is cheaper than draining a body nobody will use.
	closeAfter := c.req.Close || c.req.Framing != http1.FramingNone
	b := appendStatusLine(c.wbuf[:0], 308)
	// The parser allows only host characters in Host (no whitespace or CR/LF), so it is safe to copy into a header.
	b = append(b, "Location: https://"...)
	b = append(b, host...)
	if c.redirectPort != 443 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(c.redirectPort), 10)
	}
	if len(c.req.Path) > 0 && c.req.Path[0] == '/' {
		b = append(b, c.req.Path...)
	} else {
		b = append(b, '/') // "OPTIONS *" has no path to keep
	}
	if c.req.Query != nil {
		b = append(b, '?')
		b = append(b, c.req.Query...)
	}
	b = append(b, "\r\n"...)
	b = appendContentLength(b, 0)
	b = appendConnection(b, c.req.Minor, closeAfter)
	b = append(b, "\r\n"...)
	c.wbuf = b[:0]
	c.log.Status = 308
	if _, err := c.nc.Write(b); err != nil {
		return false
	}
	return !closeAfter
}

// hostWithoutPort returns the host part of a Host value: an IPv6 literal keeps its brackets.
func hostWithoutPort(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		for i, ch := range h {
			if ch == ']' {
				return h[:i+1]
			}
		}
		return nil
	}
	for i, ch := range h {
		if ch == ':' {
			return h[:i]
		}
	}
	return h
}

// TLSHandshakes returns the client TLS handshakes that completed and that failed (including those cut by the
// handshake timeout) since the server was created. Safe to call from any goroutine.
func (s *Server) TLSHandshakes() (ok, failed uint64) {
	return s.handshakes[0].Load(), s.handshakes[1].Load()
}
