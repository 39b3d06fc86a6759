package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStaticDiagnostics(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		route string
		want  string // a fragment of the only diagnostic; "" = none
	}{
		{"valid root", `  - {match: {path_prefix: /}, static: {root: "` + dir + `", try_files: [$uri, $uri/, =404]}}`, ""},
		{"relative root", `  - {static: {root: "."}}`, ""},
		{"valid alias", `  - {match: {path_prefix: /a/}, static: {alias: "` + dir + `"}}`, ""},
		{"missing root", `  - {static: {root: "` + dir + `/nope"}}`, `c.yaml:7:21: error: route "route-1": static root: stat`},
		{"root is a file", `  - {static: {root: "` + file + `"}}`, "is not a directory"},
		{"neither", `  - {static: {index: [a.html]}}`, "static needs root"},
		{"both", `  - {static: {root: "` + dir + `", alias: "` + dir + `"}}`, "root and alias are mutually exclusive"},
		{"alias on exact", `  - {match: {path: /x}, static: {alias: "` + dir + `"}}`, "alias needs match.path_prefix"},
		{"with service", `  - {service: a, static: {root: "` + dir + `"}}`, "has both static and service"},
		{"code not last", `  - {static: {root: "` + dir + `", try_files: [=404, $uri]}}`, "=CODE must be the last entry"},
		{"bad code", `  - {static: {root: "` + dir + `", try_files: [$uri, =42]}}`, "CODE between 100 and 599"},
		{"bad candidate", `  - {static: {root: "` + dir + `", try_files: [file]}}`, "want $uri"},
		{"unknown fallback", `  - {static: {root: "` + dir + `", fallback: nope}}`, `unknown route "nope"`},
		{"hidden_files", `  - {static: {root: "` + dir + `", hidden_files: maybe}}`, "want deny or allow"},
		{"index with slash", `  - {static: {root: "` + dir + `", index: [a/b]}}`, "without '/'"},
		{"types key", `  - {static: {root: "` + dir + `", types: {css: text/css}}}`, "extension with its dot"},
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
