package config

import (
	"strings"
	"testing"
)

// TestMapsAndCaptures checks the maps section and the captures and maps that route templates refer to.
func TestMapsAndCaptures(t *testing.T) {
	svc := strings.Join(okServices, "\n")
	tests := []struct {
		name string
		yaml string // after the listener and services; line 6 is its first
		want []string
	}{
		{"valid", `maps:
  tier:
    source: "${header.X-Tier}"
    default: basic
    entries:
      - {exact: "", value: anon}
      - {regex: "^adm", value: "admin-${host}"}
routes:
  - match: {path_regex: "/u/(\\d+)"}
    return: {status: 301, headers: {Location: "/users/${1}${is_args}${query}"}}
  - match: {path_prefix: /old/}
    captures: "^/old/(.*)$"
    return: {status: 301, headers: {Location: "/new/${1}", X-Tier: "${map.tier}"}}
  - service: a
    request_headers: {set: {X-Tier: "${map.tier}"}}`, nil},
		{"bad maps", `maps:
  9bad: {source: "${host}"}
  m:
    source: "${map.m}"
    default: "${1}"
    entries:
      - {exact: a, regex: b, value: x}
      - {regex: "(", value: y}
      - {exact: c}
routes: [{service: a}]`, []string{
			`c.yaml:7:3: error: invalid map name "9bad": use letters, digits and _, not starting with a digit`,
			`c.yaml:9:13: error: map "m": the source must not use captures or other maps`,
			`c.yaml:10:14: error: map "m": the default must not use captures or other maps`,
			`c.yaml:12:9: error: map "m": an entry needs exactly one of exact and regex`,
			"c.yaml:13:17: error: invalid map m regex: error parsing regexp: missing closing ): `(`",
			`c.yaml:14:9: error: map "m": an entry needs a value`,
		}},
		{"bad references", `routes:
  - match: {path_prefix: /a/}
    return: {status: 200, body: "${1}"}
  - match: {path_regex: "/b/(x)"}
    return: {status: 200, body: "${2}"}
  - match: {path_prefix: /c/}
    captures: "("
    service: a
  - service: a
    response_headers: {add: {X-T: "${map.tire}"}}`, []string{
			`c.yaml:8:33: error: route "route-1": capture $1 needs match.path_regex or captures`,
			`c.yaml:10:33: error: route "route-2": capture $2, but the regex "/b/(x)" has 1 groups`,
			"c.yaml:12:15: error: invalid captures regex: error parsing regexp: missing closing ): `(`",
			`c.yaml:15:35: error: route "route-4": unknown map "tire"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("c.yaml", []byte(okListener+"\n"+svc+"\n"+tt.yaml+"\n"))
			var errs []string
			for _, l := range strings.Split(strings.TrimSuffix(diags.String(), "\n"), "\n") {
				if strings.Contains(l, "error:") {
					errs = append(errs, l)
				}
			}
			if strings.Join(errs, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
