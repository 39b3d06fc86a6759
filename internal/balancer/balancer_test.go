package balancer

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    Policy
		wantErr bool
	}{
		{"", RoundRobin, false},
		{"round_robin", RoundRobin, false},
		{"least_conn", LeastConn, false},
		{"hash", Hash, false},
		{"p2c", P2C, false},
		{"Round_Robin", "", true},
		{"random", "", true},
		{" hash", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePolicy(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrUnknownPolicy) {
					t.Fatalf("ParsePolicy(%q) error = %v, want ErrUnknownPolicy", tt.in, err)
				}
				for _, p := range policies {
					if !strings.Contains(err.Error(), string(p)) {
						t.Errorf("error %q does not list %q", err, p)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePolicy(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"", "round_robin", "least_conn", "hash", "p2c", "rr", "HASH"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePolicy(s)
		if err != nil {
			if !errors.Is(err, ErrUnknownPolicy) {
				t.Fatalf("ParsePolicy(%q): error %v does not wrap ErrUnknownPolicy", s, err)
			}
			return
		}
		if !slices.Contains(policies[:], p) || (s != "" && string(p) != s) {
			t.Fatalf("ParsePolicy(%q) = %q", s, p)
		}
		if _, err := New(p, []int{1, 2}, nil); err != nil {
			t.Fatalf("New(%q): %v", p, err)
		}
	})
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		weights []int
		want    string // substring of the error
	}{
		{"zero weight", RoundRobin, []int{1, 1, 0}, "weights[2] = 0"},
		{"negative weight", Hash, []int{-3}, "weights[0] = -3"},
		{"unknown policy", "random", []int{1}, "unknown balancing policy"},
		{"sum too large", LeastConn, []int{MaxWeightSum, 1}, "more than 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk, err := New(tt.policy, tt.weights, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New(%q, %v) = %v, %v; want error containing %q", tt.policy, tt.weights, pk, err, tt.want)
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
	}{
		{"large weights with a common divisor", []int{1 << 40, 1 << 41, 3 << 40}},
		{"sum at the limit", []int{MaxWeightSum - 1, 1}},
		{"single instance", []int{7}},
	}
	for _, tt := range tests {
		for _, p := range append([]Policy{""}, policies[:]...) {
			t.Run(tt.name+"/"+string(p), func(t *testing.T) {
				pk := mustNew(t, p, tt.weights, constRnd(1))
				if i := pk.Pick(newState(len(tt.weights)), 42); i < 0 || i >= len(tt.weights) {
					t.Fatalf("Pick = %d, want an instance", i)
				}
			})
		}
	}
}

func TestReduceWeights(t *testing.T) {
	tests := []struct {
		in   []int
		want []int64
	}{
		{[]int{10, 2, 2}, []int64{5, 1, 1}},
		{[]int{3, 6, 9}, []int64{1, 2, 3}},
		{[]int{4, 7}, []int64{4, 7}},
		{[]int{100, 100}, []int64{1, 1}},
	}
	for _, tt := range tests {
		got, err := reduceWeights(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("reduceWeights(%v) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// Every policy must answer -1 for an empty pool and for a pool with nothing usable, and find the one usable instance.
func TestNoUsableInstance(t *testing.T) {
	weights := []int{3, 1, 4, 1, 5, 9, 2, 6}
	for _, p := range policies {
		t.Run(string(p), func(t *testing.T) {
			empty := mustNew(t, p, nil, nil)
			if i := empty.Pick(newState(0), 1); i != -1 {
				t.Errorf("empty pool: Pick = %d, want -1", i)
			}
			pk := mustNew(t, p, weights, seededRnd(1))
			allDown := newState(len(weights)).withDown(0, 1, 2, 3, 4, 5, 6, 7)
			if _, usable := countPicks(t, pk, allDown, len(weights), 1000); usable != 1000 {
				t.Errorf("all down: %d of 1000 picks returned -1, want all", usable)
			}
			oneUp := newState(len(weights)).withDown(0, 1, 2, 4, 5, 6, 7)
			counts, none := countPicks(t, pk, oneUp, len(weights), 1000)
			if counts[3] != 1000 || none != 0 {
				t.Errorf("only instance 3 up: counts %v, -1 x%d; want all on 3", counts, none)
			}
		})
	}
}

// TestConcurrentPicks runs every policy from several goroutines while another one flips health and load, for -race.
func TestConcurrentPicks(t *testing.T) {
	const n, goroutines, picks = 16, 4, 2000
	for _, p := range policies {
		t.Run(string(p), func(t *testing.T) {
			pk := mustNew(t, p, []int{1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}, nil)
			s := newAtomicState(n)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					s.down[k%n].Store(k%3 == 0)
					s.load[k%n].Store(int64(k % 7))
				}
			})
			errs := make(chan int, goroutines)
			var pickers sync.WaitGroup
			for g := range goroutines {
				pickers.Go(func() {
					for k := range picks {
						if i := pk.Pick(s, uint64(g*picks+k)); i < -1 || i >= n {
							errs <- i
							return
						}
					}
				})
			}
			pickers.Wait()
			close(stop)
			wg.Wait()
			close(errs)
			for i := range errs {
				t.Errorf("Pick returned %d, out of range", i)
			}
		})
	}
}

func FuzzNew(f *testing.F) {
	f.Add(byte(0), []byte{1, 2, 3}, uint64(7), uint64(0b101))
	f.Add(byte(2), []byte{5, 1, 1}, uint64(99), uint64(0))
	f.Fuzz(func(t *testing.T, policy byte, raw []byte, key, downMask uint64) {
		if len(raw) > 64 {
			raw = raw[:64]
		}
		weights := make([]int, len(raw))
		for i, b := range raw {
			weights[i] = int(b%16) + 1
		}
		pk := mustNew(t, policies[int(policy)%len(policies)], weights, constRnd(key))
		s := newState(len(weights))
		for i := range weights {
			s.down[i] = downMask&(1<<i) != 0
		}
		i := pk.Pick(s, key)
		if i == -1 {
			if anyUsable(s, len(weights)) {
				t.Fatalf("Pick = -1 with a usable instance (down mask %b)", downMask)
			}
			return
		}
		if i < 0 || i >= len(weights) || s.down[i] {
			t.Fatalf("Pick = %d (down mask %b, %d instances)", i, downMask, len(weights))
		}
	})
}

func TestHashKeyStable(t *testing.T) {
	// Golden values: HashKey must never change, or every sticky session moves on upgrade.
	tests := []struct {
		in   string
		want uint64
	}{
		{"", 0xef46db3751d8e999}, // the published XXH64 of the empty input, seed 0
		{"192.0.2.1", 0xb745e3600a221c61},
		{"session=abc123", 0x9eb92ec478aaa871},
	}
	for _, tt := range tests {
		if got := HashKey([]byte(tt.in)); got != tt.want {
			t.Errorf("HashKey(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}
