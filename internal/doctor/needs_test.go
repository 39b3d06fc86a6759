package doctor

import (
	"strings"
	"testing"
)

// TestCheckNeeds compares configurations with a fake host: 8192 hard open files, somaxconn 4096, 28232 local ports
// (Linux's default 32768-60999).
func TestCheckNeeds(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"proc/sys/net/core/somaxconn":           "4096\n",
		"proc/sys/net/ipv4/ip_local_port_range": "32768\t60999\n",
	})
	h := Host{Root: root, NoFile: noFile(1024, 8192, nil)}
	pools := []Pool{{Service: "cart", Instances: 2, MaxIdle: 64}, {Service: "auth", Instances: 4, MaxIdle: 64}}
	tests := []struct {
		name  string
		needs Needs
		want  [3]Level // open files, somaxconn, port range
		fix   [3]string
	}{
		{"fits", Needs{Config: "c.yaml", MaxConnections: 7000, Listeners: 2, Pools: pools}, [3]Level{OK, OK, OK},
			[3]string{}},
		{"too many connections", Needs{Config: "c.yaml", MaxConnections: 100000, Listeners: 2, Pools: pools},
			[3]Level{Warn, Warn, Warn}, [3]string{"lower server.max_connections in c.yaml to 7550",
				"net.core.somaxconn=10000", `ip_local_port_range="15536 65535"; or give service cart more instances`}},
		{"unlimited", Needs{Config: "c.yaml", Listeners: 1, Pools: pools}, [3]Level{Warn, Warn, Warn},
			[3]string{"set server.max_connections", "somaxconn=65535", "no port range is wide enough"}},
		{"no services", Needs{Config: "c.yaml", MaxConnections: 1000, Listeners: 1}, [3]Level{OK, OK, OK}, [3]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := h.CheckNeeds(tt.needs)
			for i, f := range fs {
				if f.Level != tt.want[i] || !strings.Contains(f.Fix, tt.fix[i]) || !strings.Contains(f.Name, "c.yaml") {
					t.Errorf("finding %d: %s %q fix %q, want %s with %q", i, f.Level, f.Name, f.Fix, tt.want[i], tt.fix[i])
				}
			}
		})
	}
}

// TestCheckNeedsUnreadable: a host that hides its settings gives SKIP findings, not warnings.
func TestCheckNeedsUnreadable(t *testing.T) {
	h := Host{Root: t.TempDir(), NoFile: noFile(0, 0, errBadValue)}
	for _, f := range h.CheckNeeds(Needs{Config: "c.yaml", MaxConnections: 10, Pools: []Pool{{Service: "a", Instances: 1}}}) {
		if f.Level != Skip {
			t.Errorf("%s: %s, want SKIP", f.Name, f.Level)
		}
	}
}
