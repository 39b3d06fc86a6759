// Package router compiles fjord's configured routes into an immutable Table
// and selects the route for each request.
//
// A Table is built once per configuration (at start and on every reload) and
// then shared by every request without locks: Match never blocks, never
// allocates and does not scan the route list. Reload builds a new Table and
// publishes it (for example with atomic.Pointer); the old one stays valid for
// requests already holding it.
//
// # Precedence
//
// There is exactly one rule, applied in this order:
//
//  1. Host chooses a virtual host (a "host group"), in nginx's server_name
//     order: an exact name; else the longest matching leading wildcard
//     ("*.example.no" matches any depth of subdomain but not example.no;
//     ".example.no" matches example.no and its subdomains, and for
//     example.no itself it is the longest possible wildcard); else the
//     longest matching trailing wildcard ("www.example.*" matches
//     www.example. followed by one or more labels); else the first regex
//     host ("~pattern", Go RE2, case-insensitive, unanchored) in file order
//     that matches; else the default group (routes without hosts or with
//     "*"). Host comparison is case-insensitive; the port and one trailing
//     dot are ignored. Once a group is chosen only its routes are
//     considered: there is no fallback to the default group, so a request
//     whose host selects a group but matches none of its routes gets no
//     match (404), as with nginx server blocks or Envoy virtual hosts.
//  2. Within the group, in nginx's location order: an exact path; then the
//     prefix route, if it is PrefixFirst ("location ^~"); then regex paths
//     in file order; then the prefix route. "The prefix route" is the route
//     of the longest matching prefix, first in file order among equal
//     prefixes. Prefixes are plain string prefixes ("/api" matches "/apix");
//     regex paths must match the whole path (the pattern is anchored at
//     both ends). So a PrefixFirst route beats regexes only when it is the
//     longest matching prefix: a longer plain prefix lets the regexes go
//     first.
//  3. Method and header conditions filter: a route whose conditions do not
//     hold is treated as absent, and the rule above is applied to the rest.
//     So when several routes share a path key the first in file order whose
//     conditions hold wins, and if none holds matching continues with the
//     next candidates (for a prefix key: the next-longest prefix). An
//     unconditional "/" prefix is therefore the fallback of its group.
//
// A route listing several hosts belongs to each of their groups; routes
// with the same regex source share one group, and ".example.no" joins the
// "*.example.no" group for subdomains.
//
// # Conflicts
//
// Build reports a route as shadowed (a Conflict) when, in every host group it
// belongs to, an earlier route has the same path key (same kind and string)
// (PrefixFirst does not count: the first of a prefix key always wins) and
// conditions that hold whenever the later route's do: the earlier route's
// methods are a superset of the later's (or it has none), and each of its
// header conditions also appears in the later route. Conflicts are warnings:
// the Table is still built.
package router
