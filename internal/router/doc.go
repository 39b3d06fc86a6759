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
//  1. Host chooses a virtual host (a "host group"). An exact host name wins
//     over wildcards; among wildcards the most specific (longest suffix) wins;
//     routes without hosts (or with "*") form the default group, used only when
//     no exact or wildcard host matches. A wildcard "*.example.no" matches any
//     depth of subdomain (a.example.no, a.b.example.no) but not example.no
//     itself. Host comparison is case-insensitive; the port and one trailing
//     dot are ignored. Once a group is chosen only its routes are considered:
//     there is no fallback to the default group, so a request whose host
//     selects a group but matches none of its routes gets no match (404), as
//     with nginx server blocks or Envoy virtual hosts.
//  2. Within the group: an exact path beats regex paths, which are tried in
//     file order, which beat prefixes, longest prefix first. Prefixes are
//     plain string prefixes ("/api" matches "/apix"); regex paths must match
//     the whole path (the pattern is anchored at both ends).
//  3. When several routes share a path key (same exact path, same prefix), the
//     first in file order whose method and header conditions hold wins. If
//     none holds, matching continues with the next candidates: the regexes,
//     then the next-longest prefix. So an unconditional "/" prefix is the
//     fallback of its group.
//
// A route listing several hosts belongs to each of their groups.
//
// # Conflicts
//
// Build reports a route as shadowed (a Conflict) when, in every host group it
// belongs to, an earlier route has the same path key (same kind and string)
// and conditions that hold whenever the later route's do: the earlier route's
// methods are a superset of the later's (or it has none), and each of its
// header conditions also appears in the later route. Conflicts are warnings:
// the Table is still built.
package router
