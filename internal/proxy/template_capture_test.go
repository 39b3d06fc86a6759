package proxy

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/fjord-gw/fjord/internal/router"
)

// TestTemplateCapturesAndMaps checks the per-request values a template takes from the route's regex (${1}),
// from the query ($is_args) and from a map, through a real socket.
func TestTemplateCapturesAndMaps(t *testing.T) {
	env := TemplateEnv{Captures: regexp.MustCompile(`^(?:/u/(\d+)(/.*)?)$`)}
	loc, err := CompileTemplateEnv([]Part{{Literal: "/users/"}, {Var: "1"}, {Literal: "["}, {Var: "2"},
		{Literal: "]"}, {Var: "is_args"}, {Var: "query"}}, env)
	if err != nil {
		t.Fatal(err)
	}
	src := mustTemplate(t, Part{Var: "header", Header: "X-Tier"})
	exact := mustTemplate(t, Part{Literal: "gold"})
	re := mustTemplate(t, Part{Literal: "admin:"}, Part{Var: "header", Header: "X-Tier"})
	m := NewMap(src, []MapEntry{{Exact: "Gold", Value: exact}, {Exact: "", Value: Literal("anon")},
		{Regex: regexp.MustCompile(`^adm`), Value: re}}, Literal("basic"), true)
	body, err := CompileTemplateEnv([]Part{{Literal: "tier="}, {Var: "map", Map: "tier"}, {Literal: ";"}},
		TemplateEnv{Maps: map[string]*Map{"tier": m}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := cfgOf(t,
		router.Route[*Route]{PathKind: router.PathRegex, Path: `/u/(\d+)(/.*)?`, Target: &Route{Name: "u",
			Return: &Return{Status: 301, Templates: []HeaderValue{{Name: "Location", Value: loc}}}}},
		prefix("/m", &Route{Name: "m", Return: &Return{Status: 200, BodyTemplate: &body}}),
	)
	p := startProxy(t, cfg)
	tests := []struct {
		name, uri, tier string
		status          int
		location, body  string
	}{
		{"one capture, no query", "/u/42", "", 301, "/users/42[]", ""},
		{"two captures and a query", "/u/7/a/b?x=1&y=2", "", 301, "/users/7[/a/b]?x=1&y=2", ""},
		{"empty query has no ?", "/u/7?", "", 301, "/users/7[]", ""},
		{"normalized path", "/u/./9", "", 301, "/users/9[]", ""},
		{"exact ignores case", "/m", "GOLD", 200, "", "tier=gold;"},
		{"empty source", "/m", "", 200, "", "tier=anon;"},
		{"regex with the source in the value", "/m", "admin7", 200, "", "tier=admin:admin7;"},
		{"default", "/m", "silver", 200, "", "tier=basic;"},
	}
	c := dialRaw(t, p.addr)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := ""
			if tc.tier != "" {
				h = "X-Tier: " + tc.tier + "\r\n"
			}
			c.write(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x.test\r\n%s\r\n", tc.uri, h))
			resp, got := c.readResponse("GET")
			if resp.StatusCode != tc.status || tc.body != "" && string(got) != tc.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, got, tc.status, tc.body)
			}
			if l := resp.Header.Get("Location"); l != tc.location {
				t.Errorf("Location %q, want %q", l, tc.location)
			}
		})
	}
}

// TestCompileTemplateEnvErrors checks that captures need a regex with enough groups and maps must exist.
func TestCompileTemplateEnvErrors(t *testing.T) {
	re := regexp.MustCompile(`^/(a)$`)
	tests := []struct {
		name string
		p    Part
		env  TemplateEnv
	}{
		{"capture without a regex", Part{Var: "1"}, TemplateEnv{}},
		{"capture past the groups", Part{Var: "2"}, TemplateEnv{Captures: re}},
		{"unknown map", Part{Var: "map", Map: "nope"}, TemplateEnv{Captures: re}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := CompileTemplateEnv([]Part{tc.p}, tc.env); err == nil {
				t.Errorf("CompileTemplateEnv(%+v) succeeded, want an error", tc.p)
			}
		})
	}
	if _, err := CompileTemplateEnv([]Part{{Var: "1"}, {Var: "0"}}, TemplateEnv{Captures: re}); err != nil {
		t.Errorf("captures 0 and 1 of a one-group regex: %v", err)
	}
}
