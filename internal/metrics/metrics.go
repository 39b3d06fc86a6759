// Package metrics counts what the proxy does per route and exports it, with the gateway's other state, in the
// Prometheus format.
//
// The request path only touches atomics in a RouteStats that the route holds (no map lookups, no labels, no locks,
// no allocation); label sets are built at scrape time by a Collector that reads those counters and a snapshot of the
// gateway's state. Counters live as long as their route's name: a reload that keeps a route keeps its RouteStats, so
// Prometheus counters never go backwards.
package metrics

import (
	"sync/atomic"
	"time"
)

// Method classes counted separately; other methods share "other".
var methodNames = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"}

func methodIndex(m []byte) int {
	switch string(m) {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "DELETE":
		return 4
	case "PATCH":
		return 5
	case "OPTIONS":
		return 6
	}
	return 7
}

// Upper bounds of the latency histogram buckets, in seconds (the last bucket is +Inf).
var latencyBounds = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

var latencyBoundsNanos = func() (b [len(latencyBounds)]int64) {
	for i, s := range latencyBounds {
		b[i] = int64(s * 1e9)
	}
	return b
}()

// RouteStats are one route's counters. The zero value is ready; a nil *RouteStats ignores observations.
type RouteStats struct {
	requests [len(methodNames)][6]atomic.Uint64 // by method and status class (0: other, 1-5: 1xx-5xx)
	buckets  [len(latencyBounds) + 1]atomic.Uint64
	sumNanos atomic.Int64
}

// Observe counts one finished request. Safe for concurrent use; a few atomic adds.
func (s *RouteStats) Observe(method []byte, status int, d time.Duration) {
	if s == nil {
		return
	}
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	s.requests[methodIndex(method)][class].Add(1)
	n := int64(d)
	i := 0
	for i < len(latencyBoundsNanos) && n > latencyBoundsNanos[i] {
		i++
	}
	s.buckets[i].Add(1)
	s.sumNanos.Add(n)
}

// ServiceStats are one service's counters kept by the proxy.
type ServiceStats struct {
	Retries    atomic.Uint64 // attempts made again on another instance
	Rejections atomic.Uint64 // requests refused by the service's bulkhead (queue full or timed out)
	NoInstance atomic.Uint64 // requests answered 503 because no instance was usable
}
