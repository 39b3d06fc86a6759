package balancer

import (
	"slices"
	"testing"
)

func TestLeastConnPicksLeastLoaded(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		load    []int64
		down    []int
		want    int
	}{
		{"unweighted", []int{1, 1, 1}, []int64{3, 1, 2}, nil, 1},
		{"weighted beats raw count", []int{3, 1}, []int64{5, 2}, nil, 0}, // 5/3 < 2/1
		{"weight loses when loaded", []int{3, 1}, []int64{7, 2}, nil, 1}, // 7/3 > 2/1
		{"least loaded is down", []int{1, 1, 1}, []int64{4, 0, 2}, []int{1}, 2},
		{"last instance", []int{1, 1, 1, 1, 1, 1, 1, 1}, []int64{9, 9, 9, 9, 9, 9, 9, 8}, nil, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := mustNew(t, LeastConn, tt.weights, constRnd(0))
			s := newState(len(tt.weights)).withLoad(tt.load...).withDown(tt.down...)
			// Every rotation start must agree: the winner is not a tie.
			for k := range 3 * len(tt.weights) {
				if got := pk.Pick(s, 0); got != tt.want {
					t.Fatalf("pick %d: got %d, want %d", k, got, tt.want)
				}
			}
		})
	}
}

func TestLeastConnSpreadsTies(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		load    []int64
		picks   int
		want    []int
	}{
		{"idle, equal weights", []int{1, 1, 1, 1}, nil, 400, []int{100, 100, 100, 100}},
		{"idle, weighted", []int{3, 1}, nil, 400, []int{300, 100}},
		{"equal load per weight", []int{2, 1, 1}, []int64{4, 2, 2}, 400, []int{200, 100, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := mustNew(t, LeastConn, tt.weights, seededRnd(9))
			s := newState(len(tt.weights)).withLoad(tt.load...)
			counts, _ := countPicks(t, pk, s, len(tt.weights), tt.picks)
			if !slices.Equal(counts, tt.want) {
				t.Fatalf("counts %v, want %v", counts, tt.want)
			}
		})
	}

	t.Run("tie among some", func(t *testing.T) {
		pk := mustNew(t, LeastConn, []int{1, 1, 1, 1, 1, 1}, seededRnd(9))
		s := newState(6).withLoad(2, 0, 2, 2, 0, 2)
		counts, _ := countPicks(t, pk, s, 6, 600)
		if counts[1]+counts[4] != 600 || counts[1] < 150 || counts[4] < 150 {
			t.Fatalf("counts %v, want the 600 picks shared by instances 1 and 4", counts)
		}
	})
}
