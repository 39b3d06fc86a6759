package balancer

import "sync/atomic"

// roundRobin is lock-free smooth weighted round robin. nginx's algorithm keeps a running "current weight" per
// instance and updates them all under a lock on every pick; over sum(weights) picks it produces a fixed, evenly
// interleaved cycle (5:1:1 gives a a b a c a a). roundRobin computes that cycle once and walks it with an atomic
// counter, so concurrent picks each claim a distinct slot and every full cycle of claims hands out exactly weight[i]
// picks to instance i.
//
// The cycle has one entry per unit of the GCD-reduced weights, so it is at most MaxWeightSum entries (128 KiB).
type roundRobin struct {
	sched []uint16
	n     int
	next  atomic.Uint64 // the next schedule slot to claim, modulo len(sched)
}

// maxClaims bounds how many schedule slots (and at most one cycle) a pick claims from the shared counter while it
// skips unusable instances. Claiming, rather than looking ahead privately, keeps the remaining instances in their
// exact weighted proportions: the schedule simply loses the down instance's slots. Past the bound (a run of more
// than maxClaims slots of unusable instances) a pick walks the schedule privately, which is still correct but
// favours whichever instance follows the run.
const maxClaims = 8

func newRoundRobin(w []int64, rnd func() uint64) *roundRobin {
	r := &roundRobin{sched: swrrSchedule(w), n: len(w)}
	r.next.Store(rnd() % uint64(len(r.sched)))
	return r
}

func (r *roundRobin) Pick(s State, _ uint64) int {
	size := uint64(len(r.sched))
	pos := 0
	for range min(maxClaims, size) {
		pos = int((r.next.Add(1) - 1) % size)
		if i := int(r.sched[pos]); s.Usable(i) {
			return i
		}
	}
	return nextUsable(s, r.sched, r.n, pos)
}

// swrrSchedule returns one cycle of nginx's smooth weighted round robin over w: sum(w) picks in which instance i
// appears w[i] times. Each step adds every weight to its instance's current value, picks the largest current value
// (the lowest index on ties, as nginx does) and subtracts the total from it.
//
// It costs O(len(w) × sum(w)); equal weights (all 1 after GCD reduction) take the O(n) shortcut, which is what the
// algorithm produces for them anyway.
func swrrSchedule(w []int64) []uint16 {
	total := sumWeights(w)
	sched := make([]uint16, 0, total)
	if total == int64(len(w)) {
		for i := range w {
			sched = append(sched, uint16(i))
		}
		return sched
	}
	cur := make([]int64, len(w))
	for range total {
		best := 0
		for i, wi := range w {
			cur[i] += wi
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		sched = append(sched, uint16(best))
	}
	return sched
}
