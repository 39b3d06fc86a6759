package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestErrorPageDiagnostics(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "50x.html")
	if err := os.WriteFile(page, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		route string
		want  string // a fragment of the only diagnostic; "" = none
	}{
		{"valid", `  - {service: a, error_pages: [{statuses: [502, 503], file: "` + page + `"}, {statuses: [404], body: x}]}`, ""},
		{"relative file", `  - {service: a, error_pages: [{statuses: [502], file: 50x.html}]}`, ""},
		{"redirect", `  - {service: a, error_pages: [{statuses: [503], redirect: "https://s/", status: 307}]}`, ""},
		{"no statuses", `  - {service: a, error_pages: [{body: x}]}`, "missing required key"},
		{"status range", `  - {service: a, error_pages: [{statuses: [302], body: x}]}`, `c.yaml:7:44: error: route "route-1": error page status 302`},
		{"twice", `  - {service: a, error_pages: [{statuses: [502], body: x}, {statuses: [502], body: y}]}`, "given twice"},
		{"exclusive", `  - {service: a, error_pages: [{statuses: [502], body: x, redirect: /y}]}`, "mutually exclusive"},
		{"missing file", `  - {service: a, error_pages: [{statuses: [502], file: nope.html}]}`, "error page file: stat"},
		{"redirect status", `  - {service: a, error_pages: [{statuses: [502], redirect: /y, status: 200}]}`, "want 301, 302"},
		{"rewrite_location value", `  - {service: a, rewrite_location: yes}`, "invalid rewrite_location"},
		{"rewrite_location on return", `  - {return: {status: 200}, rewrite_location: auto}`, "needs a service"},
		{"empty from", `  - {service: a, location_rewrites: [{from: "", to: /}]}`, "from must not be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse(filepath.Join(dir, "c.yaml"), []byte(withSvc("routes:", tc.route)))
			got := strings.ReplaceAll(diags.String(), dir+"/", "")
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
