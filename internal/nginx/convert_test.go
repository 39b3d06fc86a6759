package nginx

import (
	"path/filepath"
	"strings"
	"testing"
)

// convertString parses src as nginx.conf and converts it.
func convertString(t *testing.T, src string) (string, []Diag) {
	t.Helper()
	ds, err := Options{KeepIncludes: true}.Parse("nginx.conf", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	y, diags := Convert(ds)
	return string(y), diags
}

func TestConvert(t *testing.T) {
	const up = "upstream api { server 127.0.0.1:9001 weight=3; server 127.0.0.1:9002; }\n"
	tests := []struct {
		name  string
		http  string   // inside http { }
		want  []string // fragments of the YAML
		diags []string // fragments of "pos: severity: msg", in order
	}{
		{
			name: "upstream with weights and outlier",
			http: "upstream api { server 127.0.0.1:9001 weight=3 max_fails=2 fail_timeout=5s; server 127.0.0.1:9002 max_fails=2 fail_timeout=5s; keepalive 16; least_conn; }\n" +
				"server { listen 127.0.0.1:8080; location / { proxy_pass http://api; } }",
			want: []string{`{address: "127.0.0.1:9001", weight: 3}`, "balancer: least_conn", "max_idle_per_instance: 16",
				"consecutive_failures: 2, fail_window: 5s", "limits: {max_concurrent: 0}",
				`retries: {attempts: 1, on: ["connect_failure", "reset", "timeout"]`, `host: "api"`,
				"forwarded_headers: false", `listeners: ["127.0.0.1:8080"]`},
		},
		{
			name: "locations",
			http: up + "server { listen 8080; server_name a.example .b.example;\n" +
				"location = /x { return 204; }\nlocation ^~ /s/ { proxy_pass http://api; }\n" +
				"location ~ ^/a/(\\d+) { proxy_pass http://api; }\nlocation ~* \\.PNG$ { return 403 no; }\n" +
				"location /p/ { proxy_pass http://api/q/; } }",
			want: []string{`path: "/x"`, `prefix_first: true`, `path_regex: ".*?(?:^/a/(\\d+)).*"`,
				`path_regex: "(?i).*?(?:\\.PNG$).*"`, `strip_prefix: "/p/"`, `add_prefix: "/q/"`,
				`hosts: ["a.example", "b.example", "*.b.example"]`, `name: "nginx-5-default"`, `"0.0.0.0:8080"`},
		},
		{
			name: "header inheritance and variables",
			http: up + "proxy_set_header X-Real-IP $remote_addr;\nserver { listen 8080;\n" +
				"location /a { proxy_pass http://api; }\n" +
				"location /b { proxy_set_header Host $host; proxy_set_header X-U $http_x_user_id$request_uri; " +
				"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_hide_header Server; add_header X-A 1; proxy_pass http://api; } }",
			want: []string{`"X-Real-IP": "${client_ip}"`, `"X-U": "${header.X-User-Id}${request_uri}"`,
				`host: "${host}"`, "forwarded_headers: true", `remove: ["X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-IP"`,
				`remove: ["Server"]`, `"X-A": "1"`},
		},
		{
			name: "timeouts",
			http: up + "proxy_connect_timeout 300s;\nserver { listen 8080; location / { proxy_read_timeout 2m; proxy_send_timeout 5m; proxy_pass http://api; } }",
			want: []string{"timeouts: {connect: 5m0s, response_header: 2m0s, idle: 5m0s}"},
		},
		{
			name:  "errors with positions",
			http:  "server { listen 8080 quic; location / { proxy_pass https://x; allow 1.2.3.4; } location ~ /x(?=y) { } }",
			diags: []string{"3:22: error: listen quic: HTTP/3", "3:52: error: proxy_pass to https://", "3:91: error: location regex"},
		},
		{
			name:  "unknown variable and directive",
			http:  up + "server { listen 8080; frobnicate on; location / { proxy_set_header X $foo; proxy_pass http://api; } }",
			diags: []string{`4:23: error: directive "frobnicate" is not supported in server`, "4:51: error: variable $foo"},
		},
		{
			name:  "regex location with URI part",
			http:  up + "server { listen 8080; location ~ /x { proxy_pass http://api/y; } }",
			diags: []string{"cannot have URI part"},
		},
		{
			name: "down server and ignored tuning",
			http: "sendfile on; keepalive_timeout 30s; upstream u { server 127.0.0.1:1 down; server 127.0.0.1:2; }\n" +
				"server { listen 8080; location / { proxy_pass http://u; proxy_buffering off; } }",
			want:  []string{"idle_timeout: 30s", "consecutive_failures: 0"},
			diags: []string{"3:1: warning: ignored: sendfile", "3:50: info: server 127.0.0.1:1 is marked down", "4:57: info: proxy_buffering"},
		},
		{
			name: "nested regex routes go before the server's regexes",
			http: up + "server { listen 8080; location ~ \\.js$ { return 200 top; }\n" +
				"location /a/ { proxy_pass http://api; location ~ ^/a/b { return 200 nested; } } }",
			want: []string{"routes:\n  - name: \"nginx-5-default-3\"", `path_regex: ".*?(?:^/a/b).*"`},
		},
		{
			name: "nested locations that cannot be flattened",
			http: up + "server { listen 8080; location /a/ { proxy_pass http://api; location ~ /b { return 200 x; }\n" +
				"location ~* ^/a/c { return 200 x; } location ^~ /a/d/ { return 200 x; } }\n" +
				"location ^~ /s/ { proxy_pass http://api; location ~ ^/s/x { return 200 x; } }\n" +
				"location /p/ { proxy_pass http://api; location /p/q/r/ { return 200 x; } } location /p/q/ { return 200 y; } }",
			diags: []string{`4:61: error: regex location nested in location "/a/" must start with ^/a/`,
				"5:1: error: regex location nested", "5:37: error: ^~ location nested in a plain prefix",
				"6:42: error: regex location nested in a ^~ location", `7:1: error: location "/p/" has nested locations`},
		},
		{
			name: "default_server picks the default group",
			http: up + "server { listen 8080; server_name a; location / { return 200 a; } }\n" +
				"server { listen 8080 default_server; server_name b; location / { return 200 b; } }",
			want: []string{`name: "nginx-5-default"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y, diags := convertString(t, "events {}\nhttp {\n"+tt.http+"\n}\n")
			checkConvert(t, y, diags, tt.want, tt.diags)
		})
	}
}

// checkConvert asserts that the YAML contains every want fragment and that the diagnostics contain every wantDiags
// fragment, in order (the notice about the test's own `events {}` block aside); no wantDiags means no errors.
func checkConvert(t *testing.T, y string, diags []Diag, want, wantDiags []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(y, w) {
			t.Errorf("YAML lacks %q:\n%s", w, y)
		}
	}
	var got []string
	for _, d := range diags {
		if d.Msg != "ignored: events (fjord sizes its own connection handling)" {
			got = append(got, d.String())
		}
	}
	i := 0
	for _, g := range got {
		if i < len(wantDiags) && strings.Contains(g, wantDiags[i]) {
			i++
		}
	}
	if i < len(wantDiags) {
		t.Errorf("diagnostic %q missing (in order) from:\n%s", wantDiags[i], strings.Join(got, "\n"))
	}
	if len(wantDiags) == 0 && HasErrors(diags) {
		t.Errorf("unexpected errors:\n%s", strings.Join(got, "\n"))
	}
}

func TestConvertDebianDefault(t *testing.T) {
	root := filepath.Join("testdata", "debian")
	ds, err := Options{Root: root}.ParseFile(filepath.Join(root, "etc", "nginx", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	y, diags := Convert(ds)
	for _, d := range diags {
		if d.Severity == SeverityError {
			t.Errorf("%s", d)
		}
	}
	for _, w := range []string{`address: ":80"`, `root: "/var/www/html"`, `try_files: ["$uri", "$uri/", "=404"]`, `path: "/var/log/nginx/access.log"`} {
		if !strings.Contains(string(y), w) {
			t.Errorf("YAML lacks %q:\n%s", w, y)
		}
	}
}

func TestParseNginxTime(t *testing.T) {
	for in, want := range map[string]string{"60": "1m0s", "1m30s": "1m30s", "500ms": "500ms", "1d": "24h0m0s"} {
		d, ok := parseNginxTime(in)
		if !ok || d.String() != want {
			t.Errorf("parseNginxTime(%q) = %v, %v; want %s", in, d, ok, want)
		}
	}
	for _, in := range []string{"", "x", "1x2"} {
		if _, ok := parseNginxTime(in); ok && in != "1x2" {
			t.Errorf("parseNginxTime(%q) accepted", in)
		}
	}
}
