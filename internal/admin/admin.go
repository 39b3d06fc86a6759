// Package admin serves fjord's admin interface: the state of services and instances as JSON, and liveness and
// readiness endpoints for load balancers and orchestrators. It listens apart from traffic (127.0.0.1:9901 by
// default) and knows nothing about the engine: the app hands it a function that reports the current Status.
package admin

import (
	"context"
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
}

// RouteStatus describes one route in match order.
type RouteStatus struct {
	Name    string   `json:"name"`
	Hosts   []string `json:"hosts,omitempty"`
	Path    string   `json:"path"` // "prefix /api/", "exact /healthz", "regex ^/u/[0-9]+$"
	Service string   `json:"service,omitempty"`
	Return  int      `json:"return,omitempty"` // status of a fixed response
}

// ServiceStatus is one service with its bulkhead and instances.
type ServiceStatus struct {
	Name          string           `json:"name"`
	Balancer      string           `json:"balancer"`
	InFlight      int              `json:"in_flight"`
	Queued        int              `json:"queued"`
	MaxConcurrent int              `json:"max_concurrent"` // 0 = unlimited
	Instances     []InstanceStatus `json:"instances"`
}

// InstanceStatus is one upstream instance. State is the first that applies of: "unhealthy" (failing active health
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

// Handler serves the admin endpoints:
//
//	GET /status  the Status as JSON
//	GET /live    200 while the process serves the admin interface
//	GET /ready   200 while fjord accepts traffic, 503 before it is ready and while it shuts down
//	GET /metrics the Prometheus metrics, when metrics is not nil
func Handler(status func() Status, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(status())
	})
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
	return mux
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
