package app

import (
	"testing"

	"github.com/fjord-gw/fjord/internal/config"
)

// TestCompileMaxBodyBytes checks that a route's max_body_bytes overrides server.max_body_bytes, 0 included, and
// that the server value (or its 1 GiB default) applies elsewhere.
func TestCompileMaxBodyBytes(t *testing.T) {
	tests := []struct {
		name, server string
		want         map[string]int64
	}{
		{"default", "", map[string]int64{"/own/x": 10, "/off/x": 0, "/x": config.DefaultMaxBodyBytes}},
		{"server set", "server: {max_body_bytes: 2048}", map[string]int64{"/own/x": 10, "/off/x": 0, "/x": 2048}},
		{"server unlimited", "server: {max_body_bytes: 0}", map[string]int64{"/own/x": 10, "/off/x": 0, "/x": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := compileYAML(t, `
listeners: [{address: "127.0.0.1:0"}]
`+tc.server+`
services:
  s: {instances: ["127.0.0.1:1"], timeouts: {connect: 1s}}
routes:
  - {match: {path_prefix: /own/}, service: s, max_body_bytes: 10}
  - {match: {path_prefix: /off/}, service: s, max_body_bytes: 0}
  - {match: {path_prefix: /}, service: s}
`, nil)
			for path, want := range tc.want {
				rt, _, ok := b.Proxy.Routes.Match(fakeReq(path))
				if !ok {
					t.Fatalf("%s: no route", path)
				}
				if rt.MaxBodyBytes != want {
					t.Errorf("%s: MaxBodyBytes %d, want %d", path, rt.MaxBodyBytes, want)
				}
			}
		})
	}
}
