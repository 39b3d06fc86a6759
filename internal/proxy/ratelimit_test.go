package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/ratelimit"
)

// rateProxy serves one route limited by rl to an upstream that counts the requests it gets.
func rateProxy(t *testing.T, rl *RateLimit) (addr string, upstream *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	ts := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1) })
	rt := &Route{Name: "r", Service: newService(t, balancer.RoundRobin, []string{hostOf(ts)}), RateLimit: rl}
	return startProxy(t, cfgOf(t, prefix("/", rt))).addr, &n
}

func TestRateLimit(t *testing.T) {
	type req struct {
		apiKey string // X-Api-Key value; "" = none
		want   int
	}
	tests := []struct {
		name string
		key  RateKey
		reqs []req
	}{
		{"client_ip: burst then 429, whatever the API key", RateByClientIP,
			[]req{{"a", 200}, {"b", 200}, {"", 200}, {"c", 429}, {"", 429}}},
		{"header: each API key its own bucket", RateByHeader,
			[]req{{"a", 200}, {"a", 200}, {"a", 200}, {"a", 429}, {"b", 200}, {"b", 200}, {"b", 200}, {"b", 429}, {"", 200}}},
		{"route: one bucket shared by all", RateByRoute,
			[]req{{"a", 200}, {"b", 200}, {"", 200}, {"d", 429}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rl := &RateLimit{Key: tc.key, Header: "X-Api-Key",
				Limiter: ratelimit.New(ratelimit.Limit{Rate: 0.01, Burst: 3}, ratelimit.Options{MaxKeys: 64})}
			addr, upstream := rateProxy(t, rl)
			c := dialRaw(t, addr)
			passed := int64(0)
			for i, r := range tc.reqs {
				h := ""
				if r.apiKey != "" {
					h = "X-Api-Key: " + r.apiKey + "\r\n"
				}
				c.write("GET /x HTTP/1.1\r\nHost: x\r\n" + h + "\r\n")
				resp, body := c.readResponse("GET")
				if resp.StatusCode != r.want {
					t.Fatalf("request %d (key %q): status %d, want %d: %s", i, r.apiKey, resp.StatusCode, r.want, body)
				}
				if r.want == 200 {
					passed++
					continue
				}
				// 0.01 tokens/s: the next token is 100s away, the bucket full in 300s.
				for name, want := range map[string]string{"Retry-After": "100", "RateLimit-Limit": "3",
					"RateLimit-Remaining": "0", "RateLimit-Reset": "300"} {
					if got := resp.Header.Get(name); got != want {
						t.Errorf("request %d: %s = %q, want %q", i, name, got, want)
					}
				}
				if resp.Close {
					t.Errorf("request %d: a bodiless 429 closed the connection", i)
				}
			}
			if got := upstream.Load(); got != passed {
				t.Fatalf("upstream saw %d requests, want the %d allowed", got, passed)
			}
		})
	}
}

func TestRateLimitRefills(t *testing.T) {
	rl := &RateLimit{Key: RateByClientIP,
		Limiter: ratelimit.New(ratelimit.Limit{Rate: 20, Burst: 1}, ratelimit.Options{MaxKeys: 64})}
	addr, _ := rateProxy(t, rl)
	c := dialRaw(t, addr)
	get := func() *http.Response {
		c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, _ := c.readResponse("GET")
		return resp
	}
	if s := get().StatusCode; s != 200 {
		t.Fatalf("first request: %d", s)
	}
	resp := get()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("second request: %d, Retry-After %q; want 429 with 1 (50ms rounded up)", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// 20/s is a token every 50ms; the engine reads the real clock, so this test waits for one.
	time.Sleep(60 * time.Millisecond)
	if s := get().StatusCode; s != 200 {
		t.Fatalf("after the refill: %d, want 200", s)
	}
}

func TestRateLimitReturnRoute(t *testing.T) {
	rl := &RateLimit{Key: RateByHeader, Header: "X-Api-Key",
		Limiter: ratelimit.New(ratelimit.Limit{Rate: 0.01, Burst: 1}, ratelimit.Options{MaxKeys: 64})}
	rt := &Route{Name: "ret", Return: &Return{Status: 204}, RateLimit: rl}
	p := startProxy(t, cfgOf(t, prefix("/", rt)))
	c := dialRaw(t, p.addr)
	for i, want := range []int{204, 429} {
		c.write("GET / HTTP/1.1\r\nHost: x\r\nX-Api-Key: k1\r\n\r\n")
		if resp, body := c.readResponse("GET"); resp.StatusCode != want {
			t.Fatalf("request %d: %d, want %d: %s", i, resp.StatusCode, want, body)
		}
	}
	// A rate-limited direct response is still a direct response for another key.
	c.write("GET / HTTP/1.1\r\nHost: x\r\nX-Api-Key: k2\r\n\r\n")
	if resp, _ := c.readResponse("GET"); resp.StatusCode != 204 {
		t.Fatalf("other key: %d, want 204", resp.StatusCode)
	}
}
