package app

import (
	"testing"

	"github.com/fjord-gw/fjord/internal/proxy"
)

// TestRateLimitCompileAndCarry checks the compiled limit and that a reload keeps a route's buckets only while its
// name, rate, burst and key stay the same.
func TestRateLimitCompileAndCarry(t *testing.T) {
	compile := func(rateLimit string, prev *Built) (*Built, *proxy.RateLimit) {
		t.Helper()
		b := compileYAML(t, `
listeners: [{address: "127.0.0.1:0"}]
services:
  s: {instances: ["127.0.0.1:1"], timeouts: {connect: 1s}}
routes:
  - {name: api, service: s, rate_limit: `+rateLimit+`}
`, prev)
		rt, _, ok := b.Proxy.Routes.Match(fakeReq("/x"))
		if !ok || rt.RateLimit == nil {
			t.Fatal("no rate-limited route")
		}
		return b, rt.RateLimit
	}
	b1, rl1 := compile(`{rate: "100/s", burst: 50, key: "header:X-Api-Key"}`, nil)
	if l := rl1.Limiter.Limit(); l.Rate != 100 || l.Burst != 50 || rl1.Key != proxy.RateByHeader || rl1.Header != "X-Api-Key" {
		t.Fatalf("compiled %+v %+v", l, rl1)
	}
	tests := []struct {
		name  string
		rl    string
		carry bool
	}{
		{"same limit", `{rate: "100/s", burst: 50, key: "header:X-Api-Key"}`, true},
		{"other rate", `{rate: "100/m", burst: 50, key: "header:X-Api-Key"}`, false},
		{"other key", `{rate: "100/s", burst: 50}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, rl2 := compile(tc.rl, b1)
			if got := rl2.Limiter == rl1.Limiter; got != tc.carry {
				t.Fatalf("buckets carried = %v, want %v", got, tc.carry)
			}
		})
	}
	if _, rl := compile(`{rate: "600/m", key: route}`, nil); rl.Limiter.Limit().Burst != 600 || rl.Limiter.Limit().Rate != 10 || rl.Key != proxy.RateByRoute {
		t.Fatalf("default burst: %+v key %v", rl.Limiter.Limit(), rl.Key)
	}
}
