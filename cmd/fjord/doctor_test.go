package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fjord-gw/fjord/internal/doctor"
)

// TestDoctorConfig: with -c, doctor adds the three configuration checks to its JSON; a config with errors is exit 2.
func TestDoctorConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	const cfg = "listeners: [{address: \"127.0.0.1:0\"}]\nserver: {max_connections: 100}\n" +
		"services: {a: {instances: [\"127.0.0.1:9\"], timeouts: {connect: 1s}}}\nroutes: [{service: a}]\n"
	for p, c := range map[string]string{good: cfg, bad: "listeners: []\n",
		"proc/sys/net/core/somaxconn": "4096\n", "proc/sys/net/ipv4/ip_local_port_range": "1024 65535\n"} {
		full := p
		if !filepath.IsAbs(p) {
			full = filepath.Join(dir, p)
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		file string
		code []int // acceptable exit codes (the real open-file limit decides between 0 and 1)
	}{
		{"fits", good, []int{0, 1}},
		{"config errors", bad, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := cmdDoctor([]string{"-c", tt.file, "--root", dir, "--json"}, &out, &errb)
			if !slices.Contains(tt.code, code) {
				t.Fatalf("exit %d, want %v; stderr %s", code, tt.code, errb.String())
			}
			if code == 2 {
				return
			}
			var fs []doctor.Finding
			if err := json.Unmarshal(out.Bytes(), &fs); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, f := range fs {
				if strings.HasSuffix(f.Name, "for "+tt.file) {
					n++
					if f.Name != "open files for "+tt.file && f.Level != doctor.OK {
						t.Errorf("%s: %s (%s), want OK for 100 connections", f.Name, f.Level, f.Current)
					}
				}
			}
			if n != 3 {
				t.Errorf("%d configuration findings, want 3:\n%s", n, out.String())
			}
		})
	}
}
