package config

import (
	"strings"
	"testing"
)

// svcWith is a file whose service "a" has extra lines (from line 6 on) under test.
func svcWith(extra ...string) string {
	lines := append([]string{okListener}, okServices...)
	lines = append(lines, extra...)
	return doc(append(lines, okRoutes)...)
}

func TestResilienceDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"defaults are valid", svcWith(), nil},
		{
			"bad health check",
			svcWith("    health_check: {type: grpc, path: healthz, expect_status: 299-200, interval: 1s, jitter: 2s, rise: 0}"),
			[]string{
				`c.yaml:6:19: warning: timeout (2s) is longer than interval (1s): probes will overlap the next one`,
				`c.yaml:6:26: error: invalid type "grpc": want one of http, tcp`,
				`c.yaml:6:38: error: health check path "healthz" must start with /`,
				`c.yaml:6:62: error: invalid expect_status "299-200": statuses must be 100-599, low to high (want e.g. 200 or 200-399)`,
				`c.yaml:6:93: error: jitter (2s) must be shorter than interval (1s)`,
				`c.yaml:6:103: error: rise must be between 1 and 100, got 0`,
			},
		},
		{
			"bad outlier",
			svcWith("    outlier: {base_ejection: 1m, max_ejection: 10s, max_ejected_percent: 120, failure_statuses: [200]}"),
			[]string{
				`c.yaml:6:48: error: max_ejection (10s) is shorter than base_ejection (1m)`,
				`c.yaml:6:74: error: max_ejected_percent must be between 0 and 100, got 120`,
				`c.yaml:6:98: error: failure status 200 is not an error status (400-599)`,
			},
		},
		{
			"bad retries",
			svcWith("    retries: {attempts: 11, on: [connect_failur, \"404\"], budget_percent: 101}"),
			[]string{
				`c.yaml:6:25: error: attempts must be between 0 and 10, got 11`,
				`c.yaml:6:34: error: invalid retry condition "connect_failur": want one of connect_failure, reset, timeout, or a status 500-599 (did you mean "connect_failure"?)`,
				`c.yaml:6:50: error: invalid retry condition "404": want one of connect_failure, reset, timeout, or a status 500-599`,
				`c.yaml:6:74: error: budget_percent must be between 0 and 100, got 101`,
			},
		},
		{
			"bad limits",
			svcWith("    limits: {max_concurrent: -1, queue_timeout: 0s}"),
			[]string{
				`c.yaml:6:30: error: max_concurrent must be between 0 and 1048576, got -1`,
				`c.yaml:6:49: error: queue_timeout must be greater than zero`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("c.yaml", []byte(tt.yaml))
			var got []string
			for _, d := range diags {
				got = append(got, d.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
