package proxy

import (
	"fmt"
	"regexp"
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
	VarIsArgs  // "?" when the request has a query, else nothing (nginx's $is_args)
	VarCapture // group N of the template's capture regex run on the normalized path
	VarMap     // a Map's value for this request
)

var varNames = map[string]Var{
	"client_ip": VarClientIP, "client_port": VarClientPort, "host": VarHost, "scheme": VarScheme,
	"method": VarMethod, "request_id": VarRequestID, "request_uri": VarRequestURI, "path": VarPath,
	"query": VarQuery, "header": VarHeader, "is_args": VarIsArgs, "map": VarMap,
}

// Part is one piece of a template as the config layer parsed it: a literal, or a variable name (with Header set
// for the "header" variable, Map for the "map" variable). Var "0" to "9" is a regex capture.
type Part struct {
	Literal string
	Var     string
	Header  string
	Map     string
}

type part struct {
	v   Var
	lit string // literal text, or the header name for VarHeader
	n   int    // the group for VarCapture
	m   *Map   // VarMap
}

// Template is a compiled header value template. Rendering appends to a buffer; it allocates only when the
// template uses regex captures (the route's regex is run again on the path).
type Template struct {
	parts []part
	re    *regexp.Regexp // the capture regex; nil when no part is a VarCapture
}

// TemplateEnv is what a template may refer to besides the request: the route's capture regex (its match regex,
// or nginx's rewrite regex) and the configured maps by name. The zero value allows neither.
type TemplateEnv struct {
	Captures *regexp.Regexp
	Maps     map[string]*Map
}

// CompileTemplate turns parsed parts into a Template that uses neither captures nor maps.
func CompileTemplate(ps []Part) (Template, error) { return CompileTemplateEnv(ps, TemplateEnv{}) }

// CompileTemplateEnv turns parsed parts into a Template whose captures and maps come from env.
func CompileTemplateEnv(ps []Part, env TemplateEnv) (Template, error) {
	var t Template
	for _, p := range ps {
		if p.Var == "" {
			t.parts = append(t.parts, part{v: VarLiteral, lit: p.Literal})
			continue
		}
		if len(p.Var) == 1 && '0' <= p.Var[0] && p.Var[0] <= '9' {
			n := int(p.Var[0] - '0')
			switch {
			case env.Captures == nil:
				return Template{}, fmt.Errorf("capture $%d needs a route matched by a regular expression", n)
			case n > env.Captures.NumSubexp():
				return Template{}, fmt.Errorf("capture $%d: the regex %q has %d groups", n, env.Captures.String(),
					env.Captures.NumSubexp())
			}
			t.re = env.Captures
			t.parts = append(t.parts, part{v: VarCapture, n: n})
			continue
		}
		v, ok := varNames[p.Var]
		if !ok {
			return Template{}, fmt.Errorf("unknown variable %q", p.Var)
		}
		switch v {
		case VarHeader:
			if p.Header == "" {
				return Template{}, fmt.Errorf("variable header needs a name, as in ${header.X-Name}")
			}
			t.parts = append(t.parts, part{v: v, lit: p.Header})
		case VarMap:
			m := env.Maps[p.Map]
			if m == nil {
				return Template{}, fmt.Errorf("unknown map %q", p.Map)
			}
			t.parts = append(t.parts, part{v: v, m: m})
		default:
			t.parts = append(t.parts, part{v: v})
		}
	}
	return t, nil
}

// Literal returns a template that renders s.
func Literal(s string) Template { return Template{parts: []part{{v: VarLiteral, lit: s}}} }

// render appends the template's value for the request on c.
func (t *Template) render(dst []byte, c *conn) []byte {
	var caps []int // submatch indexes of t.re on c.path, found on first use
	for i := range t.parts {
		p := &t.parts[i]
		switch p.v {
		case VarLiteral:
			dst = append(dst, p.lit...)
		case VarCapture:
			if caps == nil {
				if caps = t.re.FindSubmatchIndex(c.path); caps == nil {
					caps = []int{} // no match: every capture is empty
				}
			}
			if 2*p.n+1 < len(caps) && caps[2*p.n] >= 0 {
				dst = append(dst, c.path[caps[2*p.n]:caps[2*p.n+1]]...)
			}
		case VarMap:
			dst = p.m.render(dst, c)
		default:
			dst = c.appendVar(dst, p)
		}
	}
	return dst
}

// appendVar appends the value of a request variable.
func (c *conn) appendVar(dst []byte, p *part) []byte {
	switch p.v {
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
	case VarIsArgs:
		if len(c.req.Query) > 0 {
			dst = append(dst, '?')
		}
	case VarHeader:
		if v, ok := c.req.Header(p.lit); ok {
			dst = append(dst, v...)
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

// Map chooses a value by matching a rendered source against exact strings, then regexes in order (nginx's `map`).
// Build it with NewMap; it is immutable afterwards and safe for concurrent use. Values and the source must not use
// maps themselves (the config layer forbids it), so rendering never recurses.
type Map struct {
	source     Template
	exact      map[string]int // exact key (lower-cased when foldExact) -> index into values
	foldExact  bool
	regexes    []*regexp.Regexp
	regexValue []int // index into values for each regex
	values     []Template
	def        Template
}

// MapEntry is one line of a map: Exact (with Regex nil) or Regex, and the value it selects.
type MapEntry struct {
	Exact string
	Regex *regexp.Regexp
	Value Template
}

// NewMap builds a map. foldExact compares exact keys case-insensitively (nginx's rule for maps). A repeated exact
// key keeps its first value.
func NewMap(source Template, entries []MapEntry, def Template, foldExact bool) *Map {
	m := &Map{source: source, exact: map[string]int{}, foldExact: foldExact, def: def}
	for _, e := range entries {
		m.values = append(m.values, e.Value)
		i := len(m.values) - 1
		if e.Regex != nil {
			m.regexes, m.regexValue = append(m.regexes, e.Regex), append(m.regexValue, i)
			continue
		}
		k := e.Exact
		if foldExact {
			k = string(lowerASCII([]byte(k)))
		}
		if _, dup := m.exact[k]; !dup {
			m.exact[k] = i
		}
	}
	return m
}

// render appends the map's value: the source is rendered at the end of dst as scratch space, looked up, and
// replaced by the chosen value.
func (m *Map) render(dst []byte, c *conn) []byte {
	start := len(dst)
	dst = m.source.render(dst, c)
	key := dst[start:]
	if m.foldExact {
		lowerASCII(key)
	}
	v := &m.def
	if i, ok := m.exact[string(key)]; ok {
		v = &m.values[i]
	} else {
		if m.foldExact { // regexes see the source as it was
			dst = m.source.render(dst[:start], c)
			key = dst[start:]
		}
		for j, re := range m.regexes {
			if re.Match(key) {
				v = &m.values[m.regexValue[j]]
				break
			}
		}
	}
	return v.render(dst[:start], c)
}

// lowerASCII lower-cases b in place and returns it.
func lowerASCII(b []byte) []byte {
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return b
}
