package balancer

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeState is a fixed State for single-goroutine tests and for concurrent tests that only read it.
type fakeState struct {
	down []bool
	load []int64
}

func newState(n int) *fakeState {
	return &fakeState{down: make([]bool, n), load: make([]int64, n)}
}

func (f *fakeState) withDown(idx ...int) *fakeState {
	for _, i := range idx {
		f.down[i] = true
	}
	return f
}

func (f *fakeState) withLoad(load ...int64) *fakeState {
	copy(f.load, load)
	return f
}

func (f *fakeState) Usable(i int) bool { return !f.down[i] }
func (f *fakeState) Load(i int) int64  { return f.load[i] }

// atomicState is a State that may change while pickers read it, like the upstream pool's.
type atomicState struct {
	down []atomic.Bool
	load []atomic.Int64
}

func newAtomicState(n int) *atomicState {
	return &atomicState{down: make([]atomic.Bool, n), load: make([]atomic.Int64, n)}
}

func (a *atomicState) Usable(i int) bool { return !a.down[i].Load() }
func (a *atomicState) Load(i int) int64  { return a.load[i].Load() }

// constRnd returns a rnd that always yields v.
func constRnd(v uint64) func() uint64 { return func() uint64 { return v } }

// seededRnd returns a deterministic rnd; it is not safe for concurrent use.
func seededRnd(seed uint64) func() uint64 {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Uint64
}

func mustNew(t testing.TB, p Policy, weights []int, rnd func() uint64) Picker {
	t.Helper()
	pk, err := New(p, weights, rnd)
	if err != nil {
		t.Fatalf("New(%q, %v): %v", p, weights, err)
	}
	return pk
}

// countPicks makes n picks with keys 0..n-1 and returns how often each of size instances was chosen; it fails the
// test on an out-of-range result and counts -1 separately.
func countPicks(t *testing.T, pk Picker, s State, size, n int) (counts []int, none int) {
	t.Helper()
	counts = make([]int, size)
	for k := range n {
		i := pk.Pick(s, HashKey([]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}))
		switch {
		case i == -1:
			none++
		case i < 0 || i >= size:
			t.Fatalf("pick %d: got instance %d of %d", k, i, size)
		default:
			counts[i]++
		}
	}
	return counts, none
}
