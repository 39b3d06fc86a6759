package app

import (
	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/metrics"
)

// addTraffic fills in the request counters of st's routes and services from b's route and service stats.
//
// It reads atomics only, off the request path (the status page asks once a second).
func addTraffic(st *admin.Status, b *Built) {
	byRoute, bounds := routeTraffic(b)
	st.LatencyBounds = bounds
	bySvc := map[string]*admin.Traffic{}
	for i := range st.Routes {
		r := &st.Routes[i]
		t, ok := byRoute[r.Name]
		if !ok {
			continue
		}
		r.Traffic = t
		if r.Service == "" {
			continue
		}
		if bySvc[r.Service] == nil {
			bySvc[r.Service] = &admin.Traffic{}
		}
		bySvc[r.Service].Add(*t)
	}
	for i := range st.Services {
		s := &st.Services[i]
		s.Traffic = bySvc[s.Name]
		if s.Traffic == nil {
			s.Traffic = &admin.Traffic{LatencyBuckets: make([]uint64, len(bounds)+1)}
		}
		if ss := b.svcStats[s.Name]; ss != nil {
			s.Retries, s.Rejections, s.NoInstance = ss.Retries.Load(), ss.Rejections.Load(), ss.NoInstance.Load()
		}
	}
}

// routeTraffic reads every route's counters by route name, with the histogram's bucket bounds in seconds.
func routeTraffic(b *Built) (map[string]*admin.Traffic, []float64) {
	out := make(map[string]*admin.Traffic, len(b.Config.Routes))
	for _, r := range b.Config.Routes {
		st := b.routeStats[r.Name]
		if st == nil {
			continue
		}
		t := st.Totals()
		out[r.Name] = &admin.Traffic{Requests: t.Requests, Status4xx: t.Status4xx, Status5xx: t.Status5xx,
			LatencySum: t.LatencySumSeconds, LatencyBuckets: t.LatencyBuckets}
	}
	return out, metrics.LatencyBounds()
}
