package nginx

import "testing"

func TestConvertMapsAndLimits(t *testing.T) {
	const up = "upstream api { server 127.0.0.1:9001; }\n"
	tests := []struct {
		name  string
		http  string   // inside http { }
		want  []string // fragments of the YAML
		diags []string // fragments of "pos: severity: msg", in order; none means no errors
	}{
		{
			name: "map with exact, regex, case-folded regex, escaped keyword and default",
			http: up + `map $http_x_k $tier { default basic; Gold gold; ~^adm "admin-$host"; ~*^vip vip; \default lit; '' none; volatile; }
				server { listen 8080; location / { proxy_set_header X-Tier $tier; proxy_pass http://api; } }`,
			want: []string{"maps:\n  tier:", `source: "${header.X-K}"`, `default: "basic"`,
				`- {exact: "Gold", value: "gold"}`, `- {regex: "^adm", value: "admin-${host}"}`,
				`- {regex: "(?i)^vip", value: "vip"}`, `- {exact: "default", value: "lit"}`, `- {exact: "", value: "none"}`,
				`"X-Tier": "${map.tier}"`},
		},
		{
			name: "unused maps are not emitted",
			http: up + `map $host $unused { hostnames; default x; } server { listen 8080; location / { proxy_pass http://api; } }`,
			want: []string{"routes:"},
		},
		{
			name: "WebSocket idiom sets nothing: the engine passes upgrades",
			http: up + `map $http_upgrade $connection_upgrade { default upgrade; '' close; }
				server { listen 8080; location / { proxy_set_header Upgrade $http_upgrade;
				proxy_set_header Connection $connection_upgrade; proxy_pass http://api; } }`,
			diags: []string{"info: proxy_set_header Upgrade $http_upgrade: fjord forwards upgrades",
				"info: proxy_set_header Connection $connection_upgrade: fjord forwards upgrades"},
		},
		{
			name: "map errors: hostnames, captures in values, maps of maps, duplicates",
			http: up + `map $host $a { hostnames; default x; } map $uri $b { ~^/(.*) $1; } map $a $c { default y; } map $host $a { }
				server { listen 8080; location /a { return 200 $a; } location /b { return 200 $b; } location /c { return 200 $c; } }`,
			diags: []string{"map hostnames: not supported yet", "map value with regex captures",
				"a map that uses map $a: not supported yet", `duplicate "a" variable`},
		},
		{
			name: "client_max_body_size inherits; nginx's 1m by default",
			http: up + `client_max_body_size 2k; server { listen 8080; location /a { proxy_pass http://api; }
				location /b { client_max_body_size 0; proxy_pass http://api; } }
				server { listen 8081; client_max_body_size 3m; location / { proxy_pass http://api; } }
				server { listen 8082; location / { proxy_pass http://api; } }`,
			want: []string{"max_body_bytes: 2048", "max_body_bytes: 0", "max_body_bytes: 3145728"},
		},
		{
			name: "limit_req becomes rate_limit; limit_conn becomes max_connections_per_ip",
			http: up + `limit_req_zone $binary_remote_addr zone=ip:10m rate=5r/s;
				limit_req_zone $http_x_api_key zone=key:10m rate=60r/m;
				limit_conn_zone $binary_remote_addr zone=addr:10m;
				limit_req_status 429; limit_conn addr 20;
				server { listen 8080; limit_req zone=ip burst=3 nodelay;
				  location / { proxy_pass http://api; }
				  location /api/ { limit_req zone=key; proxy_pass http://api; } }`,
			want: []string{"max_connections_per_ip: 20", `rate_limit: {key: "client_ip", rate: "5/s", burst: 4, status: 429}`,
				`rate_limit: {key: "header:X-Api-Key", rate: "60/m", burst: 1, status: 429}`},
		},
		{
			name: "limit_req without limit_req_status answers nginx's 503",
			http: up + `limit_req_zone $remote_addr zone=ip:1m rate=1r/s;
				server { listen 8080; location / { limit_req zone=ip; proxy_pass http://api; } }`,
			want: []string{`rate_limit: {key: "client_ip", rate: "1/s", burst: 1, status: 503}`},
		},
		{
			name: "limit errors",
			http: up + `limit_req_zone $uri zone=u:1m rate=1r/s; limit_conn_zone $binary_remote_addr zone=c:1m;
				server { listen 8080; limit_conn c 5; location / { limit_req zone=nope; limit_conn c 2; proxy_pass http://api; } }
				server { listen 8081; limit_conn c 6; location / { client_max_body_size 1x; proxy_pass http://api; } }`,
			diags: []string{`limit_req_zone key "$uri": not supported yet`, `zero size shared memory zone "nope"`,
				"limit_conn in a location: not supported", "limit_conn 6 differs from limit_conn 5", `invalid size "1x"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y, diags := convertString(t, "events {}\nhttp {\n"+tt.http+"\n}\n")
			checkConvert(t, y, diags, tt.want, tt.diags)
		})
	}
}
