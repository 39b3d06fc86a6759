package outlier

import (
	"math"
	"sync/atomic"
	"testing"
	"time"
)

func TestConsecutiveThreshold(t *testing.T) {
	for _, threshold := range []int{1, 2, 5, 17} {
		t.Run("", func(t *testing.T) {
			clk := newClock()
			d := New(4, cfg(threshold, 50), clk.now)
			if got := failN(d, 1, threshold-1); got != 0 {
				t.Fatalf("%d failures ejected %d times, want 0", threshold-1, got)
			}
			if d.Ejected(1, clk.unix()) {
				t.Fatalf("ejected after %d of %d failures", threshold-1, threshold)
			}
			if st := d.State(1); st.ConsecutiveFailures != threshold-1 {
				t.Fatalf("State.ConsecutiveFailures = %d, want %d", st.ConsecutiveFailures, threshold-1)
			}
			if !d.Result(1, false) {
				t.Fatalf("failure %d did not eject", threshold)
			}
			if !d.Ejected(1, clk.unix()) || d.Ejected(0, clk.unix()) {
				t.Fatalf("Ejected(1)=%v Ejected(0)=%v, want true false", d.Ejected(1, clk.unix()), d.Ejected(0, clk.unix()))
			}
			st := d.State(1)
			want := State{EjectedUntil: clk.now().Add(time.Second), Ejections: 1}
			if !st.EjectedUntil.Equal(want.EjectedUntil) || st.Ejections != 1 || st.ConsecutiveFailures != 0 {
				t.Fatalf("State = %+v, want %+v", st, want)
			}
		})
	}
}

func TestSuccessResets(t *testing.T) {
	clk := newClock()
	d := New(3, cfg(5, 50), clk.now)
	failN(d, 0, 4)
	d.Result(0, true)
	if st := d.State(0); st.ConsecutiveFailures != 0 {
		t.Fatalf("after success ConsecutiveFailures = %d, want 0", st.ConsecutiveFailures)
	}
	if got := failN(d, 0, 4); got != 0 || d.Ejected(0, clk.unix()) {
		t.Fatalf("4 failures after a success ejected (%d)", got)
	}
	if !d.Result(0, false) {
		t.Fatal("5th failure in a row did not eject")
	}
}

func TestBackoffAndReturn(t *testing.T) {
	tests := []struct {
		name      string
		base, max time.Duration
		want      []time.Duration // the n-th ejection's length
	}{
		{"doubling to cap", time.Second, 10 * time.Second,
			[]time.Duration{1, 2, 4, 8, 10, 10, 10}},
		{"cap equals base", 3 * time.Second, 3 * time.Second, []time.Duration{3, 3, 3}},
		{"max below base is raised", 4 * time.Second, time.Second, []time.Duration{4, 4}},
		{"defaults", 0, 0, []time.Duration{30, 60, 120, 240, 300, 300}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			d := New(2, Config{ConsecutiveFailures: 2, BaseEjection: tt.base, MaxEjection: tt.max,
				MaxEjectedPercent: 50}, clk.now)
			for n, w := range tt.want {
				w *= time.Second
				if failN(d, 0, 2) != 1 {
					t.Fatalf("ejection %d did not happen", n+1)
				}
				st := d.State(0)
				if got := st.EjectedUntil.Sub(clk.now()); got != w || st.Ejections != n+1 {
					t.Fatalf("ejection %d: lasts %v with count %d, want %v and %d", n+1, got, st.Ejections, w, n+1)
				}
				until := clk.unix() + int64(w)
				if !d.Ejected(0, until-1) || d.Ejected(0, until) {
					t.Fatalf("ejection %d: Ejected just before/at the end = %v/%v, want true/false",
						n+1, d.Ejected(0, until-1), d.Ejected(0, until))
				}
				clk.advance(w) // automatic return: no call needed
				if d.Ejected(0, clk.unix()) || !d.State(0).EjectedUntil.IsZero() {
					t.Fatalf("ejection %d: still ejected after it ended", n+1)
				}
			}
		})
	}
}

