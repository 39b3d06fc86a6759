package nginx

import (
	"strconv"
	"strings"
)

// This file converts nginx's abuse limits: client_max_body_size into
// max_body_bytes, limit_req_zone/limit_req into a route's rate_limit and
// limit_conn_zone/limit_conn into server.max_connections_per_ip.

// nginxMaxBody is nginx's default client_max_body_size (1m).
const nginxMaxBody = 1 << 20

// reqZone is one limit_req_zone: its key as a fjord rate_limit key, and its rate.
type reqZone struct {
	key, rate string
	pos       Pos
}

// limitReq is the limit_req in force at a level.
type limitReq struct {
	zone  string
	burst int
	pos   Pos
}

// limitSetting applies the limit directives valid at every level to sc and
// reports whether d was one.
func (c *converter) limitSetting(d *Directive, sc *scope) bool {
	switch d.Name {
	case "client_max_body_size":
		if c.nargs(d, 1, 1) {
			n, ok := parseNginxSize(d.Args[0].Value)
			if !ok {
				c.errorf(d.Args[0].Pos, "client_max_body_size: invalid size %q", d.Args[0].Value)
			}
			sc.maxBody, sc.maxBodySet = n, true
		}
	case "limit_req":
		c.limitReqDirective(d, sc)
	case "limit_req_status":
		if c.nargs(d, 1, 1) {
			n, err := strconv.Atoi(d.Args[0].Value)
			if err != nil || n < 400 || n > 599 {
				c.errorf(d.Args[0].Pos, "limit_req_status: value must be between 400 and 599")
			}
			sc.reqStatus = n
		}
	case "limit_req_log_level", "limit_conn_log_level":
		c.ignored(d, "fjord logs every refused request at one level")
	case "limit_req_dry_run", "limit_conn_dry_run":
		if v := d.Values(); len(v) == 1 && v[0] == "on" {
			c.errorf(d.Pos, "%s on: not supported yet", d.Name)
		}
	default:
		return false
	}
	return true
}

// limitReqDirective reads `limit_req zone=NAME [burst=N] [nodelay | delay=N]`.
func (c *converter) limitReqDirective(d *Directive, sc *scope) {
	if !c.nargs(d, 1, 3) {
		return
	}
	lr := &limitReq{pos: d.Pos}
	for _, a := range d.Args {
		k, v, _ := strings.Cut(a.Value, "=")
		switch k {
		case "zone":
			lr.zone = v
		case "burst":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				c.errorf(a.Pos, "limit_req: invalid burst %q", v)
			}
			lr.burst = n
		case "nodelay":
		case "delay":
			c.diag(a.Pos, SeverityInfo, "limit_req delay: fjord never delays; requests over the rate and burst are refused")
		default:
			c.errorf(a.Pos, "limit_req: invalid parameter %q", a.Value)
		}
	}
	if lr.zone == "" {
		c.errorf(d.Pos, `limit_req: "zone" is required`)
		return
	}
	if !sc.reqHere {
		sc.reqs, sc.reqHere = nil, true
	}
	sc.reqs = append(sc.reqs, lr)
}

// limitReqZone reads `limit_req_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m` at http level.
func (c *converter) limitReqZone(d *Directive) {
	if !c.nargs(d, 3, 4) {
		return
	}
	z := &reqZone{pos: d.Pos}
	switch key := d.Args[0].Value; {
	case key == "$binary_remote_addr" || key == "$remote_addr":
		z.key = "client_ip"
	case strings.HasPrefix(key, "$http_") && isVarName(key[6:]) && !strings.ContainsAny(key[6:], "${}"):
		z.key = "header:" + headerFromVar(key[6:])
	default:
		c.errorf(d.Args[0].Pos, "limit_req_zone key %q: not supported yet (use $binary_remote_addr, "+
			"$remote_addr or $http_NAME)", key)
		return
	}
	name := ""
	for _, a := range d.Args[1:] {
		k, v, _ := strings.Cut(a.Value, "=")
		switch k {
		case "zone":
			name, _, _ = strings.Cut(v, ":")
		case "rate":
			n, unit, ok := strings.Cut(v, "r/")
			cnt, err := strconv.Atoi(n)
			if !ok || err != nil || cnt <= 0 || (unit != "s" && unit != "m") {
				c.errorf(a.Pos, "limit_req_zone: invalid rate %q", v)
				return
			}
			z.rate = n + "/" + unit
		case "sync":
			c.errorf(a.Pos, "limit_req_zone sync: not supported")
			return
		default:
			c.errorf(a.Pos, "limit_req_zone: invalid parameter %q", a.Value)
			return
		}
	}
	if name == "" || z.rate == "" {
		c.errorf(d.Pos, "limit_req_zone needs zone=NAME:SIZE and rate=")
		return
	}
	c.reqZones[name] = z
}

