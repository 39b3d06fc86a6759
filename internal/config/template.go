package config

import (
	"errors"
	"fmt"
	"strings"
)

// TemplatePart is one piece of a parsed header template: either literal text
// (Var == "") or a variable. For ${header.NAME}, Var is "header" and Header
// is NAME exactly as written (the engine canonicalises it). For ${map.NAME},
// Var is "map" and Map is NAME. A regex capture ${N} has Var "0" to
// "9", written ${0} to ${9} only: "cost $5" stays an error, not a capture.
type TemplatePart struct {
	Literal string
	Var     string
	Header  string
	Map     string
}

// templateVars are the variables a template may use, besides header.NAME,
// map.NAME and the captures 0-9.
var templateVars = []string{
	"client_ip", "client_port", "host", "scheme", "method",
	"request_id", "request_uri", "path", "query", "is_args",
}

// IsCapture reports whether a template variable is a regex capture ("0" to "9").
func IsCapture(v string) bool { return len(v) == 1 && '0' <= v[0] && v[0] <= '9' }

// ParseTemplate splits s into literal text and ${var} references. "$$" is a
// literal "$"; any other "$" not starting "${" is an error, so a typo never
// silently becomes literal text. Adjacent literal text is merged into one
// part. It returns an error naming the first problem.
func ParseTemplate(s string) ([]TemplatePart, error) {
	var parts []TemplatePart
	var lit strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			lit.WriteByte('$')
			i += 2
			continue
		case !strings.HasPrefix(s[i:], "${"):
			return nil, errors.New(`"$" must start "${variable}"; write "$$" for a literal "$"`)
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed %q", s[i:])
		}
		p, err := templateVar(s[i+2 : i+end])
		if err != nil {
			return nil, err
		}
		if lit.Len() > 0 {
			parts = append(parts, TemplatePart{Literal: lit.String()})
			lit.Reset()
		}
		parts = append(parts, p)
		i += end + 1
	}
	if lit.Len() > 0 {
		parts = append(parts, TemplatePart{Literal: lit.String()})
	}
	return parts, nil
}

func templateVar(name string) (TemplatePart, error) {
	if h, ok := strings.CutPrefix(name, "header."); ok {
		if !isToken(h) {
			return TemplatePart{}, fmt.Errorf("invalid header name %q in ${%s}", h, name)
		}
		return TemplatePart{Var: "header", Header: h}, nil
	}
	if m, ok := strings.CutPrefix(name, "map."); ok {
		if !IsMapName(m) {
			return TemplatePart{}, fmt.Errorf("invalid map name %q in ${%s}", m, name)
		}
		return TemplatePart{Var: "map", Map: m}, nil
	}
	if IsCapture(name) {
		return TemplatePart{Var: name}, nil
	}
	for _, v := range templateVars {
		if name == v {
			return TemplatePart{Var: v}, nil
		}
	}
	if c := closest(name, templateVars); c != "" {
		return TemplatePart{}, fmt.Errorf("unknown variable ${%s} (did you mean ${%s}?)", name, c)
	}
	return TemplatePart{}, fmt.Errorf("unknown variable ${%s}", name)
}

// isToken reports whether s is a non-empty RFC 9110 token, the syntax of
// header names and methods.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// IsMapName reports whether s can name a map: letters, digits and _, not
// starting with a digit (nginx's variable names).
func IsMapName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// TemplateRefs reports what a valid template refers to beyond the request:
// the highest capture it uses (-1 for none) and the maps it names.
func TemplateRefs(parts []TemplatePart) (maxCapture int, maps []string) {
	maxCapture = -1
	for _, p := range parts {
		switch {
		case IsCapture(p.Var):
			maxCapture = max(maxCapture, int(p.Var[0]-'0'))
		case p.Var == "map":
			maps = append(maps, p.Map)
		}
	}
	return maxCapture, maps
}
