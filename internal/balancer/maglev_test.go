package balancer

import (
	"encoding/binary"
	"slices"
	"testing"
)

// keys returns n request keys as HashKey would make them from distinct client addresses.
func keys(n int) []uint64 {
	out := make([]uint64, n)
	var b [8]byte
	for i := range out {
		binary.BigEndian.PutUint64(b[:], uint64(i)*2654435761+12345)
		out[i] = HashKey(b[:])
	}
	return out
}

func owners(pk Picker, s State, ks []uint64) []int {
	out := make([]int, len(ks))
	for i, k := range ks {
		out[i] = pk.Pick(s, k)
	}
	return out
}

func TestHashSameKeySameInstance(t *testing.T) {
	weights := []int{1, 2, 3, 1, 1}
	a := mustNew(t, Hash, weights, seededRnd(1))
	b := mustNew(t, Hash, weights, seededRnd(2)) // rnd must not matter: another process builds the same table
	s := newState(len(weights))
	for _, k := range keys(10000) {
		first := a.Pick(s, k)
		if again, other := a.Pick(s, k), b.Pick(s, k); again != first || other != first {
			t.Fatalf("key %#x: picks %d, %d and (other picker) %d", k, first, again, other)
		}
	}
}

// TestHashGolden pins the table and the probe order: a change here moves every sticky session of every deployment
// on upgrade.
func TestHashGolden(t *testing.T) {
	tests := []struct {
		name string
		down []int
		want []int
	}{
		{"all up", nil, []int{2, 4, 4, 1, 4, 0, 3, 3, 1, 0, 2, 3, 4, 2, 0, 2}},
		{"2 down", []int{2}, []int{1, 4, 4, 1, 4, 0, 3, 3, 1, 0, 0, 3, 4, 4, 0, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := mustNew(t, Hash, []int{1, 1, 1, 1, 1}, nil)
			if got := owners(pk, newState(5).withDown(tt.down...), keys(16)); !slices.Equal(got, tt.want) {
				t.Fatalf("owners %#v, want %v", got, tt.want)
			}
		})
	}
}

func TestHashSpread(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
	}{
		{"equal 5", []int{1, 1, 1, 1, 1}},
		{"1:2:3:4", []int{1, 2, 3, 4}},
		{"5:1:1", []int{5, 1, 1}},
		{"64 instances", func() []int {
			w := make([]int, 64)
			for i := range w {
				w[i] = 1 + i%4
			}
			return w
		}()},
	}
	ks := keys(100000)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := mustNew(t, Hash, tt.weights, nil)
			total := 0
			for _, w := range tt.weights {
				total += w
			}
			counts := make([]int, len(tt.weights))
			for _, i := range owners(pk, newState(len(tt.weights)), ks) {
				counts[i]++
			}
			for i, w := range tt.weights {
				want := float64(len(ks)*w) / float64(total)
				if d := float64(counts[i]) - want; d > 0.1*want || d < -0.1*want {
					t.Errorf("instance %d (weight %d): %d keys, want %.0f ± 10%%", i, w, counts[i], want)
				}
			}
		})
	}
}

// Taking one of five instances out moves only its keys (about a fifth), spread over the other four.
func TestHashMinimalMovementOnRemoval(t *testing.T) {
	for removed := range 5 {
		pk := mustNew(t, Hash, []int{1, 1, 1, 1, 1}, nil)
		ks := keys(100000)
		before := owners(pk, newState(5), ks)
		after := owners(pk, newState(5).withDown(removed), ks)
		moved := 0
		gained := make([]int, 5)
		for k := range ks {
			if before[k] == after[k] {
				continue
			}
			if before[k] != removed {
				t.Fatalf("key %d moved from healthy instance %d to %d", k, before[k], after[k])
			}
			moved++
			gained[after[k]]++
		}
		if frac := float64(moved) / float64(len(ks)); frac < 0.18 || frac > 0.22 {
			t.Errorf("removed %d: %.3f of keys moved, want about 0.2", removed, frac)
		}
		for i, g := range gained {
			if i != removed && (g < moved/4*7/10 || g > moved/4*13/10) {
				t.Errorf("removed %d: instance %d took %d of %d moved keys, want about a quarter", removed, i, g, moved)
			}
		}
	}
}

// Growing the pool from four to five instances (appending, as a scale-up does) moves about a fifth of the keys.
func TestHashMovementOnAddition(t *testing.T) {
	four := mustNew(t, Hash, []int{1, 1, 1, 1}, nil)
	five := mustNew(t, Hash, []int{1, 1, 1, 1, 1}, nil)
	ks := keys(100000)
	before := owners(four, newState(4), ks)
	after := owners(five, newState(5), ks)
	moved, toNew := 0, 0
	for k := range ks {
		if before[k] != after[k] {
			moved++
			if after[k] == 4 {
				toNew++
			}
		}
	}
	if frac := float64(moved) / float64(len(ks)); frac > 0.25 {
		t.Errorf("%.3f of keys moved, want about 0.2", frac)
	}
	if toNew < moved*9/10 {
		t.Errorf("only %d of %d moved keys went to the new instance", toNew, moved)
	}
}

func TestMaglevTableShares(t *testing.T) {
	tests := []struct {
		weights []int64
		size    int
	}{
		{[]int64{1, 1, 1}, 65537},
		{[]int64{5, 1, 1, 9}, 65537},
		{[]int64{1000, 24}, 65537},
		{[]int64{1000, 25}, 262147},
		{[]int64{MaxWeightSum - 1, 1}, 1048583},
	}
	for _, tt := range tests {
		h := newMaglev(tt.weights)
		if len(h.table) != tt.size {
			t.Errorf("%v: table size %d, want %d", tt.weights, len(h.table), tt.size)
		}
		if !isPrime(len(h.table)) {
			t.Errorf("%v: table size %d is not prime", tt.weights, len(h.table))
		}
		slots := make([]int64, len(tt.weights))
		for _, i := range h.table {
			slots[i]++
		}
		total := sumWeights(tt.weights)
		for i, w := range tt.weights {
			exact := float64(int64(len(h.table))*w) / float64(total)
			if d := float64(slots[i]) - exact; d > 1 || d < -1 {
				t.Errorf("%v: instance %d owns %d slots, exact share %.1f", tt.weights, i, slots[i], exact)
			}
		}
	}
}

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}
