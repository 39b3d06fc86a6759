package proxy

import (
	"bufio"
	"context"
	"errors"
	"hash/maphash"
	"net"
	"net/netip"
	"testing"
	"time"
)

// limitedProxy serves a Return route under lim on 127.0.0.1:0 and shuts down when the test ends.
func limitedProxy(t *testing.T, lim ClientLimits) *testProxy {
	t.Helper()
	cfg := cfgOf(t, prefix("/", &Route{Name: "ok", Return: &Return{Status: 200, Body: []byte("ok")}}))
	cfg.Client = lim
	return startProxy(t, cfg)
}

// dialFrom connects to addr from the local address from (e.g. "127.0.0.2"; every 127/8 address is loopback on
// Linux).
func dialFrom(t *testing.T, from, addr string) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// served asserts that c gets a 200 for a request: the proxy accepted and serves it.
func (c *rawConn) served() {
	c.t.Helper()
	c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := c.readResponse("GET"); resp.StatusCode != 200 || body != "ok" {
		c.t.Fatalf("got %d %q, want 200 ok", resp.StatusCode, body)
	}
}

// refused asserts that the proxy closes c without a byte. A client write may race the close; the read then sees
// EOF or a reset, both of which expectClosed accepts.
func (c *rawConn) refused() {
	c.t.Helper()
	c.expectClosed()
}

// waitOpen waits until the server's open connections (conns map and limit counters) drop to want: a client's close
// reaches the server's connection goroutine asynchronously.
func waitOpen(t *testing.T, s *Server, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for s.Connections() != want {
		if time.Now().After(deadline) {
			t.Fatalf("open connections: %d, want %d", s.Connections(), want)
		}
		<-tick.C
	}
	if n := s.limits.total.Load(); n != int64(want) {
		t.Fatalf("limit total: %d, want %d", n, want)
	}
}

// perIPCounts is the per-address table, all shards together.
func (l *connLimits) perIPCounts() map[netip.Addr]int32 {
	out := map[netip.Addr]int32{}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for a, n := range sh.open {
			out[a] = n
		}
		sh.mu.Unlock()
	}
	return out
}

func TestConnectionLimits(t *testing.T) {
	tests := []struct {
		name string
		lim  ClientLimits
		// from: local address of each connection, in order; "+" prefix: expected to be served, "-": refused.
		conns []string
		want  ConnRejections
	}{
		{"total", ClientLimits{MaxConnections: 2},
			[]string{"+127.0.0.1", "+127.0.0.2", "-127.0.0.1", "-127.0.0.3"}, ConnRejections{MaxConnections: 2}},
		{"per ip", ClientLimits{MaxConnectionsPerIP: 2},
			[]string{"+127.0.0.1", "+127.0.0.1", "-127.0.0.1", "+127.0.0.2", "+127.0.0.2", "-127.0.0.2"},
			ConnRejections{MaxConnectionsPerIP: 2}},
		{"both, total first", ClientLimits{MaxConnections: 3, MaxConnectionsPerIP: 2},
			[]string{"+127.0.0.1", "+127.0.0.1", "-127.0.0.1", "+127.0.0.2", "-127.0.0.2", "-127.0.0.3"},
			ConnRejections{MaxConnections: 2, MaxConnectionsPerIP: 1}},
		{"unlimited", ClientLimits{}, []string{"+127.0.0.1", "+127.0.0.1", "+127.0.0.1", "+127.0.0.2"}, ConnRejections{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := limitedProxy(t, tt.lim)
			var open []*rawConn
			for _, c := range tt.conns {
				rc := dialFrom(t, c[1:], p.addr)
				if c[0] == '+' {
					rc.served() // also makes sure the proxy has accepted it before the next dial
					open = append(open, rc)
				} else {
					rc.refused()
				}
			}
			// The connections under the limit are still served after the refusals.
			for _, rc := range open {
				rc.served()
			}
			if got := p.srv.Rejected(); got != tt.want {
				t.Errorf("Rejected() = %+v, want %+v", got, tt.want)
			}
			// Closing everything brings every count back to zero and deletes the per-address entries.
			for _, rc := range open {
				_ = rc.nc.Close()
			}
			waitOpen(t, p.srv, 0)
			if m := p.srv.limits.perIPCounts(); len(m) != 0 {
				t.Fatalf("per-IP entries left after close: %v", m)
			}
		})
	}
}

// A closed connection frees its slot: with a per-IP limit of 1, a client can reconnect once its previous
// connection is gone.
func TestConnectionLimitSlotFreed(t *testing.T) {
	p := limitedProxy(t, ClientLimits{MaxConnections: 1, MaxConnectionsPerIP: 1})
	for i := range 3 {
		rc := dialFrom(t, "127.0.0.1", p.addr)
		rc.served()
		_ = rc.nc.Close()
		waitOpen(t, p.srv, 0)
		if r := p.srv.Rejected(); r != (ConnRejections{}) {
			t.Fatalf("round %d: refused %+v", i, r)
		}
	}
}

