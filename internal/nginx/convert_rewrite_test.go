package nginx

import (
	"regexp"
	"testing"
)

func TestConvertRewrite(t *testing.T) {
	const up = "upstream api { server 127.0.0.1:9001; }\n"
	tests := []struct {
		name  string
		http  string   // inside http { }
		want  []string // fragments of the YAML
		diags []string // fragments of "pos: severity: msg", in order; none means no errors
	}{
		{
			name: "break becomes replace_path",
			http: up + `server { listen 8080; location /app/ { rewrite ^/app/(.*)$ /v2/$1x break; proxy_pass http://api; } }`,
			want: []string{`replace_path: {regex: "^(?s:.*?)(?:^/app/(.*)$)(?s:.*)$", with: "/v2/${1}x"}`},
		},
		{
			name: "break drops the proxy_pass URI part when it rewrites every path",
			http: up + `server { listen 8080; location /a/ { rewrite ^/a/(.*)$ /b/$1 break; proxy_pass http://api/c/; } }`,
			want: []string{`with: "/b/${1}"`},
		},
		{
			name: "last that stays in the location",
			http: up + `server { listen 8080; location /app/ { rewrite ^/app/old/(.*)$ /app/new/$1 last; proxy_pass http://api; }
				location = /x { return 204; } }`,
			want: []string{`with: "/app/new/${1}"`},
		},
		{
			name: "permanent redirect of a whole location",
			http: `server { listen 8080; location /old/ { rewrite ^/old/ https://$host/new/? permanent; } }`,
			want: []string{"status: 301", `headers: {Location: "https://${host}/new/"}`},
		},
		{
			name: "redirect of an exact location uses its captures",
			http: `server { listen 8080; location = /u/7 { rewrite ^/u/(\d+)$ /users/$1? redirect; } }`,
			want: []string{"status: 302", `headers: {Location: "/users/7"}`},
		},
		{
			name: "server-level redirect of every path",
			http: `server { listen 8080; rewrite ^(.*)$ https://example.test/? permanent; location / { proxy_pass http://127.0.0.1:1; } }`,
			want: []string{`path_prefix: "/"`, "status: 301", `Location: "https://example.test/"`},
		},
		{
			name: "redirect that keeps the query",
			http: `server { listen 8080; location /old/ { rewrite ^ /new/ permanent; } }`,
			want: []string{`headers: {Location: "/new/${is_args}${query}"}`},
		},
		{
			name: "redirect with captures takes them from the rewrite regex",
			http: `server { listen 8080; location /old/ { rewrite ^/old/(.*)$ /new/$1 permanent; } }`,
			want: []string{`captures: "^/old/(.*)$"`, `headers: {Location: "/new/${1}${is_args}${query}"}`},
		},
		{
			name: "redirect with a query of its own that drops the request's",
			http: `server { listen 8080; location /old/ { rewrite ^/old/(.*)$ /new?p=$1? redirect; } }`,
			want: []string{`headers: {Location: "/new?p=${1}"}`},
		},
		{
			name:  "redirect with a query of its own that keeps the request's",
			http:  `server { listen 8080; location /old/ { rewrite ^/old/(.*)$ /new?p=$1 redirect; } }`,
			diags: []string{"3:60: error: rewrite redirect with a query string that also keeps the request's"},
		},
		{
			name: "return in a regex location uses its captures",
			http: `server { listen 8080; location ~ ^/u/(\d+)$ { return 301 /users/$1$is_args$args; } }`,
			want: []string{`path_regex: ".*?(?:^/u/(\\d+)$).*"`, `headers: {Location: "/users/${1}${is_args}${query}"}`},
		},
		{
			name: "captures past the last group and outside a regex are empty",
			http: `server { listen 8080; location ~ ^/u/(\d+)$ { return 200 "$1-$2"; } location /p/ { return 200 "x$1"; } }`,
			want: []string{`body: "${1}-"`, `body: "x"`},
		},
		{
			name:  "captures with a break rewrite",
			http:  up + `server { listen 8080; location ~ ^/a/(.*)$ { rewrite ^/a/(.*)$ /b/$1 break; proxy_set_header X-A $1; proxy_pass http://api; } }`,
			diags: []string{"regex capture $1 in a location with rewrite"},
		},
		{
			name:  "redirect of some paths",
			http:  up + `server { listen 8080; location / { rewrite ^/old$ /new? permanent; proxy_pass http://api; } }`,
			diags: []string{"4:44: error: rewrite redirect of only some paths"},
		},
		{
			name:  "server-level last",
			http:  up + `server { listen 8080; rewrite ^/a/(.*)$ /b/$1 last; location / { proxy_pass http://api; } }`,
			diags: []string{"4:23: error: server-level rewrite ... last: not supported yet"},
		},
		{
			name:  "last that loops",
			http:  up + `server { listen 8080; location /api/ { rewrite ^/api/(.*)$ /api/v2/$1 last; proxy_pass http://api; } }`,
			diags: []string{"could match the rewrite again"},
		},
		{
			name:  "last into another location",
			http:  up + `server { listen 8080; location /a/ { rewrite ^/a/(.*)$ /b/$1 last; proxy_pass http://api; } location /b/ { return 204; } }`,
			diags: []string{"must start with the location's own prefix"},
		},
		{
			name:  "last claimed by a regex location",
			http:  up + `server { listen 8080; location /a/ { rewrite ^/a/x/(.*)$ /a/y/$1 last; proxy_pass http://api; } location ~ \.png$ { return 204; } }`,
			diags: []string{"another location of the server could handle"},
		},
		{
			name:  "variables, query and bad flag",
			http:  up + `server { listen 8080; location /a/ { rewrite ^ /b$uri break; proxy_pass http://api; } location /c/ { rewrite ^ /d?x=1 break; proxy_pass http://api; } location /e/ { rewrite ^ /f always; proxy_pass http://api; } }`,
			diags: []string{"only $1-style captures", "with a query string", `invalid parameter "always"`},
		},
		{
			name:  "two rewrites and lookahead",
			http:  up + `server { listen 8080; location /a/ { rewrite ^/a/x /b break; rewrite ^/a/y /c break; proxy_pass http://api; } location /d/ { rewrite ^/d(?=x) /e break; proxy_pass http://api; } }`,
			diags: []string{"more than one rewrite", "rewrite regex"},
		},
		{
			name:  "proxy_pass URI part with a partial rewrite",
			http:  up + `server { listen 8080; location /a/ { rewrite ^/a/x/(.*)$ /a/y/$1 break; proxy_pass http://api/z/; } }`,
			diags: []string{"rewrite with a proxy_pass URI part"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y, diags := convertString(t, "events {}\nhttp {\n"+tt.http+"\n}\n")
			checkConvert(t, y, diags, tt.want, tt.diags)
		})
	}
}

