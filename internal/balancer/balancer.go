// Package balancer chooses which upstream instance of a pool serves a request.
//
// A Picker is built off the hot path for a pool's weights (at config load, or when the pool's membership changes) and
// then shared by every request goroutine. Live health and load are not part of the Picker: the caller passes them in
// through a State on every Pick, so an instance going down or coming back needs no rebuild.
//
// Concurrency: every Picker is safe for concurrent use. Pick never locks, blocks, allocates or does I/O; its only
// write is an atomic counter in the round-robin and least-conn pickers.
package balancer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Policy names a load-balancing algorithm. The string values are the stable config names.
type Policy string

const (
	// RoundRobin is smooth weighted round robin (nginx's algorithm). It is the default.
	RoundRobin Policy = "round_robin"
	// LeastConn picks the instance with the fewest in-flight requests per unit of weight; ties are broken by a
	// weighted round-robin rotation of where the scan starts.
	LeastConn Policy = "least_conn"
	// Hash is consistent hashing of a 64-bit key with a Maglev lookup table (see maglev.go).
	Hash Policy = "hash"
	// P2C is power of two random choices: sample two distinct usable instances, keep the one with less load per unit
	// of weight.
	P2C Policy = "p2c"
)

// policies lists every Policy in the order error messages show them.
var policies = [...]Policy{RoundRobin, LeastConn, Hash, P2C}

// MaxWeightSum bounds the sum of a pool's weights after they are divided by their greatest common divisor. It keeps
// the precomputed round-robin schedule (one entry per unit of weight) and the Maglev table small, and lets both store
// instance indexes as uint16 (a pool never has more instances than its weight sum).
const MaxWeightSum = 1 << 16

// ErrUnknownPolicy is returned (wrapped) by ParsePolicy and New for a name that is not a Policy.
var ErrUnknownPolicy = errors.New("unknown balancing policy")

// ParsePolicy maps a config value to a Policy; "" means RoundRobin. The error names the valid policies.
func ParsePolicy(s string) (Policy, error) {
	if s == "" {
		return RoundRobin, nil
	}
	for _, p := range policies {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("parse policy %q: %w (valid: %s)", s, ErrUnknownPolicy, validPolicies())
}

func validPolicies() string {
	names := make([]string, len(policies))
	for i, p := range policies {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// State is what a picker reads about the instances at pick time. The upstream pool implements it with atomics; the
// methods must be safe for concurrent use, must not block, and are called with 0 <= i < the picker's instance count.
type State interface {
	// Usable reports false while instance i is down, ejected or draining.
	Usable(i int) bool
	// Load is the number of in-flight requests on instance i.
	Load(i int) int64
}

// Picker chooses an instance index among the instances it was built for, or -1 when none is usable.
// Safe for concurrent use; never blocks; does not allocate.
type Picker interface {
	// Pick returns the chosen instance's index. key is only used by Hash; the other policies ignore it.
	Pick(s State, key uint64) int
}

// New builds a picker over len(weights) instances; instance i has weight weights[i], which must be at least 1.
// Only the ratios of the weights matter: they are divided by their greatest common divisor, and the sum of the
// result may be at most MaxWeightSum. An empty pool is allowed; its picker always returns -1. p == "" means
// RoundRobin.
//
// rnd supplies randomness: P2C's samples and the starting point of the round-robin rotations, so that many proxies
// (or a picker rebuilt after a reload) do not all begin with instance 0. It must be safe for concurrent use and must
// not block; nil means math/rand/v2's global source. Tests pass a deterministic function.
//
// Building costs O(len(weights) × sum of weights) time for RoundRobin, LeastConn and Hash; it is meant for config
// load, not for the request path.
func New(p Policy, weights []int, rnd func() uint64) (Picker, error) {
	if p == "" {
		p = RoundRobin
	}
	if !slices.Contains(policies[:], p) {
		return nil, fmt.Errorf("new picker %q: %w (valid: %s)", p, ErrUnknownPolicy, validPolicies())
	}
	w, err := reduceWeights(weights)
	if err != nil {
		return nil, fmt.Errorf("new %s picker: %w", p, err)
	}
	if len(w) == 0 {
		return none{}, nil
	}
	if rnd == nil {
		rnd = rand.Uint64
	}
	switch p {
	case LeastConn:
		return newLeastConn(w, rnd), nil
	case Hash:
		return newMaglev(w), nil
	case P2C:
		return newP2C(w, rnd), nil
	default:
		return newRoundRobin(w, rnd), nil
	}
}

// HashKey hashes a request attribute (client IP, header or cookie value) to the key Hash picks by. It is xxhash64
// with seed 0, so the same bytes give the same key in every process and every fjord version.
func HashKey(b []byte) uint64 {
	return xxhash.Sum64(b)
}

// reduceWeights checks that every weight is at least 1 and divides them by their greatest common divisor, so that
// 100:100 costs as little as 1:1.
func reduceWeights(weights []int) ([]int64, error) {
	g := 0
	for i, w := range weights {
		if w < 1 {
			return nil, fmt.Errorf("weights[%d] = %d: weight must be at least 1", i, w)
		}
		g = gcd(g, w)
	}
	out := make([]int64, len(weights))
	var sum int64
	for i, w := range weights {
		out[i] = int64(w / g)
		sum += out[i]
		if sum > MaxWeightSum {
			return nil, fmt.Errorf("weights sum to more than %d after dividing by their common divisor %d", MaxWeightSum, g)
		}
	}
	return out, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func sumWeights(w []int64) int64 {
	var s int64
	for _, x := range w {
		s += x
	}
	return s
}

// anyUsable reports whether some instance is usable. Pickers call it on their slow path, after several unusable
// candidates in a row, so that a pool that is entirely down costs O(n) per pick instead of a walk over a whole table.
func anyUsable(s State, n int) bool {
	for i := range n {
		if s.Usable(i) {
			return true
		}
	}
	return false
}

// probeLimit is how many unusable table entries a walk passes before it checks whether anything is usable at all.
const probeLimit = 16

// nextUsable walks table (a round-robin schedule or a Maglev table, in which every instance of an n-instance pool
// appears) forward from pos, wrapping around at most once, and returns the first usable instance after pos, or -1
// when none is usable. The caller has already found table[pos] unusable.
func nextUsable(s State, table []uint16, n, pos int) int {
	last := int(table[pos])
	for k := 1; k < len(table); k++ {
		if k == probeLimit && !anyUsable(s, n) {
			return -1
		}
		pos++
		if pos == len(table) {
			pos = 0
		}
		i := int(table[pos])
		if i == last {
			continue // runs of one instance are common in a schedule; ask about it once
		}
		if s.Usable(i) {
			return i
		}
		last = i
	}
	return -1
}

var (
	_ Picker = (*roundRobin)(nil)
	_ Picker = (*leastConn)(nil)
	_ Picker = (*maglev)(nil)
	_ Picker = (*p2c)(nil)
	_ Picker = none{}
)

// none is the picker of an empty pool.
type none struct{}

func (none) Pick(State, uint64) int { return -1 }