func TestBackoffOverflow(t *testing.T) {
	c := Config{BaseEjection: time.Second, MaxEjection: math.MaxInt64}
	if got := c.ejectionTime(100); got != math.MaxInt64 {
		t.Fatalf("ejectionTime(100) = %v, want the cap", got)
	}
	clk := newClock()
	d := New(2, Config{ConsecutiveFailures: 1, BaseEjection: math.MaxInt64, MaxEjectedPercent: 50}, clk.now)
	d.Result(0, false)
	if !d.Ejected(0, clk.unix()) {
		t.Fatal("an ejection of MaxInt64 wrapped around and did not eject")
	}
}

func TestDecay(t *testing.T) {
	tests := []struct {
		name      string
		healthy   time.Duration // time in the pool after the 2nd ejection ended
		wantCount int           // State.Ejections before the 3rd ejection
		wantNext  time.Duration // length of the 3rd ejection
	}{
		{"just short of max ejection", 10*time.Second - 1, 2, 4 * time.Second},
		{"exactly max ejection", 10 * time.Second, 0, time.Second},
		{"long after", time.Hour, 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			d := New(2, cfg(1, 50), clk.now)
			d.Result(0, false) // 1s
			clk.advance(time.Second)
			d.Result(0, false) // 2s
			clk.advance(2 * time.Second)
			clk.advance(tt.healthy)
			if got := d.State(0).Ejections; got != tt.wantCount {
				t.Fatalf("State.Ejections = %d, want %d", got, tt.wantCount)
			}
			if !d.Result(0, false) {
				t.Fatal("3rd ejection did not happen")
			}
			if got := d.State(0).EjectedUntil.Sub(clk.now()); got != tt.wantNext {
				t.Fatalf("3rd ejection lasts %v, want %v", got, tt.wantNext)
			}
		})
	}
}

func TestMaxEjectedPercent(t *testing.T) {
	tests := []struct {
		n, pct, want int
	}{
		{2, 50, 1},
		{3, 50, 1},
		{10, 50, 5},
		{10, 100, 9}, // never the last
		{3, 100, 2},
		{3, 10, 1}, // rounds down to 0, small-pool rule allows one
		{10, 19, 1},
		{10, 0, 0}, // 0 disables
		{1, 100, 0},
		{2, 150, 1}, // clamped to 100
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			clk := newClock()
			d := New(tt.n, cfg(3, tt.pct), clk.now)
			got := 0
			for i := range tt.n {
				got += failN(d, i, 3)
			}
			if got != tt.want || ejectedCount(d, clk.unix()) != tt.want {
				t.Fatalf("n=%d pct=%d: ejected %d (reported %d), want %d",
					tt.n, tt.pct, ejectedCount(d, clk.unix()), got, tt.want)
			}
			if tt.want == 0 || tt.want == tt.n {
				return
			}
			// The instances refused for the cap keep their count: once the first ejections end, one more
			// failure ejects the next instance at once.
			blocked := tt.want
			if st := d.State(blocked); st.ConsecutiveFailures != 3 {
				t.Fatalf("blocked instance has %d failures, want 3 kept", st.ConsecutiveFailures)
			}
			if d.Result(blocked, false) {
				t.Fatal("ejected past the cap")
			}
			clk.advance(time.Second)
			if !d.Result(blocked, false) {
				t.Fatal("blocked instance not ejected on its first failure after room freed up")
			}
		})
	}
}

func TestFailWindow(t *testing.T) {
	type event struct {
		at time.Duration // since start
		ok bool
	}
	fail := func(at time.Duration) event { return event{at: at} }
	tests := []struct {
		name   string
		events []event
		want   time.Duration // when the ejection happens; -1 = never
	}{
		{"3 in 10s", []event{fail(0), fail(4e9), fail(9e9)}, 9e9},
		{"exactly 10s apart", []event{fail(0), fail(5e9), fail(10e9)}, 10e9},
		{"successes between do not reset", []event{fail(0), {1e9, true}, fail(2e9), {3e9, true}, fail(4e9)}, 4e9},
		{"spread over more than 10s", []event{fail(0), fail(6e9), fail(10e9 + 1)}, -1},
		{"spread, then a 4th closes the window", []event{fail(0), fail(6e9), fail(12e9), fail(13e9)}, 13e9},
		{"2 failures only", []event{fail(0), fail(1e9)}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			d := New(3, NginxConfig(3, 10*time.Second), clk.now)
			var at time.Duration = -1
			for _, e := range tt.events {
				clk.ns.Store(start.Add(e.at).UnixNano())
				if d.Result(0, e.ok) {
					at = e.at
				}
			}
			if at != tt.want {
				t.Fatalf("ejected at %v, want %v (-1 = never)", at, tt.want)
			}
			if at < 0 {
				return
			}
			// nginx: unavailable for fail_timeout, every time, and a returning instance needs max_fails new failures.
			if got := d.State(0).EjectedUntil.Sub(clk.now()); got != 10*time.Second {
				t.Fatalf("ejected for %v, want 10s", got)
			}
			clk.advance(10 * time.Second)
			if failN(d, 0, 2) != 0 {
				t.Fatal("failures from before the ejection counted again")
			}
			if !d.Result(0, false) {
				t.Fatal("3 new failures did not eject again")
			}
			if got := d.State(0).EjectedUntil.Sub(clk.now()); got != 10*time.Second {
				t.Fatalf("second ejection lasts %v, want 10s", got)
			}
		})
	}
}

