package config

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

// Tracing exports one OpenTelemetry span per sampled request over OTLP/HTTP (docs/operations.md, "Tracing").
// Absent (nil) = off: fjord still starts or passes on the W3C traceparent, but exports nothing.
type Tracing struct {
	Positions
	// OTLPEndpoint is the collector's OTLP/HTTP URL: "http://127.0.0.1:4318" (the standard /v1/traces is added
	// when the URL has no path).
	OTLPEndpoint string `yaml:"otlp_endpoint,required"`
	// SampleRatio is the share of the traces fjord starts that are sampled, 0 to 1 (or "10%"); a sampled flag
	// from the client decides for its own trace. Written as in the file, read with SampleRatioValue. Default 1.
	SampleRatio string            `yaml:"sample_ratio"`
	ServiceName string            `yaml:"service_name"` // the spans' service.name; default "fjord"
	Headers     map[string]string `yaml:"headers"`      // sent with every export request (e.g. authorization)
}

// SampleRatioValue is the configured ratio, 1 when absent (validation has checked a written one).
func (t *Tracing) SampleRatioValue() float64 {
	if strings.TrimSpace(t.SampleRatio) == "" {
		return 1
	}
	r, _ := ParseRatio(t.SampleRatio)
	return r
}

// tracing checks the tracing section.
func (v *validator) tracing(t *Tracing) {
	if t == nil {
		return
	}
	if t.Has("otlp_endpoint") {
		u, err := url.Parse(t.OTLPEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			v.diags.Errorf(t.At("otlp_endpoint"), `otlp_endpoint must be an http(s) URL of an OTLP/HTTP collector, e.g. "http://127.0.0.1:4318", got %q`, t.OTLPEndpoint)
		}
	}
	if t.Has("sample_ratio") {
		if r, err := ParseRatio(t.SampleRatio); err != nil || r > 1 {
			v.diags.Errorf(t.At("sample_ratio"), "sample_ratio must be a number from 0 to 1 (e.g. 0.1 or 10%%), got %q", t.SampleRatio)
		}
	}
	if t.Has("service_name") && strings.TrimSpace(t.ServiceName) == "" {
		v.diags.Errorf(t.At("service_name"), "service_name must not be empty (leave it out for \"fjord\")")
	}
	for _, name := range slices.Sorted(maps.Keys(t.Headers)) {
		if !validHeaderName(name) {
			v.diags.Errorf(t.At("headers."+name), "tracing.headers: %q is not a header name", name)
		}
		if strings.ContainsAny(t.Headers[name], "\r\n\x00") {
			v.diags.Errorf(t.At("headers."+name), "tracing.headers: the value of %s contains a line break or NUL", name)
		}
	}
}
