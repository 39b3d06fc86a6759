package nginx

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// finish checks the whole result once every block was read.
func (c *converter) finish() {
	if len(c.listeners) == 0 {
		c.errorf(c.httpPos, "no server block: nothing to serve")
	}
	c.buildTLS()
	c.mergeDualStack()
	c.checkProxyProtocol()
	c.resolveErrorPages()
}

// mergeDualStack turns listeners on 0.0.0.0:P and [::]:P into one on :P: Go
// listens on both families with one socket, so fjord cannot bind both.
func (c *converter) mergeDualStack() {
	rename := map[string]string{}
	var kept []*listener
	for _, l := range c.listeners {
		host, port, _ := net.SplitHostPort(l.addr)
		other := "0.0.0.0"
		if host == "0.0.0.0" {
			other = "::"
		} else if host != "::" {
			kept = append(kept, l)
			continue
		}
		if c.byAddr[net.JoinHostPort(other, port)] == nil {
			kept = append(kept, l)
			continue
		}
		if host == "::" {
			c.mergeTLS(c.byAddr[net.JoinHostPort(other, port)], l)
			rename[l.name] = ":" + port
			continue
		}
		rename[l.name] = ":" + port
		l.name, l.addr = ":"+port, ":"+port
		kept = append(kept, l)
	}
	c.listeners = kept
	for _, r := range c.routes {
		var ls []string
		for _, n := range r.listeners {
			if m, ok := rename[n]; ok {
				n = m
			}
			if !contains(ls, n) {
				ls = append(ls, n)
			}
		}
		r.listeners = ls
	}
}

// yamlWriter builds the YAML text and remembers, per output line, the nginx
// position it came from (see SourceMap).
type yamlWriter struct {
	b    strings.Builder
	line int
	src  map[int]Pos
	last Pos // the position named by the last comment, to avoid repeating it
}

// q quotes s as a YAML double-quoted scalar (JSON strings are valid YAML).
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (w *yamlWriter) printf(p Pos, format string, args ...any) {
	w.line++
	s := fmt.Sprintf(format, args...)
	if p.IsValid() {
		if p.File != w.last.File || p.Line != w.last.Line {
			s += "  # " + filepath.Base(p.File) + ":" + strconv.Itoa(p.Line)
		}
		w.src[w.line], w.last = p, p
	}
	w.b.WriteString(s + "\n")
}

// emit writes the native configuration and the map from its 1-based lines
// to the nginx positions they came from.
func (c *converter) emit() ([]byte, map[int]Pos) {
	w := &yamlWriter{src: map[int]Pos{}}
	w.printf(Pos{}, "# Converted from nginx configuration by fjord convert; see docs/nginx.md.")
	w.printf(Pos{}, "listeners:")
	for _, l := range c.listeners {
		if tl := c.tlsAt[l]; tl != nil {
			w.printf(l.pos, "  - name: %s", q(l.name))
			w.printf(l.pos, "    address: %s", q(l.addr))
			emitListenerTLS(w, tl)
			for _, f := range l.flags() {
				w.printf(l.pos, "    %s: true", f)
			}
			continue
		}
		fields := fmt.Sprintf("name: %s, address: %s", q(l.name), q(l.addr))
		for _, f := range l.flags() {
			fields += ", " + f + ": true"
		}
		w.printf(l.pos, "  - {%s}", fields)
	}
	if c.accessLog != nil {
		w.printf(c.accessLog.pos, "access_log:")
		w.printf(c.accessLog.pos, "  format: %s", c.accessLog.format)
		if c.accessLog.path != "" {
			w.printf(c.accessLog.pos, "  path: %s", q(c.accessLog.path))
		}
	}
	if c.idle != "" || c.readHead != "" || c.connPerIP != 0 || len(c.realIP.from) > 0 || c.serverPages != nil {
		w.printf(Pos{}, "server:")
		if c.serverPages != nil {
			emitPages(w, "  ", c.serverPages)
		}
		c.emitRealIP(w)
		if c.connPerIP != 0 {
			w.printf(Pos{}, "  max_connections_per_ip: %d", c.connPerIP)
		}
		if c.idle != "" {
			w.printf(Pos{}, "  idle_timeout: %s", c.idle)
		}
		if c.readHead != "" {
			w.printf(Pos{}, "  read_header_timeout: %s", c.readHead)
		}
	}
	if len(c.services) == 0 {
		w.printf(Pos{}, "services: {}")
	} else {
		w.printf(Pos{}, "services:")
	}
	for _, s := range c.services {
		c.emitService(w, s)
	}
	c.emitMaps(w)
	w.printf(Pos{}, "routes:")
	for _, r := range c.routes {
		c.emitRoute(w, r)
	}
	return []byte(w.b.String()), w.src
}

