package balancer

// p2c is power of two random choices: it samples two distinct instances and keeps the one with the lower
// load/weight (the first sampled on a tie). It never picks the more loaded of its two samples, so an instance whose
// load/weight is strictly the highest is never picked while another is usable; yet it writes no shared memory and
// reads only two instances' State per pick.
type p2c struct {
	w   []int64
	rnd func() uint64
}

// drawAttempts is how many random pairs a pick tries before falling back to a scan. With a fraction u of the pool
// usable a pair succeeds with probability about u², so the scan is rare unless much of the pool is down.
const drawAttempts = 3

func newP2C(w []int64, rnd func() uint64) *p2c {
	return &p2c{w: w, rnd: rnd}
}

func (p *p2c) Pick(s State, _ uint64) int {
	n := len(p.w)
	if n == 1 {
		if s.Usable(0) {
			return 0
		}
		return -1
	}
	for range drawAttempts {
		a, b := pair(p.rnd(), n)
		if s.Usable(a) && s.Usable(b) {
			return p.lighter(s, a, b)
		}
	}
	// Much of the pool is unusable: take the first two usable instances after a random start. This favours the
	// instances that follow down ones a little, which the load comparison then corrects.
	a, b := -1, -1
	i := int(scale(uint32(p.rnd()), n))
	for range n {
		if s.Usable(i) {
			if a >= 0 {
				b = i
				break
			}
			a = i
		}
		if i++; i == n {
			i = 0
		}
	}
	if b < 0 {
		return a
	}
	return p.lighter(s, a, b)
}

// lighter returns whichever of a and b has the lower load per unit of weight, a on a tie.
func (p *p2c) lighter(s State, a, b int) int {
	if s.Load(b)*p.w[a] < s.Load(a)*p.w[b] {
		return b
	}
	return a
}

// pair maps one random value to two distinct instances of an n-instance pool (n >= 2), uniformly: the low 32 bits
// choose a, the high 32 bits choose b among the other n-1.
func pair(r uint64, n int) (a, b int) {
	a = int(scale(uint32(r), n))
	b = a + 1 + int(scale(uint32(r>>32), n-1))
	if b >= n {
		b -= n
	}
	return a, b
}

// scale maps a uniform 32-bit value to [0, n) without a division (Lemire's multiply-shift; the bias is at most
// n/2³², negligible for pool sizes).
func scale(x uint32, n int) uint32 {
	return uint32((uint64(x) * uint64(n)) >> 32)
}
