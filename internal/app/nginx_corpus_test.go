package app_test

// nginxCase is one config of the differential test. {{PORT}} and {{PORT2}}
// are replaced by two listen ports, {{A}} to {{D}} by four echo upstreams'
// addresses and {{DEAD}} by an address where nothing listens.
type nginxCase struct {
	name string
	// conf goes inside http { } unless raw, when it is the whole main file.
	conf string
	raw  bool
	// files are written next to the main config (for include), with the
	// same placeholders replaced.
	files map[string]string
	reqs  []nginxReq
	// differs names the deliberate differences this case shows; the
	// comparison allows exactly those (docs/nginx.md, Known differences).
	differs difference
}

// difference is a deliberate difference between fjord and nginx.
type difference uint

const (
	// relativeRedirect: nginx turns a relative Location of its own
	// redirects into http://host:port/... (absolute_redirect on); fjord
	// sends it relative, which RFC 9110 allows and browsers follow alike.
	relativeRedirect difference = 1 << iota
)

// nginxReq is one request of a case.
type nginxReq struct {
	host, path string
	port       int // 0: {{PORT}}, 1: {{PORT2}}
	// repeat > 1 sends the request that many times and compares the set of
	// answers: balanced pools need not start at the same instance.
	repeat int
}

var nginxCorpus = []nginxCase{
	{
		name: "locations and proxy_pass URI",
		conf: `upstream a { server {{A}}; } upstream b { server {{B}}; }
server { listen 127.0.0.1:{{PORT}};
  location / { proxy_pass http://a; }
  location = /exact { proxy_pass http://b; }
  location /api/ { proxy_pass http://b/v2/; }
  location ~ ^/img/.*\.png$ { proxy_pass http://b; }
  location ~* \.JPG$ { return 403 "no jpg"; }
  location /old { return 301 http://example.com/new; }
}`,
		differs: relativeRedirect,
		reqs: []nginxReq{{host: "x", path: "/"}, {host: "x", path: "/exact"}, {host: "x", path: "/exact/more"},
			{host: "x", path: "/api/users?id=1"}, {host: "x", path: "/api"}, {host: "x", path: "/img/a.png"},
			{host: "x", path: "/img/a.gif"}, {host: "x", path: "/api/pic.jpg"}, {host: "x", path: "/old"}},
	},
	{
		name: "server_name and default_server",
		conf: `server { listen 127.0.0.1:{{PORT}}; server_name one.test; location / { proxy_pass http://{{A}}; } }
server { listen 127.0.0.1:{{PORT}} default_server; server_name two.test *.wild.test;
  location / { proxy_pass http://{{B}}; } location /only-two { return 200 "two"; } }
server { listen 127.0.0.1:{{PORT}}; server_name .dot.test; location / { return 200 "dot"; } }`,
		reqs: []nginxReq{{host: "one.test", path: "/"}, {host: "two.test", path: "/"}, {host: "a.wild.test", path: "/x"},
			{host: "unknown.test", path: "/"}, {host: "one.test", path: "/only-two"},
			{host: "unknown.test", path: "/only-two"}, {host: "dot.test", path: "/"}, {host: "a.dot.test", path: "/"}},
	},
	{
		name: "^~ beats regex, regex beats plain prefix, server_name forms",
		conf: `upstream a { server {{A}}; } upstream b { server {{B}}; }
server { listen 127.0.0.1:{{PORT}} default_server; server_name www.shop.*;
  location / { proxy_pass http://a; }
  location ^~ /static/ { proxy_pass http://b; }
  location /media/ { proxy_pass http://b; }
  location ~ \.(png|css)$ { return 200 "regex"; }
}
server { listen 127.0.0.1:{{PORT}}; server_name ~^api[0-9]+\.test$; location / { return 200 "api"; } }
server { listen 127.0.0.1:{{PORT}}; server_name *.shop.test; location / { return 200 "leading"; } }`,
		reqs: []nginxReq{{host: "www.shop.test", path: "/static/a.png"}, {host: "www.shop.test", path: "/media/a.png"},
			{host: "www.shop.test", path: "/media/a.txt"}, {host: "www.shop.test", path: "/x.css"},
			{host: "api7.test", path: "/"}, {host: "apix.test", path: "/"}, {host: "www.shop.test", path: "/"},
			{host: "m.shop.test", path: "/"}},
	},
	{
		name: "proxy_set_header inheritance and variables",
		conf: `upstream a { server {{A}}; }
proxy_set_header X-Real-IP $remote_addr;
server { listen 127.0.0.1:{{PORT}};
  proxy_set_header X-Level server;
  location / { proxy_pass http://a; }
  location /own { proxy_set_header Host $host; proxy_set_header X-Custom "u=$http_x_user uri=$request_uri";
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_pass http://a; }
  location /named { proxy_set_header Host backend.internal; proxy_pass http://a; }
}`,
		reqs: []nginxReq{{host: "h.test", path: "/"}, {host: "h.test", path: "/own/x?q=1"}, {host: "h.test", path: "/named"}},
	},
	{
		name: "API gateway: two pools of two, X-Real-IP, Host $host, custom header, 300s timeouts",
		conf: `upstream auth { server {{A}}; server {{B}}; }
upstream inventory { server {{C}}; server {{D}}; }
server { listen 127.0.0.1:{{PORT}}; server_name gw.test;
  proxy_set_header X-Real-IP $remote_addr;
  proxy_set_header Host $host;
  proxy_set_header X-Custom gateway;
  proxy_connect_timeout 300s; proxy_read_timeout 300s; proxy_send_timeout 300s;
  location /auth/ { proxy_pass http://auth; }
  location /inventory/ { proxy_pass http://inventory; }
}`,
		reqs: []nginxReq{{host: "gw.test", path: "/auth/login", repeat: 6}, {host: "gw.test", path: "/inventory/items?id=3", repeat: 6},
			{host: "gw.test", path: "/other"}, {host: "gw.test", path: "/auth"}},
		differs: relativeRedirect,
	},
	{
		name: "weighted pool reaches every server",
		conf: `upstream w { server {{A}} weight=3; server {{B}}; server {{C}} weight=2; }
server { listen 127.0.0.1:{{PORT}}; location / { proxy_pass http://w; } }`,
		reqs: []nginxReq{{host: "w.test", path: "/x", repeat: 12}},
	},
	{
		name: "least_conn, ip_hash and hash pools",
		conf: `upstream lc { least_conn; server {{A}}; server {{B}}; }
upstream ih { ip_hash; server {{C}}; server {{D}}; }
server { listen 127.0.0.1:{{PORT}};
  location /lc/ { proxy_pass http://lc; }
  location /ih/ { proxy_pass http://ih/; }
}`,
		// ip_hash picks by the first three octets in nginx and by the whole
		// address in fjord, so which of C and D answers /ih/ may differ.
		reqs: []nginxReq{{host: "h", path: "/lc/a", repeat: 6}},
	},
	{
		name: "regex locations with captures, case folding and file order",
		conf: `upstream a { server {{A}}; } upstream b { server {{B}}; }
server { listen 127.0.0.1:{{PORT}};
  location / { proxy_pass http://a; }
  location ~ ^/users/(\d+)/profile$ { proxy_pass http://b; }
  location ~* "^/Reports/(?<year>[0-9]{4})/" { return 200 "report"; }
  location ~ /users/ { return 200 "second regex"; }
  location ~ \.php$ { return 403 "no php"; }
}`,
		reqs: []nginxReq{{host: "h", path: "/users/42/profile"}, {host: "h", path: "/users/abc/profile"},
			{host: "h", path: "/REPORTS/2024/q1"}, {host: "h", path: "/reports/24/q1"}, {host: "h", path: "/index.php"},
			{host: "h", path: "/users/42/profile.php"}},
	},
	{
		name: "exact, ^~ static and regex precedence",
		conf: `upstream app { server {{A}}; } upstream files { server {{B}}; }
server { listen 127.0.0.1:{{PORT}};
  location = / { return 200 "home"; }
  location / { proxy_pass http://app; }
  location ^~ /static/ { proxy_pass http://files; }
  location ^~ /static/private/ { return 403 "private"; }
  location ~* \.(css|js|png)$ { return 200 "asset"; }
}`,
		reqs: []nginxReq{{host: "h", path: "/"}, {host: "h", path: "/static/app.js"}, {host: "h", path: "/static/private/k.css"},
			{host: "h", path: "/js/app.js"}, {host: "h", path: "/page"}, {host: "h", path: "/static"}},
		differs: relativeRedirect,
	},
	{
		name: "proxy_pass URI part forms",
		conf: `upstream b { server {{B}}; }
server { listen 127.0.0.1:{{PORT}};
  location /api/v1/ { proxy_pass http://b/; }
  location /legacy { proxy_pass http://b/new; }
  location /keep/ { proxy_pass http://b; }
  location = /ping { proxy_pass http://b/health; }
}`,
		reqs: []nginxReq{{host: "h", path: "/api/v1/users?page=2"}, {host: "h", path: "/api/v1/"}, {host: "h", path: "/legacyabc"},
			{host: "h", path: "/legacy/x"}, {host: "h", path: "/keep/a/b?c=d"}, {host: "h", path: "/ping"}},
	},
	{
		name: "header inheritance across http, server and location",
		conf: `upstream a { server {{A}}; }
proxy_set_header X-Level http;
proxy_set_header X-Custom from-http;
server { listen 127.0.0.1:{{PORT}}; server_name s1.test;
  location / { proxy_pass http://a; }
  location /loc/ { proxy_set_header X-Loc here; proxy_pass http://a; }
}
server { listen 127.0.0.1:{{PORT}}; server_name s2.test;
  proxy_set_header X-Level server2;
  location / { proxy_pass http://a; }
  location /clear/ { proxy_set_header X-Level ""; proxy_pass http://a; }
}`,
		reqs: []nginxReq{{host: "s1.test", path: "/"}, {host: "s1.test", path: "/loc/x"}, {host: "s2.test", path: "/"},
			{host: "s2.test", path: "/clear/x"}},
	},
	{
		name: "Host $proxy_host, $http_host, $host:$server_port-free forms",
		conf: `upstream pool { server {{A}}; }
server { listen 127.0.0.1:{{PORT}}; server_name main.test;
  location /ph/ { proxy_set_header Host $proxy_host; proxy_pass http://pool; }
  location /hh/ { proxy_set_header Host $http_host; proxy_pass http://pool; }
  location /addr/ { proxy_pass http://{{B}}; }
  location /sn/ { proxy_set_header X-Custom $server_name; proxy_set_header Host $host; proxy_pass http://pool; }
}`,
		reqs: []nginxReq{{host: "main.test", path: "/ph/1"}, {host: "main.test:8080", path: "/hh/1"},
			{host: "main.test", path: "/addr/1"}, {host: "Main.Test", path: "/sn/1"}},
	},
	{
		name: "proxy_hide_header and add_header with inheritance",
		conf: `upstream a { server {{A}}; }
add_header X-Server-Added http-level;
server { listen 127.0.0.1:{{PORT}};
  proxy_hide_header X-Secret;
  location / { proxy_pass http://a; }
  location /show/ { proxy_hide_header X-Other; proxy_pass http://a; }
  location /add/ { add_header X-Added yes; proxy_pass http://a; }
  location /both/ { add_header X-Added "v=$request_uri" always; add_header X-Server-Added loc; proxy_pass http://a; }
}`,
		reqs: []nginxReq{{host: "h", path: "/"}, {host: "h", path: "/show/x"}, {host: "h", path: "/add/x"}, {host: "h", path: "/both/x?y=1"}},
	},
	{
		name: "timeouts at every level",
		conf: `upstream a { server {{A}}; }
proxy_connect_timeout 5s;
server { listen 127.0.0.1:{{PORT}};
  proxy_read_timeout 2m;
  location / { proxy_pass http://a; }
  location /slow/ { proxy_read_timeout 300; proxy_send_timeout 1h; proxy_pass http://a; }
}`,
		reqs: []nginxReq{{host: "h", path: "/"}, {host: "h", path: "/slow/report"}},
	},
	{
		name: "virtual servers: wildcards, exact over wildcard, default_server on the last",
		conf: `server { listen 127.0.0.1:{{PORT}}; server_name example.test www.example.test; location / { return 200 "main"; } }
server { listen 127.0.0.1:{{PORT}}; server_name *.example.test; location / { proxy_pass http://{{A}}; } }
server { listen 127.0.0.1:{{PORT}}; server_name api.*; location / { proxy_pass http://{{B}}; } }
server { listen 127.0.0.1:{{PORT}} default_server; server_name _; location / { return 404 "unknown host"; } }`,
		reqs: []nginxReq{{host: "example.test", path: "/"}, {host: "www.example.test", path: "/"},
			{host: "shop.example.test", path: "/p"}, {host: "a.b.example.test", path: "/"}, {host: "api.other", path: "/v"},
			{host: "nope.test", path: "/"}, {host: "WWW.EXAMPLE.TEST", path: "/"}},
	},
	{
		name: "return codes with text and redirects",
		conf: `server { listen 127.0.0.1:{{PORT}};
  location = /ok { return 200 "all good\n"; }
  location = /empty { return 204; }
  location = /teapot { return 418 'short and stout'; }
  location = /gone { return 410; }
  location = /moved { return 301 https://new.example.test/moved; }
  location = /found { return https://other.example.test/x?y=1; }
  location = /see { return 303 http://example.test/other; }
  location = /temp { return 307 "http://example.test/t"; }
  location = /perm { return 308 http://example.test/p; }
  location / { return 404 "not here"; }
  location /app/ { proxy_pass http://{{A}}; }
}`,
		reqs: []nginxReq{{host: "h", path: "/app/x"}, {host: "h", path: "/ok"}, {host: "h", path: "/empty"}, {host: "h", path: "/teapot"},
			{host: "h", path: "/gone"}, {host: "h", path: "/moved"}, {host: "h", path: "/found"}, {host: "h", path: "/see"},
			{host: "h", path: "/temp"}, {host: "h", path: "/perm"}, {host: "h", path: "/else"}},
	},
	{
		name: "server-level return answers everything",
		conf: `server { listen 127.0.0.1:{{PORT}}; server_name old.test; return 301 https://new.test/; location / { proxy_pass http://{{A}}; } }
server { listen 127.0.0.1:{{PORT}} default_server; return 403 "forbidden"; }
server { listen 127.0.0.1:{{PORT}}; server_name new.test; location / { proxy_pass http://{{A}}; } }`,
		reqs: []nginxReq{{host: "old.test", path: "/a/b"}, {host: "x.test", path: "/"}, {host: "new.test", path: "/n"}},
	},
	{
		name: "Debian layout: nginx.conf with conf.d and sites-enabled includes",
		raw:  true,
		conf: `worker_processes auto;
events { worker_connections 768; }
http {
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	default_type application/octet-stream;
	gzip on;
	include conf.d/*.conf;
	include sites-enabled/*;
}
`,
		files: map[string]string{
			"conf.d/upstreams.conf": "upstream app { server {{A}}; server {{B}}; keepalive 8; }\n",
			"conf.d/proxy.conf":     "proxy_set_header X-Real-IP $remote_addr;\nproxy_set_header Host $host;\n",
			"sites-enabled/default": `server {
	listen 127.0.0.1:{{PORT}} default_server;
	server_name _;
	root /var/www/html;
	index index.html;
	location / { try_files $uri $uri/ =404; }
}
`,
			"sites-enabled/app": `server {
	listen 127.0.0.1:{{PORT}};
	server_name app.test;
	location / { proxy_pass http://app; }
	location /admin/ { proxy_set_header X-Custom admin; proxy_pass http://app; }
}
`,
		},
		reqs: []nginxReq{{host: "app.test", path: "/", repeat: 4}, {host: "app.test", path: "/admin/x", repeat: 4},
			{host: "other.test", path: "/nothing-here"}},
	},
	{
		name: "listen on two ports",
		conf: `server { listen 127.0.0.1:{{PORT}}; listen 127.0.0.1:{{PORT2}}; server_name both.test;
  location / { proxy_pass http://{{A}}; } }
server { listen 127.0.0.1:{{PORT2}}; server_name two.test; location / { proxy_pass http://{{B}}; } }`,
		reqs: []nginxReq{{host: "both.test", path: "/"}, {host: "both.test", path: "/", port: 1},
			{host: "x.test", path: "/"}, {host: "x.test", path: "/", port: 1}, {host: "two.test", path: "/"},
			{host: "two.test", path: "/", port: 1}},
	},
	{
		name: "keepalive upstream with HTTP/1.1 idiom",
		conf: `upstream ka { server {{A}}; keepalive 16; keepalive_timeout 30s; }
server { listen 127.0.0.1:{{PORT}};
  location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://ka; }
}`,
		reqs: []nginxReq{{host: "h", path: "/1", repeat: 3}, {host: "h", path: "/2"}},
	},
	{
		name: "proxy_next_upstream past a dead server",
		conf: `upstream p { server {{DEAD}}; server {{A}}; }
upstream q { server {{B}}; server {{DEAD}}; }
server { listen 127.0.0.1:{{PORT}};
  location /p/ { proxy_next_upstream error timeout http_502; proxy_pass http://p; }
  location /q/ { proxy_pass http://q; }
}`,
		reqs: []nginxReq{{host: "h", path: "/p/x", repeat: 4}, {host: "h", path: "/q/x", repeat: 4}},
	},
	{
		name: "backup server only when the primaries are down",
		conf: `upstream withlive { server {{A}}; server {{B}} backup; }
upstream withdead { server {{DEAD}}; server {{C}} backup; }
server { listen 127.0.0.1:{{PORT}};
  location /live/ { proxy_pass http://withlive; }
  location /dead/ { proxy_pass http://withdead; }
}`,
		reqs: []nginxReq{{host: "h", path: "/live/x", repeat: 4}, {host: "h", path: "/dead/x", repeat: 4}},
	},
	{
		name: "X-Forwarded-For with $proxy_add_x_forwarded_for and header removal",
		conf: `upstream a { server {{A}}; }
server { listen 127.0.0.1:{{PORT}};
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_set_header X-Real-IP $remote_addr;
  proxy_set_header X-User "";
  location / { proxy_pass http://a; }
}`,
		reqs: []nginxReq{{host: "h", path: "/"}, {host: "h", path: "/p?q=1"}},
	},
	{
		name: "trailing-slash redirect of proxied prefixes",
		conf: `upstream a { server {{A}}; }
server { listen 127.0.0.1:{{PORT}};
  location /app/ { proxy_pass http://a; }
  location /svc/ { proxy_pass http://a/; }
  location = /svc { return 200 "exact svc"; }
}`,
		reqs: []nginxReq{{host: "h", path: "/app"}, {host: "h", path: "/app/"}, {host: "h", path: "/svc"}, {host: "h", path: "/svc/x"},
			{host: "h", path: "/other"}},
		differs: relativeRedirect,
	},
	{
		name: "query strings and encoded paths",
		conf: `upstream a { server {{A}}; }
server { listen 127.0.0.1:{{PORT}};
  location / { proxy_pass http://a; }
  location /v2/ { proxy_pass http://a/api/; }
}`,
		reqs: []nginxReq{{host: "h", path: "/search?q=a+b&lang=en"}, {host: "h", path: "/v2/items?sort=desc&limit=10"},
			{host: "h", path: "/a%20b/c"}, {host: "h", path: "/v2/?x="}},
	},
	{
		name: "nested prefix and exact locations inherit the outer settings",
		conf: `upstream a { server {{A}}; } upstream b { server {{B}}; }
server { listen 127.0.0.1:{{PORT}};
  location / { proxy_pass http://a; }
  location /api/ {
    proxy_set_header X-Outer outer;
    proxy_read_timeout 120s;
    proxy_pass http://a;
    location /api/admin/ { proxy_pass http://b; }
    location = /api/health { return 200 "healthy"; }
    location /api/v2/ { proxy_set_header X-Loc inner; proxy_pass http://b/v2-internal/; }
  }
  location ^~ /assets/ {
    proxy_pass http://b;
    location /assets/img/ { proxy_pass http://a; }
  }
  location ~ \.png$ { return 200 "png"; }
}`,
		reqs: []nginxReq{{host: "h", path: "/api/x"}, {host: "h", path: "/api/admin/users"}, {host: "h", path: "/api/health"},
			{host: "h", path: "/api/v2/items?x=1"}, {host: "h", path: "/assets/app.css"}, {host: "h", path: "/assets/img/a.png"},
			{host: "h", path: "/api/admin/a.png"}, {host: "h", path: "/other.png"}},
	},
	{
		name: "regex nested in a prefix runs before the server's regexes",
		conf: `upstream a { server {{A}}; } upstream b { server {{B}}; }
server { listen 127.0.0.1:{{PORT}};
  location ~ \.json$ { return 200 "top json"; }
  location / { proxy_pass http://a; }
  location /api/ {
    proxy_set_header X-Outer api;
    proxy_pass http://a;
    location ~ ^/api/v[0-9]+/users/ { proxy_pass http://b; }
    location ~ ^/api/files/.*\.json$ { return 200 "nested json"; }
  }
}`,
		reqs: []nginxReq{{host: "h", path: "/api/v1/users/7"}, {host: "h", path: "/api/v1/users/7.json"},
			{host: "h", path: "/api/files/a.json"}, {host: "h", path: "/api/other.json"}, {host: "h", path: "/api/x"},
			{host: "h", path: "/v1/users/7"}, {host: "h", path: "/x.json"}},
	},
	{
		name: "return with variables: https redirect and echoed values",
		conf: `server { listen 127.0.0.1:{{PORT}}; server_name plain.test; return 301 https://$host$request_uri; }
server { listen 127.0.0.1:{{PORT}} default_server;
  location = /ip { return 200 "$remote_addr\n"; }
  location = /who { return 200 "host=$host uri=$uri args=$args ua=$http_x_user"; }
  location /go/ { return 302 http://example.test$request_uri; }
  location / { proxy_pass http://{{A}}; }
}`,
		reqs: []nginxReq{{host: "plain.test", path: "/a/b?c=d"}, {host: "h", path: "/ip"},
			{host: "h", path: "/who?x=1"}, {host: "h", path: "/go/there?q=2"}, {host: "h", path: "/"}},
	},
	{
		name: "rewrite break and last become replace_path",
		conf: `upstream a { server {{A}}; } upstream b { server {{B}}; }
server { listen 127.0.0.1:{{PORT}};
  location /app/ { rewrite ^/app/old/(.*)$ /app/new/$1 last; proxy_pass http://a; }
  location /v1/ { rewrite ^/v1/(.*)$ /api/$1.json break; proxy_pass http://b; }
  location /mixed/ { rewrite /legacy/([a-z]+) /mixed/modern/$1 break; proxy_pass http://a; }
  location / { proxy_pass http://b; }
}`,
		reqs: []nginxReq{{host: "h", path: "/app/old/x/y?q=1"}, {host: "h", path: "/app/other"},
			{host: "h", path: "/v1/users/7?id=2"}, {host: "h", path: "/v1/"}, {host: "h", path: "/mixed/legacy/abc/def"},
			{host: "h", path: "/"}},
	},
	{
		name: "rewrite redirects: location, exact location with captures, absolute URL",
		conf: `server { listen 127.0.0.1:{{PORT}};
  location /old/ { rewrite ^/old/ https://$host/new/? permanent; }
  location = /u/42 { rewrite ^/u/(\d+)$ http://example.test/users/$1? redirect; }
  location /abs/ { rewrite ^ http://example.test/landing? last; }
  location / { proxy_pass http://{{A}}; }
}`,
		reqs: []nginxReq{{host: "h", path: "/old/a/b?x=1"}, {host: "h", path: "/u/42?y=2"}, {host: "h", path: "/abs/q"},
			{host: "h", path: "/u/43"}},
	},
	{
		name: "server-level rewrite redirect of every path",
		conf: `server { listen 127.0.0.1:{{PORT}}; server_name moved.test;
  rewrite ^(.*)$ https://new.test/? permanent;
  location / { proxy_pass http://{{A}}; }
}
server { listen 127.0.0.1:{{PORT}} default_server; location / { proxy_pass http://{{A}}; } }`,
		reqs: []nginxReq{{host: "moved.test", path: "/a?b=c"}, {host: "moved.test", path: "/"}, {host: "other", path: "/a"}},
	},
	{
		name: "regex captures and $is_args$args in return and rewrite",
		conf: `server { listen 127.0.0.1:{{PORT}};
  location /old/ { rewrite ^/old/(.*)$ /new/$1 permanent; }
  location /tmp/ { rewrite ^/tmp/(.*)$ /t/$1 redirect; }
  location /q/ { rewrite ^/q/(.*)$ /search?term=$1? redirect; }
  location ~ ^/u/(\d+)$ { return 301 /users/$1; }
  location ~ ^/p/([a-z]+)/(\d+) { return 200 "second=$2 first=$1 none=$3"; }
  location = /x { return 302 /y$is_args$args; }
  location ~ ^/echo/([a-z]+)/(\d+)$ { proxy_set_header X-Custom "$2-$1"; proxy_pass http://{{A}}; }
  location / { proxy_pass http://{{A}}; }
}
server { listen 127.0.0.1:{{PORT}}; server_name secure.test; return 301 https://$host$request_uri; }`,
		differs: relativeRedirect,
		reqs: []nginxReq{{host: "h", path: "/old/a/b?x=1"}, {host: "h", path: "/old/"}, {host: "h", path: "/tmp/abc/def?z=1"},
			{host: "h", path: "/q/shoes?ignored=1"}, {host: "h", path: "/u/12"}, {host: "h", path: "/u/12?y=1"},
			{host: "h", path: "/u/x"}, {host: "h", path: "/p/ab/12/rest"}, {host: "h", path: "/x"}, {host: "h", path: "/x?a=1&b"},
			{host: "h", path: "/echo/ab/12"}, {host: "h", path: "/echo/ab/x"}, {host: "secure.test", path: "/a?b=c"}},
	},
	{
		name: "map: exact (any case), regex in order, case-folded regex, empty and default",
		conf: `map $host $tier { default basic; gold.test gold; ~^adm admin-$host; ~*^VIP vip; \default literal; }
map $uri $kind { ~\.png$ image; ~^/img/ img-dir; /exact exact; default other; }
map $http_x_missing $missing { '' none; default some; volatile; }
server { listen 127.0.0.1:{{PORT}};
  location / { add_header X-Added "kind=$kind"; proxy_set_header X-Custom "$tier/$missing"; proxy_pass http://{{A}}; }
  location = /r { return 200 "tier=$tier kind=$kind"; }
}`,
		reqs: []nginxReq{{host: "gold.test", path: "/a"}, {host: "GOLD.test", path: "/img/x.png"}, {host: "admin.test", path: "/img/x"},
			{host: "VIP.test", path: "/exact"}, {host: "default", path: "/r"}, {host: "other.test", path: "/r"}},
	},
}
