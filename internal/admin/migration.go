package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// CanaryStatus is a route's canary: the share of its requests sent to the canary service and how each side did.
type CanaryStatus struct {
	Service    string    `json:"service"` // the new service
	Weight     float64   `json:"weight"`  // percent of requests sent to Service
	RolledBack bool      `json:"rolled_back"`
	Reason     string    `json:"reason,omitempty"` // why the guard rolled it back
	Changed    time.Time `json:"changed"`          // when the weight last changed
	Steps      []float64 `json:"steps,omitempty"`  // the step-up schedule, percent
	Old        CanaryArm `json:"old"`
	New        CanaryArm `json:"new"`
}

// CanaryArm is one side of a canary: requests since the canary started, and the guard window's counts.
type CanaryArm struct {
	Service        string  `json:"service"`
	Requests       uint64  `json:"requests"`
	WindowRequests uint64  `json:"window_requests"`
	WindowErrors   uint64  `json:"window_errors"`
	ErrorRate      float64 `json:"window_error_rate"`
	P99Seconds     float64 `json:"window_p99_seconds"`
}

// ShadowStatus is a route's shadow: how many requests were mirrored and how the answers compared.
type ShadowStatus struct {
	Service     string `json:"service"`
	Mirrored    uint64 `json:"mirrored"`
	Match       uint64 `json:"match"`
	Mismatch    uint64 `json:"mismatch"`
	Errors      uint64 `json:"errors"`       // the shadow exchange failed
	Dropped     uint64 `json:"dropped"`      // over the shadow's max_concurrent
	NotCompared uint64 `json:"not_compared"` // a response body streamed or was larger than max_body_bytes
	Skipped     uint64 `json:"skipped"`      // the request body streamed or was larger than max_body_bytes
	LastError   string `json:"last_error,omitempty"`
}

// ShadowReport is the answer of GET /shadow: the counters and the latest mismatches with both sides (newest first).
type ShadowReport struct {
	Route   string       `json:"route"`
	Shadow  ShadowStatus `json:"shadow"`
	Samples any          `json:"samples"`
}

// addMigration registers the canary and shadow endpoints:
//
//	POST /canary?route=R&weight=W   set the share (percent) of R's requests sent to its canary service
//	GET  /shadow?route=R            R's shadow counters and mismatch samples
func addMigration(mux *http.ServeMux, act Actions) {
	if act.Canary != nil {
		mux.HandleFunc("POST /canary", func(w http.ResponseWriter, r *http.Request) {
			route, ws := r.FormValue("route"), r.FormValue("weight")
			weight, err := strconv.ParseFloat(ws, 64)
			if route == "" || err != nil {
				writeError(w, fmt.Errorf("%w: route and weight (percent, 0-100) are required, got route=%q weight=%q",
					ErrBadRequest, route, ws))
				return
			}
			res, err := act.Canary(route, weight)
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, res)
		})
	}
	if act.Shadow != nil {
		mux.HandleFunc("GET /shadow", func(w http.ResponseWriter, r *http.Request) {
			route := r.URL.Query().Get("route")
			if route == "" {
				writeError(w, fmt.Errorf("%w: route is required", ErrBadRequest))
				return
			}
			res, err := act.Shadow(route)
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, res)
		})
	}
}
