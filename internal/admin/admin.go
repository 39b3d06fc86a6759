// Package admin serves fjord's admin interface: the state of services and instances as JSON, a live status page
// over that JSON, and liveness and readiness endpoints for load balancers and orchestrators. It listens apart from traffic (127.0.0.1:9901 by
// default) and knows nothing about the engine: the app hands it a function that reports the current Status.
package admin

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Status is the state of a running gateway, as served at /status and printed by `fjord status`.
type Status struct {
	Version   string          `json:"version"`
	Config    string          `json:"config"` // where the configuration came from
	Reloads   int             `json:"reloads"`
	Started   time.Time       `json:"started"`
	Now       time.Time       `json:"now"`
	Ready     bool            `json:"ready"`
	Listeners []string        `json:"listeners"`
	Routes    []RouteStatus   `json:"routes"`
	Services  []ServiceStatus `json:"services"`
	// LatencyBounds are the upper bounds, in seconds, of the latency buckets that every Traffic counts (the last
	// bucket, +Inf, has no bound here).
	LatencyBounds []float64 `json:"latency_bounds_seconds,omitempty"`
}

// Traffic counts finished requests since a route or service was created; a reload that keeps the name keeps the
// counts, so readers compute rates from the difference between two Status reports (the status page does, once a
// second).
type Traffic struct {
	Requests   uint64  `json:"requests"`
	Status4xx  uint64  `json:"status_4xx"`
	Status5xx  uint64  `json:"status_5xx"`
	LatencySum float64 `json:"latency_sum_seconds"`
	// LatencyBuckets are cumulative: LatencyBuckets[i] requests took at most Status.LatencyBounds[i]; the last
	// entry (+Inf) equals the number of requests whose latency was observed.
	LatencyBuckets []uint64 `json:"latency_buckets"`
}

// Add adds o's counts to t (for a service's total over its routes). Buckets must share bounds.
func (t *Traffic) Add(o Traffic) {
	t.Requests += o.Requests
	t.Status4xx += o.Status4xx
	t.Status5xx += o.Status5xx
	t.LatencySum += o.LatencySum
	if len(t.LatencyBuckets) < len(o.LatencyBuckets) {
		t.LatencyBuckets = append(t.LatencyBuckets, make([]uint64, len(o.LatencyBuckets)-len(t.LatencyBuckets))...)
	}
	for i, n := range o.LatencyBuckets {
		t.LatencyBuckets[i] += n
	}
}

// RouteStatus describes one route in match order.
type RouteStatus struct {
	Name    string   `json:"name"`
	Hosts   []string `json:"hosts,omitempty"`
	Path    string   `json:"path"` // "prefix /api/", "exact /healthz", "regex ^/u/[0-9]+$"
	Service string   `json:"service,omitempty"`
	Return  int      `json:"return,omitempty"` // status of a fixed response
	Traffic *Traffic `json:"traffic,omitempty"`
	// Canary and Shadow describe the route's canary split and shadow mirror, when it has them (migration.go).
	Canary *CanaryStatus `json:"canary,omitempty"`
	Shadow *ShadowStatus `json:"shadow,omitempty"`
}

// ServiceStatus is one service with its bulkhead and instances.
type ServiceStatus struct {
	Name          string           `json:"name"`
	Balancer      string           `json:"balancer"`
	InFlight      int              `json:"in_flight"`
	Queued        int              `json:"queued"`
	MaxConcurrent int              `json:"max_concurrent"` // 0 = unlimited
	Instances     []InstanceStatus `json:"instances"`
	// Traffic sums the traffic of the routes that send to this service.
	Traffic    *Traffic `json:"traffic,omitempty"`
	Retries    uint64   `json:"retries"`     // attempts made again on another instance
	Rejections uint64   `json:"rejections"`  // refused by the bulkhead (queue full or timed out)
	NoInstance uint64   `json:"no_instance"` // answered 503 because no instance was usable
}

// InstanceStatus is one upstream instance. State is the first that applies of: "draining" (drained by an operator,
// requests still in flight), "drained" (drained, idle), "unhealthy" (failing active health
// checks), "ejected" (outlier, until EjectedUntil), "down" (refused a connection, skipped until DownUntil),
// "at-cap" (max_per_instance requests in flight), "warming" (slow start until WarmingUntil), "healthy".
type InstanceStatus struct {
	Address      string     `json:"address"`
	Backup       bool       `json:"backup,omitempty"`
	State        string     `json:"state"`
	InFlight     int64      `json:"in_flight"`
	Ejections    int        `json:"ejections"`
	Failures     int        `json:"consecutive_failures"`
	EjectedUntil *time.Time `json:"ejected_until,omitempty"`
	DownUntil    *time.Time `json:"down_until,omitempty"`
	WarmingUntil *time.Time `json:"warming_until,omitempty"`
}

// statusPage is the live status page: one self-contained HTML file (inline style and script, no external assets, so
// it works on an air-gapped host) that polls /status once a second and computes rates from successive reports.
//
//go:embed status.html
var statusPage []byte

// pagePolicy forbids the page from loading anything but /status from its own origin, which also keeps a future edit
// from quietly adding a CDN asset.
const pagePolicy = "default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

// Handler serves the admin endpoints:
//
//	GET /        the live status page (also at /ui)
//	GET /status  the Status as JSON
//	GET /live    200 while the process serves the admin interface
//	GET /ready   200 while fjord accepts traffic, 503 before it is ready and while it shuts down
//	GET /metrics the Prometheus metrics, when metrics is not nil
func Handler(status func() Status, metrics http.Handler) http.Handler {
	return NewHandler(status, metrics, Actions{})
}

// NewHandler is Handler plus the admin API actions in act (api.go):
//
//	POST /instances/drain    {"service": S, "address": A}: no new requests for the instance
//	POST /instances/undrain  the same, back into rotation
//	POST /reload             re-read the configuration (like SIGHUP) and answer with the result
//	GET  /config             the configuration in force and its version
//	GET  /explain            which route and instance a described request would get, and why
//
// When act.Token returns a token, every endpoint but /live, /ready and the page itself (static; it sends the token
// with its polls) requires it.
func NewHandler(status func() Status, metrics http.Handler, act Actions) http.Handler {
	mux := http.NewServeMux()
	addActions(mux, act)
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(status())
	})
	page := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", pagePolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(statusPage)
	}
	mux.HandleFunc("GET /{$}", page)
	mux.HandleFunc("GET /ui", page)
	mux.HandleFunc("GET /live", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if !status().Ready {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if act.Token == nil {
		return mux
	}
	return requireToken(mux, act.Token, map[string]bool{"/live": true, "/ready": true, "/": true, "/ui": true})
}

// Server is a running admin listener.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Start listens on addr and serves h until Shutdown.
func Start(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	s := &Server{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		ln:  ln, done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address the admin interface listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the admin listener and waits for its requests to finish (up to ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
