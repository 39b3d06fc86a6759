package router

import "regexp"

// cond is the method and header part of a route. The zero value holds for
// every request.
type cond struct {
	methods []string // empty = any
	headers []headerCond
}

// headerCond is a validated HeaderMatch; exactly one of re, presentOnly or
// value (exact compare) applies, in that order.
type headerCond struct {
	name        string // canonical MIME form
	value       string
	presentOnly bool
	re          *regexp.Regexp
}

// ok reports whether r satisfies c. Method and headers are read only when
// the route has such conditions, so unconditional routes cost nothing.
func (c *cond) ok(r Request) bool {
	if len(c.methods) > 0 && !hasMethod(c.methods, r.Method()) {
		return false
	}
	for i := range c.headers {
		if !c.headers[i].ok(r) {
			return false
		}
	}
	return true
}

func hasMethod(methods []string, m []byte) bool {
	for _, x := range methods {
		if x == string(m) {
			return true
		}
	}
	return false
}

func (h *headerCond) ok(r Request) bool {
	v, found := r.Header(h.name)
	switch {
	case !found:
		return false
	case h.re != nil:
		return h.re.Match(v)
	case h.presentOnly:
		return true
	}
	return string(v) == h.value
}

// implies reports whether every request satisfying later also satisfies c.
// It is conservative: false means "not proven", which only costs a missed
// conflict report, never a wrong one.
func (c *cond) implies(later *cond) bool {
	if len(c.methods) > 0 {
		if len(later.methods) == 0 {
			return false
		}
		for _, m := range later.methods {
			if !containsString(c.methods, m) {
				return false
			}
		}
	}
	for i := range c.headers {
		if !later.requires(&c.headers[i]) {
			return false
		}
	}
	return true
}

// requires reports whether c contains a header condition that guarantees h.
func (c *cond) requires(h *headerCond) bool {
	for i := range c.headers {
		x := &c.headers[i]
		if x.name != h.name {
			continue
		}
		// Any condition on a header means the header is present.
		if h.presentOnly {
			return true
		}
		if x.presentOnly != h.presentOnly {
			continue
		}
		if h.re != nil {
			// The same pattern, or a fixed value the pattern accepts.
			if x.re != nil && (x.re == h.re || x.re.String() == h.re.String()) {
				return true
			}
			if x.re == nil && h.re.MatchString(x.value) {
				return true
			}
			continue
		}
		if x.re == nil && x.value == h.value {
			return true
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
