package nginx

import "testing"

func TestConvertTLS(t *testing.T) {
	tests := []struct {
		name  string
		file  string // the main file's name; "" is nginx.conf
		http  string // inside http { }
		want  []string
		diags []string
	}{
		{
			name: "two servers with their certificates share a listener by SNI",
			file: "/etc/nginx/nginx.conf",
			http: "ssl_protocols TLSv1.2 TLSv1.3;\n" +
				"server { listen 8443 ssl; server_name a.test; ssl_certificate a.pem; ssl_certificate_key a.key;\n" +
				"  location / { return 200 a; } }\n" +
				"server { listen 8443 ssl default_server http2; server_name b.test;\n" +
				"  ssl_certificate /c/b.pem; ssl_certificate_key /c/b.key; location / { return 200 b; } }\n" +
				"server { listen 8080; return 301 https://$host$request_uri; }",
			want: []string{"    address: \"0.0.0.0:8443\"\n    tls:\n      certificates:\n" +
				"        - {cert: \"/c/b.pem\", key: \"/c/b.key\"}\n" +
				"        - {cert: \"/etc/nginx/a.pem\", key: \"/etc/nginx/a.key\"}\n" +
				"      min_version: \"1.2\"\n    http2: true",
				`{name: "0.0.0.0:8080", address: "0.0.0.0:8080"}`, `Location: "https://${host}${request_uri}"`},
		},
		{
			name: "http-level certificate, legacy ssl on, old protocols, OpenSSL cipher names",
			http: "ssl_certificate c.pem; ssl_certificate_key c.key; ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n" +
				"ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:HIGH:!aNULL:DES-CBC3-SHA:ECDHE-ECDSA-CHACHA20-POLY1305;\n" +
				"ssl_prefer_server_ciphers on; ssl_session_cache shared:SSL:10m; ssl_session_timeout 1d;\n" +
				"server { listen 8443; ssl on; location / { return 200 x; } }",
			want: []string{`{cert: "c.pem", key: "c.key"}`, `min_version: "1.2"`,
				`ciphers: ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"]`,
				"http2: false"},
			diags: []string{"3:51: warning: ssl_protocols: fjord accepts TLS 1.2 and 1.3 only",
				"3:51: warning: ssl_protocols without TLSv1.3", "4:13: warning: ssl_ciphers: left out HIGH:DES-CBC3-SHA",
				"5:1: info: ssl_prefer_server_ciphers accepted", "5:31: warning: ignored: ssl_session_cache",
				"5:65: warning: ignored: ssl_session_timeout", "6:23: info: ssl on"},
		},
		{
			name: "TLS 1.3 only, http2 on, plain http2 listener",
			http: "server { listen 8443 ssl; http2 on; ssl_protocols TLSv1.3; ssl_certificate c.pem; ssl_certificate_key c.key;\n" +
				"  ssl_ciphers HIGH:!aNULL; location / { return 200 x; } }\n" +
				"server { listen 8081 http2; location / { return 200 y; } }",
			want:  []string{`min_version: "1.3"`, "http2: true", "    address: \"0.0.0.0:8081\"\n    h2c: true"},
			diags: []string{"4:15: warning: ssl_ciphers: left out HIGH", "4:15: warning: ssl_ciphers: no suite maps"},
		},
		{
			name:  "ssl listener without a certificate",
			http:  "server { listen 8443 ssl; location / { return 200 x; } }",
			diags: []string{`3:10: error: no "ssl_certificate" is defined`},
		},
		{
			name: "unsupported TLS directives",
			http: "server { listen 8443 ssl; ssl_certificate $host.pem; ssl_certificate_key k;\n" +
				"  ssl_verify_client on; ssl_client_certificate ca.pem; listen 8444 quic; location / { return 200 x; } }",
			diags: []string{`3:43: error: ssl_certificate "$host.pem"`, "4:3: error: not supported yet: ssl_verify_client",
				"4:25: error: not supported yet: ssl_client_certificate", "4:68: error: listen quic"},
		},
		{
			name: "unequal certificate and key lists",
			http: "server { listen 8443 ssl; ssl_certificate a.pem; ssl_certificate b.pem; ssl_certificate_key a.key;\n" +
				"  location / { return 200 x; } }",
			diags: []string{"3:1: error: server has 2 ssl_certificate and 1 ssl_certificate_key"},
		},
		{
			name: "dual-stack ssl listeners merge",
			http: "server { listen 8443 ssl; listen [::]:8443 ssl; ssl_certificate c.pem; ssl_certificate_key c.key;\n" +
				"  location / { return 200 x; } }",
			want: []string{"    address: \":8443\"\n    tls:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = "nginx.conf"
			}
			ds, err := Options{KeepIncludes: true}.Parse(file, []byte("events {}\nhttp {\n"+tt.http+"\n}\n"))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			y, diags := Convert(ds)
			checkConvert(t, string(y), diags, tt.want, tt.diags)
		})
	}
}

func TestConvertGRPC(t *testing.T) {
	tests := []struct {
		name, http  string
		want, diags []string
	}{
		{
			name: "grpc and grpcs on an http2 listener",
			http: "upstream g { server 127.0.0.1:50051; }\n" +
				"server { listen 8080 http2; grpc_set_header X-Level s; grpc_read_timeout 5m; proxy_set_header X-P p;\n" +
				"  location /pkg.Svc/ { grpc_pass grpc://g; grpc_connect_timeout 2s; }\n" +
				"  location /pkg.Sec/ { grpc_ssl_trusted_certificate /ca.pem; grpc_ssl_name s.internal; grpc_ssl_verify on;\n" +
				"    grpc_pass grpcs://10.0.0.1:443; }\n" +
				"  location /bare/ { grpc_pass 127.0.0.1:50052; } }",
			want: []string{"protocol: h2c", "protocol: h2\n", `tls: {ca: "/ca.pem", server_name: "s.internal"}`,
				`"X-Level": "s"`, "timeouts: {connect: 2s, response_header: 5m0s, idle: 5m0s}", "h2c: true"},
		},
		{
			name: "grpc_pass errors",
			http: "upstream g { server 127.0.0.1:50051; }\n" +
				"server { listen 8080; location / { grpc_pass grpc://g; } }\n" +
				"server { listen 8081 http2; location /a { proxy_pass http://g; } location /b { grpc_pass grpc://g; }\n" +
				"  location /c { grpc_pass grpc://x:1/path; } location /d { grpc_pass http://x:1; } }",
			diags: []string{"4:36: error: grpc_pass in a server without HTTP/2", "5:80: error: upstream \"g\" is used by",
				"6:27: error: grpc_pass \"grpc://x:1/path\": a URI part", "6:70: error: invalid URL prefix"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y, diags := convertString(t, "events {}\nhttp {\n"+tt.http+"\n}\n")
			checkConvert(t, y, diags, tt.want, tt.diags)
		})
	}
}
