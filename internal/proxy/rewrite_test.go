package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAddPrefixAndForwardedOff covers nginx-style prefix replacement (strip_prefix + add_prefix) and routes that
// leave forwarding headers alone.
func TestAddPrefixAndForwardedOff(t *testing.T) {
	echo := hostOf(upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.RequestURI()+"|xff="+r.Header.Get("X-Forwarded-For")+"|real="+r.Header.Get("X-Real-Ip")+
			"|rid="+r.Header.Get("X-Request-Id"))
	}))
	tests := []struct {
		name, prefix string
		route        Route
		path, hdr    string
		want         string
	}{
		{"replace prefix", "/api/", Route{StripPrefix: "/api/", AddPrefix: "/v2/"}, "/api/x?q=1", "", "/v2/x?q=1|"},
		{"replace without slash", "/api", Route{StripPrefix: "/api", AddPrefix: "/v2"}, "/api/x", "", "/v2/x|"},
		{"add only", "/", Route{AddPrefix: "/base/"}, "/x", "", "/base/x|"},
		{"forwarded off passes client headers", "/", Route{NoForwarded: true}, "/x", "X-Forwarded-For: 1.2.3.4\r\nX-Real-IP: 9.9.9.9\r\n",
			"/x|xff=1.2.3.4|real=9.9.9.9|rid="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := tt.route
			rt.Name, rt.Service = "r", newService(t, "round_robin", []string{echo})
			p := startProxy(t, cfgOf(t, prefix(tt.prefix, &rt)))
			c := dialRaw(t, p.addr)
			c.write("GET " + tt.path + " HTTP/1.1\r\nHost: h\r\n" + tt.hdr + "\r\n")
			_, body := c.readResponse("GET")
			if !strings.HasPrefix(body, tt.want) {
				t.Fatalf("upstream saw %q, want prefix %q", body, tt.want)
			}
		})
	}
}
