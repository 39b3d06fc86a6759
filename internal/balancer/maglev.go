package balancer

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// maglev is consistent hashing with a Maglev lookup table (Eisenbud et al., NSDI 2016): a table of M slots, M prime,
// each owned by one instance; a key's owner is table[key % M], one load. It was chosen over a ring of virtual nodes
// because every instance owns its weight's share of the slots to within one slot (a ring with v points per instance
// is off by about 1/√v), and a lookup is O(1) instead of a binary search.
//
// Building: every instance has a fixed pseudo-random permutation of the slots, derived by xxhash from its index
// alone (no random seed, so every process builds the same table). Instances take turns, in the smooth weighted
// round-robin order, claiming the next free slot of their permutation until the table is full; the turn order is
// what makes slot counts proportional to weight.
//
// Unusable owners: when table[key % M] is unusable the pick probes further slots, chosen by rehashing the key, until
// one has a usable owner. Slots of usable instances never change, so taking one instance out of n moves only its own
// keys (about 1/n of them), and each probe lands on a uniformly random slot, so those keys spread over the others in
// proportion to their weights. (Walking to the neighbouring slot instead would not: Maglev's fill makes neighbours'
// owners correlated, and in tests one survivor took 35% of the moved keys and another 9%.) After probeLimit failed
// probes, when most of the pool is down, the pick falls back to walking the table, which always terminates.
//
// Identity is the instance's index: keep the pool's order stable across reloads. Appending an instance keeps the
// other instances' permutations, and M depends only on the weight-sum tier, so it moves only about its share of keys.
type maglev struct {
	table []uint16
	n     int
}

// Table sizes are fixed primes per tier so that M rarely changes when the pool does. The smallest tier is used
// while it gives every unit of weight at least minSlotsPerWeight slots; the largest caps memory at 2 MiB and still
// gives each unit of weight 16 slots at MaxWeightSum.
var maglevSizes = [...]uint64{65537, 262147, 1048583}

const minSlotsPerWeight = 64

func newMaglev(w []int64) *maglev {
	total := uint64(sumWeights(w))
	m := maglevSizes[len(maglevSizes)-1]
	for _, size := range maglevSizes {
		if size >= minSlotsPerWeight*total {
			m = size
			break
		}
	}
	n := len(w)
	pos := make([]uint64, n)
	skip := make([]uint64, n)
	for i := range n {
		pos[i] = instanceHash(i, 0) % m
		skip[i] = instanceHash(i, 1)%(m-1) + 1 // in [1, m-1]: coprime with prime m, so it visits every slot
	}
	table := make([]uint16, m)
	taken := make([]bool, m)
	sched := swrrSchedule(w)
	for left := m; left > 0; {
		for _, i := range sched {
			for taken[pos[i]] {
				if pos[i] += skip[i]; pos[i] >= m {
					pos[i] -= m
				}
			}
			table[pos[i]], taken[pos[i]] = i, true
			if left--; left == 0 {
				break
			}
		}
	}
	return &maglev{table: table, n: n}
}

// instanceHash derives an instance's permutation parameters from its index; salt separates the two of them.
func instanceHash(i int, salt byte) uint64 {
	var b [9]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(i))
	b[8] = salt
	return xxhash.Sum64(b[:])
}

func (h *maglev) Pick(s State, key uint64) int {
	m := uint64(len(h.table))
	pos := key % m
	if i := int(h.table[pos]); s.Usable(i) {
		return i
	}
	for k := uint64(1); k < probeLimit; k++ {
		pos = mix64(key+k*0x9e3779b97f4a7c15) % m
		if i := int(h.table[pos]); s.Usable(i) {
			return i
		}
	}
	return nextUsable(s, h.table, h.n, int(pos))
}

// mix64 is the SplitMix64 finalizer: a fixed bijection that turns the key and a probe number into an unrelated,
// well-spread value. Its constants are part of the stable key-to-instance mapping.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
