package balancer

import "sync/atomic"

// leastConn picks the usable instance with the lowest load/weight, comparing load[i]*weight[j] with
// load[j]*weight[i] so that no division is needed (exact for loads below 2⁴⁷, as weights are at most 2¹⁶). Each
// pick scans all instances, two State calls each, so it costs O(n): about 25 ns at 8 instances, 400 ns at 64 on the
// development machine. P2C costs O(1) for large pools.
//
// The scan starts at an instance taken from the smooth weighted round-robin schedule and keeps the first best one it
// meets, so ties rotate: with equal loads (an idle pool, or one with sequential traffic) picks follow the weighted
// round-robin order instead of always landing on instance 0 or ignoring the weights.
type leastConn struct {
	w     []int64
	sched []uint16
	next  atomic.Uint64 // rotation through sched, modulo len(sched)
}

func newLeastConn(w []int64, rnd func() uint64) *leastConn {
	l := &leastConn{w: w, sched: swrrSchedule(w)}
	l.next.Store(rnd() % uint64(len(l.sched)))
	return l
}

func (l *leastConn) Pick(s State, _ uint64) int {
	n := len(l.w)
	i := int(l.sched[(l.next.Add(1)-1)%uint64(len(l.sched))])
	best, bestLoad, bestW := -1, int64(0), int64(1)
	for range n {
		if s.Usable(i) {
			if load := s.Load(i); best < 0 || load*bestW < bestLoad*l.w[i] {
				best, bestLoad, bestW = i, load, l.w[i]
			}
		}
		if i++; i == n {
			i = 0
		}
	}
	return best
}
