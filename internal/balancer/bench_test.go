package balancer

import (
	"fmt"
	"testing"
)

// BenchmarkPick measures one pick per policy and pool size against an atomics-backed State like the upstream
// pool's, from one goroutine and from GOMAXPROCS goroutines (where round robin's shared counter is contended).
func BenchmarkPick(b *testing.B) {
	for _, p := range policies {
		for _, n := range []int{8, 64} {
			weights := make([]int, n)
			s := newAtomicState(n)
			for i := range weights {
				weights[i] = 1 + i%3
				s.load[i].Store(int64(i * 7 % 13))
			}
			pk := mustNew(b, p, weights, nil)
			b.Run(fmt.Sprintf("%s/n=%d", p, n), func(b *testing.B) {
				b.ReportAllocs()
				var sink int
				for k := 0; b.Loop(); k++ {
					sink += pk.Pick(s, uint64(k)*0x9e3779b97f4a7c15)
				}
				if sink < 0 {
					b.Fatal("no usable instance")
				}
			})
			b.Run(fmt.Sprintf("%s/n=%d/parallel", p, n), func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for k := uint64(0); pb.Next(); k++ {
						if pk.Pick(s, k*0x9e3779b97f4a7c15) < 0 {
							b.Error("no usable instance")
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkPickDegraded measures picks with a quarter of the pool down, where pickers take their slower paths.
func BenchmarkPickDegraded(b *testing.B) {
	for _, p := range policies {
		const n = 64
		s := newAtomicState(n)
		for i := range n {
			s.down[i].Store(i%4 == 0)
		}
		pk := mustNew(b, p, make64Ones(), nil)
		b.Run(fmt.Sprintf("%s/n=%d", p, n), func(b *testing.B) {
			b.ReportAllocs()
			for k := uint64(0); b.Loop(); k++ {
				if pk.Pick(s, k*0x9e3779b97f4a7c15) < 0 {
					b.Fatal("no usable instance")
				}
			}
		})
	}
}

func make64Ones() []int {
	w := make([]int, 64)
	for i := range w {
		w[i] = 1
	}
	return w
}

// BenchmarkNew measures building pickers, which happens on config load and pool changes, not per request.
func BenchmarkNew(b *testing.B) {
	for _, p := range policies {
		weights := make([]int, 64)
		for i := range weights {
			weights[i] = 1 + i%3
		}
		b.Run(string(p), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := New(p, weights, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
