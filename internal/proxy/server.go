package proxy

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves client connections on any number of listeners with the current Config.
//
// Concurrency: Update may be called at any time; each request reads the snapshot once when it starts, so a reload
// never changes a request half-way. Serve blocks until its listener is closed. Shutdown stops all listeners, closes
// idle connections at once, lets active requests finish and waits for them until its context ends.
type Server struct {
	log *slog.Logger
	cfg atomic.Pointer[Config]

	closing atomic.Bool
	mu      sync.Mutex
	conns   map[*conn]struct{}
	lns     map[net.Listener]struct{}
	lls     map[net.Listener]*loopListener // the listeners the event loops accept from (see serveLoops)
	wg      sync.WaitGroup                 // connection goroutines

	limits     connLimits       // open connections in total and per client IP (ClientLimits.MaxConnections*)
	handshakes [2]atomic.Uint64 // client TLS handshakes completed, failed (see TLSHandshakes)

	headBufs, writeBufs, bodyBufs bufferPool
	uploadBufs                    uploadPools // request bodies an event loop collects (loop.startCollect)

	// Event loops (EngineLoop), started with the first connection that uses them; guarded by mu.
	loops    []*loop
	loopErr  error // the loops could not start: goroutines serve everything
	nextLoop int
	// peers is loops, published once all of them run, for the loops themselves to read without mu (loop.overShare).
	peers atomic.Pointer[[]*loop]
}

// NewServer returns a server with an initial configuration.
func NewServer(cfg *Config, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: log, conns: map[*conn]struct{}{}, lns: map[net.Listener]struct{}{},
		lls: map[net.Listener]*loopListener{}}
	s.limits.seed = maphash.MakeSeed()
	s.limits.now = time.Now
	s.cfg.Store(normalize(cfg))
	return s
}

func normalize(cfg *Config) *Config {
	c := *cfg
	c.Client = c.Client.withDefaults()
	return &c
}

// Update publishes a new configuration. Requests already in flight keep the one they started with.
func (s *Server) Update(cfg *Config) { s.cfg.Store(normalize(cfg)) }

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("proxy: server closed")

// Serve accepts connections on ln until ln is closed or the server shuts down. scheme ("http") is what the
// X-Forwarded-Proto header and ${scheme} report for requests on this listener.
func (s *Server) Serve(ln net.Listener, scheme string) error { return s.ServeListener(ln, "", scheme) }

// ServeListener is Serve for a named listener: its requests are routed with the listener's own table when the
// configuration has one (Config.ByListener).
func (s *Server) ServeListener(ln net.Listener, name, scheme string) error {
	return s.serve(ln, name, scheme, nil)
}

// serve is the accept loop of ServeListener and ServeMode. mode, when non-nil, is read once per accepted connection.
// Nothing in the loop blocks on a client: the TLS handshake, like the first read, runs in the connection's goroutine.
func (s *Server) serve(ln net.Listener, name, scheme string, mode func() *ListenerMode) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	if served, err := s.serveLoops(ln, name, scheme, mode); served {
		return err
	}
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				// Out of file descriptors or similar: back off instead of spinning.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; backing off", "listener", ln.Addr().String(), "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		backoff = 0
		// The limits are read at each accept, so that a reload applies to the next connection.
		cfg := s.cfg.Load()
		ip, lim := clientIP(nc), cfg.Client
		if r := s.limits.admit(ip, lim); r != admitted {
			s.refuse(nc, ip, r, lim)
			continue
		}
		if !s.start(nc, ip, cfg, name, scheme, modeOf(mode)) {
			return ErrServerClosed
		}
	}
}

