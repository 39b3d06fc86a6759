package app_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCompressionConfig runs a gateway whose server.compression applies to one route and whose other route turns
// it off, and checks what a gzip-accepting client gets from each.
func TestCompressionConfig(t *testing.T) {
	page := strings.Repeat("<li>compressible line of text</li>\n", 200)
	up := newUpstream(t, "u", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	})
	g := startGateway(t, `
listeners: [{address: "127.0.0.1:0"}]
server:
  compression: {zstd: false, min_bytes: 100}
services:
  s: {instances: ["`+up.addr+`"]}
routes:
  - {match: {path_prefix: /plain/}, service: s, compression: {gzip: false, zstd: false}}
  - {match: {path_prefix: /}, service: s}
`)
	c := newClient(t)
	for _, tc := range []struct{ path, wantEnc string }{{"/x", "gzip"}, {"/plain/x", ""}} {
		t.Run(tc.path, func(t *testing.T) {
			req, _ := http.NewRequest("GET", g.url(tc.path), nil)
			req.Header.Set("Accept-Encoding", "zstd, gzip")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got := resp.Header.Get("Content-Encoding"); got != tc.wantEnc {
				t.Fatalf("Content-Encoding %q, want %q", got, tc.wantEnc)
			}
			var body io.Reader = resp.Body
			if tc.wantEnc == "gzip" {
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			}
			b, err := io.ReadAll(body)
			if err != nil || string(b) != page {
				t.Fatalf("body: %d bytes (%v), want %d", len(b), err, len(page))
			}
		})
	}
}
