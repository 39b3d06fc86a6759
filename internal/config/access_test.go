package config

import (
	"strings"
	"testing"
)

// TestAccessConfig covers allow/deny lists, trusted proxies, PROXY-protocol listeners and internal routes: good values
// load, bad ones are reported at the offending element.
func TestAccessConfig(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"all good", doc(`listeners: [{address: ":8080", proxy_protocol: true}]`,
			"server:",
			`  access: ["allow 10.0.0.0/8", "deny all"]`,
			`  trusted_proxies: ["10.0.0.1", "192.168.0.0/16"]`,
			"  real_ip_header: X-Real-IP",
			"  real_ip_recursive: false",
			"services: {a: {instances: [\"127.0.0.1:9001\"], timeouts: {connect: 1s}}}",
			`routes: [{service: a, access: ["deny 2001:db8::/32"]}]`), nil},
		{"bad server rule", withOK(okListener, "server:", `  access: ["allow 10.0.0.0/8", "permit all"]`),
			[]string{`c.yaml:3:32: error: access: invalid access rule "permit all": want "allow CIDR", "deny CIDR", "allow all" or "deny all"`}},
		{"bad route rule", doc(okListener, "services: {a: {instances: [\"127.0.0.1:9001\"], timeouts: {connect: 1s}}}",
			`routes: [{service: a, access: ["deny 10.0.0.0/33"]}]`),
			[]string{`c.yaml:3:32: error: access: invalid access rule "deny 10.0.0.0/33": CIDR "10.0.0.0/33": netip.ParsePrefix("10.0.0.0/33"): prefix length out of range`}},
		{"bad trusted proxy", withOK(okListener, "server:", `  trusted_proxies: ["10.0.0.1", "lb.example"]`),
			[]string{`c.yaml:3:33: error: trusted_proxies: address "lb.example": ParseAddr("lb.example"): unexpected character (at "lb.example")`}},
		{"bad header", withOK(okListener, "server:", `  real_ip_header: "X Forwarded"`),
			[]string{`c.yaml:3:19: error: real_ip_header must be a header name (e.g. "X-Forwarded-For") or "none", got "X Forwarded"`}},
		{"internal route", doc(okListener, "services: {a: {instances: [\"127.0.0.1:9001\"], timeouts: {connect: 1s}}}",
			`routes: [{service: a}, {name: fb, internal: true, service: a}]`), nil},
		{"internal route with a match", doc(okListener, "services: {a: {instances: [\"127.0.0.1:9001\"], timeouts: {connect: 1s}}}",
			`routes: [{service: a}, {name: fb, internal: true, service: a, match: {path_prefix: /x}}]`),
			[]string{`c.yaml:3:70: error: route "fb": an internal route is never matched: remove its match`}},
		{"internal route without a service", doc(okListener,
			"services: {a: {instances: [\"127.0.0.1:9001\"], timeouts: {connect: 1s}}}",
			`routes: [{service: a}, {name: fb, internal: true, return: {status: 204}}]`),
			[]string{`c.yaml:3:45: error: route "fb": an internal route must have a service (it is only reached as a static route's fallback)`}},
		{"proxy protocol without trusted proxies", withOK(`listeners: [{address: ":8080", proxy_protocol: true}]`),
			[]string{`c.yaml:1:48: error: listener "listener-1" uses proxy_protocol but server.trusted_proxies is empty: every connection would be refused (list the load balancers' addresses)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("c.yaml", []byte(tt.yaml))
			if got := strings.TrimSuffix(diags.String(), "\n"); got != strings.Join(tt.want, "\n") {
				t.Fatalf("diagnostics:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}
