package tracing

import (
	"bytes"
	"context"
	"net/netip"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span is what the proxy knows of one finished request. Its byte slices alias the proxy's buffers: they are valid
// only during Export, which copies what it keeps.
type Span struct {
	TraceID [16]byte
	SpanID  [8]byte
	// ParentID is the span id of the client's traceparent; zero when fjord started the trace (its span is the root).
	ParentID [8]byte
	Name     string // the route name (the method when no route matched)
	Start    time.Time
	End      time.Time

	Method    []byte
	Path      []byte
	Host      []byte // the Host header; a port in it is left out of server.address
	Status    int    // the status sent to the client
	Route     string // http.route: the route name, "" when none matched
	Service   string
	Upstream  string // the last instance tried, "" when none
	Retries   int
	RequestID []byte
	Client    netip.Addr
}

// Export records s as a finished server span. It copies s, never blocks, and drops the span (counting it) when the
// export queue is full.
func (t *Tracer) Export(s *Span) {
	if t.pending.Add(1) > t.queueSize {
		t.pending.Add(-1)
		t.dropped.Add(1)
		return
	}
	ctx := context.WithValue(context.Background(), idsKey{}, ids{trace: s.TraceID, span: s.SpanID})
	if s.ParentID != ([8]byte{}) {
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: s.TraceID, SpanID: s.ParentID, TraceFlags: trace.FlagsSampled, Remote: true}))
	}
	attrs := [...]attribute.KeyValue{
		attribute.String("http.request.method", string(s.Method)),
		attribute.String("url.path", string(s.Path)),
		attribute.String("http.route", s.Route),
		attribute.String("server.address", hostOnly(s.Host)),
		attribute.Int("http.response.status_code", s.Status),
		attribute.String("fjord.service", s.Service),
		attribute.String("fjord.upstream", s.Upstream),
		attribute.Int("fjord.retries", s.Retries),
		attribute.String("fjord.request_id", string(s.RequestID)),
		attribute.String("client.address", clientAddr(s.Client)),
	}
	_, sp := t.provider.Tracer("fjord").Start(ctx, s.Name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(s.Start), trace.WithAttributes(attrs[:]...))
	if s.Status >= 500 {
		// Server spans are errors for 5xx only: a 4xx is the client's error (OpenTelemetry's HTTP conventions).
		sp.SetStatus(codes.Error, strconv.Itoa(s.Status))
	}
	sp.End(trace.WithTimestamp(s.End))
}

// hostOnly strips a port from a Host header value ("[::1]:8080" → "::1").
func hostOnly(h []byte) string {
	if i := bytes.LastIndexByte(h, ':'); i >= 0 && bytes.IndexByte(h[i:], ']') < 0 {
		h = h[:i]
	}
	return string(bytes.Trim(h, "[]"))
}

func clientAddr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// ids carries the proxy's chosen trace and span ids to givenIDs through the Start context.
type ids struct {
	trace [16]byte
	span  [8]byte
}

type idsKey struct{}

// givenIDs is the SDK's id generator: it returns the ids the proxy chose (and already sent upstream in its
// traceparent), so the exported span is the parent of the upstream's spans.
type givenIDs struct{}

func (givenIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if v, ok := ctx.Value(idsKey{}).(ids); ok {
		return v.trace, v.span
	}
	var tid [16]byte
	var sid [8]byte
	NewSpanID(&sid)
	copy(tid[:8], sid[:])
	NewSpanID((*[8]byte)(tid[8:]))
	return tid, sid
}

func (givenIDs) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if v, ok := ctx.Value(idsKey{}).(ids); ok {
		return v.span
	}
	var sid [8]byte
	NewSpanID(&sid)
	return sid
}
