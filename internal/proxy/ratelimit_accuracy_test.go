package proxy

import (
	"io"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/ratelimit"
)

// TestRateLimitAccuracy drives a rate: 100/s, burst: 10 limit keyed by API key with concurrent clients on two keys
// for two seconds and checks that each key was admitted rate × elapsed + burst requests, within 5 % below (a stalled
// client loses refill beyond the burst) and never more than one token above, and that the upstream saw exactly the
// admitted ones. Both engines.
func TestRateLimitAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 2 s per engine")
	}
	const (
		rate     = 100.0
		burst    = 10
		run      = 2 * time.Second
		clients  = 4       // per key
		maxTries = 100_000 // bounds the load; when reached the run is shorter, and the ideal with it
	)
	keys := []string{"alpha", "beta"}
	for _, e := range []struct {
		name   string
		engine Engine
	}{{"loop", EngineLoop}, {"goroutines", EngineGoroutines}} {
		t.Run(e.name, func(t *testing.T) {
			var seen sync.Map // key -> *atomic.Int64, counted by the upstream
			ts := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
				n, _ := seen.LoadOrStore(r.Header.Get("X-Api-Key"), new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			})
			rt := &Route{Name: "r", Service: newService(t, balancer.RoundRobin, []string{hostOf(ts)}),
				RateLimit: &RateLimit{Key: RateByHeader, Header: "X-Api-Key",
					Limiter: ratelimit.New(ratelimit.Limit{Rate: rate, Burst: burst}, ratelimit.Options{})}}
			cfg := cfgOf(t, prefix("/", rt))
			cfg.Engine = e.engine
			addr := startProxy(t, cfg).addr
			cl := proxyClient(t)

			admitted := make([]atomic.Int64, len(keys))
			var tries atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			stop := start.Add(run)
			for k := range keys {
				for range clients {
					wg.Go(func() {
						for time.Now().Before(stop) && tries.Add(1) <= maxTries {
							// Paced a little: 8 clients at most ~8k requests/s keep each bucket drained without
							// taking both cores from the rest of the suite.
							time.Sleep(500 * time.Microsecond)
							req, _ := http.NewRequest("GET", "http://"+addr+"/x", nil)
							req.Header.Set("X-Api-Key", keys[k])
							resp, err := cl.Do(req)
							if err != nil {
								t.Errorf("key %s: %v", keys[k], err)
								return
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							switch resp.StatusCode {
							case 200:
								admitted[k].Add(1)
							case 429:
							default:
								t.Errorf("key %s: status %d", keys[k], resp.StatusCode)
								return
							}
						}
					})
				}
			}
			wg.Wait()
			elapsed := time.Since(start)
			ideal := rate*elapsed.Seconds() + burst
			for k, key := range keys {
				got := float64(admitted[k].Load())
				t.Logf("key %s: %d admitted in %v of %d tries (ideal %.0f, %+.1f%%)", key, int64(got),
					elapsed.Round(time.Millisecond), tries.Load(), ideal, 100*(got-ideal)/ideal)
				if got > ideal+1 || got < 0.95*ideal {
					t.Errorf("key %s: %d admitted, want %.0f within -5%%/+1", key, int64(got), ideal)
				}
				var up int64
				if n, ok := seen.Load(key); ok {
					up = n.(*atomic.Int64).Load()
				}
				if up != admitted[k].Load() {
					t.Errorf("key %s: upstream saw %d, clients had %d admitted", key, up, admitted[k].Load())
				}
			}
		})
	}
}

// TestRateLimitManyKeys sends requests with thousands of distinct API keys through the proxy: each fresh key gets
// its own full burst (no key starves another), and the limiter never keeps more buckets than its cap.
func TestRateLimitManyKeys(t *testing.T) {
	const keys = 3000
	lim := ratelimit.New(ratelimit.Limit{Rate: 0.001, Burst: 1}, ratelimit.Options{MaxKeys: 1024})
	addr, upstream := rateProxy(t, &RateLimit{Key: RateByHeader, Header: "X-Api-Key", Limiter: lim})
	c := dialRaw(t, addr)
	for i := range keys {
		key := strconv.Itoa(i)
		c.write("GET /x HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + key + "\r\n\r\n")
		if resp, _ := c.readResponse("GET"); resp.StatusCode != 200 {
			t.Fatalf("fresh key %s: status %d", key, resp.StatusCode)
		}
		if i == 0 {
			c.write("GET /x HTTP/1.1\r\nHost: x\r\nX-Api-Key: 0\r\n\r\n")
			if resp, _ := c.readResponse("GET"); resp.StatusCode != 429 {
				t.Fatalf("key 0 twice: status %d, want 429", resp.StatusCode)
			}
		}
	}
	if got := upstream.Load(); got != keys {
		t.Fatalf("upstream saw %d, want %d", got, keys)
	}
	if lim.Len() > lim.Cap() {
		t.Fatalf("limiter holds %d buckets, cap %d", lim.Len(), lim.Cap())
	}
}

// TestRateLimitMemoryBounded floods a limiter with 200k distinct keys: its buckets are allocated up front, so the
// heap does not grow with the number of keys seen, and Allow never allocates.
func TestRateLimitMemoryBounded(t *testing.T) {
	const keys = 200_000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	lim := ratelimit.New(ratelimit.Limit{Rate: 100, Burst: 10}, ratelimit.Options{})
	afterNew := heap()
	var buf [16]byte
	allocs := testing.AllocsPerRun(1, func() {
		for i := range keys {
			lim.Allow(strconv.AppendInt(buf[:0], int64(i), 10))
		}
	})
	afterFlood := heap()
	runtime.KeepAlive(lim)
	t.Logf("limiter: %d KiB at New (cap %d keys); %+d KiB after %d distinct keys; %.0f allocs",
		(afterNew-before)>>10, lim.Cap(), (int64(afterFlood)-int64(afterNew))>>10, keys, allocs)
	if allocs != 0 {
		t.Errorf("%.0f allocations for %d keys, want 0", allocs, keys)
	}
	if grew := int64(afterFlood) - int64(afterNew); grew > 256<<10 {
		t.Errorf("heap grew %d KiB over %d keys, want it flat", grew>>10, keys)
	}
	if lim.Len() > lim.Cap() {
		t.Errorf("Len %d > Cap %d", lim.Len(), lim.Cap())
	}
	if size := afterNew - before; float64(size) > math.Max(2*24*float64(lim.Cap()), 4<<20) {
		t.Errorf("limiter takes %d KiB for %d buckets", size>>10, lim.Cap())
	}
}
