package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	wg      sync.WaitGroup // connection goroutines

	headBufs, writeBufs, bodyBufs bufferPool
}

// NewServer returns a server with an initial configuration.
func NewServer(cfg *Config, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: log, conns: map[*conn]struct{}{}, lns: map[net.Listener]struct{}{}}
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
		c := newConn(s, nc, scheme)
		c.listener = name
		if mode != nil {
			c.setMode(mode())
		}
		if !s.track(c) {
			_ = nc.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
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
	for c := range s.conns {
		c.wakeIfIdle()
	}
	s.mu.Unlock()

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