// A reload changes the limits for new connections; connections already open stay.
func TestConnectionLimitReload(t *testing.T) {
	p := limitedProxy(t, ClientLimits{MaxConnections: 1})
	update := func(max int) {
		cfg := *p.srv.cfg.Load()
		cfg.Client.MaxConnections = max
		p.srv.Update(&cfg)
	}
	a := dialFrom(t, "127.0.0.1", p.addr)
	a.served()
	dialFrom(t, "127.0.0.1", p.addr).refused()

	update(3)
	b, c := dialFrom(t, "127.0.0.1", p.addr), dialFrom(t, "127.0.0.2", p.addr)
	b.served()
	c.served()
	dialFrom(t, "127.0.0.3", p.addr).refused()

	update(1) // lowered below the open count: the three stay, new ones are refused until they close
	dialFrom(t, "127.0.0.1", p.addr).refused()
	for _, rc := range []*rawConn{a, b, c} {
		rc.served()
	}
	if got, want := p.srv.Rejected(), (ConnRejections{MaxConnections: 3}); got != want {
		t.Fatalf("Rejected() = %+v, want %+v", got, want)
	}
	for _, rc := range []*rawConn{a, b, c} {
		_ = rc.nc.Close()
	}
	waitOpen(t, p.srv, 0)
	dialFrom(t, "127.0.0.1", p.addr).served()
}

// Shutdown releases the slots of the connections it closes.
func TestConnectionLimitShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := cfgOf(t, prefix("/", &Route{Name: "ok", Return: &Return{Status: 200, Body: []byte("ok")}}))
	cfg.Client.MaxConnectionsPerIP = 5
	s := NewServer(cfg, nil)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln, "http") }()
	for range 3 {
		dialFrom(t, "127.0.0.1", ln.Addr().String()).served()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-done; err != nil && !errors.Is(err, ErrServerClosed) {
		t.Fatalf("serve: %v", err)
	}
	if n, m := s.limits.total.Load(), s.limits.perIPCounts(); n != 0 || len(m) != 0 {
		t.Fatalf("after shutdown: total %d, per IP %v", n, m)
	}
}

func TestConnLimitsCounting(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	type step struct {
		release bool
		ip      netip.Addr
		want    admission
	}
	tests := []struct {
		name  string
		lim   ClientLimits
		steps []step
		total int64
	}{
		{"per ip", ClientLimits{MaxConnectionsPerIP: 1}, []step{
			{false, a, admitted}, {false, a, refusedPerIP}, {false, b, admitted}, {true, a, 0}, {false, a, admitted},
		}, 2},
		{"total counts addressless conns", ClientLimits{MaxConnections: 2}, []step{
			{false, netip.Addr{}, admitted}, {false, a, admitted}, {false, b, refusedTotal}, {true, netip.Addr{}, 0},
			{false, b, admitted},
		}, 2},
		{"refusal takes nothing", ClientLimits{MaxConnections: 1, MaxConnectionsPerIP: 1}, []step{
			{false, a, admitted}, {false, a, refusedTotal}, {false, b, refusedTotal}, {true, a, 0}, {false, b, admitted},
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := connLimits{seed: maphash.MakeSeed()}
			for i, s := range tt.steps {
				if s.release {
					l.release(s.ip)
					continue
				}
				if got := l.admit(s.ip, tt.lim); got != s.want {
					t.Fatalf("step %d: admit(%v) = %d, want %d", i, s.ip, got, s.want)
				}
			}
			if n := l.total.Load(); n != tt.total {
				t.Fatalf("total %d, want %d", n, tt.total)
			}
		})
	}
}

// Refusals are logged at most once per second per address, and the memory of who was logged stays bounded.
func TestConnLimitsLogThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	l := connLimits{seed: maphash.MakeSeed(), now: func() time.Time { return now }}
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	steps := []struct {
		name    string
		advance time.Duration
		ip      netip.Addr
		want    bool
	}{
		{"first", 0, a, true},
		{"same second", 999 * time.Millisecond, a, false},
		{"other address", 0, b, true},
		{"a second later", time.Millisecond, a, true},
		{"again at once", 0, a, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			now = now.Add(s.advance)
			if got := l.shouldLog(s.ip); got != s.want {
				t.Fatalf("shouldLog(%v) = %v, want %v", s.ip, got, s.want)
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		now = now.Add(time.Hour)
		logged := 0
		for i := range 100000 {
			if l.shouldLog(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})) {
				logged++
			}
		}
		marks := 0
		for i := range l.shards {
			marks += len(l.shards[i].logged)
		}
		if marks > ipShards*maxLogMarks || logged > ipShards*maxLogMarks {
			t.Fatalf("%d marks, %d logged; bound %d", marks, logged, ipShards*maxLogMarks)
		}
		now = now.Add(logEvery) // old marks expire: new addresses are logged again
		if !l.shouldLog(netip.MustParseAddr("10.200.0.1")) {
			t.Fatal("not logged after the marks expired")
		}
	})
}
