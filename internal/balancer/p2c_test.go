package balancer

import (
	"slices"
	"testing"
)

// recordingRnd wraps a rnd and remembers the values it handed out, so a test can replay the picker's samples.
type recordingRnd struct {
	next func() uint64
	got  []uint64
}

func (r *recordingRnd) rnd() uint64 {
	v := r.next()
	r.got = append(r.got, v)
	return v
}

func TestP2CNeverPicksHeavierOfPair(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		load    []int64
	}{
		{"unweighted", []int{1, 1, 1, 1, 1, 1, 1, 1}, []int64{5, 0, 7, 3, 1, 6, 2, 4}},
		{"weighted", []int{1, 2, 4, 1, 8}, []int64{1, 3, 9, 0, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingRnd{next: seededRnd(5)}
			pk := mustNew(t, P2C, tt.weights, rec.rnd)
			s := newState(len(tt.weights)).withLoad(tt.load...)
			n := len(tt.weights)
			for k := range 5000 {
				rec.got = rec.got[:0]
				got := pk.Pick(s, 0)
				if len(rec.got) != 1 {
					t.Fatalf("pick %d drew %d random values, want 1 (all usable)", k, len(rec.got))
				}
				a, b := pair(rec.got[0], n)
				la := float64(tt.load[a]) / float64(tt.weights[a])
				lb := float64(tt.load[b]) / float64(tt.weights[b])
				if (got != a && got != b) || (got == a && la > lb) || (got == b && lb > la) {
					t.Fatalf("pick %d: sampled %d (%.2f) and %d (%.2f), picked %d", k, a, la, b, lb, got)
				}
			}
		})
	}
}

func TestP2CFavoursLowLoad(t *testing.T) {
	const n, picks = 8, 20000
	load := make([]int64, n)
	for i := range load {
		load[i] = int64(10 * i)
	}
	pk := mustNew(t, P2C, []int{1, 1, 1, 1, 1, 1, 1, 1}, seededRnd(11))
	counts, _ := countPicks(t, pk, newState(n).withLoad(load...), n, picks)
	// Instance i wins a pair with each of the n-1-i heavier ones: expected share 2(n-1-i)/(n(n-1)).
	for i := range n - 1 {
		if counts[i] <= counts[i+1] {
			t.Errorf("counts %v: instance %d (load %d) not picked more than %d", counts, i, load[i], i+1)
		}
		want := float64(picks) * 2 * float64(n-1-i) / float64(n*(n-1))
		if d := float64(counts[i]) - want; d > 0.1*want || d < -0.1*want {
			t.Errorf("instance %d: %d picks, want %.0f ± 10%%", i, counts[i], want)
		}
	}
	if counts[n-1] != 0 {
		t.Errorf("most loaded instance picked %d times", counts[n-1])
	}
}

func TestP2CWeighted(t *testing.T) {
	tests := []struct {
		name string
		load []int64
		want int
	}{
		{"heavier weight wins below its share", []int64{3, 1}, 0},  // 3/4 < 1/1
		{"heavier weight loses above its share", []int64{5, 1}, 1}, // 5/4 > 1/1
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := mustNew(t, P2C, []int{4, 1}, seededRnd(2))
			counts, _ := countPicks(t, pk, newState(2).withLoad(tt.load...), 2, 100)
			if counts[tt.want] != 100 {
				t.Fatalf("counts %v, want all 100 on %d", counts, tt.want)
			}
		})
	}
}

func TestP2CSkipsUnusable(t *testing.T) {
	tests := []struct {
		name string
		down []int
	}{
		{"one down", []int{3}},
		{"half down", []int{0, 2, 4, 6}},
		{"all but two", []int{0, 1, 2, 3, 5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := mustNew(t, P2C, []int{1, 1, 1, 1, 1, 1, 1, 1}, seededRnd(4))
			counts, none := countPicks(t, pk, newState(8).withDown(tt.down...), 8, 4000)
			if none != 0 {
				t.Fatalf("%d picks returned -1", none)
			}
			for _, i := range tt.down {
				if counts[i] != 0 {
					t.Errorf("down instance %d picked %d times (counts %v)", i, counts[i], counts)
				}
			}
			for i, c := range counts {
				if c == 0 && !slices.Contains(tt.down, i) {
					t.Errorf("usable instance %d never picked (counts %v)", i, counts)
				}
			}
		})
	}
}

func TestPairDistinctAndUniform(t *testing.T) {
	for _, n := range []int{2, 3, 8, 64} {
		rnd := seededRnd(uint64(n))
		seen := make([]int, n)
		const draws = 64000
		for range draws {
			a, b := pair(rnd(), n)
			if a == b || a < 0 || b < 0 || a >= n || b >= n {
				t.Fatalf("n=%d: pair = %d, %d", n, a, b)
			}
			seen[a]++
			seen[b]++
		}
		want := 2.0 * draws / float64(n)
		for i, c := range seen {
			if d := float64(c) - want; d > 0.1*want || d < -0.1*want {
				t.Errorf("n=%d: instance %d sampled %d times, want %.0f ± 10%%", n, i, c, want)
			}
		}
	}
}
