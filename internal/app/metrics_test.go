package app_test

import (
	"fmt"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetrics: requests are counted per route, method and status class, survive a reload, and the instance states
// and service limits are exported.
func TestMetrics(t *testing.T) {
	up := newUpstream(t, "up", nil)
	cfg := fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
services:
  s:
    instances: ["%s"]
    timeouts: {connect: 1s}
    limits: {max_concurrent: 5}
routes:
  - name: api
    match: {path_prefix: /api/}
    service: s
  - name: other
    match: {path_prefix: /}
    return: {status: 404, body: "no\n"}
`, up.addr)
	g := startGateway(t, cfg)
	a, addrs := g.app, g.addrs
	cl := newClient(t)
	for range 3 {
		get(cl, "http://"+addrs[0]+"/api/x")
	}
	get(cl, "http://"+addrs[0]+"/nothing")
	if r := g.apply(cfg); r.err != nil { // same file: the counters must carry over
		t.Fatal(r.err)
	}
	get(cl, "http://"+addrs[0]+"/api/y")
	// A request is counted just after its last response byte is written, so the client can read the answer an
	// instant before the count moves: wait for it rather than race it.
	var body string
	waitUntil(t, func() bool {
		var err error
		if _, body, err = get(cl, "http://"+a.AdminAddress()+"/metrics"); err != nil {
			t.Fatal(err)
		}
		return strings.Contains(body, `fjord_request_duration_seconds_count{route="api",service="s"} 4`)
	})
	for _, want := range []string{
		`fjord_requests_total{code="2xx",method="GET",route="api",service="s"} 4`,
		`fjord_requests_total{code="4xx",method="GET",route="other",service=""} 1`,
		`fjord_request_duration_seconds_count{route="api",service="s"} 4`,
		`fjord_service_max_concurrent{service="s"} 5`,
		fmt.Sprintf(`fjord_instance_state{instance="%s",service="s",state="healthy"} 1`, up.addr),
		`fjord_config_reloads_total 1`,
		`fjord_upstream_header_duration_seconds_count{service="s"} 4`,
		`fjord_upstream_connect_duration_seconds_count{service="s"} 1`, // one keep-alive connection for all four
		`fjord_tls_handshakes_total{result="ok"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The whole exposition must parse as Prometheus text, and the histograms must be consistent.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	for _, name := range []string{"fjord_request_duration_seconds", "fjord_upstream_header_duration_seconds",
		"fjord_upstream_connect_duration_seconds"} {
		f := fams[name]
		if f == nil || f.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("%s: missing or not a histogram", name)
			continue
		}
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			if b := h.GetBucket(); len(b) == 0 || b[len(b)-1].GetCumulativeCount() > h.GetSampleCount() {
				t.Errorf("%s: buckets %v inconsistent with count %d", name, b, h.GetSampleCount())
			}
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}
