package config

import (
	"reflect"
	"testing"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in      string
		want    []TemplatePart
		wantErr string
	}{
		{in: "", want: nil},
		{in: "plain", want: []TemplatePart{{Literal: "plain"}}},
		{in: "${client_ip}", want: []TemplatePart{{Var: "client_ip"}}},
		{in: "ip=${client_ip}:${client_port}!", want: []TemplatePart{
			{Literal: "ip="}, {Var: "client_ip"}, {Literal: ":"}, {Var: "client_port"}, {Literal: "!"}}},
		{in: "$$${host}$$", want: []TemplatePart{{Literal: "$"}, {Var: "host"}, {Literal: "$"}}},
		{in: "${header.X-Forwarded-For}", want: []TemplatePart{{Var: "header", Header: "X-Forwarded-For"}}},
		{in: "${scheme}://${host}${request_uri}", want: []TemplatePart{
			{Var: "scheme"}, {Literal: "://"}, {Var: "host"}, {Var: "request_uri"}}},
		{in: "${method}${request_id}${path}?${query}", want: []TemplatePart{
			{Var: "method"}, {Var: "request_id"}, {Var: "path"}, {Literal: "?"}, {Var: "query"}}},
		{in: "${clinet_ip}", wantErr: "unknown variable ${clinet_ip} (did you mean ${client_ip}?)"},
		{in: "${bogus}", wantErr: "unknown variable ${bogus}"},
		{in: "${header.}", wantErr: `invalid header name "" in ${header.}`},
		{in: "${header.a b}", wantErr: `invalid header name "a b" in ${header.a b}`},
		{in: "a ${host", wantErr: `unclosed "${host"`},
		{in: "$host", wantErr: `"$" must start "${variable}"; write "$$" for a literal "$"`},
		{in: "end$", wantErr: `"$" must start "${variable}"; write "$$" for a literal "$"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTemplate(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseTemplate(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseTemplate(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}
