package proxy

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/tracing"
	"github.com/fjord-gw/fjord/internal/tracing/tracingtest"
)

// TestTraceExport runs requests through a proxy with a tracer exporting to a real OTLP/HTTP receiver, on both
// engines, and checks that the exported span joins the traceparent sent upstream, carries the request's attributes,
// and that sampling follows the client's flag, else the ratio.
func TestTraceExport(t *testing.T) {
	const clientTrace, clientSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	echo := func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/fail") {
			w.WriteHeader(503)
		}
		io.WriteString(w, r.Header.Get("Traceparent")+"|"+r.Header.Get("X-Request-Id"))
	}
	ups := []string{hostOf(upstreamServer(t, echo)), hostOf(upstreamServer(t, echo))}
	tests := []struct {
		name     string
		ratio    float64
		path     string
		hdr      string
		exported bool   // a span reaches the receiver
		flag     string // the sampled flag sent upstream
		parent   string // the exported span's parent id ("" = root)
		status   int
		retries  string
	}{
		{"fjord starts the trace", 1, "/a/x", "", true, "01", "", 200, "0"},
		{"child of the client's sampled trace", 0, "/a/x",
			"traceparent: 00-" + clientTrace + "-" + clientSpan + "-01\r\n", true, "01", clientSpan, 200, "0"},
		{"client's unsampled flag is honoured", 1, "/a/x",
			"traceparent: 00-" + clientTrace + "-" + clientSpan + "-00\r\n", false, "00", "", 200, ""},
		{"ratio 0 exports nothing", 0, "/a/x", "", false, "00", "", 200, ""},
		{"malformed traceparent starts a new trace", 1, "/a/x", "traceparent: 00-zz-b7-01\r\n", true, "01", "", 200, "0"},
		{"5xx after a retry", 1, "/a/fail", "", true, "01", "", 503, "1"},
	}
	for _, engine := range []Engine{EngineLoop, EngineGoroutines} {
		for _, tt := range tests {
			t.Run(engineName(engine)+"/"+tt.name, func(t *testing.T) {
				rcv := tracingtest.NewReceiver(t)
				tr, err := tracing.New(tracing.Options{Endpoint: rcv.URL, SampleRatio: tt.ratio,
					ServiceName: "gw-test", Headers: map[string]string{"X-Tenant": "t1"}, BatchTimeout: 10 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				svc := newService(t, balancer.RoundRobin, ups)
				svc.Name = "api"
				svc.Retry = RetryPolicy{Attempts: 1}
				svc.Retry.Statuses.Add(503)
				cfg := cfgOf(t, prefix("/a/", &Route{Name: "api-route", Service: svc}))
				cfg.Tracer, cfg.Engine = tr, engine
				p := startProxy(t, cfg)
				c := dialRaw(t, p.addr)
				c.write("GET " + tt.path + "?q=1 HTTP/1.1\r\nHost: shop.test:8080\r\n" + tt.hdr + "\r\n")
				resp, body := c.readResponse("GET")
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
				}
				tp, rid, _ := strings.Cut(body, "|")
				m := traceparentRe2.FindStringSubmatch(tp)
				if m == nil || m[3] != tt.flag {
					t.Fatalf("upstream saw traceparent %q, want flag %s", tp, tt.flag)
				}
				upTrace, upParent := m[1], m[2]
				if !strings.Contains(tt.hdr, clientTrace) && upTrace != rid {
					t.Fatalf("fjord started trace %s, want its request id %s as trace id", upTrace, rid)
				}
				if tt.hdr != "" && tt.parent != "" && (upTrace != clientTrace || upParent == clientSpan) {
					t.Fatalf("upstream traceparent %q: want the client's trace with fjord's span as parent", tp)
				}
				// A second request, unsampled, on the same connection: the first one's span has been handed to the
				// tracer once this one is answered (a response goes out before its request's log line and span).
				c.write("GET /a/x HTTP/1.1\r\nHost: h\r\ntraceparent: 00-" + clientTrace + "-" + clientSpan + "-00\r\n\r\n")
				c.readResponse("GET")
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := tr.Shutdown(ctx); err != nil { // flushes the queue
					t.Fatal(err)
				}
				spans := rcv.Wait(t, 0, time.Second)
				if !tt.exported {
					if len(spans) != 0 {
						t.Fatalf("%d spans exported, want none", len(spans))
					}
					return
				}
				if len(spans) != 1 {
					t.Fatalf("%d spans exported, want 1", len(spans))
				}
				s := spans[0]
				checkSpan(t, s, upTrace, upParent, tt.parent)
				want := map[string]string{"http.request.method": "GET", "url.path": tt.path, "http.route": "api-route",
					"server.address": "shop.test", "http.response.status_code": strconv.Itoa(tt.status), "fjord.service": "api",
					"fjord.retries": tt.retries, "fjord.request_id": rid, "client.address": "127.0.0.1"}
				for k, v := range want {
					if got := s.Attr(k); got != v {
						t.Errorf("attribute %s = %q, want %q", k, got, v)
					}
				}
				if up := s.Attr("fjord.upstream"); up != ups[0] && up != ups[1] {
					t.Errorf("fjord.upstream = %q, want one of %v", up, ups)
				}
				if s.ServiceName != "gw-test" || rcv.Headers()[0].Get("X-Tenant") != "t1" {
					t.Errorf("service.name %q, export header %q", s.ServiceName, rcv.Headers()[0].Get("X-Tenant"))
				}
				if isErr := s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR; isErr != (tt.status >= 500) {
					t.Errorf("span status %v for HTTP %d", s.Status.GetCode(), tt.status)
				}
				if st := tr.Stats(); st.Exported != 1 || st.Dropped != 0 {
					t.Errorf("stats %+v, want 1 exported", st)
				}
			})
		}
	}
}