func (c *converter) emitService(w *yamlWriter, s *service) {
	p := s.pos
	w.printf(p, "  %s:", s.name)
	w.printf(p, "    balancer: %s", s.balancer)
	if s.hashKey != "" {
		w.printf(p, "    hash_key: %s", q(s.hashKey))
	}
	w.printf(p, "    instances:")
	for _, in := range s.instances {
		line := "      - {address: " + q(in.addr)
		if in.weight != 1 {
			line += ", weight: " + strconv.Itoa(in.weight)
		}
		if in.backup {
			line += ", backup: true"
		}
		w.printf(in.pos, "%s}", line)
	}
	w.printf(p, "    timeouts: {connect: 60s, response_header: 60s, idle: 60s}")
	ka := "    keepalive: {max_idle_per_instance: " + strconv.Itoa(s.keepalive)
	if s.kaIdle != "" {
		ka += ", idle_timeout: " + s.kaIdle
	}
	w.printf(p, "%s}", ka)
	if s.maxFails == 0 {
		w.printf(p, "    outlier: {consecutive_failures: 0}")
	} else {
		w.printf(p, "    outlier: {consecutive_failures: %d, fail_window: %s, base_ejection: %s, max_ejection: %s, "+
			"failure_statuses: []}", s.maxFails, s.failTime, s.failTime, s.failTime)
	}
	w.printf(p, "    limits: {max_concurrent: 0}")
	emitServiceGRPC(w, s)
	if s.retrySet && s.attempts > 0 {
		on := make([]string, len(s.on))
		for i, o := range s.on {
			on[i] = q(o)
		}
		w.printf(s.retryPos, "    retries: {attempts: %d, on: [%s], budget_percent: 100}", s.attempts, strings.Join(on, ", "))
	} else {
		w.printf(s.retryPos, "    retries: {attempts: 0}")
	}
}

func (c *converter) emitRoute(w *yamlWriter, r *route) {
	p := r.pos
	w.printf(p, "  - name: %s", q(r.name))
	if r.internal {
		w.printf(p, "    internal: true  # named location %s: reached only as a try_files fallback", r.named)
	} else {
		w.printf(p, "    match:")
		w.printf(p, "      listeners: [%s]", quoteAll(r.listeners))
		if len(r.hosts) > 0 {
			w.printf(p, "      hosts: [%s]", quoteAll(r.hosts))
		}
		w.printf(p, "      %s: %s", r.kind, q(r.path))
		if r.prefixFirst {
			w.printf(p, "      prefix_first: true")
		}
	}
	if r.captures != "" {
		w.printf(p, "    captures: %s", q(r.captures))
	}
	if r.isReturn {
		w.printf(p, "    return:")
		w.printf(p, "      status: %d", r.retStatus)
		if r.retBody != "" {
			w.printf(p, "      body: %s", q(r.retBody))
		}
		if r.retLocation != "" {
			w.printf(p, "      headers: {Location: %s}", q(r.retLocation))
		}
		return
	}
	emitAccess(w, r)
	emitRoutePages(w, r, c.serverPages != nil)
	if r.static != nil {
		emitStatic(w, r)
		return
	}
	w.printf(p, "    service: %s", r.service.name)
	w.printf(p, "    forwarded_headers: %t", r.forwarded)
	w.printf(p, "    rewrite:")
	if r.strip != "" || r.add != "" {
		w.printf(p, "      strip_prefix: %s", q(r.strip))
		w.printf(p, "      add_prefix: %s", q(r.add))
	}
	if r.replRegex != "" {
		w.printf(p, "      replace_path: {regex: %s, with: %s}", q(r.replRegex), q(r.replWith))
	}
	w.printf(p, "      host: %s", q(r.host))
	if len(r.set) > 0 || len(r.remove) > 0 {
		w.printf(p, "    request_headers:")
		emitOps(w, r.set, "set", r.remove)
	}
	if len(r.resAdd) > 0 || len(r.resRemove) > 0 {
		w.printf(p, "    response_headers:")
		emitOps(w, r.resAdd, "add", r.resRemove)
	}
	if r.connect != "" || r.rh != "" || r.idle != "" {
		var parts []string
		for _, f := range [][2]string{{"connect", r.connect}, {"response_header", r.rh}, {"idle", r.idle}} {
			if f[1] != "" {
				parts = append(parts, f[0]+": "+f[1])
			}
		}
		w.printf(p, "    timeouts: {%s}", strings.Join(parts, ", "))
	}
	emitRedirects(w, r)
	w.printf(p, "    max_body_bytes: %d", r.maxBody)
	if r.rate != "" {
		w.printf(p, "    rate_limit: {key: %s, rate: %s, burst: %d, status: %d}", q(r.rateKey), q(r.rate), r.burst, r.rateStatus)
	}
}

func emitOps(w *yamlWriter, kvs []kv, key string, remove []string) {
	if len(kvs) > 0 {
		w.printf(Pos{}, "      %s:", key)
		for _, e := range kvs {
			w.printf(e.pos, "        %s: %s", q(e.name), q(e.value))
		}
	}
	if len(remove) > 0 {
		w.printf(Pos{}, "      remove: [%s]", quoteAll(remove))
	}
}

func quoteAll(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = q(s)
	}
	return strings.Join(out, ", ")
}

// flags are the listener's boolean settings that are on, by their native names.
func (l *listener) flags() []string {
	var out []string
	if l.proxyProto {
		out = append(out, "proxy_protocol")
	}
	if l.deferred {
		out = append(out, "defer_accept")
	}
	return out
}
