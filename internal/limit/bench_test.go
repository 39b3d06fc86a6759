package limit

import (
	"context"
	"testing"
)

func BenchmarkLimiterUncontended(b *testing.B) {
	for _, bc := range []struct {
		name string
		max  int
	}{{"limited", 100}, {"unlimited", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			l := NewLimiter(bc.max, 10)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := l.Acquire(ctx, 0); err != nil {
					b.Fatal(err)
				}
				l.Release()
			}
		})
	}
}

func BenchmarkLimiterParallel(b *testing.B) {
	l := NewLimiter(1<<20, 10)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Acquire(ctx, 0); err != nil {
				b.Fatal(err)
			}
			l.Release()
		}
	})
}

// BenchmarkLimiterQueued measures the waiting path: two slots shared by many goroutines, so most calls queue and are
// served by hand-off. It shows the pooled waiters keep that path allocation-free too.
func BenchmarkLimiterQueued(b *testing.B) {
	l := NewLimiter(2, 1<<16)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Acquire(ctx, 0); err != nil {
				b.Fatal(err)
			}
			l.Release()
		}
	})
}

func BenchmarkBudgetRequest(b *testing.B) {
	bu := NewBudget(0.2, 10, nil)
	b.ReportAllocs()
	for b.Loop() {
		bu.Request()
	}
}

func BenchmarkBudgetTryRetry(b *testing.B) {
	bu := NewBudget(0.2, 10, nil)
	b.ReportAllocs()
	for b.Loop() {
		bu.Request()
		bu.TryRetry()
	}
}

func BenchmarkBudgetParallel(b *testing.B) {
	bu := NewBudget(0.2, 10, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bu.Request()
			bu.TryRetry()
		}
	})
}