var traceparentRe2 = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$`)

// checkSpan checks that the exported span is the one whose id went upstream as the parent, in the same trace, with
// the client's span (or none) as its own parent.
func checkSpan(t *testing.T, s tracingtest.Span, upTrace, upParent, wantParent string) {
	t.Helper()
	if got := hex.EncodeToString(s.TraceId); got != upTrace {
		t.Errorf("span trace id %s, upstream saw %s", got, upTrace)
	}
	if got := hex.EncodeToString(s.SpanId); got != upParent {
		t.Errorf("span id %s, but the upstream's parent id is %s", got, upParent)
	}
	if got := hex.EncodeToString(s.ParentSpanId); got != wantParent {
		t.Errorf("span parent %q, want %q", got, wantParent)
	}
	if s.Name != "api-route" || s.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("span %q kind %v, want api-route, server", s.Name, s.Kind)
	}
	if s.EndTimeUnixNano <= s.StartTimeUnixNano {
		t.Errorf("span ends at %d, before it starts at %d", s.EndTimeUnixNano, s.StartTimeUnixNano)
	}
}

func engineName(e Engine) string {
	if e == EngineGoroutines {
		return "goroutines"
	}
	return "loop"
}

// BenchmarkProxyGETTraced is BenchmarkProxyGET with a tracer whose ratio samples nothing (the client sends no
// traceparent), so each request gets a trace context, a span id and its own traceparent upstream: the cost of
// tracing on an unsampled request, which must stay at 0 allocs/op.
func BenchmarkProxyGETTraced(b *testing.B) {
	rcv := tracingtest.NewReceiver(b)
	tr, err := tracing.New(tracing.Options{Endpoint: rcv.URL, SampleRatio: 0})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	cfg := cfgOf(b, prefix("/", routeTo(b, benchUpstream(b))))
	cfg.Tracer = tr
	p := startProxy(b, cfg)
	c := dialRaw(b, p.addr)
	const req = "GET /bench?x=1 HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: fjord-bench\r\n\r\n"
	c.write(req)
	head := c.readHead()
	_, body := parseAfterHead(b, head, c.br, "GET")
	buf := make([]byte, len(head)+len(body))
	b.ReportAllocs()
	b.ResetTimer()
	reqb := []byte(req) // written as bytes: io.WriteString would allocate a copy on the client's side
	for b.Loop() {
		if _, err := c.nc.Write(reqb); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c.br, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := rcv.Count(); n != 0 {
		b.Fatalf("%d spans exported at ratio 0", n)
	}
}
