package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/fjord-gw/fjord/internal/proxyproto"
)

// ppConn is a client connection on a PROXY-protocol listener: the header is read from the socket first, and any
// bytes that arrived with it (the start of the TLS handshake or the first request) are served by Read before the
// socket is read again. Such connections are served by goroutines only (conn.raw is nil: the event loops and the
// bufferless idle wait read the descriptor directly, which would skip those bytes).
type ppConn struct {
	net.Conn
	rest []byte // bytes read past the header, not yet consumed
}

func (p *ppConn) Read(b []byte) (int, error) {
	if len(p.rest) > 0 {
		n := copy(b, p.rest)
		p.rest = p.rest[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// wrapProxyProto makes a freshly accepted connection read its PROXY header before anything else. It must run
// before the TLS layer is put on top (setMode).
func (c *conn) wrapProxyProto() {
	c.pp = &ppConn{Conn: c.nc}
	c.nc = c.pp
	c.dc.Conn = c.pp
	c.raw = nil
}

// errUntrustedPeer refuses a PROXY-protocol connection from a peer outside the trusted proxies: anyone else could
// claim any client address.
var errUntrustedPeer = errors.New("peer is not a trusted proxy")

// readProxyHeader reads the PROXY header of the connection within the client ReadHeaderTimeout and makes its
// source the connection's client address. A header with no addresses (a balancer's health check: v2 LOCAL, v1
// UNKNOWN) leaves the peer as the client. It reports whether the connection may be served; failures are logged at
// debug level, like failed TLS handshakes, because scanners cause them all day.
func (c *conn) readProxyHeader(cfg *Config) bool {
	err := c.proxyHeader(cfg)
	if err != nil {
		c.srv.log.Debug("PROXY protocol header refused", "peer", c.peer.String(), "listener", c.listener, "err", err)
		return false
	}
	return true
}

func (c *conn) proxyHeader(cfg *Config) error {
	if !cfg.RealIP.Trusted.Contains(c.peer.Addr()) {
		return errUntrustedPeer
	}
	if err := c.pp.Conn.SetReadDeadline(time.Now().Add(cfg.Client.ReadHeaderTimeout)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	buf := make([]byte, proxyproto.MaxLen)
	h, rest, err := proxyproto.Read(c.pp.Conn, buf)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("closed before the header: %w", err)
		}
		return fmt.Errorf("read PROXY header: %w", err)
	}
	if len(rest) > 0 {
		c.pp.rest = append([]byte(nil), rest...) // buf is large; keep only what the stream still needs
	}
	if err := c.pp.Conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear deadline: %w", err)
	}
	if h.Proxied {
		src := h.Source
		c.client = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		c.remote = c.client
	}
	return nil
}
