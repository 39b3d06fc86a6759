package config

import (
	"strings"
	"testing"
)

// TestEdgeDiagnostics checks compression and min_body_rate: valid blocks pass, bad values get one FILE:LINE error.
func TestEdgeDiagnostics(t *testing.T) {
	tests := []struct {
		name, server, route string
		want                string // a fragment of the only diagnostic; "" = none
	}{
		{"server compression", `server: {compression: {gzip: true, zstd: false, types: [text/html, "text/*"], min_bytes: 10, level: 9}}`, `routes: [{service: a}]`, ""},
		{"route compression", `server: {}`, `routes: [{service: a, compression: {gzip: false}}]`, ""},
		{"level", `server: {compression: {level: 12}}`, `routes: [{service: a}]`, "c.yaml:1:31: error: server: compression level must be 1 to 9"},
		{"min_bytes", `server: {}`, `routes: [{service: a, compression: {min_bytes: -1}}]`, `route "route-1": compression min_bytes must not be negative`},
		{"type", `server: {}`, `routes: [{service: a, compression: {types: [html]}}]`, `compression type "html": want TYPE/SUBTYPE`},
		{"unknown key", `server: {compression: {brotli: true}}`, `routes: [{service: a}]`, "brotli"},
		{"body rate", `server: {min_body_rate: {bytes: 1024, window: 10s}}`, `routes: [{service: a}]`, ""},
		{"body rate bytes", `server: {min_body_rate: {bytes: 0, window: 10s}}`, `routes: [{service: a}]`, "c.yaml:1:33: error: min_body_rate: bytes must be greater than zero"},
		{"body rate window", `server: {min_body_rate: {bytes: 10, window: -1s}}`, `routes: [{service: a}]`, "window must not be negative"},
		{"body rate needs bytes", `server: {min_body_rate: {window: 1s}}`, `routes: [{service: a}]`, "bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse("c.yaml", []byte(doc(append(append([]string{tc.server, okListener}, okServices...), tc.route)...)))
			got := diags.String()
			if tc.want == "" {
				if len(diags) != 0 {
					t.Fatalf("unexpected diagnostics:\n%s", got)
				}
				return
			}
			if len(diags) != 1 || !strings.Contains(got, tc.want) {
				t.Errorf("diagnostics:\n%s\nwant one containing %q", got, tc.want)
			}
		})
	}
}
