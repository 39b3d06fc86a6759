package ratelimit

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock advanced by the test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time             { return c.t }
func (c *clock) add(d time.Duration)        { c.t = c.t.Add(d) }
func newClock() *clock                      { return &clock{t: time.Unix(1_700_000_000, 0)} }
func newLimiter(c *clock, l Limit) *Limiter { return New(l, Options{Now: c.now, MaxKeys: 1024}) }

func TestBurstThenRefuse(t *testing.T) {
	tests := []struct {
		name  string
		limit Limit
	}{
		{"burst 1", Limit{Rate: 1, Burst: 1}},
		{"burst 5", Limit{Rate: 10, Burst: 5}},
		{"burst 50 per minute", Limit{Rate: 100.0 / 60, Burst: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			l := newLimiter(c, tt.limit)
			for i := range tt.limit.Burst {
				d := l.AllowString("k")
				if !d.Allowed || d.Remaining != tt.limit.Burst-1-i || d.Limit != tt.limit.Burst {
					t.Fatalf("request %d: %+v, want allowed with %d remaining", i, d, tt.limit.Burst-1-i)
				}
			}
			d := l.AllowString("k")
			perToken := time.Duration(float64(time.Second) / tt.limit.Rate)
			if d.Allowed || d.Remaining != 0 {
				t.Fatalf("over the burst: %+v, want refused", d)
			}
			if diff := d.Wait - perToken; diff < -time.Microsecond || diff > time.Microsecond {
				t.Errorf("Wait = %v, want %v", d.Wait, perToken)
			}
			full := time.Duration(tt.limit.Burst) * perToken
			if diff := d.Reset - full; diff < -time.Microsecond || diff > time.Microsecond {
				t.Errorf("Reset = %v, want %v", d.Reset, full)
			}
		})
	}
}

func TestRefill(t *testing.T) {
	c := newClock()
	l := newLimiter(c, Limit{Rate: 10, Burst: 3}) // a token every 100ms
	for range 3 {
		l.AllowString("k")
	}
	steps := []struct {
		advance time.Duration
		allowed bool
	}{
		{50 * time.Millisecond, false},
		{50 * time.Millisecond, true}, // 100ms: one token back
		{0, false},
		{10 * time.Second, true}, // long idle refills only up to the burst
		{0, true},
		{0, true},
		{0, false},
	}
	for i, s := range steps {
		c.add(s.advance)
		if d := l.AllowString("k"); d.Allowed != s.allowed {
			t.Fatalf("step %d (+%v): %+v, want allowed=%v", i, s.advance, d, s.allowed)
		}
	}
}

func TestClockBackwardsMintsNothing(t *testing.T) {
	c := newClock()
	l := newLimiter(c, Limit{Rate: 1, Burst: 1})
	l.AllowString("k")
	c.add(-time.Hour)
	if d := l.AllowString("k"); d.Allowed {
		t.Fatalf("after the clock went back: %+v, want refused", d)
	}
	c.add(time.Hour + time.Second)
	if d := l.AllowString("k"); !d.Allowed {
		t.Fatalf("a second after the original stamp: %+v, want allowed", d)
	}
}

func TestKeysAreIsolated(t *testing.T) {
	c := newClock()
	l := newLimiter(c, Limit{Rate: 1, Burst: 2})
	for _, k := range []string{"a", "a"} {
		if !l.AllowString(k).Allowed {
			t.Fatalf("%s refused within its burst", k)
		}
	}
	if l.AllowString("a").Allowed {
		t.Fatal("a allowed past its burst")
	}
	for _, k := range []string{"b", "b", "c"} {
		if !l.Allow([]byte(k)).Allowed {
			t.Fatalf("%s refused: another key's bucket was used", k)
		}
	}
}

