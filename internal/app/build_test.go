package app

import (
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/proxy"
)

// TestCompileTimeouts checks that route timeouts override their service's field by field, connect included.
func TestCompileTimeouts(t *testing.T) {
	b := compileYAML(t, `
listeners: [{address: "127.0.0.1:0"}]
services:
  s:
    instances: ["127.0.0.1:1"]
    timeouts: {connect: 5s, response_header: 7s, idle: 9s, total: 11s}
routes:
  - name: override
    match: {path_prefix: /o/}
    service: s
    timeouts: {connect: 1s, idle: 2s}
  - name: inherit
    match: {path_prefix: /}
    service: s
`, nil)
	got := map[string]proxy.Timeouts{}
	for _, path := range []string{"/o/x", "/x"} {
		rt, _, ok := b.Proxy.Routes.Match(fakeReq(path))
		if !ok {
			t.Fatalf("%s: no route", path)
		}
		got[rt.Name] = rt.Timeouts
	}
	want := map[string]proxy.Timeouts{
		"override": {Connect: time.Second, ResponseHeader: 7 * time.Second, Idle: 2 * time.Second, Total: 11 * time.Second},
		"inherit":  {Connect: 5 * time.Second, ResponseHeader: 7 * time.Second, Idle: 9 * time.Second, Total: 11 * time.Second},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("route %s: timeouts %+v, want %+v", name, got[name], w)
		}
	}
}

// compileYAML parses and compiles a native config text (over prev, as a reload would), failing the test on any error.
func compileYAML(t *testing.T, yaml string, prev *Built) *Built {
	t.Helper()
	cfg, diags := config.Parse("t.yaml", []byte(yaml))
	if diags.HasErrors() {
		t.Fatal(diags.String())
	}
	b, diags := Compile(cfg, prev)
	if b == nil {
		t.Fatal(diags.String())
	}
	return b
}

type fakeReq string

func (f fakeReq) Host() []byte                 { return []byte("example.no") }
func (f fakeReq) Path() []byte                 { return []byte(f) }
func (f fakeReq) Method() []byte               { return []byte("GET") }
func (f fakeReq) Header(string) ([]byte, bool) { return nil, false }
