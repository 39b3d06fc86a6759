package outlier

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrent hammers one Detector from 8 goroutines (run it with -race). With the clock frozen every instance can
// be ejected at most once, so the ejections reported must equal the instances ejected, which must equal the cap.
// With the clock moving, ejections end and recur; the cap must still hold at the end.
func TestConcurrent(t *testing.T) {
	const (
		workers = 8
		n       = 10
		rounds  = 20000
	)
	for _, tt := range []struct {
		name   string
		c      Config
		moving bool
	}{
		{"frozen consecutive", cfg(3, 50), false},
		{"frozen window", NginxConfig(3, time.Second), false},
		{"moving consecutive", cfg(3, 50), true},
		{"moving window", NginxConfig(3, time.Second), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			d := New(n, tt.c, clk.now)
			var reported atomic.Int64
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for r := range rounds {
						i := (w + r) % n
						if d.Result(i, r%7 == 0) {
							reported.Add(1)
						}
						d.Ejected(i, clk.unix())
						if tt.moving && r%64 == 0 {
							clk.advance(10 * time.Millisecond)
						}
					}
				})
			}
			wg.Wait()
			maxEjected := d.cfg.maxEjected(n)
			got := ejectedCount(d, clk.unix())
			if got > maxEjected {
				t.Fatalf("%d instances ejected, cap %d", got, maxEjected)
			}
			if !tt.moving && (reported.Load() != int64(got) || got != maxEjected) {
				t.Fatalf("frozen clock: %d ejections reported, %d ejected, want both %d", reported.Load(), got, maxEjected)
			}
			if tt.moving && reported.Load() <= int64(maxEjected) {
				t.Fatalf("moving clock: only %d ejections, want instances to return and be ejected again", reported.Load())
			}
		})
	}
}
