package upstream

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// countingListener accepts connections on loopback and counts them; it closes them on cleanup.
func countingListener(t *testing.T) (addr string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := make(chan int, 1)
	n <- 0
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			n <- <-n + 1
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), func() int { v := <-n; n <- v; return v }
}

func TestPoolReusesIdleConnections(t *testing.T) {
	addr, accepted := countingListener(t)
	in := NewInstance(addr, 1, false, Options{MaxIdle: 2})
	defer in.Close()
	for i := 0; i < 5; i++ {
		c, err := in.Get(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.Reused, i > 0; got != want {
			t.Fatalf("round %d: Reused = %v, want %v", i, got, want)
		}
		in.Put(c)
	}
	waitFor(t, func() bool { return accepted() == 1 })
	if in.IdleConns() != 1 {
		t.Fatalf("idle = %d, want 1", in.IdleConns())
	}
}

func TestPoolBoundsIdleAndExpiresOld(t *testing.T) {
	addr, _ := countingListener(t)
	in := NewInstance(addr, 1, false, Options{MaxIdle: 2, IdleTimeout: time.Minute})
	defer in.Close()
	var cs []*Conn
	for i := 0; i < 3; i++ {
		c, err := in.Dial(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		in.Put(c)
	}
	if got := in.IdleConns(); got != 2 {
		t.Fatalf("idle = %d, want 2 (MaxIdle)", got)
	}
	// Age the pool past its idle timeout: Get must not hand out the stale connections.
	now := time.Now()
	in.now = func() time.Time { return now.Add(2 * time.Minute) }
	c, err := in.Get(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Reused {
		t.Fatal("got an expired idle connection")
	}
	c.Close()
	if got := in.IdleConns(); got != 0 {
		t.Fatalf("idle = %d after expiry, want 0", got)
	}
}

func TestPutOnClosedInstanceCloses(t *testing.T) {
	addr, _ := countingListener(t)
	in := NewInstance(addr, 1, false, Options{MaxIdle: 4})
	c, err := in.Get(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	in.Put(c)
	if in.IdleConns() != 0 {
		t.Fatal("closed instance pooled a connection")
	}
	// A request that picked the instance before a reload retired it may still dial.
	c2, err := in.Dial(context.Background(), 0)
	if err != nil {
		t.Fatalf("dial on a retired instance: %v", err)
	}
	c2.Close()
}

func TestDialErrorIsTyped(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	in := NewInstance(addr, 1, false, Options{ConnectTimeout: time.Second})
	_, err := in.Get(context.Background(), 0)
	de, ok := err.(*DialError)
	if !ok || de.Addr != addr {
		t.Fatalf("err = %#v, want *DialError for %s", err, addr)
	}
}

func TestPoolPrefersPrimariesThenBackups(t *testing.T) {
	mk := func(addr string, backup bool) *Instance {
		return NewInstance(addr, 1, backup, Options{FailTimeout: time.Hour})
	}
	a, b, bk := mk("10.0.0.1:1", false), mk("10.0.0.2:1", false), mk("10.0.0.3:1", true)
	p, err := NewPool("svc", balancer.RoundRobin, []*Instance{a, bk, b}, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[*Instance]int{}
	for i := 0; i < 10; i++ {
		seen[p.Pick(0)]++
	}
	if seen[a] != 5 || seen[b] != 5 || seen[bk] != 0 {
		t.Fatalf("healthy pool: picks %v, want 5/5/0", map[string]int{"a": seen[a], "b": seen[b], "backup": seen[bk]})
	}
	a.MarkFailed()
	if got := p.Pick(0); got != b {
		t.Fatalf("with a down: picked %s, want b", got.Addr)
	}
	if got := p.PickExcept(0, b); got != bk {
		t.Fatalf("excluding b with a down: picked %v, want the backup", got)
	}
	b.MarkFailed()
	if got := p.Pick(0); got != bk {
		t.Fatalf("all primaries down: picked %v, want the backup", got)
	}
	bk.MarkFailed()
	if got := p.Pick(0); got != nil {
		t.Fatalf("everything down: picked %s, want nil", got.Addr)
	}
	for _, st := range p.States(time.Now()) {
		if st.DownUntil.IsZero() {
			t.Fatalf("%s not reported down: %+v", st.Addr, st)
		}
	}
	a.MarkUp()
	if got := p.Pick(0); got != a {
		t.Fatalf("a back up: picked %v, want a", got)
	}
}

func TestPoolNeedsAPrimary(t *testing.T) {
	if _, err := NewPool("svc", balancer.RoundRobin, []*Instance{NewInstance("h:1", 1, true, Options{})}, PoolOptions{}); err == nil {
		t.Fatal("backup-only pool accepted")
	}
}

func BenchmarkPick(b *testing.B) {
	var insts []*Instance
	for i := 0; i < 8; i++ {
		insts = append(insts, NewInstance("10.0.0.1:1", 1, false, Options{}))
	}
	p, _ := NewPool("svc", balancer.RoundRobin, insts, PoolOptions{})
	b.ReportAllocs()
	for b.Loop() {
		if p.Pick(0) == nil {
			b.Fatal("nil pick")
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSlowStartRampsRecoveredInstance(t *testing.T) {
	tests := []struct {
		name       string
		recovered  time.Duration // how long ago a became healthy again
		minA, maxA int           // of 10,000 round-robin picks
	}{
		{"just recovered", 0, 100, 900},                  // ~1/16 of its 5,000
		{"half way", 500 * time.Millisecond, 1500, 3500}, // ~1/2
		{"window over", 2 * time.Second, 5000, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewInstance("10.0.0.1:1", 1, false, Options{})
			b := NewInstance("10.0.0.2:1", 1, false, Options{})
			p, err := NewPool("svc", balancer.RoundRobin, []*Instance{a, b}, PoolOptions{SlowStart: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			a.SetHealthy(false)
			a.now = func() time.Time { return time.Now().Add(-tt.recovered) }
			a.SetHealthy(true)
			n := 0
			for range 10000 {
				if p.Pick(0) == a {
					n++
				}
			}
			if n < tt.minA || n > tt.maxA {
				t.Fatalf("recovered instance got %d of 10000 picks, want %d..%d", n, tt.minA, tt.maxA)
			}
			if st := p.States(time.Now())[0]; (tt.recovered < time.Second) != !st.WarmingUntil.IsZero() {
				t.Fatalf("WarmingUntil = %v for a recovery %v ago with a 1s window", st.WarmingUntil, tt.recovered)
			}
		})
	}
}
