package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConvertCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	must := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	must(good, "events {}\nhttp { server { listen 127.0.0.1:8080; location / { proxy_pass http://127.0.0.1:9001; } } }\n")
	must(bad, "http {\n server { listen 8080; location / { auth_basic x; return 200; } } }\n")
	tests := []struct {
		name      string
		args      []string
		code      int
		out, errs string
	}{
		{"convert ok", []string{"convert", good}, 0, `service: 127-0-0-1-9001`, "warning: ignored: events"},
		{"convert error", []string{"convert", bad}, 1, "", "bad.conf:2:37: error: not supported yet: auth_basic"},
		{"validate nginx", []string{"validate", good}, 0, "ok", ""},
		{"validate forced native", []string{"validate", "--format", "native", good}, 1, "", "error"},
		{"bad format", []string{"validate", "--format", "xml", good}, 2, "", "unknown config format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs strings.Builder
			code := run(tt.args, &out, &errs)
			if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errs.String(), tt.errs) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errs.String())
			}
		})
	}
}
