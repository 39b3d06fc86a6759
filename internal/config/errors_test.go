package config

import (
	"strings"
	"testing"
)

// doc joins YAML lines so that line N of the file is argument N, which keeps
// the expected positions in the tables easy to check by eye.
func doc(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// A minimal valid service and route, appended by cases that test something
// else, so that only the diagnostic under test appears.
var (
	okListener = `listeners: [{address: ":8080"}]`
	okServices = []string{
		"services:",
		"  a:",
		`    instances: ["127.0.0.1:9001"]`,
		"    timeouts: {connect: 1s}",
	}
	okRoutes = "routes: [{service: a}]"
)

// withSvc is a file whose lines 1-5 are a valid listener and service;
// the routes under test start at line 6.
func withSvc(routes ...string) string {
	return doc(append(append([]string{okListener}, okServices...), routes...)...)
}

func withOK(first ...string) string {
	return doc(append(append(first, okServices...), okRoutes)...)
}

func TestDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "valid minimal",
			yaml: withOK(okListener),
			want: nil,
		},
		{
			name: "negative server max_body_bytes",
			yaml: withOK(okListener, "server:", "  max_body_bytes: -1"),
			want: []string{`c.yaml:3:19: error: max_body_bytes must not be negative (0 = unlimited), got -1`},
		},
		{
			name: "rate_limit",
			yaml: withSvc("routes:",
				`  - {service: a, rate_limit: {rate: "100/s", burst: 50, key: "header:X-Api-Key"}}`,
				`  - {service: a, rate_limit: {rate: "ten/s"}}`,
				`  - {service: a, rate_limit: {rate: "5/d", key: route}}`,
				`  - {service: a, rate_limit: {rate: "5/m", burst: -1, key: "cookie:x"}}`,
				`  - {service: a, rate_limit: {key: route}}`,
				`  - {service: a, rate_limit: {rate: "5/s", status: 503}}`,
				`  - {service: a, rate_limit: {rate: "5/s", status: 200}}`),
			want: []string{
				`c.yaml:8:37: error: route "route-2": rate_limit: invalid rate "ten/s": the count must be a positive integer`,
				`c.yaml:9:37: error: route "route-3": rate_limit: invalid rate "5/d": the period must be s, m or h`,
				`c.yaml:10:51: error: route "route-4": rate_limit: burst must not be negative (0 = the rate's count), got -1`,
				`c.yaml:10:60: error: route "route-4": rate_limit: invalid key "cookie:x": want client_ip, header:NAME or route`,
				`c.yaml:11:30: error: missing required key "rate" in routes[4].rate_limit`,
				`c.yaml:13:52: error: route "route-7": rate_limit: status must be between 400 and 599, got 200`,
			},
		},
		{
			name: "route max_body_bytes",
			yaml: withSvc("routes:", "  - {service: a, max_body_bytes: -5}", "  - {return: {status: 204}, max_body_bytes: 10}",
				"  - {service: a, max_body_bytes: 0}"),
			want: []string{
				`c.yaml:7:34: error: max_body_bytes must not be negative (0 = unlimited), got -5`,
				`c.yaml:8:45: warning: route "route-2": max_body_bytes is ignored on a return route (the body is never read)`,
			},
		},
		{
			name: "bad duration",
			yaml: withOK(okListener, "server:", "  idle_timeout: 1.5 seconds"),
			want: []string{`c.yaml:3:17: error: invalid duration "1.5 seconds" (use e.g. 500ms, 2s, 1m)`},
		},
		{
			name: "duration without unit",
			yaml: withOK(okListener, "server: {shutdown_timeout: 30}"),
			want: []string{`c.yaml:2:28: error: invalid duration "30" (use e.g. 500ms, 2s, 1m)`},
		},
		{
			name: "misspelled key with suggestion",
			yaml: doc(okListener, "services:", "  a:", `    instnces: ["127.0.0.1:9001"]`, "    timeouts: {connect: 1s}", okRoutes),
			want: []string{
				`c.yaml:4:5: error: unknown key "instnces" in services.a (did you mean "instances"?)`,
				`c.yaml:4:5: error: service "a" needs at least one instance`,
			},
		},
		{
			name: "unknown top-level key without close match",
			yaml: withOK(okListener, "plugins: []"),
			want: []string{`c.yaml:2:1: error: unknown key "plugins" at top level`},
		},
		{
			name: "unknown service with suggestion",
			yaml: doc(okListener, okServices[0], okServices[1], okServices[2], okServices[3], "routes:", "  - service: aa", "  - service: zzzzzz"),
			want: []string{
				`c.yaml:7:14: error: route "route-1" refers to unknown service "aa" (did you mean "a"?)`,
				`c.yaml:8:14: error: route "route-2" refers to unknown service "zzzzzz"`,
			},
		},
		{
			name: "wrong types",
			yaml: doc("listeners: {address: x}", "services:", "  a:", "    instances:", "      - address: [1]", "        weight: heavy", "        backup: maybe", "    timeouts: {connect: 1s}", okRoutes),
			want: []string{
				`c.yaml:1:12: error: expected a list for listeners, got a mapping`,
				`c.yaml:5:18: error: expected a string for address, got a list`,
				`c.yaml:6:17: error: expected an integer for weight, got "heavy"`,
				`c.yaml:7:17: error: expected true or false for backup, got "maybe"`,
			},
		},
		{
			name: "missing required keys",
			yaml: doc("admin: {}", "listeners:", "  - name: x"),
			want: []string{
				`c.yaml:1:1: error: missing required top-level key "routes"`,
				`c.yaml:1:8: error: missing required key "address" in admin`,
				`c.yaml:3:5: error: missing required key "address" in listeners[0]`,
			},
		},
		{
			name: "empty file",
			yaml: "",
			want: []string{
				`c.yaml:1:1: error: missing required top-level key "listeners"`,
				`c.yaml:1:1: error: missing required top-level key "routes"`,
			},
		},
		{
			name: "duplicate keys",
			yaml: withOK(okListener, "access_log:", "  format: json", "  format: off"),
			want: []string{`c.yaml:4:3: error: duplicate key "format" (first defined at line 3)`},
		},
		{
			name: "duplicate listener addresses",
			yaml: withOK("listeners:", `  - address: "127.0.0.1:8080"`, `  - {name: b, address: ":8080"}`, `  - address: ":0"`, `  - address: ":0"`, `admin: {address: "[::]:8080"}`),
			want: []string{
				`c.yaml:3:24: error: duplicate listener address ":8080": listener "b" conflicts with listener "listener-1" (line 2)`,
				`c.yaml:6:18: error: duplicate listener address "[::]:8080": admin conflicts with listener "listener-1" (line 2)`,
			},
		},
		{
			name: "duplicate service and route names",
			yaml: doc(okListener, "services:", "  a: {instances: [\"h:1\"], timeouts: {idle: 1s}}", "  a: {instances: [\"h:2\"]}", "routes:", "  - {name: r, service: a}", "  - {name: r, service: a}", "  - {name: route-4, service: a}", "  - {service: a}"),
			want: []string{
				`c.yaml:4:3: error: duplicate key "a" (first defined at line 3)`,
				`c.yaml:7:12: error: duplicate route name "r" (first used at line 6)`,
				`c.yaml:9:5: error: duplicate route name "route-4" (first used at line 8)`,
			},
		},
		{
			name: "instance addresses and weights",
			yaml: doc(okListener, "services:", "  a:", "    timeouts: {total: 0s}", "    instances:",
				`      - "localhost"`, `      - "h:http"`, `      - ":80"`, `      - "bad host:80"`,
				`      - {address: "h:1", weight: 0}`, `      - {address: "h:2", weight: -3}`, `      - {address: "h:3", weight: 1001}`, `      - "h:1"`, okRoutes),
			want: []string{
				`c.yaml:6:9: error: invalid instance address "localhost": missing port in address (want host:port, e.g. 127.0.0.1:9001)`,
				`c.yaml:7:9: error: invalid instance address "h:http": port "http" is not a number between 1 and 65535 (want host:port, e.g. 127.0.0.1:9001)`,
				`c.yaml:8:9: error: invalid instance address ":80": missing host (want host:port, e.g. 127.0.0.1:9001)`,
				`c.yaml:9:9: error: invalid instance address "bad host:80": invalid host "bad host" (want host:port, e.g. 127.0.0.1:9001)`,
				`c.yaml:10:34: error: weight must be between 1 and 1000, got 0`,
				`c.yaml:11:34: error: weight must be between 1 and 1000, got -3`,
				`c.yaml:12:34: error: weight must be between 1 and 1000, got 1001`,
				`c.yaml:13:9: error: duplicate instance "h:1" in service "a" (first at line 10)`,
			},
		},
		{
			name: "backup only service",
			yaml: doc(okListener, "services:", "  a:", "    timeouts: {connect: 1s}", "    instances:", `      - {address: "h:1", backup: true}`, okRoutes),
			want: []string{`c.yaml:6:7: error: service "a" has only backup instances; at least one must be a primary`},
		},
		{
			name: "balancer and hash_key",
			yaml: doc(okListener, "services:", "  a:", "    balancer: hash", `    instances: ["h:1"]`, "    timeouts: {connect: 1s}",
				"  b:", "    balancer: p2c", "    hash_key: client_ip", `    instances: ["h:1"]`, "    timeouts: {connect: 1s}",
				"  c:", "    balancer: round_robbin", `    hash_key: "header:"`, `    instances: ["h:1"]`, "    timeouts: {connect: 1s}", okRoutes),
			want: []string{
				`c.yaml:4:15: error: balancer "hash" needs hash_key (client_ip, header:NAME or cookie:NAME)`,
				`c.yaml:9:15: warning: hash_key is ignored because balancer is "p2c", not "hash"`,
				`c.yaml:13:15: error: invalid balancer "round_robbin": want one of round_robin, least_conn, hash, p2c (did you mean "round_robin"?)`,
				`c.yaml:14:15: error: invalid hash_key "header:": want client_ip, header:NAME or cookie:NAME`,
			},
		},
		{
			name: "timeout warnings and ranges",
			yaml: doc(okListener, "services:", "  a:", `    instances: ["h:1"]`, "  b:", `    instances: ["h:1"]`, "    timeouts: {connect: 0s, response_header: 30s, total: 10s, idle: -1s}",
				"routes:", "  - service: b", "    timeouts: {total: 1m}", "  - service: b", "    timeouts: {response_header: 20s, total: 5s}"),
			want: []string{
				`c.yaml:3:3: warning: service "a" sets no timeouts; the defaults apply (connect 5s, response_header 1m, idle 1m, no total limit)`,
				`c.yaml:7:25: error: connect must be greater than zero`,
				`c.yaml:7:58: warning: total (10s) is shorter than response_header (30s), so response_header never applies`,
				`c.yaml:7:69: error: idle must not be negative, got -1s`,
				`c.yaml:12:45: warning: total (5s) is shorter than response_header (20s), so response_header never applies`,
			},
		},
		{
			name: "template variables",
			yaml: withSvc("routes:", "  - service: a", "    request_headers:",
				`      set: {A: "${clinet_ip}", B: "${header.}", C: "cost $5", D: "${path", E: "${client_port}$$"}`,
				"    rewrite:", `      host: "${hots}"`),
			want: []string{
				`c.yaml:9:16: error: invalid template "${clinet_ip}": unknown variable ${clinet_ip} (did you mean ${client_ip}?)`,
				`c.yaml:9:35: error: invalid template "${header.}": invalid header name "" in ${header.}`,
				`c.yaml:9:52: error: invalid template "cost $5": "$" must start "${variable}"; write "$$" for a literal "$"`,
				`c.yaml:9:66: error: invalid template "${path": unclosed "${path"`,
				`c.yaml:11:13: error: invalid template "${hots}": unknown variable ${hots} (did you mean ${host}?)`,
			},
		},
		{
			name: "match rules",
			yaml: withSvc("routes:", "  - service: a", "    match:",
				`      hosts: ["ok.example", "*.ok.example", "bad host", "a.*.b"]`,
				"      path: x", "      path_regex: '^/('", "      methods: [get, Post, 'B@D', PUT]",
				`      headers: {X-A: "~(", x-a: "1", "B d": "*"}`, "  - service: a", "    match: {host: x, hosts: [y]}"),
			want: []string{
				`c.yaml:9:45: error: invalid host "bad host": want a host name, *.name, .name, name.*, ~regex or *`,
				`c.yaml:9:57: error: invalid host "a.*.b": want a host name, *.name, .name, name.*, ~regex or *`,
				`c.yaml:10:13: error: path must start with "/", got "x"`,
				`c.yaml:11:19: error: path and path_regex are mutually exclusive; a route matches one path rule`,
				"c.yaml:11:19: error: invalid path_regex: error parsing regexp: missing closing ): `^/(`",
				`c.yaml:12:17: warning: method "get" is not upper-case; methods are case-sensitive, so it will not match "GET"`,
				`c.yaml:12:22: warning: method "Post" is not upper-case; methods are case-sensitive, so it will not match "POST"`,
				`c.yaml:12:28: error: invalid method "B@D"`,
				"c.yaml:13:22: error: invalid header regexp: error parsing regexp: missing closing ): `(`",
				`c.yaml:13:33: error: header "x-a" is given twice (also as "X-A"); header names are case-insensitive`,
				`c.yaml:13:45: error: invalid header name "B d"`,
				`c.yaml:15:22: error: "host" and "hosts" are mutually exclusive`,
			},
		},
		{
			name: "nginx host forms and prefix_first",
			yaml: withSvc("routes:", "  - service: a", "    match:",
				`      hosts: [".ok.example", "www.ok.*", "~^(www\\.)?ok\\.", "~(", "~", "*.a.*", ".a.*", "a..*", "..a"]`,
				"      path_prefix: /a/", "      prefix_first: true",
				"  - service: a", "    match: {path: /x, prefix_first: true}",
				"  - service: a", "    match: {path_regex: /x, prefix_first: true}",
				"  - service: a", "    match: {path: /y, prefix_first: false}",
				"  - service: a", "    match: {prefix_first: true}"),
			want: []string{
				"c.yaml:9:62: error: invalid host regex: error parsing regexp: missing closing ): `(`",
				`c.yaml:9:68: error: host regex "~" is empty`,
				`c.yaml:9:73: error: invalid host "*.a.*": want a host name, *.name, .name, name.*, ~regex or *`,
				`c.yaml:9:82: error: invalid host ".a.*": want a host name, *.name, .name, name.*, ~regex or *`,
				`c.yaml:9:90: error: invalid host "a..*": want a host name, *.name, .name, name.*, ~regex or *`,
				`c.yaml:9:98: error: invalid host "..a": want a host name, *.name, .name, name.*, ~regex or *`,
				`c.yaml:13:37: error: prefix_first applies only to path_prefix, not to path`,
				`c.yaml:15:43: error: prefix_first applies only to path_prefix, not to path_regex`,
			},
		},
		{
			name: "route targets and rewrites",
			yaml: withSvc("routes:", "  - {service: a, return: {status: 204}}", "  - name: none", "  - return: {status: 99}",
				"  - service: a", "    match: {path_prefix: /api/}", "    rewrite: {strip_prefix: /v1, replace_path: {regex: x, with: y}, host: ''}",
				"  - service: a", "    rewrite: {replace_path: {regex: '(', with: y}}"),
			want: []string{
				`c.yaml:7:26: error: route "route-1" has both service and return; a route either proxies or answers`,
				`c.yaml:8:5: error: route "none" needs a service (or a return for a direct response)`,
				`c.yaml:9:22: error: status must be between 100 and 599, got 99`,
				`c.yaml:12:29: error: strip_prefix "/v1" is not a prefix of path_prefix "/api/", so it would never apply`,
				`c.yaml:12:48: error: strip_prefix and replace_path are mutually exclusive`,
				`c.yaml:12:75: error: host must not be empty: use pass, upstream or a template`,
				"c.yaml:14:37: error: invalid replace_path regex: error parsing regexp: missing closing ): `(`",
			},
		},
		{
			name: "server and access log ranges",
			yaml: withOK(okListener, "server: {max_header_bytes: 100, read_header_timeout: 0s}", "access_log: {format: jsn, path: ''}"),
			want: []string{
				`c.yaml:2:28: error: max_header_bytes must be between 4096 and 1048576, got 100`,
				`c.yaml:2:54: error: read_header_timeout must be greater than zero`,
				`c.yaml:3:22: error: invalid format "jsn": want one of off, json, combined (did you mean "json"?)`,
				`c.yaml:3:33: error: path must not be empty (use stdout, stderr or a file path)`,
			},
		},
		{
			name: "service names and empty collections",
			yaml: doc("listeners: []", "services:", "  Auth Svc:", `    instances: ["h:1"]`, "    timeouts: {connect: 1s}", "  empty:", "routes: []"),
			want: []string{
				`c.yaml:1:12: error: listeners must list at least one listener`,
				`c.yaml:3:3: error: invalid service name "Auth Svc": use lower-case letters, digits, "_" and "-"`,
				`c.yaml:6:3: warning: service "empty" sets no timeouts; the defaults apply (connect 5s, response_header 1m, idle 1m, no total limit)`,
				`c.yaml:6:9: error: service "empty" needs at least one instance`,
				`c.yaml:7:9: error: routes must list at least one route`,
			},
		},
		{
			name: "keepalive",
			yaml: doc(okListener, "services:", "  a:", `    instances: ["h:1"]`, "    timeouts: {connect: 1s}", "    keepalive: {max_idle_per_instance: -1, idle_timeout: 0s}", okRoutes),
			want: []string{
				`c.yaml:6:40: error: max_idle_per_instance must not be negative, got -1`,
				`c.yaml:6:58: error: idle_timeout must be greater than zero`,
			},
		},
		{
			name: "null required value and merge keys",
			yaml: withOK("listeners:", "  - address:", "base: &b {x: 1}", "server:", "  <<: *b"),
			want: []string{
				`c.yaml:2:13: error: address needs a value`,
				`c.yaml:3:1: error: unknown key "base" at top level`,
				`c.yaml:5:3: error: YAML merge keys (<<) are not supported; repeat the values or use an alias for the whole value`,
			},
		},
		{
			name: "syntax error",
			yaml: doc("services: {}", "listeners: {address: x", "routes: []"),
			want: []string{`c.yaml:2:1: error: YAML syntax: did not find expected ',' or '}'`},
		},
		{
			name: "syntax error in block",
			yaml: doc("listeners: []", "services:", "  a: b: c"),
			want: []string{`c.yaml:3:1: error: YAML syntax: mapping values are not allowed in this context`},
		},
		{
			name: "tab indentation",
			yaml: doc("listeners: []", "\tservices: {}"),
			want: []string{
				`c.yaml:2:1: error: YAML syntax: found character that cannot start any token`,
			},
		},
		{
			name: "two documents",
			yaml: withOK(okListener) + "---\nlisteners: []\n",
			want: []string{
				`c.yaml:7:1: error: more than one YAML document; put the whole configuration in one document`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("c.yaml", []byte(tt.yaml))
			got := strings.Split(strings.TrimSuffix(diags.String(), "\n"), "\n")
			if len(diags) == 0 {
				got = nil
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("diagnostics mismatch\ngot:\n%s\nwant:\n%s\ninput:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), tt.yaml)
			}
		})
	}
}
