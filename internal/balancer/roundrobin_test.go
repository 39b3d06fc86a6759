package balancer

import (
	"slices"
	"sync"
	"testing"
)

func TestRoundRobinSequence(t *testing.T) {
	const a, b, c = 0, 1, 2
	tests := []struct {
		name    string
		weights []int
		start   uint64 // what rnd returns: the first schedule slot
		want    []int  // two cycles
	}{
		{"nginx 5:1:1", []int{5, 1, 1}, 0, []int{a, a, b, a, c, a, a, a, a, b, a, c, a, a}},
		{"reduced 10:2:2", []int{10, 2, 2}, 0, []int{a, a, b, a, c, a, a, a, a, b, a, c, a, a}},
		{"started mid-cycle", []int{5, 1, 1}, 3 + 7*1000, []int{a, c, a, a, a, a, b, a, c, a, a, a, a, b}},
		{"2:1", []int{2, 1}, 0, []int{a, b, a, a, b, a}},
		{"equal", []int{1, 1, 1}, 0, []int{a, b, c, a, b, c}},
		{"1:2:4", []int{1, 2, 4}, 0, []int{c, b, c, a, c, b, c, c, b, c, a, c, b, c}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := mustNew(t, RoundRobin, tt.weights, constRnd(tt.start))
			s := newState(len(tt.weights))
			got := make([]int, len(tt.want))
			for k := range got {
				got[k] = pk.Pick(s, uint64(k))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("picks %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRoundRobinProportions(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
	}{
		{"1:2:3:4", []int{1, 2, 3, 4}},
		{"7:3", []int{7, 3}},
		{"equal 8", []int{1, 1, 1, 1, 1, 1, 1, 1}},
		{"skewed", []int{100, 1, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const cycles = 1000
			total := 0
			for _, w := range tt.weights {
				total += w
			}
			pk := mustNew(t, RoundRobin, tt.weights, seededRnd(3))
			counts, _ := countPicks(t, pk, newState(len(tt.weights)), len(tt.weights), cycles*total)
			for i, w := range tt.weights {
				if counts[i] != cycles*w {
					t.Errorf("instance %d (weight %d): %d picks, want %d", i, w, counts[i], cycles*w)
				}
			}
		})
	}
}

// Concurrent picks each claim a distinct schedule slot, so whole cycles still hand out exact totals.
func TestRoundRobinConcurrent(t *testing.T) {
	weights := []int{5, 1, 1, 3}
	const goroutines, cycles, total = 8, 2000, 10
	pk := mustNew(t, RoundRobin, weights, nil)
	s := newState(len(weights))
	per := make([][]int, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			per[g] = make([]int, len(weights))
			for k := range cycles * total / goroutines {
				per[g][pk.Pick(s, uint64(k))]++
			}
		})
	}
	wg.Wait()
	for i, w := range weights {
		sum := 0
		for g := range goroutines {
			sum += per[g][i]
		}
		if sum != cycles*w {
			t.Errorf("instance %d (weight %d): %d picks, want %d", i, w, sum, cycles*w)
		}
	}
}

func TestRoundRobinSkipsUnusable(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		down    []int
		picks   int
		want    []int // exact counts; nil means only "down instances get none, the others some"
	}{
		{"5:1:1 heavy down", []int{5, 1, 1}, []int{0}, 1000, []int{0, 500, 500}},
		{"equal, one down", []int{1, 1, 1, 1}, []int{1}, 300, []int{100, 0, 100, 100}},
		{"1:2:3:4, two down", []int{1, 2, 3, 4}, []int{1, 3}, 400, []int{100, 0, 300, 0}},
		// Runs longer than maxClaims fall back to the private walk: correct, not exact.
		{"40:1:1 heavy down", []int{40, 1, 1}, []int{0}, 1000, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := mustNew(t, RoundRobin, tt.weights, constRnd(0))
			counts, none := countPicks(t, pk, newState(len(tt.weights)).withDown(tt.down...), len(tt.weights), tt.picks)
			if none != 0 {
				t.Fatalf("%d picks returned -1", none)
			}
			if tt.want != nil {
				if !slices.Equal(counts, tt.want) {
					t.Fatalf("counts %v, want %v", counts, tt.want)
				}
				return
			}
			for i, n := range counts {
				if isDown := slices.Contains(tt.down, i); isDown != (n == 0) {
					t.Errorf("instance %d (down %v): %d picks", i, isDown, n)
				}
			}
		})
	}
}

func TestSWRRScheduleMatchesNginx(t *testing.T) {
	// Every prefix of the schedule stays within one pick of the instance's exact share: the "smooth" property.
	for _, weights := range [][]int64{{5, 1, 1}, {1, 2, 3, 4}, {100, 1, 10}, {7, 7, 3}} {
		sched := swrrSchedule(weights)
		total := sumWeights(weights)
		if int64(len(sched)) != total {
			t.Fatalf("%v: schedule length %d, want %d", weights, len(sched), total)
		}
		seen := make([]int64, len(weights))
		for k, i := range sched {
			seen[i]++
			for j, w := range weights {
				exact := float64(int64(k+1)*w) / float64(total)
				if d := float64(seen[j]) - exact; d > 1 || d < -1 {
					t.Fatalf("%v: after %d picks instance %d has %d, exact share %.2f", weights, k+1, j, seen[j], exact)
				}
			}
		}
	}
}
