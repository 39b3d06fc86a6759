package outlier

import (
	"testing"
	"time"
)

// The benchmarks use the real clock (time.Now), as the gateway does, on a pool of 16.

func BenchmarkResultOK(b *testing.B) {
	d := New(16, DefaultConfig(), nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Result(i&15, true)
		i++
	}
}

// BenchmarkResultFail is the steady state of a pool whose instances all fail: half are ejected (their failures are
// stragglers) and the cap is full (the rest skip the mutex until room frees up).
func BenchmarkResultFail(b *testing.B) {
	for _, bc := range []struct {
		name string
		c    Config
	}{
		{"consecutive", DefaultConfig()},
		{"window", NginxConfig(5, 10*time.Second)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := New(16, bc.c, nil)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				d.Result(i&15, false)
				i++
			}
		})
	}
}

// BenchmarkResultFailBelowThreshold is an instance failing now and then: counted, never near an ejection.
func BenchmarkResultFailBelowThreshold(b *testing.B) {
	d := New(16, DefaultConfig(), nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Result(i&15, i&16 != 0)
		i++
	}
}

func BenchmarkEjected(b *testing.B) {
	d := New(16, DefaultConfig(), nil)
	for i := range 8 {
		failN(d, i, DefaultConsecutiveFailures)
	}
	now := time.Now().UnixNano()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Ejected(i&15, now)
		i++
	}
}

func BenchmarkParallelResultEjected(b *testing.B) {
	d := New(16, DefaultConfig(), nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			now := time.Now().UnixNano()
			if !d.Ejected(i&15, now) {
				d.Result(i&15, i%11 != 0)
			}
			i++
		}
	})
}
