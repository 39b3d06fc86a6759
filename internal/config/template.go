package config

import (
	"errors"
	"fmt"
	"strings"
)

// TemplatePart is one piece of a parsed header template: either literal text
// (Var == "") or a variable. For ${header.NAME}, Var is "header" and Header
// is NAME exactly as written (the engine canonicalises it).
type TemplatePart struct {
	Literal string
	Var     string
	Header  string
}

// templateVars are the variables a template may use, besides header.NAME.
var templateVars = []string{
	"client_ip", "client_port", "host", "scheme", "method",
	"request_id", "request_uri", "path", "query",
}

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
