package proxy

import (
	"bytes"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestH2MalformedRejected sends requests that RFC 9113 section 8.2 calls malformed over a raw HTTP/2 framer: each must
// be refused — reset, the connection closed, or answered 400 (x/net/http2 answers connection-specific headers with a
// 400 of its own) — and the upstream must see none of them. A well-formed request on a fresh
// connection shows the setup forwards what it should.
func TestH2MalformedRejected(t *testing.T) {
	var hits atomic.Int64
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	addr := startModeProxy(t, cfgOf(t, prefix("/", routeTo(t, hostOf(up)))), &ListenerMode{H2C: true})
	base := [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/x"}}
	cases := []struct {
		name    string
		extra   [][2]string
		wantRST bool
	}{
		{"well formed", nil, false},
		{"connection", [][2]string{{"connection", "keep-alive"}}, true},
		{"transfer-encoding", [][2]string{{"transfer-encoding", "chunked"}}, true},
		{"upgrade", [][2]string{{"upgrade", "websocket"}}, true},
		{"keep-alive", [][2]string{{"keep-alive", "timeout=5"}}, true},
		{"proxy-connection", [][2]string{{"proxy-connection", "keep-alive"}}, true},
		{"te other than trailers", [][2]string{{"te", "gzip"}}, true},
		{"LF in value", [][2]string{{"x-a", "1\nInjected: 2"}}, true},
		{"CR in value", [][2]string{{"x-a", "1\rx"}}, true},
		{"NUL in value", [][2]string{{"x-a", "1\x00"}}, true},
		{"upper-case name", [][2]string{{"X-A", "1"}}, true},
		{"pseudo after regular", [][2]string{{"x-a", "1"}, {":method", "GET"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			status := sendRawH2(t, addr, append(append([][2]string{}, base...), tc.extra...))
			if refused := status == "" || status == "400"; refused != tc.wantRST {
				t.Fatalf("answer %q (\"\": reset), want refused = %v", status, tc.wantRST)
			}
			if got := hits.Load() - before; tc.wantRST && got != 0 || !tc.wantRST && got != 1 {
				t.Errorf("upstream saw %d requests", got)
			}
		})
	}
}

// sendRawH2 opens an h2c connection, sends one HEADERS frame with fields (no validation on this side) and reports
// returns the response's :status, or "" when the stream was reset (RST_STREAM, GOAWAY or the connection closing).
func sendRawH2(t *testing.T, addr string, fields [][2]string) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(nc, nc)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range fields {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return "" // connection closed
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame, *http2.GoAwayFrame:
			return ""
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			return f.PseudoValue("status")
		}
	}
}
