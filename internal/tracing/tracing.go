// Package tracing exports one OpenTelemetry span per sampled request over OTLP/HTTP.
//
// The proxy decides sampling and chooses the ids itself, without allocating, because it must write the W3C
// traceparent it sends upstream before the request ends; only a sampled request reaches Export, which builds the
// span with the official SDK at the end of the request (start and end times are given, so the span covers the
// request exactly). Spans go through the SDK's batch span processor behind a bounded queue of our own that counts
// what it drops: a slow or absent collector costs spans, never request latency.
package tracing

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Options configures a Tracer. Zero values give the documented defaults.
type Options struct {
	// Endpoint is the collector's OTLP/HTTP base URL ("http://127.0.0.1:4318"); a URL without a path gets the
	// standard "/v1/traces", one with a path is used as is. Required.
	Endpoint string
	// SampleRatio is the share of traces sampled when no sampled flag came from the client, 0 to 1.
	SampleRatio float64
	// ServiceName is the resource's service.name. Default "fjord".
	ServiceName string
	// Headers are sent with every export request (authentication, tenant).
	Headers map[string]string
	// QueueSize bounds the spans waiting for export; past it spans are dropped and counted. Default 2048.
	QueueSize int
	// BatchSize is the most spans in one export request. Default 512.
	BatchSize int
	// BatchTimeout is how long a span waits for a batch to fill. Default 2s.
	BatchTimeout time.Duration
	// ExportTimeout bounds one export request. Default 10s.
	ExportTimeout time.Duration
	// Logger receives export failures (at most one line per 10 s). Default slog.Default().
	Logger *slog.Logger
}

// Tracer samples and exports request spans. Its methods are safe for concurrent use; Export never blocks on the
// network. The zero value is not usable: use New.
type Tracer struct {
	threshold uint64 // a trace id whose low 8 bytes, shifted right once, are below it is sampled
	queueSize int64
	provider  *sdktrace.TracerProvider
	log       *slog.Logger

	pending  atomic.Int64 // spans handed to the batch processor and not yet exported or failed
	dropped  atomic.Uint64
	exported atomic.Uint64
	failed   atomic.Uint64
	lastLog  atomic.Int64 // unix nanoseconds of the last export-failure log line
}

// Stats are a Tracer's counters since it started.
type Stats struct {
	Exported uint64 // spans the collector accepted
	Failed   uint64 // spans in export requests that failed
	Dropped  uint64 // spans dropped because the queue was full
}

// New builds a Tracer and its exporter. No connection is made until the first batch is exported.
func New(o Options) (*Tracer, error) {
	if o.Endpoint == "" {
		return nil, errors.New("tracing: no OTLP endpoint")
	}
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing: endpoint %q is not an http(s) URL", o.Endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	if o.SampleRatio < 0 || o.SampleRatio > 1 || math.IsNaN(o.SampleRatio) {
		return nil, fmt.Errorf("tracing: sample ratio %v is not between 0 and 1", o.SampleRatio)
	}
	o = o.withDefaults()
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(u.String()),
		otlptracehttp.WithHeaders(o.Headers),
		otlptracehttp.WithTimeout(o.ExportTimeout),
		// A short retry: a batch that cannot be delivered soon is dropped rather than holding the queue.
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 500 * time.Millisecond,
			MaxInterval: 2 * time.Second, MaxElapsedTime: 5 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", u, err)
	}
	t := &Tracer{threshold: ratioThreshold(o.SampleRatio), queueSize: int64(o.QueueSize), log: o.Logger}
	bsp := sdktrace.NewBatchSpanProcessor(&countingExporter{exp: exp, t: t},
		// The SDK's own queue is as large as ours, so it never drops: ours counts instead (see Export).
		sdktrace.WithMaxQueueSize(o.QueueSize),
		sdktrace.WithMaxExportBatchSize(o.BatchSize),
		sdktrace.WithBatchTimeout(o.BatchTimeout),
		sdktrace.WithExportTimeout(o.ExportTimeout))
	t.provider = sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(bsp),
		sdktrace.WithSampler(sdktrace.AlwaysSample()), // only sampled requests reach Export
		sdktrace.WithIDGenerator(givenIDs{}),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", o.ServiceName))))
	return t, nil
}

func (o Options) withDefaults() Options {
	if o.ServiceName == "" {
		o.ServiceName = "fjord"
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 2048
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	o.BatchSize = min(o.BatchSize, o.QueueSize)
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = 2 * time.Second
	}
	if o.ExportTimeout <= 0 {
		o.ExportTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// ratioThreshold is the sampling bound for a ratio, compared like the SDK's TraceIDRatioBased sampler does (the
// trace id's last 8 bytes, shifted right once), so fjord's decision agrees with services that sample by ratio.
func ratioThreshold(r float64) uint64 {
	if r >= 1 {
		return math.MaxUint64
	}
	return uint64(r * (1 << 63))
}

// SampleNew reports whether a trace that fjord starts (no sampled flag came with the request) is sampled.
// It neither blocks nor allocates.
func (t *Tracer) SampleNew(traceID *[16]byte) bool {
	if t.threshold == math.MaxUint64 {
		return true
	}
	return binary.BigEndian.Uint64(traceID[8:16])>>1 < t.threshold
}

// Stats returns the Tracer's counters.
func (t *Tracer) Stats() Stats {
	return Stats{Exported: t.exported.Load(), Failed: t.failed.Load(), Dropped: t.dropped.Load()}
}

// Shutdown exports what is queued (within ctx) and stops the exporter; later Exports are dropped silently.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// NewSpanID fills id with a random, non-zero span id. math/rand/v2's global source is seeded from the system's
// randomness per process and costs no system call or allocation, which matters because every request of a traced
// listener gets a span id, sampled or not.
func NewSpanID(id *[8]byte) {
	binary.BigEndian.PutUint64(id[:], rand.Uint64()|1) // never all zeros, which W3C trace context forbids
}

// countingExporter counts each batch's outcome, settles the queue count, and logs failures at most once per 10 s.
// It returns nil to the batch processor: the failure is accounted for here, and the SDK would otherwise report it
// through its global error handler.
type countingExporter struct {
	exp sdktrace.SpanExporter
	t   *Tracer
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	t := e.t
	err := e.exp.ExportSpans(ctx, spans)
	t.pending.Add(-int64(len(spans)))
	if err == nil {
		t.exported.Add(uint64(len(spans)))
		return nil
	}
	t.failed.Add(uint64(len(spans)))
	now := time.Now().UnixNano()
	if last := t.lastLog.Load(); now-last > int64(10*time.Second) && t.lastLog.CompareAndSwap(last, now) {
		t.log.Warn("tracing: span export failed", "spans", len(spans), "err", err,
			"failed_total", t.failed.Load(), "dropped_total", t.dropped.Load())
	}
	return nil
}

func (e *countingExporter) Shutdown(ctx context.Context) error { return e.exp.Shutdown(ctx) }
