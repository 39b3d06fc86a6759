// Package demo runs the small upstream services behind `fjord demo`, so the
// gateway can be tried without deploying anything.
//
// Every instance listens on its own 127.0.0.1 ephemeral port and, while its
// chaos mode is ok (the default, see below), answers every path with 200 and
// a JSON description of the request:
//
//	{"service":"auth","instance":"auth-1","method":"GET","path":"/auth/login","query":"",
//	 "request_id":"<X-Request-Id>","forwarded_for":"<X-Forwarded-For>",
//	 "forwarded_host":"<X-Forwarded-Host>","forwarded_proto":"<X-Forwarded-Proto>","host":"<Host>"}
//
// The response also carries an X-Demo-Instance header. A few paths under
// the service's own prefix behave differently, to show off timeouts,
// retries and streaming:
//
//	/<svc>/slow?ms=N     waits N ms (at most 10 s) before answering; stops early if the client goes away
//	/<svc>/status/NNN    answers with status NNN (200-599) and the usual JSON where a body is allowed
//	/<svc>/echo          streams the request body back as it arrives, same Content-Type
//	/<svc>/headers       answers with all request headers (plus "Host") as a JSON object
//
// The monolith and wishlist services also serve the Wishlist module at WishlistPrefix (wishlist.go), each in its
// own way, so that a gateway can shadow and canary one against the other.
//
// # Chaos
//
// Each instance can be told to misbehave, to show how the gateway contains a
// failing service: see Mode for the modes (ok, slow, error, hang, crash,
// flaky). The Cluster runs one more server, the chaos control, on its own
// loopback port (ControlAddr), so it stays reachable whatever the services
// do:
//
//	GET|POST /chaos                                   every instance's mode
//	GET|POST /chaos/<svc>                             the service's instances and their modes
//	GET|POST /chaos/<svc>?mode=M[&ms=N][&instance=I]  switch all its instances (or only I) to mode M
//
// Each answers with one JSON line describing the state after the change,
// for example
//
//	{"service":"wishlist","instances":[{"instance":"wishlist-1","addr":"127.0.0.1:40123","mode":"hang"},…]}
//
// ms sets the delay of slow mode (default 2000, at most 10000). crash closes
// the instances' listeners and connections; any other mode listens again on
// the same address. SetChaos does the same from Go.
//
// These are plain net/http servers: they are the demo's upstreams, not part
// of the gateway's request path.
package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Instance names one running demo server.
type Instance struct {
	Service string // e.g. "auth"
	Name    string // e.g. "auth-1"
	Addr    string // e.g. "127.0.0.1:40123"; kept across crash and restart
}

// instance is one demo server and its chaos setting.
type instance struct {
	Instance
	h   *handler
	srv *http.Server // nil while crashed; guarded by Cluster.mu
}

// Cluster owns the demo servers started by Start and the chaos control
// server. Its methods are safe for concurrent use.
type Cluster struct {
	insts       []*instance // fixed after Start
	base        context.Context
	cancel      context.CancelFunc // cancels every request context, so slow and hanging handlers end
	control     *http.Server
	controlAddr string

	// mu serialises chaos changes and guards closed and every instance's srv,
	// so a restart never races shutdown: a server started under mu before
	// shutdown is closed by it, and none starts after.
	mu     sync.Mutex
	closed bool

	stop    chan struct{} // closed by shutdown; ends the ctx watcher
	once    sync.Once
	err     error          // set once by shutdown
	serveWG sync.WaitGroup // Serve loops and the ctx watcher
	connWG  sync.WaitGroup // open connections, counted by ConnState
}

// maxSlow bounds /slow and slow mode so a demo request can never pin a
// goroutine for long.
const maxSlow = 10 * time.Second

