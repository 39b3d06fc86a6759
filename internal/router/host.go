package router

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// maxHostLen bounds the normalized request host kept on the stack. DNS names
// are at most 253 bytes and bracketed IPv6 literals far shorter, so a longer
// host cannot equal any configured name and goes to the default group.
const maxHostLen = 256

type hostKind uint8

const (
	hostDefault hostKind = iota
	hostExact
	hostWildcard // name is the suffix after "*."
)

// hostKey identifies a host group.
type hostKey struct {
	kind hostKind
	name string // lower case, no trailing dot; IPv6 literals bracketed
}

func (k hostKey) String() string {
	switch k.kind {
	case hostExact:
		return k.name
	case hostWildcard:
		return "*." + k.name
	}
	return "*"
}

// parseHostPattern validates and normalizes one configured host.
func parseHostPattern(h string) (hostKey, error) {
	if h == "*" {
		return hostKey{kind: hostDefault}, nil
	}
	if h == "" {
		return hostKey{}, errors.New("empty host")
	}
	if h[0] == '[' || strings.Count(h, ":") > 1 {
		name, err := parseIPv6Pattern(h)
		return hostKey{kind: hostExact, name: name}, err
	}
	name := strings.ToLower(strings.TrimSuffix(h, "."))
	kind := hostExact
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		kind, name = hostWildcard, rest
	}
	if err := checkHostName(name); err != nil {
		return hostKey{}, fmt.Errorf("host %q: %w", h, err)
	}
	return hostKey{kind: kind, name: name}, nil
}

// parseIPv6Pattern accepts "[::1]" or "::1" and returns the bracketed,
// lower-case form a request's Host header carries.
func parseIPv6Pattern(h string) (string, error) {
	inner := h
	if h[0] == '[' {
		var ok bool
		inner, ok = strings.CutSuffix(h[1:], "]")
		if !ok {
			return "", fmt.Errorf("host %q: IPv6 literal must not carry a port or trailing text", h)
		}
	}
	a, err := netip.ParseAddr(inner)
	if err != nil || !a.Is6() {
		return "", fmt.Errorf("host %q: not an IPv6 address", h)
	}
	if a.Zone() != "" {
		// A zone is local to one machine and cannot be compared reliably.
		return "", fmt.Errorf("host %q: IPv6 zone not allowed", h)
	}
	return "[" + strings.ToLower(inner) + "]", nil
}

// checkHostName accepts lower-case DNS-style names (letters, digits, '-',
// '_', non-empty dot-separated labels). Ports and stray wildcards are
// rejected because they could never match and usually mean a typo.
func checkHostName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 253 {
		return errors.New("longer than 253 bytes")
	}
	if strings.Contains(name, "..") || name[0] == '.' || name[len(name)-1] == '.' {
		return errors.New("empty label")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		case c == ':':
			return errors.New("must not include a port")
		case c == '*':
			return errors.New(`wildcard is only allowed as a leading "*."`)
		default:
			return fmt.Errorf("invalid character %q", c)
		}
	}
	return nil
}

// canonicalHost writes the lookup form of a request's Host into buf: port
// removed, one trailing dot removed, ASCII lower-cased, a bare IPv6 address
// bracketed. ok is false when the host does not fit buf.
func canonicalHost(buf *[maxHostLen]byte, h []byte) (host []byte, ok bool) {
	bracket := false
	if len(h) > 0 && h[0] == '[' {
		if end := bytes.IndexByte(h, ']'); end >= 0 {
			h = h[:end+1]
		}
	} else if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		if bytes.IndexByte(h[:i], ':') >= 0 {
			bracket = true // bare IPv6 literal: colons are not a port
		} else {
			h = h[:i]
		}
	}
	if n := len(h); n > 0 && h[n-1] == '.' {
		h = h[:n-1]
	}
	n := 0
	if bracket {
		if len(h)+2 > len(buf) {
			return nil, false
		}
		buf[0] = '['
		n = 1
	} else if len(h) > len(buf) {
		return nil, false
	}
	for _, c := range h {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	if bracket {
		buf[n] = ']'
		n++
	}
	return buf[:n], true
}

// hostIndex selects the host group for a request host.
type hostIndex struct {
	exact    map[string]*group
	wildcard map[string]*group // by suffix after "*."
	def      *group            // nil when no route is in the default group
}

// lookup returns the group for raw, or nil when no group applies. It does
// not allocate: the lower-cased host lives in a stack buffer and map
// lookups with string(bytes) keys do not copy.
func (x *hostIndex) lookup(raw []byte) *group {
	var buf [maxHostLen]byte
	host, ok := canonicalHost(&buf, raw)
	if !ok || len(host) == 0 {
		return x.def
	}
	if g := x.exact[string(host)]; g != nil {
		return g
	}
	if len(x.wildcard) > 0 {
		// The first dot gives the longest suffix, so the first hit is the
		// most specific wildcard. Only suffixes after a dot are tried, so
		// "*.example.no" never matches "example.no" itself.
		for i := 0; i < len(host); i++ {
			if host[i] != '.' {
				continue
			}
			if g := x.wildcard[string(host[i+1:])]; g != nil {
				return g
			}
		}
	}
	return x.def
}
