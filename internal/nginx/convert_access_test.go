package nginx

import (
	"strings"
	"testing"
)

func TestConvertAccess(t *testing.T) {
	const up = "upstream api { server 127.0.0.1:9001; }\n"
	tests := []struct {
		name  string
		http  string
		want  []string // fragments of the YAML
		diags []string // fragments of diagnostics
	}{
		{"inherited and replaced", up + "allow 10.0.0.0/8; deny all;\nserver { listen 127.0.0.1:8080;\n" +
			"location /a/ { proxy_pass http://api; }\nlocation /b/ { deny 10.1.0.0/16; proxy_pass http://api; }\n" +
			"location /r/ { return 204; } }",
			[]string{`access: ["allow 10.0.0.0/8", "deny all"]`, `access: ["deny 10.1.0.0/16"]`}, nil},
		{"realip", up + "set_real_ip_from 10.0.0.0/8; set_real_ip_from 192.0.2.1;\n" +
			"server { listen 127.0.0.1:8080 proxy_protocol; real_ip_header proxy_protocol; location / { proxy_pass http://api; } }",
			[]string{`trusted_proxies: ["10.0.0.0/8", "192.0.2.1"]`, `real_ip_header: "none"`, "real_ip_recursive: false",
				"proxy_protocol: true"}, nil},
		{"realip defaults", up + "set_real_ip_from 10.0.0.1;\nserver { listen 127.0.0.1:8080; location / { proxy_pass http://api; } }",
			[]string{`real_ip_header: "X-Real-IP"`, "real_ip_recursive: false"}, nil},
		{"bad address", up + "server { listen 127.0.0.1:8080; location / { allow 10.0.0.300; proxy_pass http://api; } }",
			nil, []string{`error: allow: invalid address "10.0.0.300"`}},
		{"deferred", up + "set_real_ip_from 10.0.0.1;\nserver { listen 127.0.0.1:8080 deferred proxy_protocol; location / { proxy_pass http://api; } }\n" +
			"server { listen 127.0.0.1:8081 deferred; location / { proxy_pass http://api; } }",
			[]string{`address: "127.0.0.1:8080", proxy_protocol: true, defer_accept: true}`,
				`address: "127.0.0.1:8081", defer_accept: true}`}, nil},
		{"proxy_protocol without trust", up + "server { listen 127.0.0.1:8080 proxy_protocol; location / { proxy_pass http://api; } }",
			nil, []string{"error: listen 127.0.0.1:8080 proxy_protocol: fjord needs set_real_ip_from"}},
		{"conflicting headers", up + "real_ip_header X-Real-IP; set_real_ip_from 10.0.0.1;\n" +
			"server { listen 127.0.0.1:8080; real_ip_header X-Forwarded-For; location / { proxy_pass http://api; } }",
			nil, []string{"error: real_ip_header X-Forwarded-For differs from X-Real-IP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y, diags := convertString(t, "events {}\nhttp {\n"+tt.http+"\n}\n")
			for _, w := range tt.want {
				if !strings.Contains(y, w) {
					t.Errorf("YAML lacks %q:\n%s", w, y)
				}
			}
			var all []string
			for _, d := range diags {
				all = append(all, d.String())
			}
			for _, w := range tt.diags {
				if !strings.Contains(strings.Join(all, "\n"), w) {
					t.Errorf("diagnostics lack %q:\n%s", w, strings.Join(all, "\n"))
				}
			}
			if tt.want != nil && strings.Contains(y, "/r/") && strings.Count(y, "access:") != 2 {
				t.Errorf("a return location got an access list:\n%s", y)
			}
		})
	}
}
