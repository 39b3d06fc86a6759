package router

import (
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"strings"
)

// routeSpec is one route validated and normalized by Build; it carries
// everything the matcher and conflict detection need except the Target.
type routeSpec struct {
	hosts       []hostKey                 // group keys, deduplicated, in configured order
	hostRe      map[string]*regexp.Regexp // compiled regex hosts by source; nil when none
	kind        PathKind
	path        string         // as configured (the pattern for PathRegex)
	prefixFirst bool           // PathPrefix only: nginx "^~"
	re          *regexp.Regexp // PathRegex only: anchored ^(?:path)$
	lit         string         // PathRegex only: literal prefix every match starts with
	cond        cond
}

// routeRule is the type-independent part of a Route[T].
type routeRule struct {
	hosts       []string
	kind        PathKind
	path        string
	prefixFirst bool
	methods     []string
	headers     []HeaderMatch
}

// compile validates one route and fills s. It returns every problem found
// rather than the first, so a config with several mistakes is fixed in one go.
func (s *routeSpec) compile(i int, r routeRule) []error {
	var errs []error
	fail := func(field string, err error) {
		errs = append(errs, &RouteError{Index: i, Field: field, Err: err})
	}
	s.hosts = s.hosts[:0]
	if len(r.hosts) == 0 {
		s.hosts = append(s.hosts, hostKey{kind: hostDefault})
	}
	for _, h := range r.hosts {
		k, re, err := parseHostPattern(h)
		if err != nil {
			fail("hosts", err)
			continue
		}
		if re != nil {
			if s.hostRe == nil {
				s.hostRe = make(map[string]*regexp.Regexp)
			}
			s.hostRe[k.name] = re
		}
		for _, gk := range k.groupKeys() {
			if !containsKey(s.hosts, gk) {
				s.hosts = append(s.hosts, gk)
			}
		}
	}
	s.kind, s.path, s.prefixFirst = r.kind, r.path, r.prefixFirst
	if err := s.compilePath(); err != nil {
		fail("path", err)
	}
	if s.prefixFirst && s.kind != PathPrefix {
		fail("path", fmt.Errorf("prefix-first needs a prefix path, not %s", s.kind))
	}
	s.cond.methods = r.methods
	s.cond.headers = make([]headerCond, 0, len(r.headers))
	for _, h := range r.headers {
		hc, err := compileHeader(h)
		if err != nil {
			fail("headers", err)
			continue
		}
		s.cond.headers = append(s.cond.headers, hc)
	}
	return errs
}

func containsKey(keys []hostKey, k hostKey) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func (s *routeSpec) compilePath() error {
	switch s.kind {
	case PathPrefix, PathExact:
		if !strings.HasPrefix(s.path, "/") {
			return fmt.Errorf("%s path %q must start with \"/\"", s.kind, s.path)
		}
		return nil
	case PathRegex:
		// Compile the bare pattern first: wrapping an unbalanced pattern
		// such as "a)(b" would otherwise make it valid by accident.
		bare, err := regexp.Compile(s.path)
		if err != nil {
			return fmt.Errorf("compile regex: %w", err)
		}
		// Every full match of the pattern is a match starting at 0, so it
		// starts with the bare pattern's literal prefix: a cheap pre-filter.
		s.lit, _ = bare.LiteralPrefix()
		s.re, err = regexp.Compile(`^(?:` + s.path + `)$`)
		if err != nil {
			return fmt.Errorf("compile anchored regex: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown path kind %d", uint8(s.kind))
}

func compileHeader(h HeaderMatch) (headerCond, error) {
	if h.Name == "" {
		return headerCond{}, errors.New("empty header name")
	}
	for i := 0; i < len(h.Name); i++ {
		if !isTokenByte(h.Name[i]) {
			return headerCond{}, fmt.Errorf("header name %q: invalid character %q", h.Name, h.Name[i])
		}
	}
	return headerCond{
		name:        textproto.CanonicalMIMEHeaderKey(h.Name),
		value:       h.Value,
		presentOnly: h.Regex == nil && h.Value == "" && h.Present,
		re:          h.Regex,
	}, nil
}

// isTokenByte reports whether c may appear in an HTTP field name (RFC 9110
// token).
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