// start serves an accepted connection that the limits admitted: with an event loop where the engine and the
// listener's mode allow, else with a goroutine of its own. It reports false when the server is closing (the
// connection is then closed).
func (s *Server) start(nc net.Conn, ip netip.Addr, cfg *Config, name, scheme string, m *ListenerMode) bool {
	c := newConn(s, nc, scheme)
	c.listener = name
	c.setMode(m)
	var lp *loop
	if cfg.Engine == EngineLoop && c.raw != nil && plainMode(m) {
		lp = s.eventLoop()
	}
	c.lc.lp = lp
	if !s.track(c) {
		_ = nc.Close()
		s.limits.release(ip)
		return false
	}
	if lp != nil {
		lp.post(loopMsg{kind: msgAdopt, c: c})
		return true
	}
	go c.serve()
	return true
}

// modeOf reads a listener's mode; nil (plain HTTP) without a mode function.
func modeOf(mode func() *ListenerMode) *ListenerMode {
	if mode == nil {
		return nil
	}
	return mode()
}

// plainMode reports whether connections under m can be served by an event loop (no TLS, h2c, redirect or PROXY
// protocol).
func plainMode(m *ListenerMode) bool {
	return m == nil || m.TLS == nil && !m.H2C && m.RedirectPort == 0 && !m.ProxyProtocol
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Connections returns the number of open client connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting, closes idle keep-alive connections, and waits for in-flight requests to finish (each
// connection closes after its current response). When ctx ends first, remaining connections are closed forcibly and
// ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for ln := range s.lns {
		_ = ln.Close()
	}
	lls := make([]*loopListener, 0, len(s.lls))
	for _, ll := range s.lls {
		lls = append(lls, ll)
	}
	for c := range s.conns {
		c.wakeIfIdle()
	}
	for _, l := range s.loops {
		l.post(loopMsg{kind: msgShutdown})
	}
	s.mu.Unlock()
	for _, ll := range lls {
		ll.close() // the loops accept no more
	}
	defer func() {
		s.mu.Lock()
		s.stopLoopsLocked()
		s.mu.Unlock()
	}()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.forceClose() // the upstream conn too: a request waiting for a response head would not notice
		}
		s.mu.Unlock()
		<-done
		return fmt.Errorf("shutdown: forced close of active connections: %w", ctx.Err())
	}
}

// CloseListener stops serving ln and closes it. For a listener the event loops accept from, this takes it out of
// their epoll sets at once (closing ln directly stops the loops' accepting within 200 ms).
func (s *Server) CloseListener(ln net.Listener) error {
	s.mu.Lock()
	ll := s.lls[ln]
	s.mu.Unlock()
	if ll != nil {
		ll.close()
	}
	return ln.Close()
}

// ConnRejections counts client connections closed right after accept because a limit was reached, since the
// server was created.
type ConnRejections struct {
	MaxConnections      uint64 // ClientLimits.MaxConnections was reached
	MaxConnectionsPerIP uint64 // the client's address had ClientLimits.MaxConnectionsPerIP open
}

// Rejected returns the connections refused by the connection limits so far. Safe to call from any goroutine.
func (s *Server) Rejected() ConnRejections {
	return ConnRejections{
		MaxConnections:      s.limits.rejected[refusedTotal].Load(),
		MaxConnectionsPerIP: s.limits.rejected[refusedPerIP].Load(),
	}
}

// refuse closes a connection that a limit turned away, without reading from it, and logs it at most once per
// second per client address: an attacker opening thousands of connections must not turn into thousands of log
// lines.
func (s *Server) refuse(nc net.Conn, ip netip.Addr, r admission, lim ClientLimits) {
	_ = nc.Close()
	s.logRefusal(ip, r, lim)
}

func (s *Server) logRefusal(ip netip.Addr, r admission, lim ClientLimits) {
	if !s.limits.shouldLog(ip) {
		return
	}
	limit, key := lim.MaxConnections, "max_connections"
	if r == refusedPerIP {
		limit, key = lim.MaxConnectionsPerIP, "max_connections_per_ip"
	}
	s.log.Warn("connection refused: limit reached", "client", ip.String(), "limit", key, "max", limit,
		"refused_so_far", s.limits.rejected[r].Load())
}

