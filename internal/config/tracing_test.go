package config

import (
	"strings"
	"testing"
)

func TestTracingDiagnostics(t *testing.T) {
	tests := []struct {
		name    string
		tracing string
		want    string // a fragment of the only diagnostic; "" = none
		ratio   float64
	}{
		{"valid", `tracing: {otlp_endpoint: "http://127.0.0.1:4318", sample_ratio: 0.1, service_name: gw, headers: {Authorization: "Bearer x"}}`, "", 0.1},
		{"percent", `tracing: {otlp_endpoint: "https://otel.example:4318/v1/traces", sample_ratio: 5%}`, "", 0.05},
		{"default ratio", `tracing: {otlp_endpoint: "http://127.0.0.1:4318"}`, "", 1},
		{"no endpoint", `tracing: {sample_ratio: 1}`, "otlp_endpoint", 0},
		{"grpc endpoint", `tracing: {otlp_endpoint: "127.0.0.1:4317"}`, `c.yaml:1:26: error: otlp_endpoint must be an http(s) URL`, 0},
		{"ratio above 1", `tracing: {otlp_endpoint: "http://h:4318", sample_ratio: 2}`, `c.yaml:1:57: error: sample_ratio must be a number from 0 to 1`, 0},
		{"ratio text", `tracing: {otlp_endpoint: "http://h:4318", sample_ratio: half}`, "sample_ratio must be a number", 0},
		{"empty service", `tracing: {otlp_endpoint: "http://h:4318", service_name: ""}`, "service_name must not be empty", 0},
		{"bad header", `tracing: {otlp_endpoint: "http://h:4318", headers: {"a b": x}}`, `"a b" is not a header name`, 0},
		{"unknown key", `tracing: {otlp_endpoint: "http://h:4318", ratio: 1}`, "ratio", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := Parse("c.yaml", []byte(tc.tracing+"\n"+withSvc(okRoutes)))
			got := diags.String()
			if tc.want == "" {
				if len(diags) != 0 {
					t.Fatalf("unexpected diagnostics:\n%s", got)
				}
				if r := cfg.Tracing.SampleRatioValue(); r != tc.ratio {
					t.Errorf("ratio %v, want %v", r, tc.ratio)
				}
				return
			}
			if len(diags) != 1 || !strings.Contains(got, tc.want) {
				t.Errorf("diagnostics:\n%s\nwant one containing %q", got, tc.want)
			}
		})
	}
}