// Start serves len(services) × perService demo servers and the chaos
// control server. They stop when Close is called or ctx is done; call Close
// either way to wait for them. Service names must be unique, non-empty and
// free of '/', '?' and '#'.
func Start(ctx context.Context, services []string, perService int) (*Cluster, error) {
	if err := validate(services, perService); err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(ctx)
	c := &Cluster{base: base, cancel: cancel, stop: make(chan struct{})}
	for _, svc := range services {
		for i := 1; i <= perService; i++ {
			in := &instance{Instance: Instance{Service: svc, Name: fmt.Sprintf("%s-%d", svc, i)}}
			in.h = &handler{inst: in.Instance, chaos: newChaosState()}
			c.insts = append(c.insts, in)
			if err := c.listen(in, "127.0.0.1:0"); err != nil {
				_ = c.Close()
				return nil, err
			}
		}
	}
	if err := c.startControl(); err != nil {
		_ = c.Close()
		return nil, err
	}
	c.serveWG.Add(1)
	go func() {
		defer c.serveWG.Done()
		select {
		case <-ctx.Done():
			c.once.Do(c.shutdown)
		case <-c.stop:
		}
	}()
	return c, nil
}

func validate(services []string, perService int) error {
	if len(services) == 0 {
		return errors.New("demo: no services")
	}
	if perService < 1 {
		return fmt.Errorf("demo: %d instances per service, need at least 1", perService)
	}
	seen := make(map[string]bool, len(services))
	for _, s := range services {
		if s == "" || strings.ContainsAny(s, "/?#") {
			return fmt.Errorf("demo: invalid service name %q", s)
		}
		if seen[s] {
			return fmt.Errorf("demo: duplicate service name %q", s)
		}
		seen[s] = true
	}
	return nil
}

// listen starts in's server on addr ("127.0.0.1:0" at Start, the instance's
// own address after a crash). Called from Start before the cluster is
// shared, or with c.mu held.
func (c *Cluster) listen(in *instance, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("demo: listen for %s on %s: %w", in.Name, addr, err)
	}
	if in.Addr == "" { // first start; a restart keeps the address it asked for
		in.Addr = ln.Addr().String()
		in.h.inst.Addr = in.Addr
	}
	in.srv = c.newServer(in.h)
	c.serveOn(in.srv, ln)
	return nil
}

// newServer returns a server for h whose requests end with the cluster and
// whose connections Close waits for.
func (c *Cluster) newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return c.base },
		// Counting connections lets Close wait for the goroutines net/http
		// starts per connection, not only for the accept loop. StateNew runs
		// in the Serve goroutine, so every Add happens before Close's Wait.
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				c.connWG.Add(1)
			case http.StateClosed, http.StateHijacked:
				c.connWG.Done()
			}
		},
	}
}

// serveOn runs srv on ln in a goroutine joined by Close. Callers hold c.mu
// or run before the cluster is shared, so the Add precedes Close's Wait.
func (c *Cluster) serveOn(srv *http.Server, ln net.Listener) {
	c.serveWG.Add(1)
	go func() {
		defer c.serveWG.Done()
		_ = srv.Serve(ln) // always ErrServerClosed or an accept error after Close
	}()
}

// Instances lists the demo servers in service order, then instance order,
// including crashed ones. The returned slice is a copy.
func (c *Cluster) Instances() []Instance {
	out := make([]Instance, len(c.insts))
	for i, in := range c.insts {
		out[i] = in.Instance // Addr never changes after Start
	}
	return out
}

// ControlAddr is the address of the chaos control server.
func (c *Cluster) ControlAddr() string { return c.controlAddr }

// Close stops every server, ends in-flight requests (hanging ones
// included) and blocks until all goroutines the cluster started have
// returned. Calling it again is harmless.
func (c *Cluster) Close() error {
	c.once.Do(c.shutdown)
	c.serveWG.Wait()
	c.connWG.Wait()
	return c.err
}

func (c *Cluster) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	close(c.stop)
	var errs []error
	for _, in := range c.insts {
		if in.srv == nil {
			continue
		}
		if err := in.srv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("demo: close %s: %w", in.Name, err))
		}
	}
	if c.control != nil {
		if err := c.control.Close(); err != nil {
			errs = append(errs, fmt.Errorf("demo: close chaos control: %w", err))
		}
	}
	// Cancel only after the connections are closed, so a handler released
	// by it can no longer send an answer.
	c.cancel()
	c.err = errors.Join(errs...)
}