// clientIP is the address a connection comes from, as conn.remote holds it (IPv4-mapped IPv6 unmapped); the zero
// Addr for connections that are not TCP, which the per-IP limit does not count.
func clientIP(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// admission is what connLimits.admit decided; the refusals index connLimits.rejected.
type admission uint8

const (
	refusedTotal admission = iota
	refusedPerIP
	admitted
)

const (
	ipShards = 64 // independent locks, so that accepts on several listeners rarely meet
	// maxLogMarks bounds the per-shard memory of when each address was last logged; beyond it, refusals from new
	// addresses are counted but not logged until old marks expire.
	maxLogMarks = 256
	logEvery    = time.Second
)

// connLimits counts open client connections, in total (one atomic) and per client address (a map sharded by a hash
// of the address, entries deleted when they reach zero, so memory follows the open connections). It is touched at
// accept and at close only, never per request. Every client connection is counted, even when its limit is 0, so
// that a reload that sets a limit sees the connections already open.
//
// Concurrency: all methods are safe for concurrent use. The total is checked by adding first and taking back, so
// two listeners accepting at the same instant at the limit may both refuse where one would have fit; never both
// admit beyond it.
type connLimits struct {
	total    atomic.Int64
	rejected [2]atomic.Uint64 // by admission (refusedTotal, refusedPerIP)
	seed     maphash.Seed
	now      func() time.Time // the clock of log throttling; a field so tests can own it
	shards   [ipShards]ipShard
}

type ipShard struct {
	mu   sync.Mutex
	open map[netip.Addr]int32 // open connections per address; no zero entries
	// logged is when a refusal from the address was last logged (UnixNano); at most maxLogMarks entries.
	logged map[netip.Addr]int64
}

func (l *connLimits) shard(ip netip.Addr) *ipShard {
	return &l.shards[maphash.Comparable(l.seed, ip)%ipShards]
}

// admit counts a new connection from ip when lim allows it, else counts the refusal. An admitted connection must
// be released exactly once, with the same ip. ip may be the zero Addr: then only the total applies.
func (l *connLimits) admit(ip netip.Addr, lim ClientLimits) admission {
	if n := l.total.Add(1); lim.MaxConnections > 0 && n > int64(lim.MaxConnections) {
		l.total.Add(-1)
		l.rejected[refusedTotal].Add(1)
		return refusedTotal
	}
	if !ip.IsValid() {
		return admitted
	}
	sh := l.shard(ip)
	sh.mu.Lock()
	n := sh.open[ip]
	if lim.MaxConnectionsPerIP > 0 && int(n) >= lim.MaxConnectionsPerIP {
		sh.mu.Unlock()
		l.total.Add(-1)
		l.rejected[refusedPerIP].Add(1)
		return refusedPerIP
	}
	if sh.open == nil {
		sh.open = make(map[netip.Addr]int32)
	}
	sh.open[ip] = n + 1
	sh.mu.Unlock()
	return admitted
}

// release uncounts a connection that admit admitted.
func (l *connLimits) release(ip netip.Addr) {
	l.total.Add(-1)
	if !ip.IsValid() {
		return
	}
	sh := l.shard(ip)
	sh.mu.Lock()
	if n := sh.open[ip] - 1; n > 0 {
		sh.open[ip] = n
	} else {
		delete(sh.open, ip)
	}
	sh.mu.Unlock()
}

// shouldLog reports whether a refusal from ip may be logged now: not when one was logged less than logEvery ago.
func (l *connLimits) shouldLog(ip netip.Addr) bool {
	now := l.now().UnixNano()
	sh := l.shard(ip)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if last, ok := sh.logged[ip]; ok && now-last < int64(logEvery) {
		return false
	}
	if sh.logged == nil {
		sh.logged = make(map[netip.Addr]int64)
	}
	if _, ok := sh.logged[ip]; !ok && len(sh.logged) >= maxLogMarks {
		for a, t := range sh.logged {
			if now-t >= int64(logEvery) {
				delete(sh.logged, a)
			}
		}
		if len(sh.logged) >= maxLogMarks {
			return false
		}
	}
	sh.logged[ip] = now
	return true
}
