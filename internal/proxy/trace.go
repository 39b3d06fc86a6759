package proxy

import (
	"time"

	"github.com/fjord-gw/fjord/internal/tracing"
)

// This file joins fjord's span to the W3C trace context it propagates, when Config.Tracer is set.
//
// The decision is made once per request, the first time it is needed: when the upstream head is built (so the
// traceparent sent upstream names fjord's span as the parent, the same on every retry), or at the end for requests
// never forwarded (a 404, a direct response). A valid traceparent from the client makes fjord's span its child and
// its sampled flag decides (parent-based sampling); otherwise fjord starts the trace, with the request id as trace
// id when the id is fjord's own, and the tracer's ratio decides. An unsampled request costs a header lookup and a
// random number and allocates nothing; a sampled one is exported when its access-log line is written (finishLog).
// With no tracer the state stays zero and the traceparent is started or passed on as before (head.go).

// traceState is the current request's trace context. Owned by whoever serves the request, like the rest of conn.
type traceState struct {
	decided  bool
	tracer   *tracing.Tracer // the tracer that decided; nil when tracing was off
	sampled  bool
	traceID  [16]byte
	spanID   [8]byte // fjord's span
	parentID [8]byte // the client's span; zero when fjord started the trace
}

// tracer decides the request's trace context if that is not done yet, and returns the tracer (nil when off).
// It reads the snapshot in force: a reload that changes tracing applies to requests that decide after it.
func (c *conn) tracer() *tracing.Tracer {
	if !c.tr.decided {
		c.startTrace(c.srv.cfg.Load().Tracer)
	}
	return c.tr.tracer
}

// startTrace fills c.tr for the current request.
func (c *conn) startTrace(tr *tracing.Tracer) {
	t := &c.tr
	t.decided = true
	if tr == nil {
		return
	}
	t.tracer = tr
	if v, ok := c.req.Header("traceparent"); ok && parseTraceparent(v, t) {
		tracing.NewSpanID(&t.spanID)
		return
	}
	t.parentID = [8]byte{}
	if id := c.requestID; len(id) == 32 && &id[0] == &c.ridb[0] && decodeHex(t.traceID[:], id) {
		// fjord's own request id: logs and traces join on one id.
	} else {
		tracing.NewSpanID((*[8]byte)(t.traceID[:8]))
		tracing.NewSpanID((*[8]byte)(t.traceID[8:]))
	}
	tracing.NewSpanID(&t.spanID)
	t.sampled = tr.SampleNew(&t.traceID)
}

// endTrace exports the finished request's span if it was sampled, and clears the trace state for the next request.
func (c *conn) endTrace(cfg *Config, d time.Duration) {
	t := &c.tr
	if !t.decided {
		c.startTrace(cfg.Tracer)
	}
	if t.sampled && t.tracer != nil {
		s := tracing.Span{TraceID: t.traceID, SpanID: t.spanID, ParentID: t.parentID,
			Start: c.start, End: c.start.Add(d),
			Method: c.req.Method, Path: c.req.Path, Host: c.req.Host, Status: c.log.Status,
			Route: c.log.Route, Service: c.log.Service, Upstream: c.log.Upstream,
			Retries: c.retries + c.lc.rs.done, RequestID: c.requestID, Client: c.remote.Addr()}
		s.Name = s.Route
		if s.Name == "" {
			s.Name = string(c.req.Method) // no route matched: OpenTelemetry's HTTP conventions name it by method
		}
		t.tracer.Export(&s)
	}
	*t = traceState{}
}

// appendOwnTraceparent writes the traceparent that names fjord's span as the upstream's parent.
func (c *conn) appendOwnTraceparent(b []byte) []byte {
	t := &c.tr
	b = append(b, "traceparent: 00-"...)
	b = appendHexBytes(b, t.traceID[:])
	b = append(b, '-')
	b = appendHexBytes(b, t.spanID[:])
	if t.sampled {
		return append(b, "-01\r\n"...)
	}
	return append(b, "-00\r\n"...)
}

// parseTraceparent reads a W3C traceparent (version 00, or a later version's first four fields) into t's trace id,
// parent id and sampled flag. It reports false for a malformed value, an all-zero id, or version ff.
func parseTraceparent(v []byte, t *traceState) bool {
	if len(v) < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return false
	}
	var ver, flags [1]byte
	if !decodeHex(ver[:], v[:2]) || ver[0] == 0xff || (ver[0] == 0 && len(v) != 55) || (len(v) > 55 && v[55] != '-') {
		return false
	}
	if !decodeHex(t.traceID[:], v[3:35]) || !decodeHex(t.parentID[:], v[36:52]) || !decodeHex(flags[:], v[53:55]) {
		return false
	}
	if t.traceID == ([16]byte{}) || t.parentID == ([8]byte{}) {
		return false
	}
	t.sampled = flags[0]&1 == 1
	return true
}

// decodeHex decodes lower-case hex src (W3C trace context allows no upper case) into dst, len(src) == 2*len(dst).
func decodeHex(dst, src []byte) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := hexVal(src[2*i])
		lo, ok2 := hexVal(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func hexVal(x byte) (byte, bool) {
	switch {
	case x >= '0' && x <= '9':
		return x - '0', true
	case x >= 'a' && x <= 'f':
		return x - 'a' + 10, true
	}
	return 0, false
}

func appendHexBytes(b, src []byte) []byte {
	const hex = "0123456789abcdef"
	for _, x := range src {
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return b
}
