package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/compress"
)

// TestH2Compression: responses to HTTP/2 clients (ALPN and h2c) follow the HTTP/1.1 relay's policy: coded by the
// client's Accept-Encoding, with Vary and a weak ETag, and left alone for small or already-coded bodies.
func TestH2Compression(t *testing.T) {
	text := strings.Repeat("fjord compresses text for HTTP/2 clients too. ", 200)
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		switch r.URL.Path {
		case "/small":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "tiny")
		case "/coded":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Encoding", "br")
			io.WriteString(w, text)
		default:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, text)
		}
	})
	pol, err := compress.New(compress.Options{Gzip: true, Zstd: true, MinBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h2Modes() {
		cfg := cfgOf(t, prefix("/", &Route{Name: "r", Service: newService(t, balancer.RoundRobin, []string{hostOf(up)}), Compress: pol}))
		addr := startModeProxy(t, cfg, m.mode(t))
		cl := m.client(t)
		for _, tc := range []struct{ path, accept, wantEnc string }{
			{"/text", "gzip", "gzip"},
			{"/text", "zstd, gzip;q=0.5", "zstd"},
			{"/text", "identity", ""},
			{"/small", "gzip", ""},
			{"/coded", "gzip", "br"},
		} {
			t.Run(m.name+" "+tc.path+" "+tc.accept, func(t *testing.T) {
				req, _ := http.NewRequest("GET", m.scheme+"://"+addr+tc.path, nil)
				req.Header.Set("Accept-Encoding", tc.accept) // set by hand: the transport then does not decode
				resp, err := cl.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				raw, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.ProtoMajor != 2 {
					t.Fatalf("proto %s", resp.Proto)
				}
				if got := resp.Header.Get("Content-Encoding"); got != tc.wantEnc {
					t.Fatalf("Content-Encoding %q, want %q", got, tc.wantEnc)
				}
				if tc.path != "/text" {
					return
				}
				if vary := resp.Header.Values("Vary"); !strings.Contains(strings.Join(vary, ","), "Accept-Encoding") {
					t.Errorf("Vary %q lacks Accept-Encoding", vary)
				}
				body := decode(t, tc.wantEnc, raw)
				if body != text {
					t.Errorf("decoded body differs (%d bytes, want %d)", len(body), len(text))
				}
				if tc.wantEnc != "" {
					if et := resp.Header.Get("ETag"); et != `W/"v1"` {
						t.Errorf("ETag %q, want weak", et)
					}
					if resp.ContentLength >= 0 || len(raw) >= len(text) {
						t.Errorf("coded body: Content-Length %d, %d bytes of %d", resp.ContentLength, len(raw), len(text))
					}
				}
			})
		}
	}
}

// TestH2MinBodyRate: an HTTP/2 request body dripped slower than min_body_rate is answered 408 within a few windows
// (small bodies read whole and large streamed ones alike); one sent at once passes.
func TestH2MinBodyRate(t *testing.T) {
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "got %d", n)
	})
	for _, m := range h2Modes() {
		cfg := cfgOf(t, prefix("/", &Route{Name: "r", Service: newService(t, balancer.RoundRobin, []string{hostOf(up)})}))
		cfg.Client.MinBodyRate, cfg.Client.MinBodyRateWindow = 4096, 200*time.Millisecond
		addr := startModeProxy(t, cfg, m.mode(t))
		cl := m.client(t)
		for _, tc := range []struct {
			name string
			size int
			drip bool
			want int
		}{
			{"small slow", 8 << 10, true, 408},
			{"large slow", 256 << 10, true, 408},
			{"large unannounced slow", -1, true, 408},
			{"small fast", 8 << 10, false, 200},
			{"large fast", 256 << 10, false, 200},
		} {
			t.Run(m.name+" "+tc.name, func(t *testing.T) {
				pr, pw := io.Pipe()
				stop := make(chan struct{})
				wrote := make(chan struct{})
				go func() {
					defer close(wrote)
					size := tc.size
					if size < 0 {
						size = 256 << 10
					}
					piece, gap := strings.Repeat("a", 10), 20*time.Millisecond // 500 B/s against 4096 per 200ms
					if !tc.drip {
						piece, gap = strings.Repeat("a", size), 0
					}
					for sent := 0; sent < size; sent += len(piece) {
						if _, err := pw.Write([]byte(piece)); err != nil {
							return
						}
						select {
						case <-stop:
							pw.CloseWithError(io.ErrClosedPipe)
							return
						case <-time.After(gap):
						}
					}
					pw.Close()
				}()
				defer func() { close(stop); <-wrote }()
				req, _ := http.NewRequest("POST", m.scheme+"://"+addr+"/up", pr)
				req.ContentLength = int64(tc.size)
				start := time.Now()
				resp, err := cl.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
				}
				if tc.want == 408 && time.Since(start) > 5*time.Second {
					t.Errorf("cut after %v, want about a window", time.Since(start))
				}
			})
		}
	}
}
