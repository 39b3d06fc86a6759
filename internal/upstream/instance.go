// Package upstream owns the connections to upstream instances: one keep-alive pool per instance, the live
// counters the balancer reads (in-flight requests, down state), and the Pool of a service that picks an instance.
//
// Nothing here knows the config format; callers build instances from their own options.
package upstream

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fjord-gw/fjord/internal/deadline"
	"github.com/fjord-gw/fjord/internal/http1"
)

// Options tune one instance's connections. The zero value is usable: defaults are filled in by NewInstance.
type Options struct {
	ConnectTimeout time.Duration // dial timeout; default 5s
	MaxIdle        int           // idle keep-alive connections kept; 0 = keep-alive off
	IdleTimeout    time.Duration // an idle connection older than this is closed instead of reused; default 60s
	ReadBufferSize int           // bytes per connection read buffer (bounds the response head); default 16 KiB
	// FailTimeout is how long an instance is skipped after a connect failure (nginx's fail_timeout with
	// max_fails=1); default 10s; negative: never skipped (a service with active health checks lets them decide).
	FailTimeout time.Duration
	// TLS, when non-nil, makes every connection a TLS client connection with this config; nil: plain TCP. An empty
	// ServerName means the host part of the instance address (which verifies IP SANs when the host is an IP). The
	// config is shared, never modified: a ClientSessionCache in it gives session resumption across connections and
	// instances. Pointer comparison is what keeps Options comparable; callers that rebuild the config on every
	// reload key instances on a fingerprint of its inputs instead.
	TLS *tls.Config
}

func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = 16 << 10
	}
	if o.FailTimeout == 0 {
		o.FailTimeout = 10 * time.Second
	}
	return o
}

// Instance is one upstream address with its idle connection pool. It is safe for concurrent use. The idle pool is
// guarded by a mutex of its own, so instances never contend with each other; counters are atomics read by pickers.
type Instance struct {
	Addr   string
	Weight int
	Backup bool

	opts   Options
	dialer net.Dialer
	tls    *tls.Config // opts.TLS with ServerName filled in; nil: plain
	now    func() time.Time

	active    atomic.Int64 // in-flight requests
	downUntil atomic.Int64 // unix nanoseconds; skipped by pickers until then
	unhealthy atomic.Bool  // set by active health checks; instances start healthy
	healthyAt atomic.Int64 // unix nanoseconds of the last unhealthy -> healthy transition; 0 if none
	drained   atomic.Bool  // taken out of rotation by an operator (drain.go)

	mu     sync.Mutex
	idle   []*Conn // LIFO: the most recently used connection is the warmest
	closed bool
}

// NewInstance returns an instance for addr ("host:port"). It does not dial.
func NewInstance(addr string, weight int, backup bool, opt Options) *Instance {
	opt = opt.withDefaults()
	return &Instance{
		Addr: addr, Weight: weight, Backup: backup,
		opts:   opt,
		dialer: net.Dialer{KeepAlive: 30 * time.Second}, // Dial bounds each connect by its context
		tls:    clientTLS(opt.TLS, addr),
		now:    time.Now,
	}
}

