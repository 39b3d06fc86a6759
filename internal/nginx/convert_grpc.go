package nginx

import (
	"strings"
	"time"
)

// grpcScope is the grpc_* configuration in force at one level. nginx keeps
// it apart from the proxy_* settings: grpc_set_header has its own list and
// inheritance, and the grpc timeouts default to 60s like the proxy ones.
type grpcScope struct {
	setHeaders          []header
	setAny, setHere     bool
	connect, read, send time.Duration
	sslName, sslCA      Arg
	sslVerify           *Directive // grpc_ssl_verify; nil: nginx's off
}

// upstreamTLS is a service's tls block for grpcs://.
type upstreamTLS struct {
	serverName, ca string
	insecure       bool
	pos            Pos
}

// grpcSetting applies a grpc_* setting to gs and reports whether d was one.
func (c *converter) grpcSetting(d *Directive, gs *grpcScope) bool {
	switch d.Name {
	case "grpc_set_header":
		if c.nargs(d, 2, 2) {
			push(&gs.setHeaders, &gs.setHere, header{d.Args[0].Value, d.Args[1].Value, d.Pos})
			gs.setAny = true
		}
	case "grpc_connect_timeout":
		gs.connect = c.durationValue(d)
	case "grpc_read_timeout":
		gs.read = c.durationValue(d)
	case "grpc_send_timeout":
		gs.send = c.durationValue(d)
	case "grpc_ssl_name":
		if c.nargs(d, 1, 1) {
			gs.sslName = d.Args[0]
		}
	case "grpc_ssl_trusted_certificate":
		if c.nargs(d, 1, 1) {
			gs.sslCA = d.Args[0]
		}
	case "grpc_ssl_verify":
		if c.nargs(d, 1, 1) {
			gs.sslVerify = d
		}
	case "grpc_buffer_size", "grpc_socket_keepalive", "grpc_ssl_session_reuse", "grpc_ssl_server_name",
		"grpc_ssl_protocols", "grpc_ssl_ciphers":
		c.ignored(d, "fjord's HTTP/2 client sizes its own buffers, sends SNI and resumes TLS sessions itself")
	default:
		return false
	}
	return true
}

// grpcRoute fills r from grpc_pass: grpc://ADDR (or a bare ADDR) makes the
// service speak h2c, grpcs://ADDR h2 over TLS. fjord reaches HTTP/2
// services from HTTP/2 clients only, which is also all nginx serves gRPC to.
func (c *converter) grpcRoute(r *route, pass *Directive, sc *scope, si *serverInfo) bool {
	if !c.nargs(pass, 1, 1) {
		return false
	}
	a := pass.Args[0]
	if strings.Contains(a.Value, "$") {
		c.errorf(a.Pos, "variables in grpc_pass: not supported yet")
		return false
	}
	protocol, rest := "h2c", a.Value
	if v, ok := strings.CutPrefix(rest, "grpcs://"); ok {
		protocol, rest = "h2", v
	} else if v, ok := strings.CutPrefix(rest, "grpc://"); ok {
		rest = v
	} else if strings.Contains(rest, "://") {
		c.errorf(a.Pos, "invalid URL prefix in %q", a.Value)
		return false
	}
	if strings.Contains(rest, "/") {
		c.errorf(a.Pos, "grpc_pass %q: a URI part is not allowed", a.Value)
		return false
	}
	if !c.http2Server(si, sc) {
		c.errorf(pass.Pos, "grpc_pass in a server without HTTP/2: add http2 to its listen directives")
		return false
	}
	s := c.upstreams[rest]
	if s == nil {
		addr, ok := c.hostPort(Arg{Value: rest, Pos: a.Pos})
		if !ok {
			return false
		}
		s = c.addrService(addr, pass.Pos)
	}
	if s.used && s.protocol != protocol {
		c.errorf(pass.Pos, "upstream %q is used by more than one of proxy_pass, grpc:// and grpcs://: fjord sets the "+
			"protocol per service", rest)
		return false
	}
	s.used, s.protocol, r.service = true, protocol, s
	if protocol == "h2" && !c.grpcTLS(s, &sc.grpc, pass.Pos, rest) {
		return false
	}
	g := *sc
	g.setHeaders, g.setAny = sc.grpc.setHeaders, sc.grpc.setAny
	g.connect, g.read, g.send = sc.grpc.connect, sc.grpc.read, sc.grpc.send
	return c.proxyCommon(r, s, &g, si, pass.Pos, rest)
}

// http2Server reports whether every listener of the server serves HTTP/2.
func (c *converter) http2Server(si *serverInfo, sc *scope) bool {
	if sc.tls.http2On {
		return true
	}
	for _, ln := range si.listeners {
		if tl := c.tlsAt[ln]; tl == nil || !tl.http2 {
			return false
		}
	}
	return len(si.listeners) > 0
}

// grpcTLS sets the tls block of a grpcs:// service. nginx does not verify
// the upstream's certificate unless grpc_ssl_verify is on; fjord verifies it
// by default (a deliberate, safer difference) and skips verification only
// when the config says grpc_ssl_verify off.
func (c *converter) grpcTLS(s *service, gs *grpcScope, p Pos, name string) bool {
	t := &upstreamTLS{serverName: gs.sslName.Value, ca: absPath(c.mainDir, gs.sslCA.Value), pos: p}
	if gs.sslCA.Value == "" {
		t.ca = ""
	}
	switch {
	case gs.sslVerify != nil && gs.sslVerify.Args[0].Value == "off":
		t.insecure = true
		c.diag(gs.sslVerify.Pos, SeverityWarning, "grpc_ssl_verify off: fjord will not verify the certificates of %s", name)
	case gs.sslVerify == nil:
		c.diag(p, SeverityWarning, "grpcs://: fjord verifies the upstream certificate (nginx does not unless "+
			"grpc_ssl_verify on); name the CA with grpc_ssl_trusted_certificate")
	}
	if o := s.tls; o != nil && (o.serverName != t.serverName || o.ca != t.ca || o.insecure != t.insecure) {
		c.errorf(p, "grpcs:// to %s with different grpc_ssl_* settings: fjord sets TLS per service", name)
		return false
	}
	s.tls = t
	return true
}

// emitServiceGRPC writes the protocol and tls keys of a grpc_pass service.
func emitServiceGRPC(w *yamlWriter, s *service) {
	if s.protocol == "" {
		return
	}
	w.printf(s.pos, "    protocol: %s", s.protocol)
	if s.tls == nil {
		return
	}
	var parts []string
	if s.tls.ca != "" {
		parts = append(parts, "ca: "+q(s.tls.ca))
	}
	if s.tls.serverName != "" {
		parts = append(parts, "server_name: "+q(s.tls.serverName))
	}
	if s.tls.insecure {
		parts = append(parts, "insecure_skip_verify: true")
	}
	w.printf(s.tls.pos, "    tls: {%s}", strings.Join(parts, ", "))
}
