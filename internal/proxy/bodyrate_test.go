package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
)

// TestMinBodyRate drips request bodies slower than MinBodyRate on both engines and expects a 408 and a closed
// connection long before the idle timeout; a body sent at full speed passes.
func TestMinBodyRate(t *testing.T) {
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "got %d", n)
	})
	const size = 64 << 10
	cases := []struct {
		name    string
		chunked bool
		drip    bool
		want    int
	}{
		{"length slow", false, true, 408},
		{"chunked slow", true, true, 408},
		{"length fast", false, false, 200},
		{"chunked fast", true, false, 200},
	}
	for _, engine := range []Engine{EngineLoop, EngineGoroutines} {
		cfg := cfgOf(t, prefix("/", &Route{Name: "r", Service: newService(t, balancer.RoundRobin, []string{hostOf(up)})}))
		cfg.Engine = engine
		cfg.Client.MinBodyRate, cfg.Client.MinBodyRateWindow = 4096, 200*time.Millisecond
		p := startProxy(t, cfg)
		for _, tc := range cases {
			t.Run(fmt.Sprintf("engine%d %s", engine, tc.name), func(t *testing.T) {
				c := dialRaw(t, p.addr)
				head := "POST /up HTTP/1.1\r\nHost: x\r\n"
				if tc.chunked {
					head += "Transfer-Encoding: chunked\r\n\r\n"
				} else {
					head += fmt.Sprintf("Content-Length: %d\r\n\r\n", size)
				}
				c.write(head)
				stop := make(chan struct{})
				wrote := make(chan struct{})
				go func() {
					defer close(wrote)
					piece, gap := strings.Repeat("a", 10), 20*time.Millisecond // 500 B/s against 4096 per 200ms
					if !tc.drip {
						piece, gap = strings.Repeat("a", size), 0
					}
					for sent := 0; sent < size; sent += len(piece) {
						s := piece
						if tc.chunked {
							s = fmt.Sprintf("%x\r\n%s\r\n", len(piece), piece)
						}
						if _, err := io.WriteString(c.nc, s); err != nil {
							return
						}
						select {
						case <-stop:
							return
						case <-time.After(gap):
						}
					}
					if tc.chunked {
						io.WriteString(c.nc, "0\r\n\r\n")
					}
				}()
				defer func() { close(stop); <-wrote }()
				start := time.Now()
				resp, body := c.readResponse("POST")
				if resp.StatusCode != tc.want {
					t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tc.want)
				}
				if tc.want == 408 {
					if time.Since(start) > 5*time.Second {
						t.Fatalf("cut after %v", time.Since(start))
					}
					c.expectClosed()
				} else if body != fmt.Sprintf("got %d", size) {
					t.Fatalf("body %q", body)
				}
			})
		}
	}
}