// clientTLS returns c with ServerName set to the host of addr when c leaves it empty. The clone shares c's session
// cache.
func clientTLS(c *tls.Config, addr string) *tls.Config {
	if c == nil || c.ServerName != "" {
		return c
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	c = c.Clone()
	c.ServerName = host
	return c
}

// Active is the number of requests in flight on this instance.
func (in *Instance) Active() int64 { return in.active.Load() }

// Down reports whether the instance is skipped at time now because of a recent connect failure.
func (in *Instance) Down(now int64) bool { return in.downUntil.Load() > now }

// MarkFailed skips the instance for its fail timeout.
func (in *Instance) MarkFailed() {
	if in.opts.FailTimeout > 0 {
		in.downUntil.Store(in.now().Add(in.opts.FailTimeout).UnixNano())
	}
}

// MarkUp clears a failure mark (a connection succeeded).
func (in *Instance) MarkUp() {
	if in.downUntil.Load() != 0 {
		in.downUntil.Store(0)
	}
}

// SetHealthy records the verdict of the active health checks.
func (in *Instance) SetHealthy(ok bool) {
	if was := in.unhealthy.Swap(!ok); was && ok {
		in.healthyAt.Store(in.now().UnixNano())
		in.MarkUp() // passing checks outweigh an earlier refused connection
	}
}

// Healthy reports the active health checks' verdict (true when no checks run).
func (in *Instance) Healthy() bool { return !in.unhealthy.Load() }

// Begin and End bracket one request on the instance (in-flight accounting for least_conn and p2c).
func (in *Instance) Begin() { in.active.Add(1) }
func (in *Instance) End()   { in.active.Add(-1) }

// Get returns an idle keep-alive connection, or dials a new one. The returned connection's Reused field tells which:
// a reused connection may have been closed by the upstream meanwhile, and the caller may retry on a fresh one.
// Get blocks only while dialling, at most ConnectTimeout or until ctx is done.
// connect overrides the instance's ConnectTimeout when positive (a route with its own connect timeout).
func (in *Instance) Get(ctx context.Context, connect time.Duration) (*Conn, error) {
	if c := in.popIdle(); c != nil {
		return c, nil
	}
	return in.Dial(ctx, connect)
}

// Dial always opens a new connection, within connect when positive, else the instance's ConnectTimeout; with TLS
// the handshake counts towards that limit too, and a failed handshake is a DialError like a refused connect (the
// request never reached the upstream). Dial works on a closed instance too: a request that picked the instance from
// the snapshot a reload just replaced still completes, and Put closes its connection afterwards.
func (in *Instance) Dial(ctx context.Context, connect time.Duration) (*Conn, error) {
	start := in.now()
	nc, err := in.connect(ctx, connect)
	if err != nil {
		return nil, err
	}
	c := &Conn{Conn: deadline.Conn{Conn: nc}, inst: in, Dialed: in.now().Sub(start)}
	c.R = http1.NewReader(&c.Conn, in.opts.ReadBufferSize)
	return c, nil
}

// DialProbe opens a connection the way requests do — TLS included when the service has it — for an active health
// check, which owns and closes it. It is never pooled.
func (in *Instance) DialProbe(ctx context.Context) (net.Conn, error) {
	return in.connect(ctx, 0)
}

// connect dials the instance and, with upstream TLS, completes the handshake; one deadline bounds both.
func (in *Instance) connect(ctx context.Context, connect time.Duration) (net.Conn, error) {
	if connect <= 0 {
		connect = in.opts.ConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, connect)
	defer cancel()
	nc, err := in.dialer.DialContext(ctx, "tcp", in.Addr)
	if err != nil {
		return nil, &DialError{Addr: in.Addr, Err: err}
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if in.tls != nil {
		tc := tls.Client(nc, in.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, &DialError{Addr: in.Addr, Err: fmt.Errorf("tls handshake with %s: %w", in.tls.ServerName, err)}
		}
		nc = tc
	}
	return nc, nil
}

func (in *Instance) popIdle() *Conn {
	if in.opts.MaxIdle <= 0 {
		return nil
	}
	cutoff := in.now().Add(-in.opts.IdleTimeout)
	var stale []*Conn
	in.mu.Lock()
	var c *Conn
	for n := len(in.idle); n > 0; n = len(in.idle) {
		c = in.idle[n-1]
		in.idle[n-1] = nil
		in.idle = in.idle[:n-1]
		if c.idleSince.After(cutoff) {
			break
		}
		stale = append(stale, c)
		c = nil
	}
	in.mu.Unlock()
	for _, s := range stale {
		_ = s.Close()
	}
	if c != nil {
		c.Reused = true
	}
	return c
}

// Put returns a connection whose last exchange ended cleanly (response fully read, request fully sent, no
// Connection: close). Anything else must be closed with Conn.Close instead.
func (in *Instance) Put(c *Conn) {
	if len(c.R.Buffered()) != 0 {
		// Bytes after the response: the upstream broke framing; never reuse.
		_ = c.Close()
		return
	}
	// The deadlines set for the last exchange stay on the socket: nothing reads an idle connection, and every
	// exchange sets its own before its first operation. Clearing them here would cost a syscall-free but not
	// free timer update per request.
	c.Idle, c.Hard = 0, time.Time{}
	c.idleSince = in.now()
	in.mu.Lock()
	if in.closed || len(in.idle) >= in.opts.MaxIdle {
		in.mu.Unlock()
		_ = c.Close()
		return
	}
	in.idle = append(in.idle, c)
	in.mu.Unlock()
}

// IdleConns is the number of pooled idle connections.
func (in *Instance) IdleConns() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.idle)
}

// Close closes the idle connections and makes later Puts close theirs; in-flight requests finish normally.
func (in *Instance) Close() {
	in.mu.Lock()
	idle := in.idle
	in.idle = nil
	in.closed = true
	in.mu.Unlock()
	for _, c := range idle {
		_ = c.Close()
	}
}

// DialError is a failure to connect to an instance. Requests that failed this way never reached the upstream.
type DialError struct {
	Addr string
	Err  error
}

func (e *DialError) Error() string { return fmt.Sprintf("connect %s: %v", e.Addr, e.Err) }
func (e *DialError) Unwrap() error { return e.Err }
