package proxy

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var traceparentRe = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-01$`)

// TestTraceparent: a request without trace context gets one whose trace id is its request id; one that has it keeps
// it unchanged; a route with forwarded_headers off adds none.
func TestTraceparent(t *testing.T) {
	echo := hostOf(upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Traceparent")+"|"+r.Header.Get("X-Request-Id"))
	}))
	tests := []struct {
		name    string
		route   Route
		hdr     string
		check   func(tp, rid string) bool
		explain string
	}{
		{"started when absent", Route{}, "", func(tp, rid string) bool {
			m := traceparentRe.FindStringSubmatch(tp)
			return m != nil && m[1] == rid
		}, "a new traceparent whose trace id is the request id"},
		{"passed on unchanged", Route{}, "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00\r\n",
			func(tp, _ string) bool { return tp == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00" },
			"the client's traceparent"},
		{"client request id is not a trace id", Route{}, "X-Request-Id: abc\r\n", func(tp, rid string) bool {
			m := traceparentRe.FindStringSubmatch(tp)
			return m != nil && m[1] != rid && rid == "abc"
		}, "a random trace id"},
		{"forwarded headers off", Route{NoForwarded: true}, "", func(tp, _ string) bool { return tp == "" },
			"no traceparent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := tt.route
			rt.Name, rt.Service = "r", newService(t, "round_robin", []string{echo})
			p := startProxy(t, cfgOf(t, prefix("/", &rt)))
			c := dialRaw(t, p.addr)
			c.write("GET / HTTP/1.1\r\nHost: h\r\n" + tt.hdr + "\r\n")
			_, body := c.readResponse("GET")
			tp, rid, _ := strings.Cut(body, "|")
			if !tt.check(tp, rid) {
				t.Fatalf("upstream saw traceparent %q (request id %q), want %s", tp, rid, tt.explain)
			}
		})
	}
}
