package app_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/tracing/tracingtest"
)

// TestTracingReload runs the gateway with tracing on, changes the collector on a reload, then turns tracing off:
// each retired exporter flushes its span to its own receiver, and with tracing off the client's traceparent goes
// upstream unchanged again.
func TestTracingReload(t *testing.T) {
	up := newUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Traceparent"))
	})
	conf := func(tracing string) string {
		return fmt.Sprintf(`listeners: [{address: "127.0.0.1:0"}]
services:
  a:
    timeouts: {connect: 1s}
    instances: [%q]
routes:
  - name: traced
    match: {path_prefix: /}
    service: a
%s`, up.addr, tracing)
	}
	r1, r2 := tracingtest.NewReceiver(t), tracingtest.NewReceiver(t)
	on := func(r *tracingtest.Receiver) string {
		return fmt.Sprintf("tracing: {otlp_endpoint: %q, sample_ratio: 1, service_name: edge}\n", r.URL)
	}
	const clientTP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	g := startGateway(t, conf(on(r1)))

	tp := tracedGet(t, g.addrs[0], clientTP)
	if !strings.HasPrefix(tp, "00-0af7651916cd43dd8448eb211c80319c-") || tp == clientTP {
		t.Fatalf("upstream saw %q: want the client's trace with fjord's span as parent", tp)
	}
	if r := g.apply(conf(on(r2))); r.err != nil {
		t.Fatalf("reload: %v", r.err)
	}
	spans := r1.Wait(t, 1, waitLimit) // the retired exporter flushed
	if got := hex.EncodeToString(spans[0].SpanId); !strings.Contains(tp, "-"+got+"-") ||
		spans[0].Name != "traced" || spans[0].ServiceName != "edge" {
		t.Errorf("span %s %q of %q, upstream saw %s", got, spans[0].Name, spans[0].ServiceName, tp)
	}

	tracedGet(t, g.addrs[0], "")
	if r := g.apply(conf("")); r.err != nil {
		t.Fatalf("reload: %v", r.err)
	}
	r2.Wait(t, 1, waitLimit)
	if tp := tracedGet(t, g.addrs[0], clientTP); tp != clientTP {
		t.Errorf("tracing off: upstream saw %q, want the client's %q", tp, clientTP)
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	if n1, n2 := r1.Count(), r2.Count(); n1 != 1 || n2 != 1 {
		t.Errorf("receivers got %d and %d spans, want 1 each", n1, n2)
	}
}

// tracedGet sends a GET (with traceparent tp unless "") and returns what the upstream saw. A second request on the
// same connection makes sure the first one has finished (its span handed to the exporter) before returning.
func tracedGet(t *testing.T, addr, tp string) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(waitLimit))
	hdr := ""
	if tp != "" {
		hdr = "traceparent: " + tp + "\r\n"
	}
	br := bufio.NewReader(nc)
	var first string
	for i := range 2 {
		if i == 1 {
			hdr = "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00\r\n" // unsampled
		}
		if _, err := io.WriteString(nc, "GET /x HTTP/1.1\r\nHost: h\r\n"+hdr+"\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = string(body)
		}
	}
	return first
}
