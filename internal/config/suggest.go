package config

import "fmt"

// suggest returns ` (did you mean "x"?)` for the candidate closest to word,
// or "" when none is close enough to be a likely typo. "Close enough" is an
// edit distance of at most a third of the word's length (at least 1, at most
// 3): enough for a dropped or swapped letter without proposing unrelated
// words for short keys.
func suggest(word string, candidates []string) string {
	if best := closest(word, candidates); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// closest returns the candidate nearest to word, or "" if none is close
// enough. Ties go to the earlier candidate.
func closest(word string, candidates []string) string {
	limit := min(max(len(word)/3, 1), 3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if dist := editDistance(word, c); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent bytes each cost 1.
// Transpositions count once because "nmae" for "name" is a single slip.
func editDistance(a, b string) int {
	// Three rolling rows: two back for transpositions, one back, current.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
