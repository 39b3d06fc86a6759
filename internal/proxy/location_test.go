package proxy

import (
	"net/http"
	"testing"
)

// TestRewriteLocation checks that upstream redirects pointing at the upstream are rewritten in Location and Refresh,
// with a fixed From, with the client's Host, and left alone when no rule matches or the route has none.
func TestRewriteLocation(t *testing.T) {
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.Header.Get("X-Send"))
		w.Header().Set("Refresh", "2; URL="+r.Header.Get("X-Send"))
		w.WriteHeader(http.StatusFound)
	})
	fixed := routeTo(t, hostOf(up))
	fixed.RewriteLocation = &LocationRewrite{Rules: []LocationRule{{From: "http://backend/two/", To: "/one/"}}}
	client := routeTo(t, hostOf(up))
	client.RewriteLocation = &LocationRewrite{Rules: []LocationRule{{From: "/inner/", To: "/outer/", ClientHost: true}}}
	cfg := cfgOf(t, prefix("/one/", fixed), prefix("/outer/", client), prefix("/", routeTo(t, hostOf(up))))
	p := startProxy(t, cfg)
	tests := []struct {
		name, path, send, want string
	}{
		{"fixed from", "/one/x", "http://backend/two/next", "/one/next"},
		{"fixed from, no match", "/one/x", "http://other/two/next", "http://other/two/next"},
		{"case matters in the path", "/one/x", "http://backend/TWO/next", "http://backend/TWO/next"},
		{"client host", "/outer/x", "http://X.test/inner/a?b=1", "/outer/a?b=1"},
		{"client host, other host", "/outer/x", "http://y.test/inner/a", "http://y.test/inner/a"},
		{"no rules", "/z", "http://backend/two/next", "http://backend/two/next"},
	}
	c := dialRaw(t, p.addr)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.write("GET " + tc.path + " HTTP/1.1\r\nHost: x.test\r\nX-Send: " + tc.send + "\r\n\r\n")
			resp, _ := c.readResponse("GET")
			if got := resp.Header.Get("Location"); got != tc.want {
				t.Errorf("Location %q, want %q", got, tc.want)
			}
			if got := resp.Header.Get("Refresh"); got != "2; URL="+tc.want {
				t.Errorf("Refresh %q, want %q", got, "2; URL="+tc.want)
			}
		})
	}
}

// BenchmarkRewriteLocation measures rewriting a redirect's head: it must not allocate.
func BenchmarkRewriteLocation(b *testing.B) {
	lr := &LocationRewrite{Rules: []LocationRule{{From: "http://backend/two/", To: "/one/"}}}
	v, host, buf := []byte("http://backend/two/next?x=1"), []byte("x.test"), make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = lr.appendRewritten(buf[:0], v, host, false)
	}
	if string(buf) != "/one/next?x=1" {
		b.Fatalf("got %q", buf)
	}
}