func TestStragglersIgnored(t *testing.T) {
	for _, c := range []Config{cfg(3, 50), NginxConfig(3, time.Second)} {
		t.Run("", func(t *testing.T) {
			clk := newClock()
			d := New(2, c, clk.now)
			failN(d, 0, 3)
			if got := failN(d, 0, 10); got != 0 || d.State(0).ConsecutiveFailures != 0 {
				t.Fatalf("failures while ejected: %d ejections, count %d; want both 0", got, d.State(0).ConsecutiveFailures)
			}
			clk.advance(time.Second)
			if failN(d, 0, 2) != 0 {
				t.Fatal("returning instance ejected before a full new run of failures")
			}
		})
	}
}

func TestDisabled(t *testing.T) {
	for _, c := range []Config{{}, cfg(0, 50), NginxConfig(0, time.Second), cfg(-1, 50)} {
		t.Run("", func(t *testing.T) {
			clk := newClock()
			d := New(4, c, clk.now)
			if got := failN(d, 2, 1000); got != 0 || d.Ejected(2, clk.unix()) {
				t.Fatalf("config %+v ejected", c)
			}
			if st := d.State(2); st.ConsecutiveFailures != 1000 || st.Ejections != 0 || !st.EjectedUntil.IsZero() {
				t.Fatalf("State = %+v, want 1000 failures counted and nothing else", st)
			}
		})
	}
}

func TestNewEdgeCases(t *testing.T) {
	for _, n := range []int{-1, 0} {
		if d := New(n, DefaultConfig(), nil); d.Len() != 0 {
			t.Fatalf("New(%d).Len() = %d, want 0", n, d.Len())
		}
	}
	d := New(3, DefaultConfig(), nil) // real clock
	if failN(d, 0, DefaultConsecutiveFailures) != 1 || !d.Ejected(0, time.Now().UnixNano()) {
		t.Fatal("default config with the real clock did not eject after 5 failures")
	}
}

func TestHotPathAllocs(t *testing.T) {
	clk := newClock()
	for _, c := range []Config{cfg(3, 50), NginxConfig(3, time.Second)} {
		d := New(8, c, clk.now)
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			i++
			d.Result(i%8, i%3 == 0)
			d.Ejected(i%8, clk.unix())
			clk.advance(time.Millisecond)
		})
		if allocs != 0 {
			t.Fatalf("%+v: %v allocs per Result+Ejected, want 0", c, allocs)
		}
	}
}

func TestUneject(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Unix(1000, 0).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	d := New(3, Config{ConsecutiveFailures: 1, BaseEjection: time.Minute, MaxEjection: time.Hour, MaxEjectedPercent: 100}, now)
	if !d.Result(0, false) || !d.Ejected(0, clock.Load()) {
		t.Fatal("instance 0 not ejected")
	}
	d.Uneject(0, clock.Load())
	if d.Ejected(0, clock.Load()) {
		t.Fatal("still ejected after Uneject")
	}
	if !d.Result(0, false) {
		t.Fatal("relapse not ejected")
	}
	if got := d.State(0).EjectedUntil.Sub(now()); got != 2*time.Minute {
		t.Fatalf("relapse ejected for %v, want 2m (the count survived Uneject)", got)
	}
	d.Uneject(1, clock.Load()) // not ejected: no-op
	if d.Ejected(1, clock.Load()) || d.State(1).Ejections != 0 {
		t.Fatal("Uneject changed an instance that was not ejected")
	}
}
