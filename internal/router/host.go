package router

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// maxHostLen bounds the normalized request host kept on the stack. DNS names
// are at most 253 bytes and bracketed IPv6 literals far shorter, so a longer
// host cannot equal any configured name and goes to the default group.
const maxHostLen = 256

type hostKind uint8

const (
	hostDefault  hostKind = iota
	hostExact             // name is the host
	hostWildcard          // "*.name": any depth of subdomain of name
	hostDot               // ".name" as configured: name itself and "*.name"; never a group key
	hostApex              // group key for name itself when configured as ".name"
	hostTrailing          // "name.*": name followed by one or more labels
	hostRegex             // "~name": name is the pattern as written
)

// hostKey identifies a configured host pattern and, except hostDot, a host
// group. Comparable, so it keys maps; a regex is identified by its source.
type hostKey struct {
	kind hostKind
	name string // lower case, no trailing dot, IPv6 literals bracketed; regex as written
}

func (k hostKey) String() string {
	switch k.kind {
	case hostExact, hostApex:
		return k.name
	case hostWildcard:
		return "*." + k.name
	case hostDot:
		return "." + k.name
	case hostTrailing:
		return k.name + ".*"
	case hostRegex:
		return "~" + k.name
	}
	return "*"
}

// groupKeys returns the host groups a route with pattern k joins: ".name"
// joins the "*.name" group (the two are indistinguishable for subdomains)
// and its own apex group, which ranks just below an exact "name".
func (k hostKey) groupKeys() []hostKey {
	if k.kind == hostDot {
		return []hostKey{{kind: hostWildcard, name: k.name}, {kind: hostApex, name: k.name}}
	}
	return []hostKey{k}
}

// parseHostPattern validates and normalizes one configured host. For a
// regex host it also returns the compiled, case-insensitive pattern.
func parseHostPattern(h string) (hostKey, *regexp.Regexp, error) {
	switch {
	case h == "*":
		return hostKey{kind: hostDefault}, nil, nil
	case h == "":
		return hostKey{}, nil, errors.New("empty host")
	case h[0] == '~':
		re, err := compileHostRegex(h[1:])
		if err != nil {
			return hostKey{}, nil, fmt.Errorf("host %q: %w", h, err)
		}
		return hostKey{kind: hostRegex, name: h[1:]}, re, nil
	case h[0] == '[' || strings.Count(h, ":") > 1:
		name, err := parseIPv6Pattern(h)
		return hostKey{kind: hostExact, name: name}, nil, err
	}
	name := strings.ToLower(strings.TrimSuffix(h, "."))
	kind := hostExact
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		kind, name = hostWildcard, rest
	} else if rest, ok := strings.CutPrefix(name, "."); ok {
		kind, name = hostDot, rest
	} else if rest, ok := strings.CutSuffix(name, ".*"); ok {
		kind, name = hostTrailing, rest
	}
	if err := checkHostName(name); err != nil {
		return hostKey{}, nil, fmt.Errorf("host %q: %w", h, err)
	}
	return hostKey{kind: kind, name: name}, nil, nil
}

// compileHostRegex compiles a regex host. Matching is case-insensitive, as
// in nginx, so patterns need not be written in lower case. The bare pattern
// is compiled first so that the flag prefix cannot hide a syntax error.
func compileHostRegex(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, errors.New("empty regex")
	}
	if _, err := regexp.Compile(expr); err != nil {
		return nil, fmt.Errorf("compile regex: %w", err)
	}
	re, err := regexp.Compile("(?i)" + expr)
	if err != nil {
		return nil, fmt.Errorf("compile case-insensitive regex: %w", err)
	}
	return re, nil
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
			return errors.New(`wildcard is only allowed as a leading "*." or ".", or a trailing ".*"`)
		default:
			return fmt.Errorf("invalid character %q", c)
		}
	}
	return nil
}

// trimHost returns the part of a request's Host that names the host: the
// port and one trailing dot removed. bracket reports a bare IPv6 literal
// ("::1"), whose lookup form gets brackets. The result aliases h.
func trimHost(h []byte) (host []byte, bracket bool) {
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
	return h, bracket
}

// canonicalHost writes the lookup form of a request's Host into buf: port
// removed, one trailing dot removed, ASCII lower-cased, a bare IPv6 address
// bracketed. ok is false when the host does not fit buf.
func canonicalHost(buf *[maxHostLen]byte, raw []byte) (host []byte, ok bool) {
	h, bracket := trimHost(raw)
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

// regexHost is one regex host group.
type regexHost struct {
	re *regexp.Regexp // case-insensitive
	g  *group
}

// hostIndex selects the host group for a request host, in nginx's
// server_name order: exact name, longest leading wildcard (".name" matching
// name itself counts as the longest), longest trailing wildcard, first
// matching regex in file order, default group.
type hostIndex struct {
	exact    map[string]*group
	apex     map[string]*group // ".name" patterns, by name
	wildcard map[string]*group // by suffix after "*." (".name" patterns too)
	trailing map[string]*group // by prefix before ".*"
	regexes  []regexHost       // in file order of first use
	def      *group            // nil when no route is in the default group
}

// lookup returns the group for raw, or nil when no group applies. Exact and
// wildcard lookups do not allocate: the lower-cased host lives in a stack
// buffer and map lookups with string(bytes) keys do not copy. Only regex
// hosts, tried last, cost a regex match each.
func (x *hostIndex) lookup(raw []byte) *group {
	var buf [maxHostLen]byte
	host, ok := canonicalHost(&buf, raw)
	if !ok || len(host) == 0 {
		return x.def
	}
	if g := x.exact[string(host)]; g != nil {
		return g
	}
	if g := x.wildcardMatch(host); g != nil {
		return g
	}
	if len(x.regexes) > 0 {
		if g := x.regexMatch(raw); g != nil {
			return g
		}
	}
	return x.def
}

// wildcardMatch returns the group of the longest leading wildcard matching
// host, else of the longest trailing wildcard, else nil.
func (x *hostIndex) wildcardMatch(host []byte) *group {
	if len(x.apex) > 0 {
		if g := x.apex[string(host)]; g != nil {
			return g
		}
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
	if len(x.trailing) > 0 {
		// The last dot gives the longest prefix. A dot in the last byte is
		// skipped: "www.example.*" needs at least one byte after the dot.
		for i := len(host) - 2; i > 0; i-- {
			if host[i] != '.' {
				continue
			}
			if g := x.trailing[string(host[:i])]; g != nil {
				return g
			}
		}
	}
	return nil
}

// regexMatch returns the group of the first regex host matching raw's lookup
// form. The patterns are case-insensitive, so they run on raw itself (no copy,
// no allocation); only a bare IPv6 literal is copied to add its brackets.
func (x *hostIndex) regexMatch(raw []byte) *group {
	host, bracket := trimHost(raw)
	if bracket {
		s := "[" + string(host) + "]"
		for _, hr := range x.regexes {
			if hr.re.MatchString(s) {
				return hr.g
			}
		}
		return nil
	}
	for _, hr := range x.regexes {
		if hr.re.Match(host) {
			return hr.g
		}
	}
	return nil
}
