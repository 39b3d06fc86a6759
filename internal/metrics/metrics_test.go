package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestObserveAndCollect(t *testing.T) {
	var rs RouteStats
	rs.Observe([]byte("GET"), 200, 300*time.Microsecond)
	rs.Observe([]byte("GET"), 503, 2*time.Second)
	rs.Observe([]byte("BREW"), 418, time.Millisecond)
	var nilStats *RouteStats
	nilStats.Observe([]byte("GET"), 200, time.Second) // must not panic
	svc := &ServiceStats{}
	svc.Retries.Add(2)
	c := NewCollector(func() Snapshot {
		return Snapshot{
			Routes:   []RouteInfo{{Name: "r", Service: "s", Stats: &rs}},
			Services: []ServiceInfo{{Name: "s", Limit: 9, Stats: svc, Instances: []InstanceInfo{{Address: "a:1", State: "ejected"}}}},
		}
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	want := `
# HELP fjord_requests_total Requests finished, by route, service, method and status class.
# TYPE fjord_requests_total counter
fjord_requests_total{code="2xx",method="GET",route="r",service="s"} 1
fjord_requests_total{code="4xx",method="other",route="r",service="s"} 1
fjord_requests_total{code="5xx",method="GET",route="r",service="s"} 1
# HELP fjord_upstream_retries_total Attempts made again on another instance.
# TYPE fjord_upstream_retries_total counter
fjord_upstream_retries_total{service="s"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fjord_requests_total", "fjord_upstream_retries_total"); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "fjord_instance_state")
	if err != nil || n != len(instanceStates) {
		t.Fatalf("instance_state series: %d, %v", n, err)
	}
	// The histogram puts 300µs in the 0.5ms bucket and 2s in the 2.5s bucket.
	if rs.latency.buckets[0].Load() != 1 || rs.latency.buckets[11].Load() != 1 {
		t.Fatalf("buckets: %v %v", rs.latency.buckets[0].Load(), rs.latency.buckets[11].Load())
	}
}

func BenchmarkObserve(b *testing.B) {
	var rs RouteStats
	m := []byte("GET")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rs.Observe(m, 200, 750*time.Microsecond)
		}
	})
}

func BenchmarkObserveSerial(b *testing.B) {
	var rs RouteStats
	m := []byte("GET")
	b.ReportAllocs()
	for b.Loop() {
		rs.Observe(m, 200, 750*time.Microsecond)
	}
}
