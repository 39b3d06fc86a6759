package config

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file checks the meaning of a decoded, defaulted Config: ranges,
// references, duplicates and risky combinations. Route checks live in
// validate_route.go.

// validator records diagnostics for one Config. Checks never stop early: a
// bad value is reported and validation moves on, so one run shows every
// problem.
type validator struct {
	diags *Diagnostics
}

var (
	balancers     = []string{"round_robin", "least_conn", "hash", "p2c"}
	logFormats    = []string{"off", "json", "combined"}
	serviceNameRe = regexp.MustCompile(`^[a-z0-9_-]+$`)
)

func (v *validator) config(c *Config) {
	if c.Has("listeners") && len(c.Listeners) == 0 {
		v.diags.Errorf(c.At("listeners"), "listeners must list at least one listener")
	}
	if c.Has("routes") && len(c.Routes) == 0 {
		v.diags.Errorf(c.At("routes"), "routes must list at least one route")
	}
	v.listeners(c)
	v.access(c)
	v.errorPages(c)
	v.accessLog(&c.AccessLog)
	v.server(&c.Server)
	for _, name := range c.ServiceNames() {
		v.service(c.Services[name])
	}
	v.routes(c)
	v.maps(c)
	v.tracing(c.Tracing)
}

// boundAddr is a parsed listening address, for conflict checks.
type boundAddr struct {
	what string // "listener \"public\"" or "admin"
	host string // "" for any address
	port string
	pos  Pos
}

func (v *validator) listeners(c *Config) {
	var bound []boundAddr
	names := map[string]Pos{}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if first, dup := names[l.Name]; dup {
			v.diags.Errorf(l.At("name"), "duplicate listener name %q (first used at line %d)", l.Name, first.Line)
		} else {
			names[l.Name] = l.At("name")
		}
		switch {
		case l.H2C && l.TLS != nil:
			v.diags.Errorf(l.At("h2c"), "listener %q has tls: h2c is for plain listeners (HTTP/2 over TLS is negotiated by ALPN; see http2)", l.Name)
		case l.HTTP2 != nil && l.TLS == nil:
			v.diags.Errorf(l.At("http2"), "listener %q has no tls: http2 applies to TLS listeners (use h2c: true for HTTP/2 over plain TCP)", l.Name)
		case l.H2C && l.RedirectToTLS != "":
			v.diags.Errorf(l.At("h2c"), "listener %q redirects to TLS; h2c would never be served", l.Name)
		}
		if b, ok := v.listenAddr(l.Positions, l.Address, "listener"); ok {
			b.what = fmt.Sprintf("listener %q", l.Name)
			bound = v.bind(bound, b, l.Address)
		}
	}
	if c.Admin != nil {
		if b, ok := v.listenAddr(c.Admin.Positions, c.Admin.Address, "admin"); ok {
			b.what = "admin"
			v.bind(bound, b, c.Admin.Address)
		}
		if t := c.Admin.Token; c.Admin.Has("token") && (t == "" || strings.IndexFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0) {
			v.diags.Errorf(c.Admin.At("token"), "admin token must be non-empty and without spaces or control characters (it is sent as \"Authorization: Bearer TOKEN\")")
		}
	}
	v.listenerTLS(c)
}

func (v *validator) listenAddr(p Positions, addr, what string) (boundAddr, bool) {
	if !p.Has("address") {
		return boundAddr{}, false // reported as missing by the decoder
	}
	host, port, err := splitAddress(addr, false)
	if err != nil {
		v.diags.Errorf(p.At("address"), "invalid %s address %q: %v (want host:port, e.g. 127.0.0.1:8080 or :8080)", what, addr, err)
		return boundAddr{}, false
	}
	if host == "0.0.0.0" || host == "::" {
		host = "" // all wildcards overlap on a dual-stack host
	}
	return boundAddr{host: host, port: port, pos: p.At("address")}, true
}

// bind reports b if it collides with an address already bound: the same
// port on the same host, or on any host when either side is a wildcard
// (the kernel refuses that bind). Port 0 picks a free port and never
// collides.
func (v *validator) bind(bound []boundAddr, b boundAddr, addr string) []boundAddr {
	if b.port != "0" {
		for _, o := range bound {
			if o.port == b.port && (o.host == b.host || o.host == "" || b.host == "") {
				v.diags.Errorf(b.pos, "duplicate listener address %q: %s conflicts with %s (line %d)", addr, b.what, o.what, o.pos.Line)
				return bound
			}
		}
	}
	return append(bound, b)
}