// rateLimit fills r's rate_limit from the limit_req in force. fjord refuses
// at once what nginx would refuse or delay: its bucket holds burst+1
// requests (nginx's burst is the excess over the first one).
func (c *converter) rateLimit(r *route, sc *scope) bool {
	if len(sc.reqs) == 0 {
		return true
	}
	if len(sc.reqs) > 1 {
		c.errorf(sc.reqs[1].pos, "more than one limit_req for a location: not supported yet")
		return false
	}
	lr := sc.reqs[0]
	z := c.reqZones[lr.zone]
	if z == nil {
		c.errorf(lr.pos, "zero size shared memory zone %q", lr.zone)
		return false
	}
	r.rateKey, r.rate, r.burst = z.key, z.rate, lr.burst+1
	r.rateStatus = sc.reqStatus
	if r.rateStatus == 0 {
		r.rateStatus = 503 // nginx's limit_req_status default
	}
	return true
}

// limitConnZone reads `limit_conn_zone $binary_remote_addr zone=NAME:SIZE`.
func (c *converter) limitConnZone(d *Directive) {
	if !c.nargs(d, 2, 2) {
		return
	}
	if k := d.Args[0].Value; k != "$binary_remote_addr" && k != "$remote_addr" {
		c.errorf(d.Args[0].Pos, "limit_conn_zone key %q: not supported yet (fjord limits connections per client address)", k)
		return
	}
	k, v, _ := strings.Cut(d.Args[1].Value, "=")
	name, _, _ := strings.Cut(v, ":")
	if k != "zone" || name == "" {
		c.errorf(d.Args[1].Pos, "limit_conn_zone: invalid parameter %q", d.Args[1].Value)
		return
	}
	c.connZones[name] = true
}

// limitConn maps `limit_conn ZONE N` at http or server level to
// server.max_connections_per_ip, which is one value for all of fjord.
func (c *converter) limitConn(d *Directive) {
	if !c.nargs(d, 2, 2) {
		return
	}
	if !c.connZones[d.Args[0].Value] {
		c.errorf(d.Args[0].Pos, "zero size shared memory zone %q", d.Args[0].Value)
		return
	}
	n, err := strconv.Atoi(d.Args[1].Value)
	if err != nil || n <= 0 {
		c.errorf(d.Args[1].Pos, "limit_conn: invalid number of connections %q", d.Args[1].Value)
		return
	}
	if c.connPerIP != 0 && c.connPerIP != n {
		c.errorf(d.Pos, "limit_conn %d differs from limit_conn %d elsewhere: fjord has one per-address limit "+
			"(server.max_connections_per_ip): not supported yet", n, c.connPerIP)
		return
	}
	c.connPerIP = n
	c.diag(d.Pos, SeverityInfo, "limit_conn: fjord refuses a client's extra connections when they are accepted "+
		"(nginx answers 503 to their requests)")
}

// parseNginxSize reads nginx's size syntax: a number with an optional k, m or g suffix.
func parseNginxSize(s string) (int64, bool) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k") || strings.HasSuffix(s, "K"):
		mult = 1 << 10
	case strings.HasSuffix(s, "m") || strings.HasSuffix(s, "M"):
		mult = 1 << 20
	case strings.HasSuffix(s, "g") || strings.HasSuffix(s, "G"):
		mult = 1 << 30
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, false
	}
	return n * mult, true
}
