package config

import (
	"strings"
	"testing"
)

// TestConnectionLimitsConfig covers the server section's connection settings (limits and engine).
func TestConnectionLimitsConfig(t *testing.T) {
	tests := []struct {
		name         string
		server       []string // lines after "server:"; line 3 of the file is the first
		total, perIP int
		want         []string // diagnostics
	}{
		{"defaults", nil, DefaultMaxConnections, 0, nil},
		{"set", []string{"  max_connections: 500", "  max_connections_per_ip: 20"}, 500, 20, nil},
		{"zero is unlimited", []string{"  max_connections: 0"}, 0, 0, nil},
		{"negative total", []string{"  max_connections: -1"}, 0, 0,
			[]string{`c.yaml:3:20: error: max_connections must not be negative (0 = unlimited), got -1`}},
		{"negative per ip", []string{"  max_connections: 10", "  max_connections_per_ip: -3"}, 0, 0,
			[]string{`c.yaml:4:27: error: max_connections_per_ip must not be negative (0 = unlimited), got -3`}},
		{"engine loop", []string{"  engine: loop"}, DefaultMaxConnections, 0, nil},
		{"engine goroutines", []string{"  engine: goroutines"}, DefaultMaxConnections, 0, nil},
		{"unknown engine", []string{"  engine: epoll"}, 0, 0,
			[]string{`c.yaml:3:11: error: engine must be "loop" or "goroutines", got "epoll"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := []string{okListener}
			if tt.server != nil {
				lines = append(append(lines, "server:"), tt.server...)
			}
			cfg, diags := Parse("c.yaml", []byte(withOK(lines...)))
			if got := strings.TrimSuffix(diags.String(), "\n"); got != strings.Join(tt.want, "\n") {
				t.Fatalf("diagnostics:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
			if tt.want != nil {
				return
			}
			if cfg.Server.MaxConnections != tt.total || cfg.Server.MaxConnectionsPerIP != tt.perIP {
				t.Fatalf("max_connections %d, per ip %d; want %d, %d",
					cfg.Server.MaxConnections, cfg.Server.MaxConnectionsPerIP, tt.total, tt.perIP)
			}
		})
	}
}