// splitAddress checks a host:port. An empty host is allowed only when
// needHost is false (listeners). Ports must be numeric: named ports depend
// on /etc/services and hide typos.
func splitAddress(addr string, needHost bool) (host, port string, err error) {
	host, port, err = net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "address "+addr+": "))
	}
	n, perr := strconv.Atoi(port)
	lo := 0
	if needHost {
		lo = 1
	}
	if perr != nil || n < lo || n > 65535 {
		return "", "", fmt.Errorf("port %q is not a number between %d and 65535", port, lo)
	}
	switch {
	case host == "" && needHost:
		return "", "", fmt.Errorf("missing host")
	case host == "":
	case isIP(host), isHostname(host):
	default:
		return "", "", fmt.Errorf("invalid host %q", host)
	}
	return host, port, nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

var hostnameRe = regexp.MustCompile(`^(?i)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$`)

func isHostname(s string) bool { return len(s) <= 253 && hostnameRe.MatchString(s) }

func (v *validator) accessLog(a *AccessLog) {
	v.oneOf(a.Positions, "format", a.Format, logFormats)
	if a.Has("path") && a.Path == "" {
		v.diags.Errorf(a.At("path"), "path must not be empty (use stdout, stderr or a file path)")
	}
}

func (v *validator) server(s *Server) {
	v.positive(s.Positions, "read_header_timeout", s.ReadHeaderTimeout, false)
	v.positive(s.Positions, "idle_timeout", s.IdleTimeout, false)
	v.positive(s.Positions, "shutdown_timeout", s.ShutdownTimeout, true)
	if s.MaxHeaderBytes < 4096 || s.MaxHeaderBytes > 1<<20 {
		v.diags.Errorf(s.At("max_header_bytes"), "max_header_bytes must be between 4096 and 1048576, got %d", s.MaxHeaderBytes)
	}
	v.maxBodyBytes(s.Positions, s.MaxBodyBytes)
	v.compression(s.Compression, "server")
	v.bodyRate(s.MinBodyRate)
	switch s.Engine {
	case "", "loop", "goroutines":
	default:
		v.diags.Errorf(s.At("engine"), `engine must be "loop" or "goroutines", got %q`, s.Engine)
	}
	for _, f := range []struct {
		key string
		n   int
	}{{"max_connections", s.MaxConnections}, {"max_connections_per_ip", s.MaxConnectionsPerIP}} {
		if f.n < 0 {
			v.diags.Errorf(s.At(f.key), "%s must not be negative (0 = unlimited), got %d", f.key, f.n)
		}
	}
}

// maxBodyBytes reports a negative max_body_bytes (0 is "unlimited").
func (v *validator) maxBodyBytes(p Positions, n int) {
	if n < 0 {
		v.diags.Errorf(p.At("max_body_bytes"), "max_body_bytes must not be negative (0 = unlimited), got %d", n)
	}
}

// oneOf reports a value outside allowed, suggesting the closest one.
func (v *validator) oneOf(p Positions, key, val string, allowed []string) {
	if !slices.Contains(allowed, val) {
		v.diags.Errorf(p.At(key), "invalid %s %q: want one of %s%s", key, val, strings.Join(allowed, ", "), suggest(val, allowed))
	}
}

// positive reports a negative duration, or a zero one unless allowZero.
func (v *validator) positive(p Positions, key string, d Duration, allowZero bool) {
	switch {
	case !d.Set:
	case d.Duration < 0:
		v.diags.Errorf(p.At(key), "%s must not be negative, got %s", key, d.Duration)
	case d.Duration == 0 && !allowZero:
		v.diags.Errorf(p.At(key), "%s must be greater than zero", key)
	}
}

