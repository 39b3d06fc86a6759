package router

import (
	"fmt"
	"slices"
)

// pathKey is what two routes must share for one to shadow the other.
type pathKey struct {
	kind PathKind
	path string
}

// findConflicts reports routes that can never be selected: in every host
// group they belong to, an earlier route with the same path key has
// conditions that hold whenever theirs do. Within one path key the first
// route in file order whose conditions hold wins, so such a later route
// could only be reached when the earlier one was not, which never happens.
func findConflicts(specs []routeSpec, groups map[hostKey][]int32) []Conflict {
	// shadowedBy[j][k] is the earliest route shadowing j in group k.
	shadowedBy := make(map[int32]map[hostKey]int32)
	for k, members := range groups {
		byPath := make(map[pathKey][]int32)
		for _, j := range members {
			pk := pathKey{specs[j].kind, specs[j].path}
			for _, i := range byPath[pk] {
				if specs[i].cond.implies(&specs[j].cond) {
					if shadowedBy[j] == nil {
						shadowedBy[j] = make(map[hostKey]int32)
					}
					shadowedBy[j][k] = i
					break
				}
			}
			byPath[pk] = append(byPath[pk], j)
		}
	}
	var out []Conflict
	for j, by := range shadowedBy {
		s := &specs[j]
		if len(by) < len(s.hosts) {
			continue // reachable through another host
		}
		i := by[s.hosts[0]]
		out = append(out, Conflict{
			Index:      int(j),
			ShadowedBy: int(i),
			Reason: fmt.Sprintf("route %d (%s %q) is shadowed by route %d: same host and path, and route %d has no extra conditions",
				j, s.kind, s.path, i, i),
		})
	}
	slices.SortFunc(out, func(a, b Conflict) int { return a.Index - b.Index })
	return out
}
