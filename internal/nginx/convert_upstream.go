package nginx

import (
	"net"
	"strconv"
	"strings"
)

// service is a fjord service built from an upstream block or synthesized for
// a proxy_pass to an address.
type service struct {
	name      string
	pos       Pos
	balancer  string
	hashKey   string
	instances []instance
	keepalive int // 0: no reuse, nginx's default without `keepalive`
	kaIdle    string
	maxFails  int
	failTime  string
	// retries, decided by the locations that use the service
	retrySet bool
	attempts int
	on       []string
	retryPos Pos
	used     bool
	// protocol is "h2c" or "h2" for a grpc_pass target; "" for proxy_pass.
	protocol string
	tls      *upstreamTLS // for grpcs://
}

type instance struct {
	addr   string
	weight int
	backup bool
	pos    Pos
}

// serviceName turns an nginx name into a valid, unused fjord service name.
func (c *converter) serviceName(raw string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(raw) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := b.String()
	for i := 2; c.svcNames[name]; i++ {
		name = b.String() + "-" + strconv.Itoa(i)
	}
	c.svcNames[name] = true
	return name
}

// upstream converts an upstream block into a service.
func (c *converter) upstream(d *Directive) {
	if !c.nargs(d, 1, 1) {
		return
	}
	name := d.Args[0].Value
	if c.upstreams[name] != nil {
		c.errorf(d.Args[0].Pos, "duplicate upstream %q", name)
		return
	}
	s := &service{name: c.serviceName(name), pos: d.Pos, balancer: "round_robin", maxFails: 1, failTime: "10s"}
	c.upstreams[name] = s
	c.services = append(c.services, s)
	first := true
	for _, e := range d.Block {
		switch e.Name {
		case "server":
			c.upstreamServer(s, e, first)
			first = false
		case "keepalive":
			if c.nargs(e, 1, 1) {
				n, err := strconv.Atoi(e.Args[0].Value)
				if err != nil || n < 1 {
					c.errorf(e.Args[0].Pos, "keepalive: invalid value %q", e.Args[0].Value)
				}
				s.keepalive = n
			}
		case "keepalive_timeout":
			s.kaIdle = c.duration(e, 0)
		case "keepalive_requests", "keepalive_time":
			c.ignored(e, "fjord bounds upstream connections by idle time only")
		case "least_conn":
			s.balancer = "least_conn"
		case "ip_hash":
			s.balancer, s.hashKey = "hash", "client_ip"
			c.diag(e.Pos, SeverityInfo, "ip_hash: fjord hashes the whole client address, nginx the first three octets of IPv4")
		case "hash":
			c.hashDirective(s, e)
		case "random":
			if v := e.Values(); len(v) >= 1 && v[0] == "two" {
				s.balancer = "p2c"
				if len(v) > 1 && v[1] != "least_conn" {
					c.errorf(e.Args[1].Pos, "random two %s: not supported yet (fjord's p2c compares in-flight requests)", v[1])
				}
			} else {
				c.errorf(e.Pos, "not supported yet: random without two")
			}
		case "zone":
			c.ignored(e, "fjord's balancer state is always shared")
		default:
			c.unknown(e, "upstream")
		}
	}
	if len(s.instances) == 0 {
		c.errorf(d.Pos, "upstream %q has no usable server", name)
	}
	if len(s.instances) == 1 {
		// nginx never marks the only server of an upstream as failed.
		s.maxFails = 0
	}
}

func (c *converter) hashDirective(s *service, e *Directive) {
	if !c.nargs(e, 1, 2) {
		return
	}
	if len(e.Args) == 2 && e.Args[1].Value != "consistent" {
		c.errorf(e.Args[1].Pos, "hash: invalid parameter %q", e.Args[1].Value)
	}
	key := e.Args[0].Value
	s.balancer = "hash"
	switch {
	case key == "$remote_addr" || key == "${remote_addr}":
		s.hashKey = "client_ip"
	case strings.HasPrefix(key, "$http_") && isVarName(key[6:]):
		s.hashKey = "header:" + headerFromVar(key[6:])
	case strings.HasPrefix(key, "$cookie_") && isVarName(key[8:]):
		s.hashKey = "cookie:" + key[8:]
	default:
		c.errorf(e.Args[0].Pos, "hash key %q: not supported yet (use $remote_addr, $http_NAME or $cookie_NAME)", key)
	}
}

// upstreamServer converts one `server` line of an upstream block.
func (c *converter) upstreamServer(s *service, e *Directive, first bool) {
	if !c.nargs(e, 1, 10) {
		return
	}
	addr, ok := c.hostPort(e.Args[0])
	if !ok {
		return
	}
	in := instance{addr: addr, weight: 1, pos: e.Pos}
	maxFails, failTime, down := 1, "10s", false
	for _, a := range e.Args[1:] {
		k, v, _ := strings.Cut(a.Value, "=")
		switch k {
		case "weight":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				c.errorf(a.Pos, "invalid weight %q", v)
			}
			in.weight = n
		case "max_fails":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				c.errorf(a.Pos, "invalid max_fails %q", v)
			}
			maxFails = n
		case "fail_timeout":
			d, ok := parseNginxTime(v)
			if !ok {
				c.errorf(a.Pos, "invalid fail_timeout %q", v)
			}
			failTime = d.String()
		case "backup":
			in.backup = true
		case "down":
			down = true
		default:
			c.errorf(a.Pos, "upstream server parameter %q: not supported yet", a.Value)
		}
	}
	if first {
		s.maxFails, s.failTime = maxFails, failTime
	} else if maxFails != s.maxFails || failTime != s.failTime {
		c.errorf(e.Pos, "servers of one upstream with different max_fails/fail_timeout: not supported yet "+
			"(fjord ejects per service)")
	}
	if down {
		c.diag(e.Pos, SeverityInfo, "server %s is marked down: left out", addr)
		return
	}
	s.instances = append(s.instances, in)
}

// hostPort checks an upstream address and adds nginx's default port 80.
func (c *converter) hostPort(a Arg) (string, bool) {
	v := a.Value
	if strings.HasPrefix(v, "unix:") {
		c.errorf(a.Pos, "unix socket upstream %q: not supported yet", v)
		return "", false
	}
	if strings.Contains(v, "$") {
		c.errorf(a.Pos, "variables in upstream addresses: not supported yet")
		return "", false
	}
	if _, _, err := net.SplitHostPort(v); err != nil {
		h := strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
		v = net.JoinHostPort(h, "80")
	}
	return v, true
}

func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// headerFromVar turns the NAME of $http_NAME into a header name: nginx
// lower-cases header names and maps '-' to '_', so '_' becomes '-' again.
func headerFromVar(n string) string {
	parts := strings.Split(strings.ToLower(n), "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}
