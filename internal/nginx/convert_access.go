package nginx

import (
	"strings"

	"github.com/fjord-gw/fjord/internal/acl"
)

// This file converts nginx's access module (allow/deny) into a route's access list, and the realip module
// (set_real_ip_from, real_ip_header, real_ip_recursive) into server.trusted_proxies and friends.

// accessSetting applies allow/deny to sc and reports whether d was one. nginx merges the rules like its other
// arrays: a level with any allow/deny replaces the inherited rules, in the order written.
func (c *converter) accessSetting(d *Directive, sc *scope) bool {
	switch d.Name {
	case "allow", "deny":
	default:
		return false
	}
	if !c.nargs(d, 1, 1) {
		return true
	}
	arg := d.Args[0].Value
	if strings.HasPrefix(arg, "unix:") {
		c.errorf(d.Args[0].Pos, "%s unix:: not supported (fjord listens on TCP only)", d.Name)
		return true
	}
	rule := d.Name + " " + arg
	if _, err := acl.ParseRule(rule); err != nil {
		c.errorf(d.Args[0].Pos, "%s: invalid address %q", d.Name, arg)
		return true
	}
	if !sc.accessHere {
		sc.access, sc.accessHere = nil, true
	}
	sc.access = append(sc.access, rule)
	return true
}

// realIP is the realip module's configuration. fjord applies it gateway-wide, so the directives may appear at any
// level but must agree.
type realIP struct {
	from      []string // set_real_ip_from
	header    string   // real_ip_header as written; "" = nginx's default X-Real-IP
	headerPos Pos
	recursive bool
	recPos    Pos
}

// realIPSetting reads the realip directives into c.realIP and reports whether d was one.
func (c *converter) realIPSetting(d *Directive) bool {
	ri := &c.realIP
	switch d.Name {
	case "set_real_ip_from":
		if c.nargs(d, 1, 1) {
			v := d.Args[0].Value
			if _, err := acl.ParsePrefix(v); err != nil {
				c.errorf(d.Args[0].Pos, "set_real_ip_from: invalid address %q (fjord takes addresses and CIDRs only)", v)
			} else if !contains(ri.from, v) {
				ri.from = append(ri.from, v)
			}
		}
	case "real_ip_header":
		if c.nargs(d, 1, 1) {
			v := d.Args[0].Value
			if ri.header != "" && !strings.EqualFold(ri.header, v) {
				c.errorf(d.Pos, "real_ip_header %s differs from %s at line %d: fjord applies one real_ip_header to the whole gateway", v, ri.header, ri.headerPos.Line)
			}
			ri.header, ri.headerPos = v, d.Pos
		}
	case "real_ip_recursive":
		if c.nargs(d, 1, 1) {
			on := d.Args[0].Value == "on"
			if !on && d.Args[0].Value != "off" {
				c.errorf(d.Args[0].Pos, `real_ip_recursive: invalid value %q, it must be "on" or "off"`, d.Args[0].Value)
			}
			if ri.recPos.IsValid() && ri.recursive != on {
				c.errorf(d.Pos, "real_ip_recursive differs from line %d: fjord applies one setting to the whole gateway", ri.recPos.Line)
			}
			ri.recursive, ri.recPos = on, d.Pos
		}
	default:
		return false
	}
	return true
}

// emitRealIP writes the server keys of the realip settings, if any. nginx's default header is X-Real-IP and its
// default recursion off, unlike fjord's, so both are always written. real_ip_header proxy_protocol believes only
// the PROXY header, which fjord reads on proxy_protocol listeners from trusted peers anyway.
func (c *converter) emitRealIP(w *yamlWriter) {
	ri := &c.realIP
	if len(ri.from) == 0 {
		return
	}
	w.printf(Pos{}, "  trusted_proxies: [%s]", quoteAll(ri.from))
	h := ri.header
	switch {
	case h == "":
		h = "X-Real-IP"
	case strings.EqualFold(h, "proxy_protocol"):
		h = "none"
	}
	w.printf(ri.headerPos, "  real_ip_header: %s", q(h))
	w.printf(ri.recPos, "  real_ip_recursive: %t", ri.recursive)
}

// checkProxyProtocol refuses `listen ... proxy_protocol` without set_real_ip_from: fjord takes PROXY headers only
// from trusted peers, so the listener would refuse every connection.
func (c *converter) checkProxyProtocol() {
	if len(c.realIP.from) > 0 {
		return
	}
	for _, ln := range c.listeners {
		if ln.proxyProto {
			c.errorf(ln.pos, "listen %s proxy_protocol: fjord needs set_real_ip_from with the load balancers' addresses (it refuses PROXY headers from anyone else)", ln.addr)
		}
	}
}

// emitAccess writes a route's access list (rules in force where its location is; nil: all allowed).
func emitAccess(w *yamlWriter, r *route) {
	if len(r.access) > 0 {
		w.printf(r.pos, "    access: [%s]", quoteAll(r.access))
	}
}
