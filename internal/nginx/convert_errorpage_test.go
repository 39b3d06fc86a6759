package nginx

import "testing"

func TestConvertErrorPagesAndRedirects(t *testing.T) {
	const up = "upstream api { server 127.0.0.1:9001; }\n"
	tests := []struct {
		name  string
		http  string
		want  []string
		diags []string
	}{
		{
			name: "pages from return and static locations, redirects",
			http: up + "server { listen 8080; error_page 502 503 /50x; error_page 404 =200 /nf.html;\n" +
				"location = /50x { return 200 \"down\"; } location = /nf.html { root /srv; }\n" +
				"location /a/ { error_page 500 https://s.example/; proxy_pass http://api/b/; } location /c/ { proxy_pass http://api; } }",
			want: []string{"server:\n  error_pages:\n", `{statuses: [502, 503], body: "down", content_type: "text/plain"}`,
				`{statuses: [404], status: 200, file: "/srv/nf.html", content_type: "text/html"}`,
				`{statuses: [500], status: 302, redirect: "https://s.example/"}`,
				`location_rewrites: [{from: "http://api/b/", to: "/a/"}]`,
				`location_rewrites: [{from: "http://api/", to: "/"}]`},
		},
		{
			name: "proxy_redirect off and FROM TO",
			http: up + "proxy_redirect http://x/ /y/;\nserver { listen 8080; location /a/ { proxy_redirect off; proxy_pass http://api; }\n" +
				"location /b/ { proxy_pass http://api; } location /c/ { proxy_redirect default; proxy_redirect http://z/ /; proxy_pass http://api; } }",
			want: []string{`location_rewrites: [{from: "http://x/", to: "/y/"}]`,
				`location_rewrites: [{from: "http://api/", to: "/"}, {from: "http://z/", to: "/"}]`},
		},
		{
			name: "refused forms",
			http: up + "server { listen 8080; location /a/ { error_page 502 @fallback; proxy_pass http://api; }\n" +
				"location /b/ { proxy_pass http://api; }\n" +
				"location /d/ { proxy_intercept_errors on; proxy_redirect ~^http://(.*)$ /$1; proxy_pass http://api; }\n" +
				"location /e/ { error_page 301 /x; proxy_pass http://api; } }",
			diags: []string{"4:53: error: error_page to a named location @fallback",
				"6:16: error: proxy_intercept_errors on", "6:43: error: proxy_redirect with a regex", "7:27: error: error_page 301"},
		},
		{
			name:  "page answered by a proxied location",
			http:  up + "server { listen 8080; location /b/ { error_page 502 /c/; proxy_pass http://api; } location /c/ { proxy_pass http://api; } }",
			diags: []string{"4:38: error: error_page /c/ is answered by a proxied location"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y, diags := convertString(t, "events {}\nhttp {\n"+tt.http+"\n}\n")
			checkConvert(t, y, diags, tt.want, tt.diags)
		})
	}
}