// TestMemoryBounded feeds a million distinct keys and checks the table never holds more than its cap, and that a
// limited key seen often keeps its state through the flood.
func TestMemoryBounded(t *testing.T) {
	c := newClock()
	l := New(Limit{Rate: 1, Burst: 1}, Options{Now: c.now, MaxKeys: 4096})
	if l.Cap() < 4096 || l.Cap() > 2*4096 {
		t.Fatalf("Cap = %d, want about 4096", l.Cap())
	}
	var key [8]byte
	for i := range 1_000_000 {
		k := strconv.AppendInt(key[:0], int64(i), 36)
		if !l.Allow(k).Allowed {
			t.Fatalf("fresh key %s refused", k)
		}
		if i%100_000 == 0 {
			if n := l.Len(); n > l.Cap() {
				t.Fatalf("after %d keys Len = %d > Cap %d", i, n, l.Cap())
			}
		}
	}
	if n := l.Len(); n != l.Cap() {
		t.Fatalf("Len = %d after a flood, want the table full (%d)", n, l.Cap())
	}
}

func TestEvictionPrefersFullBuckets(t *testing.T) {
	c := newClock()
	// One set per shard: 64 shards * 8 ways.
	l := New(Limit{Rate: 1, Burst: 1}, Options{Now: c.now, MaxKeys: 1})
	if l.Cap() != shardCount*ways {
		t.Fatalf("Cap = %d, want %d", l.Cap(), shardCount*ways)
	}
	// Find ways+1 keys of shard 0, all in its single set.
	var keys []uint64
	for h := uint64(shardCount); len(keys) < ways+1; h += shardCount {
		keys = append(keys, h)
	}
	l.AllowHash(keys[0]) // oldest, empty: the LRU victim unless a full bucket exists
	c.add(10 * time.Millisecond)
	for _, h := range keys[1 : ways-1] {
		l.AllowHash(h)
	}
	c.add(10 * time.Millisecond)
	l.AllowHash(keys[ways-1]) // newest
	c.add(990 * time.Millisecond)
	// Now keys[1:ways-1] have refilled (taken 1s ago), keys[0] too; keys[ways-1] has not.
	l.AllowHash(keys[ways]) // evicts a full bucket
	if d := l.AllowHash(keys[ways-1]); d.Allowed {
		t.Fatalf("the one empty bucket was evicted: %+v", d)
	}
	if n := l.Len(); n != ways {
		t.Fatalf("Len = %d, want %d", n, ways)
	}
}

func TestEvictionLeastRecentlySeen(t *testing.T) {
	c := newClock()
	l := New(Limit{Rate: 0.001, Burst: 1}, Options{Now: c.now, MaxKeys: 1})
	var keys []uint64
	for h := uint64(shardCount); len(keys) < ways+1; h += shardCount {
		keys = append(keys, h)
	}
	for _, h := range keys[:ways] {
		c.add(time.Millisecond)
		l.AllowHash(h) // all empty now, keys[0] the least recently seen
	}
	l.AllowHash(keys[ways])
	if !l.AllowHash(keys[0]).Allowed {
		t.Fatal("keys[0] kept its empty bucket; it was the least recently seen and should have been evicted")
	}
	if l.AllowHash(keys[ways]).Allowed {
		t.Fatal("the newcomer lost its bucket")
	}
}

func TestConcurrentHoldsLimit(t *testing.T) {
	l := New(Limit{Rate: 1e-6, Burst: 100}, Options{})
	var wg sync.WaitGroup
	allowed := make([]int, 8)
	for g := range allowed {
		wg.Go(func() {
			for range 1000 {
				if l.AllowString("shared").Allowed {
					allowed[g]++
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range allowed {
		total += n
	}
	if total != 100 {
		t.Fatalf("%d requests allowed across goroutines, want exactly the burst (100)", total)
	}
}

func TestNewClampsInvalidLimit(t *testing.T) {
	l := New(Limit{}, Options{MaxKeys: 1})
	if got := l.Limit().Burst; got != 1 {
		t.Fatalf("Burst = %d, want 1", got)
	}
	if !l.AllowString("k").Allowed || l.AllowString("k").Allowed {
		t.Fatal("a clamped limit should allow exactly one request")
	}
}
