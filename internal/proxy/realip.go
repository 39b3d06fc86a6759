package proxy

import (
	"net/netip"
	"unsafe"

	"github.com/fjord-gw/fjord/internal/acl"
	"github.com/fjord-gw/fjord/internal/http1"
)

// RealIP says when the gateway believes another hop about who the client is (nginx's realip module). The zero value
// believes nobody: the client is the TCP peer.
//
// Only a peer in Trusted is believed: on a PROXY-protocol listener its header names the client of the connection
// (see proxyproto.go); then, per request, when that address is trusted too and Header is set, the request's Header
// (X-Forwarded-For) is read from the right: with Recursive, trusted addresses are skipped and the first untrusted
// one is the client (all trusted: the leftmost); without, the rightmost address is the client. An element that is
// not an address stops the walk at the last good one. The result is the address that access rules, rate limits and
// hashing by client IP, ${client_ip}, the X-Forwarded-For and X-Real-IP sent upstream and the access log use.
type RealIP struct {
	Trusted   *acl.Set
	Header    string // e.g. "X-Forwarded-For"; "" = no header is believed
	Recursive bool
}

// resolveClient sets c.remote, the client address of the current request, from the connection's client (the TCP
// peer, or the PROXY header's source) and the trusted X-Forwarded-For. It does not allocate.
func (c *conn) resolveClient(cfg *Config) {
	c.remote = c.client
	ri := &cfg.RealIP
	if ri.Header == "" || !ri.Trusted.Contains(c.remote.Addr()) {
		return
	}
	if a, ok := realIPFromHeaders(&c.req, ri); ok {
		c.remote = netip.AddrPortFrom(a, c.remote.Port())
	}
}

// realIPFromHeaders walks the values of ri.Header right to left (later header lines first) as RealIP describes and
// returns the client address it finds, if any.
func realIPFromHeaders(req *http1.Request, ri *RealIP) (netip.Addr, bool) {
	var found netip.Addr
	for i := len(req.Headers) - 1; i >= 0; i-- {
		h := &req.Headers[i]
		if len(h.Name) != len(ri.Header) || !equalFold(h.Name, ri.Header) {
			continue
		}
		v := h.Value
		for end := len(v); end >= 0; {
			start := end - 1
			for start >= 0 && v[start] != ',' {
				start--
			}
			elem := trimOWS(v[start+1 : end])
			end = start
			if len(elem) == 0 {
				continue // "a, , b": empty list elements are allowed (RFC 9110 section 5.6.1)
			}
			a, ok := parseForwardedAddr(elem)
			if !ok {
				return found, found.IsValid()
			}
			found = a
			if !ri.Recursive || !ri.Trusted.Contains(a) {
				return found, true
			}
		}
	}
	return found, found.IsValid()
}

// parseForwardedAddr reads one X-Forwarded-For element: an IPv4 or IPv6 address, optionally with a port
// ("1.2.3.4:80", "[::1]:80"), which is dropped. Zones are refused.
func parseForwardedAddr(b []byte) (netip.Addr, bool) {
	if len(b) > 0 && b[0] == '[' {
		end := 1
		for end < len(b) && b[end] != ']' {
			end++
		}
		if end == len(b) {
			return netip.Addr{}, false
		}
		b = b[1:end]
	} else if n := countByte(b, ':'); n == 1 {
		for i := range b {
			if b[i] == ':' {
				b = b[:i]
				break
			}
		}
	}
	if len(b) == 0 || len(b) > 45 || countByte(b, '%') > 0 {
		return netip.Addr{}, false
	}
	// A string view of b instead of a copy: string(b) would allocate, because ParseAddr's argument escapes. That is
	// only into the error value (and into a zone, refused above), which is dropped at once.
	a, err := netip.ParseAddr(unsafe.String(unsafe.SliceData(b), len(b)))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func countByte(b []byte, x byte) int {
	n := 0
	for _, y := range b {
		if y == x {
			n++
		}
	}
	return n
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
