package router

import (
	"errors"
	"fmt"
	"regexp"
)

// PathKind says how Route.Path is compared with the request path.
type PathKind uint8

const (
	// PathPrefix matches paths that start with Path (plain string prefix).
	PathPrefix PathKind = iota
	// PathExact matches only the path equal to Path.
	PathExact
	// PathRegex matches paths that the pattern in Path matches as a whole.
	PathRegex
)

// String returns the name used in conflict reasons and errors.
func (k PathKind) String() string {
	switch k {
	case PathPrefix:
		return "prefix"
	case PathExact:
		return "exact"
	case PathRegex:
		return "regex"
	}
	return fmt.Sprintf("PathKind(%d)", uint8(k))
}

// HeaderMatch is one header condition of a route.
//
// Exactly one test applies: when Regex is non-nil the header value must match
// it (used as given, so unanchored unless the pattern anchors itself); else
// when Value is "" and Present is true the header only has to be present;
// otherwise the value must equal Value exactly (so Value "" with Present
// false requires a present, empty header). A missing header never matches.
type HeaderMatch struct {
	Name    string // case-insensitive
	Value   string // exact (case-sensitive) value; "" with Present = true means "header present"
	Present bool
	Regex   *regexp.Regexp // when non-nil, the value must match this instead
}

// Route is one entry as configured. Index order (the order of the slice given
// to Build) is the file order.
type Route[T any] struct {
	// Hosts, in nginx server_name forms: "api.example.no" exact;
	// "*.example.no" leading wildcard (any depth of subdomain, not
	// example.no itself); ".example.no" both example.no and *.example.no;
	// "www.example.*" trailing wildcard (one or more labels after
	// "www.example."); "~^(www\.)?example\.no$" a Go RE2 regex, matched
	// case-insensitively and unanchored against the host without port and
	// trailing dot. An empty slice or "*" means the default group. Patterns
	// must not carry a port.
	Hosts    []string
	PathKind PathKind
	// Path must start with "/" for PathPrefix and PathExact; for PathRegex
	// it is the pattern, compiled by Build and anchored at both ends.
	Path string
	// PrefixFirst (PathPrefix only) is nginx's "location ^~": when this
	// route is the prefix route the request would get (the longest matching
	// prefix whose conditions hold), it wins over regex routes.
	PrefixFirst bool
	Methods     []string      // empty = any; compared case-sensitively
	Headers     []HeaderMatch // all must match
	Target      T
}

// Request is what the table needs from a request. Implementations should not
// allocate; Match calls Method and Header only when a candidate route has
// such conditions.
type Request interface {
	Host() []byte // as received: any case, may include ":port", may be "[::1]:8080"
	Path() []byte // normalized path without query
	Method() []byte
	// Header returns the first value of the named header. Build passes names
	// in canonical MIME form (textproto.CanonicalMIMEHeaderKey); the lookup
	// must be case-insensitive or expect that form.
	Header(name string) ([]byte, bool)
}

// Table is a compiled route table. It is immutable after Build and safe for
// concurrent use by any number of goroutines. A nil *Table matches nothing.
type Table[T any] struct {
	m         matcher
	targets   []T
	conflicts []Conflict // for Explain only
}

// Conflict reports a route that can never be selected because an earlier
// route always wins.
type Conflict struct {
	Index, ShadowedBy int
	Reason            string
}

// RouteError is one problem in one route. Build joins all of them with
// errors.Join, so callers can list them or use errors.As.
type RouteError struct {
	Index int
	Field string // "hosts", "path" or "headers"
	Err   error
}

func (e *RouteError) Error() string {
	return fmt.Sprintf("route %d: %s: %v", e.Index, e.Field, e.Err)
}

func (e *RouteError) Unwrap() error { return e.Err }

// Build compiles routes into a Table. Invalid routes (bad regex, bad host
// pattern, bad header name) are all reported together as a joined error of
// *RouteError, and then no Table is returned. Conflicts (shadowed routes) do
// not prevent the build; they are returned sorted by Index.
func Build[T any](routes []Route[T]) (*Table[T], []Conflict, error) {
	specs := make([]routeSpec, len(routes))
	var errs []error
	for i := range routes {
		r := &routes[i]
		errs = append(errs, specs[i].compile(i, routeRule{
			hosts: r.Hosts, kind: r.PathKind, path: r.Path, prefixFirst: r.PrefixFirst,
			methods: r.Methods, headers: r.Headers,
		})...)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	t := &Table[T]{targets: make([]T, len(routes))}
	for i := range routes {
		t.targets[i] = routes[i].Target
	}
	groups := groupRoutes(specs)
	t.m = compileMatcher(specs, groups)
	t.conflicts = findConflicts(specs, groups)
	return t, t.conflicts, nil
}

// Match returns the selected route's Target and index, or ok=false with
// index -1 when no route matches. It is safe for concurrent use, never
// blocks and does not allocate (regex paths use regexp's internal pools).
func (t *Table[T]) Match(r Request) (target T, index int, ok bool) {
	if t == nil {
		return target, -1, false
	}
	i := t.m.match(r)
	if i < 0 {
		return target, -1, false
	}
	return t.targets[i], int(i), true
}

// Len returns the number of routes the Table was built from.
func (t *Table[T]) Len() int {
	if t == nil {
		return 0
	}
	return len(t.targets)
}