func (v *validator) service(s *Service) {
	if !serviceNameRe.MatchString(s.Name) {
		v.diags.Errorf(s.NamePos, "invalid service name %q: use lower-case letters, digits, \"_\" and \"-\"", s.Name)
	}
	v.oneOf(s.Positions, "balancer", s.Balancer, balancers)
	switch {
	case s.Balancer == "hash" && s.HashKey == "":
		v.diags.Errorf(s.At("balancer"), "balancer \"hash\" needs hash_key (client_ip, header:NAME or cookie:NAME)")
	case s.HashKey != "" && !validHashKey(s.HashKey):
		v.diags.Errorf(s.At("hash_key"), "invalid hash_key %q: want client_ip, header:NAME or cookie:NAME", s.HashKey)
	case s.Has("hash_key") && s.Balancer != "hash":
		v.diags.Warnf(s.At("hash_key"), "hash_key is ignored because balancer is %q, not \"hash\"", s.Balancer)
	}
	v.instances(s)
	if !s.Timeouts.any() {
		v.diags.Warnf(s.NamePos, "service %q sets no timeouts; the defaults apply (connect %s, response_header %s, idle %s, no total limit)",
			s.Name, fmtDuration(DefaultConnectTimeout), fmtDuration(DefaultResponseHeader), fmtDuration(DefaultUpstreamIdle))
	}
	v.timeouts(s.Timeouts)
	v.totalVsHeader(s.Timeouts.At("total"), s.Timeouts)
	k := &s.Keepalive
	if k.MaxIdlePerInstance < 0 {
		v.diags.Errorf(k.At("max_idle_per_instance"), "max_idle_per_instance must not be negative, got %d", k.MaxIdlePerInstance)
	}
	v.positive(k.Positions, "idle_timeout", k.IdleTimeout, false)
	v.resilience(s)
	if s.TLS != nil {
		v.upstreamTLS(s)
	}
	v.serviceProtocol(s)
}

var protocols = []string{"http1", "h2c", "h2"}

// serviceProtocol checks protocol against the service's tls: h2 runs over it, h2c is plain.
func (v *validator) serviceProtocol(s *Service) {
	if s.Has("protocol") { // absent: http1
		v.oneOf(s.Positions, "protocol", s.Protocol, protocols)
	}
	switch {
	case s.Protocol == "h2" && s.TLS == nil:
		v.diags.Errorf(s.At("protocol"), "protocol \"h2\" needs a tls block on service %q (use \"h2c\" for HTTP/2 over plain TCP)", s.Name)
	case s.Protocol == "h2c" && s.TLS != nil:
		v.diags.Errorf(s.At("protocol"), "protocol \"h2c\" is HTTP/2 over plain TCP, but service %q has tls: use \"h2\"", s.Name)
	}
}

func validHashKey(k string) bool {
	if k == "client_ip" {
		return true
	}
	kind, name, ok := strings.Cut(k, ":")
	return ok && (kind == "header" || kind == "cookie") && isToken(name)
}

func (v *validator) instances(s *Service) {
	if len(s.Instances) == 0 {
		v.diags.Errorf(s.At("instances"), "service %q needs at least one instance", s.Name)
		return
	}
	seen := map[string]Pos{}
	primaries := 0
	for i := range s.Instances {
		in := &s.Instances[i]
		if !in.Backup {
			primaries++
		}
		if !in.Has("address") {
			continue
		}
		if _, _, err := splitAddress(in.Address, true); err != nil {
			v.diags.Errorf(in.At("address"), "invalid instance address %q: %v (want host:port, e.g. 127.0.0.1:9001)", in.Address, err)
		} else if first, dup := seen[in.Address]; dup {
			v.diags.Errorf(in.At("address"), "duplicate instance %q in service %q (first at line %d)", in.Address, s.Name, first.Line)
		} else {
			seen[in.Address] = in.At("address")
		}
		if in.Weight < 1 || in.Weight > 1000 {
			v.diags.Errorf(in.At("weight"), "weight must be between 1 and 1000, got %d", in.Weight)
		}
	}
	if primaries == 0 {
		v.diags.Errorf(s.At("instances"), "service %q has only backup instances; at least one must be a primary", s.Name)
	}
}

// timeouts checks ranges of the fields that are set; shared by services and
// routes.
func (v *validator) timeouts(t Timeouts) {
	v.positive(t.Positions, "connect", t.Connect, false)
	v.positive(t.Positions, "response_header", t.ResponseHeader, false)
	v.positive(t.Positions, "idle", t.Idle, false)
	v.positive(t.Positions, "total", t.Total, true)
}

// totalVsHeader warns when the whole-exchange limit fires before the
// response-head limit could, which usually means the two were swapped.
// p is where to report (the total value).
func (v *validator) totalVsHeader(p Pos, t Timeouts) {
	if t.Total.Duration > 0 && t.ResponseHeader.Duration > 0 && t.Total.Duration < t.ResponseHeader.Duration {
		v.diags.Warnf(p, "total (%s) is shorter than response_header (%s), so response_header never applies", fmtDuration(t.Total.Duration), fmtDuration(t.ResponseHeader.Duration))
	}
}

// fmtDuration writes d the way users write it in the file: "1m", not
// time.Duration's "1m0s".
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
