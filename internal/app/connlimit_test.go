package app

import (
	"testing"

	"github.com/fjord-gw/fjord/internal/config"
)

// TestCompileConnectionLimits checks that server.max_connections(_per_ip) reach the engine's ClientLimits, the
// default included.
func TestCompileConnectionLimits(t *testing.T) {
	tests := []struct {
		name, server string
		total, perIP int
	}{
		{"defaults", "", config.DefaultMaxConnections, 0},
		{"set", "server: {max_connections: 50, max_connections_per_ip: 4}", 50, 4},
		{"unlimited", "server: {max_connections: 0}", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := compileYAML(t, `
listeners: [{address: "127.0.0.1:0"}]
`+tt.server+`
services:
  s: {instances: ["127.0.0.1:1"], timeouts: {connect: 1s}}
routes: [{service: s}]
`, nil)
			if c := b.Proxy.Client; c.MaxConnections != tt.total || c.MaxConnectionsPerIP != tt.perIP {
				t.Fatalf("ClientLimits %d/%d, want %d/%d", c.MaxConnections, c.MaxConnectionsPerIP, tt.total, tt.perIP)
			}
		})
	}
}