// TestRewriteReplacePath runs the translated regex and replacement the way
// fjord's proxy does (ReplaceAll on the path) and checks nginx's results:
// the whole URI is replaced when the regex matches anywhere, else kept.
func TestRewriteReplacePath(t *testing.T) {
	tests := []struct{ re, repl, path, want string }{
		{`^/app/(.*)$`, `/v2/$1x`, "/app/a/b", "/v2/a/bx"},
		{`^/app/(.*)$`, `/v2/$1`, "/other", "/other"},
		{`/foo`, `/bar`, "/a/foo/b", "/bar"},
		{`(\d+)`, `/n/$1`, "/a/12/34", "/n/12"},
		{`^/x$`, `/cost$`, "/x", "/cost$"},
	}
	for _, tt := range tests {
		t.Run(tt.re+" "+tt.path, func(t *testing.T) {
			with, ok := goReplacement(tt.repl)
			if !ok {
				t.Fatalf("goReplacement(%q) refused", tt.repl)
			}
			re := regexp.MustCompile("^(?s:.*?)(?:" + tt.re + ")(?s:.*)$")
			if got := re.ReplaceAllString(tt.path, with); got != tt.want {
				t.Errorf("rewrite %s %s on %s = %q, want %q", tt.re, tt.repl, tt.path, got, tt.want)
			}
		})
	}
}

func TestMatchesAll(t *testing.T) {
	prefix := &route{kind: "path_prefix", path: "/old/"}
	tests := []struct {
		re   string
		want bool
	}{
		{"^", true}, {"", true}, {".*", true}, {"^(.*)$", true}, {"^/old/", true}, {"^/ol", true},
		{"^/old/(.*)$", true}, {"^/old/x", false}, {"^/old/$", false}, {"(?i)^/OLD/", false}, {"\\.png$", false},
	}
	for _, tt := range tests {
		t.Run(tt.re, func(t *testing.T) {
			if got := matchesAll(tt.re, prefix); got != tt.want {
				t.Errorf("matchesAll(%q, /old/) = %v, want %v", tt.re, got, tt.want)
			}
		})
	}
}
