package proxy

import (
	"math/rand/v2"
	"strconv"

	"github.com/fjord-gw/fjord/internal/compress"
	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// appendRequestHead writes the request head that goes upstream: the rewritten request line, the client's end-to-end
// headers (hop-by-hop, framing and the gateway's own headers left out), the gateway's forwarding headers, the route's
// edits and the body framing. One buffer, written with one syscall.
func (c *conn) appendRequestHead(b []byte, rt *Route, inst *upstream.Instance) []byte {
	req := &c.req
	ops := &rt.Request
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = c.appendUpstreamPath(b, rt)
	if len(req.Query) > 0 {
		b = append(b, '?')
		b = append(b, req.Query...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	switch rt.Host {
	case HostUpstream:
		b = append(b, inst.Addr...)
	case HostTemplate:
		b = rt.HostValue.render(b, c)
	default:
		b = append(b, req.Host...)
	}
	b = append(b, "\r\n"...)

	sawXFF, sawTrace := false, false
	for i := range req.Headers {
		h := &req.Headers[i]
		if h.Kind != http1.HeaderNormal {
			continue
		}
		if id := builtinHeader(h.Name); id != hdrNone && (id == hdrHost || !rt.NoForwarded) {
			sawXFF = sawXFF || id == hdrXFF
			continue
		}
		if len(h.Name) == len("traceparent") && equalFold(h.Name, "traceparent") {
			sawTrace = true
			if !rt.NoForwarded && !ops.traceOff && c.tracer() != nil {
				continue // replaced by fjord's own, which names fjord's span as the upstream's parent
			}
		}
		if len(ops.drop) > 0 && ops.drops(h.Name) {
			continue
		}
		b = appendRaw(b, h)
	}
	if !rt.NoForwarded {
		b = c.appendForwarded(b, ops, sawXFF, sawTrace)
	}
	b = ops.appendOps(b, c)
	switch req.Framing {
	case http1.FramingLength:
		b = appendContentLength(b, req.ContentLength)
	case http1.FramingChunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if req.Upgrade != nil {
		b = append(b, "Connection: upgrade\r\nUpgrade: "...)
		b = append(b, req.Upgrade...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendForwarded writes the gateway's forwarding headers, except those the route removes or sets itself.
func (c *conn) appendForwarded(b []byte, ops *HeaderOps, sawXFF, sawTrace bool) []byte {
	req := &c.req
	if ops.builtinOn(hdrXFF) {
		b = append(b, "X-Forwarded-For: "...)
		if sawXFF {
			b = appendPriorXFF(b, req)
		}
		// The hop this connection came from (the PROXY header's source counts as the hop), not the address
		// resolved from the chain: that is already in the chain, and appending it again would hide the hop.
		b = c.client.Addr().AppendTo(b)
		b = append(b, "\r\n"...)
	}
	if ops.builtinOn(hdrXFProto) {
		b = append(b, "X-Forwarded-Proto: "...)
		b = append(b, c.scheme...)
		b = append(b, "\r\n"...)
	}
	if ops.builtinOn(hdrXFHost) && len(req.Host) > 0 {
		b = append(b, "X-Forwarded-Host: "...)
		b = append(b, req.Host...)
		b = append(b, "\r\n"...)
	}
	if ops.builtinOn(hdrXRealIP) {
		b = append(b, "X-Real-IP: "...)
		b = c.remote.Addr().AppendTo(b)
		b = append(b, "\r\n"...)
	}
	if ops.builtinOn(hdrXRequestID) {
		b = append(b, "X-Request-Id: "...)
		b = append(b, c.requestID...)
		b = append(b, "\r\n"...)
	}
	if !ops.traceOff && (!sawTrace || c.tracer() != nil) {
		b = c.appendTraceparent(b)
	}
	return b
}

// appendTraceparent starts a W3C trace context for a request that arrives without one (a traceparent that arrives is
// passed on unchanged): the trace id is the request id when that is fjord's own 32 hex digits, so logs and traces
// join on one id; the parent id is random; the sampled flag is set, leaving the decision to the services' tracers.
//
// With a tracer (Config.Tracer) the traceparent always names fjord's own span as the parent, whether the trace came
// from the client or starts here, and carries fjord's sampling decision (see trace.go).
func (c *conn) appendTraceparent(b []byte) []byte {
	if c.tracer() != nil {
		return c.appendOwnTraceparent(b)
	}
	b = append(b, "traceparent: 00-"...)
	if id := c.requestID; len(id) == 32 && &id[0] == &c.ridb[0] { // fjord's own id: 32 lower-case hex digits
		b = append(b, id...)
	} else {
		b = appendHex64(b, rand.Uint64())
		b = appendHex64(b, rand.Uint64())
	}
	b = append(b, '-')
	b = appendHex64(b, rand.Uint64()|1) // never all zeros, which the spec forbids
	return append(b, "-01\r\n"...)
}

func appendHex64(b []byte, v uint64) []byte {
	const hex = "0123456789abcdef"
	var d [16]byte // filled in place, then appended once: one capacity check instead of sixteen
	for i := 15; i >= 0; i-- {
		d[i] = hex[v&0xf]
		v >>= 4
	}
	return append(b, d[:]...)
}

// appendPriorXFF writes the client's X-Forwarded-For values followed by ", ".
func appendPriorXFF(b []byte, req *http1.Request) []byte {
	for i := range req.Headers {
		h := &req.Headers[i]
		if builtinHeader(h.Name) == hdrXFF && len(h.Value) > 0 {
			b = append(b, h.Value...)
			b = append(b, ", "...)
		}
	}
	return b
}

// appendUpstreamPath writes the path sent upstream: the normalized path the route matched on (so the upstream
// sees exactly what was routed), after the route's regex rewrite, or its strip_prefix then add_prefix.
func (c *conn) appendUpstreamPath(b []byte, rt *Route) []byte {
	p := c.path
	switch {
	case rt.Rewrite != nil:
		return append(b, rt.Rewrite.ReplaceAll(p, []byte(rt.RewriteWith))...)
	case rt.StripPrefix != "" && len(p) >= len(rt.StripPrefix) && string(p[:len(rt.StripPrefix)]) == rt.StripPrefix:
		p = p[len(rt.StripPrefix):]
		if rt.AddPrefix != "" {
			b = append(b, rt.AddPrefix...)
		} else if len(p) == 0 || p[0] != '/' {
			b = append(b, '/')
		}
	case rt.AddPrefix != "":
		b = append(b, rt.AddPrefix...)
		if len(p) > 0 && p[0] == '/' && rt.AddPrefix[len(rt.AddPrefix)-1] == '/' {
			p = p[1:]
		}
	}
	return append(b, p...)
}

// appendResponseHead writes the response head for the client: the upstream's status and end-to-end headers (Location
// and Refresh rewritten by the route's RewriteLocation, see location.go), the route's edits, framing as out, and the
// connection disposition.
func (c *conn) appendResponseHead(b []byte, rt *Route, out http1.Framing, closeAfter bool) []byte {
	resp := &c.resp
	ops := &rt.Response
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(resp.Status), 10)
	b = append(b, ' ')
	if len(resp.Reason) > 0 {
		b = append(b, resp.Reason...)
	} else {
		b = append(b, statusText(resp.Status)...)
	}
	b = append(b, "\r\n"...)
	for i := range resp.Headers {
		h := &resp.Headers[i]
		switch h.Kind {
		case http1.HeaderHop:
			continue
		case http1.HeaderFraming:
			// A bodiless response (HEAD, 304) keeps its Content-Length: it describes the representation.
			if resp.Framing != http1.FramingNone || !equalFold(h.Name, "content-length") {
				continue
			}
		}
		if len(ops.drop) > 0 && ops.drops(h.Name) {
			continue
		}
		if rt.RewriteLocation != nil && isLocationHeader(h.Name) {
			b = append(b, h.Name...)
			b = append(b, ": "...)
			b = rt.RewriteLocation.appendRewritten(b, h.Value, c.req.Host, isRefresh(h.Name))
			b = append(b, "\r\n"...)
			continue
		}
		if c.renc != compress.None && equalFold(h.Name, "etag") {
			b = appendWeakETag(b, h)
			continue
		}
		b = appendRaw(b, h)
	}
	b = ops.appendOps(b, c)
	if c.renc != compress.None || c.rvary {
		b = appendCompressionHeaders(b, c.renc, c.rvary)
	}
	switch out {
	case http1.FramingLength:
		b = appendContentLength(b, resp.ContentLength)
	case http1.FramingChunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if resp.Status == 101 {
		b = append(b, "Connection: upgrade\r\n"...)
		for i := range resp.Headers {
			if equalFold(resp.Headers[i].Name, "upgrade") {
				b = appendRaw(b, &resp.Headers[i])
			}
		}
		return append(b, "\r\n"...)
	}
	b = appendConnection(b, c.req.Minor, closeAfter)
	return append(b, "\r\n"...)
}
