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

// Histogram counts durations in the latency buckets. The zero value is ready; Observe is a few atomic adds.
type Histogram struct {
	buckets  [len(latencyBounds) + 1]atomic.Uint64
	sumNanos atomic.Int64
}

// Observe counts one duration. Safe for concurrent use; a nil *Histogram ignores it.
func (h *Histogram) Observe(d time.Duration) {
	if h == nil {
		return
	}
	n := int64(d)
	i := 0
	for i < len(latencyBoundsNanos) && n > latencyBoundsNanos[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNanos.Add(n)
}

// read returns the histogram in Prometheus' form: total count, sum in seconds, cumulative counts by upper bound.
func (h *Histogram) read() (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(latencyBounds))
	for i := range h.buckets {
		count += h.buckets[i].Load()
		if i < len(latencyBounds) {
			buckets[latencyBounds[i]] = count
		}
	}
	return count, float64(h.sumNanos.Load()) / 1e9, buckets
}

// RouteStats are one route's counters. The zero value is ready; a nil *RouteStats ignores observations.
type RouteStats struct {
	requests [len(methodNames)][6]atomic.Uint64 // by method and status class (0: other, 1-5: 1xx-5xx)
	latency  Histogram
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
	s.latency.Observe(d)
}

// ServiceStats are one service's counters kept by the proxy.
type ServiceStats struct {
	Retries    atomic.Uint64 // attempts made again on another instance
	Rejections atomic.Uint64 // requests refused by the service's bulkhead (queue full or timed out)
	NoInstance atomic.Uint64 // requests answered 503 because no instance was usable
	Connect    Histogram     // time to open a new connection to an instance (TLS handshake included)
	Header     Histogram     // time from the request sent to the response head received (time to first byte)
}

// Totals is a consistent-enough read of a route's counters for status pages (each counter is read atomically; the
// set is not a snapshot).
type Totals struct {
	Requests, Status4xx, Status5xx uint64
	LatencySumSeconds              float64
	LatencyBuckets                 []uint64 // cumulative, one per LatencyBounds entry plus +Inf
}

// LatencyBounds are the upper bounds of the latency histogram's buckets in seconds (the last bucket, +Inf, is implied).
func LatencyBounds() []float64 { return append([]float64(nil), latencyBounds[:]...) }

// Totals reads the counters.
func (s *RouteStats) Totals() Totals {
	var t Totals
	if s == nil {
		t.LatencyBuckets = make([]uint64, len(latencyBounds)+1)
		return t
	}
	for m := range s.requests {
		for cl := range s.requests[m] {
			n := s.requests[m][cl].Load()
			t.Requests += n
			switch cl {
			case 4:
				t.Status4xx += n
			case 5:
				t.Status5xx += n
			}
		}
	}
	t.LatencyBuckets = make([]uint64, len(s.latency.buckets))
	var cum uint64
	for i := range s.latency.buckets {
		cum += s.latency.buckets[i].Load()
		t.LatencyBuckets[i] = cum
	}
	t.LatencySumSeconds = float64(s.latency.sumNanos.Load()) / 1e9
	return t
}
