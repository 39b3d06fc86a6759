package nginx

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// headers applies proxy_set_header, proxy_hide_header and add_header to r.
// nginx sends Host: $proxy_host and no X-Forwarded-* unless told otherwise,
// so the route turns fjord's forwarded headers off and sets the host.
func (c *converter) headers(r *route, sc *scope, si *serverInfo, proxyHost string) bool {
	ok := true
	r.host = strings.ReplaceAll(strings.TrimSuffix(proxyHost, ":80"), "$", "$$")
	for _, h := range sc.setHeaders {
		name := h.name
		if strings.EqualFold(name, "Connection") && h.value == "" {
			continue // nginx's own default is close; fjord manages the upstream connection
		}
		if strings.Contains(h.value, "$proxy_add_x_forwarded_for") {
			if !strings.EqualFold(name, "X-Forwarded-For") || h.value != "$proxy_add_x_forwarded_for" {
				c.errorf(h.pos, "$proxy_add_x_forwarded_for is supported only as the whole value of X-Forwarded-For")
				ok = false
				continue
			}
			// fjord's forwarded headers append the client address exactly
			// like $proxy_add_x_forwarded_for; the other headers it would
			// add are removed below unless the config sets them.
			r.forwarded = true
			continue
		}
		if h.value == "" {
			r.remove = append(r.remove, name)
			continue
		}
		if c.upgradeIdiom(name, h) {
			continue
		}
		v, good := c.template(h.value, h.pos, si, proxyHost, r)
		if !good {
			ok = false
			continue
		}
		if strings.EqualFold(name, "Host") {
			r.host = v
			continue
		}
		r.set = append(r.set, kv{name, v, h.pos})
	}
	if r.forwarded {
		for _, n := range []string{"X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-IP", "X-Request-Id"} {
			if !slices.ContainsFunc(r.set, func(e kv) bool { return strings.EqualFold(e.name, n) }) &&
				!slices.ContainsFunc(r.remove, func(e string) bool { return strings.EqualFold(e, n) }) {
				r.remove = append(r.remove, n)
			}
		}
	}
	for _, h := range sc.hideHeaders {
		r.resRemove = append(r.resRemove, h.name)
	}
	for _, h := range sc.addHeaders {
		v, good := c.template(h.value, h.pos, si, proxyHost, r)
		if !good {
			ok = false
			continue
		}
		r.resAdd = append(r.resAdd, kv{h.name, v, h.pos})
	}
	return ok
}

// nginxVars maps nginx variables to fjord template variables.
var nginxVars = map[string]string{
	"host": "${host}", "remote_addr": "${client_ip}", "remote_port": "${client_port}", "scheme": "${scheme}",
	"request_uri": "${request_uri}", "uri": "${path}", "document_uri": "${path}", "args": "${query}",
	"query_string": "${query}", "request_id": "${request_id}", "request_method": "${method}",
	"is_args": "${is_args}",
}

// template translates an nginx value with variables into a fjord template.
// r, when not nil, is the route the value belongs to: its regex (the
// location's, or the rewrite's in r.captures) gives $1..$9. si is nil for a
// map's values, which belong to no server.
func (c *converter) template(v string, p Pos, si *serverInfo, proxyHost string, r *route) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(v); {
		if v[i] != '$' {
			b.WriteByte(v[i])
			i++
			continue
		}
		if i+1 < len(v) && v[i+1] >= '0' && v[i+1] <= '9' {
			if !c.capture(&b, int(v[i+1]-'0'), p, r) {
				return "", false
			}
			i += 2
			continue
		}
		name, n := varAt(v[i:])
		if name == "" {
			b.WriteString("$$")
			i++
			continue
		}
		i += n
		switch {
		case c.maps[strings.ToLower(name)] != nil:
			if si == nil {
				c.errorf(p, "a map that uses map $%s: not supported yet", name)
				return "", false
			}
			t, ok := c.mapVar(c.maps[strings.ToLower(name)])
			if !ok {
				return "", false
			}
			b.WriteString(t)
		case nginxVars[name] != "":
			b.WriteString(nginxVars[name])
		case strings.HasPrefix(name, "http_") && len(name) > 5:
			b.WriteString("${header." + headerFromVar(name[5:]) + "}")
		case name == "server_name" && si != nil:
			b.WriteString(strings.ReplaceAll(si.firstName, "$", "$$"))
		case name == "proxy_host" && proxyHost != "":
			b.WriteString(strings.ReplaceAll(strings.TrimSuffix(proxyHost, ":80"), "$", "$$"))
		default:
			c.errorf(p, "variable $%s: not supported yet", name)
			return "", false
		}
	}
	return b.String(), true
}

// varAt returns the variable name at the start of s ("$name" or "${name}")
// and the bytes it spans; name is "" when s does not start a variable.
func varAt(s string) (string, int) {
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 0 || !isVarName(s[2:end]) {
			return "", 0
		}
		return s[2:end], end + 1
	}
	i := 1
	for i < len(s) && isVarName(s[i:i+1]) {
		i++
	}
	return s[1:i], i
}

// retries records the proxy_next_upstream policy of a location on its
// service; fjord decides retries per service, so locations must agree.
func (c *converter) retries(s *service, sc *scope, p Pos) {
	attempts := len(s.instances) - 1
	if sc.tries > 0 {
		attempts = min(attempts, sc.tries-1)
	}
	attempts = min(attempts, 10)
	on := []string{"connect_failure", "reset", "timeout"}
	if sc.nextUp != nil {
		on = nil
		for _, v := range sc.nextUp {
			switch {
			case v == "off":
				attempts = 0
			case v == "error":
				on = append(on, "connect_failure", "reset")
			case v == "timeout":
				on = append(on, "timeout")
			case v == "http_500" || v == "http_502" || v == "http_503" || v == "http_504":
				on = append(on, v[5:])
			case v == "invalid_header":
				c.diag(sc.nextUpPos, SeverityInfo, "proxy_next_upstream invalid_header: fjord retries a broken response as reset")
			default:
				c.errorf(sc.nextUpPos, "proxy_next_upstream %s: not supported yet", v)
			}
		}
	}
	if len(on) == 0 {
		attempts = 0
	}
	if !s.retrySet {
		s.retrySet, s.attempts, s.on, s.retryPos = true, attempts, on, p
		return
	}
	if s.attempts != attempts || !slices.Equal(s.on, on) {
		c.errorf(p, "locations using upstream %q retry differently (proxy_next_upstream*, first at line %s): "+
			"not supported yet", s.name, strconv.Itoa(s.retryPos.Line))
	}
}

// capture writes the template for nginx's $n in a value of route r: the
// group of the rewrite regex (r.captures, or a break rewrite's replace_path)
// or of the location regex. Without a regex, or past its last group, nginx
// renders nothing, and so does the template.
func (c *converter) capture(b *strings.Builder, n int, p Pos, r *route) bool {
	if r == nil {
		c.errorf(p, "regex capture $%d here: not supported yet", n)
		return false
	}
	if r.replRegex != "" {
		c.errorf(p, "regex capture $%d in a location with rewrite ... break/last: not supported yet", n)
		return false
	}
	src := r.captures
	if src == "" && r.kind == "path_regex" {
		src = r.path
	}
	re, err := regexp.Compile(src)
	if src == "" || err != nil || n > re.NumSubexp() {
		c.diag(p, SeverityInfo, "$%d has no regex group to refer to: empty, as in nginx", n)
		return true
	}
	if src != r.path {
		r.captures = src
	}
	b.WriteString("${" + strconv.Itoa(n) + "}")
	return true
}
