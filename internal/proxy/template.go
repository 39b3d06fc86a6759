package proxy

import (
	"fmt"
	"strconv"
)

// Var names a per-request value that a template can insert.
type Var uint8

const (
	VarLiteral Var = iota
	VarClientIP
	VarClientPort
	VarHost
	VarScheme
	VarMethod
	VarRequestID
	VarRequestURI
	VarPath
	VarQuery
	VarHeader
)

var varNames = map[string]Var{
	"client_ip": VarClientIP, "client_port": VarClientPort, "host": VarHost, "scheme": VarScheme,
	"method": VarMethod, "request_id": VarRequestID, "request_uri": VarRequestURI, "path": VarPath,
	"query": VarQuery, "header": VarHeader,
}

// Part is one piece of a template as the config layer parsed it: a literal, or a variable name (with Header set
// for the "header" variable).
type Part struct {
	Literal string
	Var     string
	Header  string
}

type part struct {
	v   Var
	lit string // literal text, or the header name for VarHeader
}

// Template is a compiled header value template. Rendering appends to a buffer without allocating.
type Template struct {
	parts []part
}

// CompileTemplate turns parsed parts into a Template.
func CompileTemplate(ps []Part) (Template, error) {
	var t Template
	for _, p := range ps {
		if p.Var == "" {
			t.parts = append(t.parts, part{v: VarLiteral, lit: p.Literal})
			continue
		}
		v, ok := varNames[p.Var]
		if !ok {
			return Template{}, fmt.Errorf("unknown variable %q", p.Var)
		}
		if v == VarHeader {
			if p.Header == "" {
				return Template{}, fmt.Errorf("variable header needs a name, as in ${header.X-Name}")
			}
			t.parts = append(t.parts, part{v: v, lit: p.Header})
			continue
		}
		t.parts = append(t.parts, part{v: v})
	}
	return t, nil
}

// Literal returns a template that renders s.
func Literal(s string) Template { return Template{parts: []part{{v: VarLiteral, lit: s}}} }

// render appends the template's value for the request on c.
func (t *Template) render(dst []byte, c *conn) []byte {
	for i := range t.parts {
		p := &t.parts[i]
		switch p.v {
		case VarLiteral:
			dst = append(dst, p.lit...)
		case VarClientIP:
			dst = c.remote.Addr().AppendTo(dst)
		case VarClientPort:
			dst = strconv.AppendUint(dst, uint64(c.remote.Port()), 10)
		case VarHost:
			// Lower-cased like nginx's $host: host names are case-insensitive, and upstreams keyed on them should
			// not see two spellings.
			for _, b := range hostOnly(c.req.Host) {
				if 'A' <= b && b <= 'Z' {
					b += 'a' - 'A'
				}
				dst = append(dst, b)
			}
		case VarScheme:
			dst = append(dst, c.scheme...)
		case VarMethod:
			dst = append(dst, c.req.Method...)
		case VarRequestID:
			dst = append(dst, c.requestID...)
		case VarRequestURI:
			dst = append(dst, c.req.URI...)
		case VarPath:
			dst = append(dst, c.req.Path...)
		case VarQuery:
			dst = append(dst, c.req.Query...)
		case VarHeader:
			if v, ok := c.req.Header(p.lit); ok {
				dst = append(dst, v...)
			}
		}
	}
	return dst
}

// hostOnly strips a port from a Host value ("[::1]:80" -> "[::1]", "a.b:80" -> "a.b").
func hostOnly(h []byte) []byte {
	for i := len(h) - 1; i >= 0; i-- {
		switch h[i] {
		case ':':
			return h[:i]
		case ']':
			return h
		}
	}
	return h
}
