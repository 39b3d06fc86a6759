// Package demo runs the small upstream services behind `fjord demo`, so the
// gateway can be tried without deploying anything.
//
// Every instance listens on its own 127.0.0.1 ephemeral port and answers
// every path with 200 and a JSON description of the request:
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
	Addr    string // e.g. "127.0.0.1:40123"
}

// Cluster owns the demo servers started by Start. Its methods are safe for
// concurrent use.
type Cluster struct {
	instances []Instance
	servers   []*http.Server
	cancel    context.CancelFunc // cancels every request context, so slow handlers end

	stop    chan struct{} // closed by shutdown; ends the ctx watcher
	once    sync.Once
	err     error          // set once by shutdown
	serveWG sync.WaitGroup // Serve loops and the ctx watcher
	connWG  sync.WaitGroup // open connections, counted by ConnState
}

// maxSlow bounds /slow so a demo request can never pin a goroutine for long.
const maxSlow = 10 * time.Second

// Start serves len(services) × perService demo servers. They stop when
// Close is called or ctx is done; call Close either way to wait for them.
// Service names must be unique, non-empty and free of '/'.
func Start(ctx context.Context, services []string, perService int) (*Cluster, error) {
	if err := validate(services, perService); err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(ctx)
	c := &Cluster{cancel: cancel, stop: make(chan struct{})}
	for _, svc := range services {
		for i := 1; i <= perService; i++ {
			inst := Instance{Service: svc, Name: fmt.Sprintf("%s-%d", svc, i)}
			if err := c.serve(base, inst); err != nil {
				_ = c.Close()
				return nil, err
			}
		}
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

// serve starts one instance. Called only from Start, before the cluster is shared.
func (c *Cluster) serve(base context.Context, inst Instance) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: listen for %s: %w", inst.Name, err)
	}
	inst.Addr = ln.Addr().String()
	srv := &http.Server{
		Handler:           &handler{inst: inst},
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
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
	c.instances = append(c.instances, inst)
	c.servers = append(c.servers, srv)
	c.serveWG.Add(1)
	go func() {
		defer c.serveWG.Done()
		_ = srv.Serve(ln) // always ErrServerClosed or an accept error after Close
	}()
	return nil
}

// Instances lists the running servers in service order, then instance order.
// The returned slice is a copy.
func (c *Cluster) Instances() []Instance {
	return append([]Instance(nil), c.instances...)
}

// Close stops every server, ends in-flight requests and blocks until all
// goroutines the cluster started have returned. Calling it again is harmless.
func (c *Cluster) Close() error {
	c.once.Do(c.shutdown)
	c.serveWG.Wait()
	c.connWG.Wait()
	return c.err
}

func (c *Cluster) shutdown() {
	close(c.stop)
	c.cancel()
	var errs []error
	for i, srv := range c.servers {
		if err := srv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("demo: close %s: %w", c.instances[i].Name, err))
		}
	}
	c.err = errors.Join(errs...)
}
