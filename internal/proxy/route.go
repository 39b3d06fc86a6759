// Package proxy is fjord's engine: it serves HTTP/1.1 client connections with its own parser (internal/http1), picks a
// route from an immutable table (internal/router), an instance from the route's service pool (internal/upstream) and
// forwards the exchange, streaming bodies in both directions.
//
// The engine reads only immutable snapshots (*Config) published with an atomic pointer; a reload builds a new Config
// and calls Server.Update. It knows nothing about the config file format.
package proxy

import (
	"net/http"
	"regexp"
	"time"

	"github.com/fjord-gw/fjord/internal/accesslog"
	"github.com/fjord-gw/fjord/internal/acl"
	"github.com/fjord-gw/fjord/internal/compress"
	"github.com/fjord-gw/fjord/internal/limit"
	"github.com/fjord-gw/fjord/internal/metrics"
	"github.com/fjord-gw/fjord/internal/router"
	"github.com/fjord-gw/fjord/internal/shadow"
	"github.com/fjord-gw/fjord/internal/static"
	"github.com/fjord-gw/fjord/internal/tracing"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// Config is one immutable snapshot of everything the engine needs per request.
type Config struct {
	Routes *router.Table[*Route]
	// ByListener, when non-empty, holds the table of each listener (routes limited to some listeners), keyed by
	// the name given to Server.ServeListener; listeners without an entry use Routes.
	ByListener map[string]*router.Table[*Route]
	Client     ClientLimits
	AccessLog  *accesslog.Logger // nil = off
	Version    string            // shown in logs, e.g. a hash of the config file
	// Engine chooses how plain-HTTP connections are served (event loops by default); read at each accept.
	Engine Engine
	// RealIP says which peers are believed about the client address (X-Forwarded-For, PROXY protocol).
	RealIP RealIP
	// ErrorPages replace the built-in error answers of requests whose route has none of its own, and of requests
	// no route matched (errorpage.go); nil = built-in.
	ErrorPages ErrorPages
	// Tracer, when set, samples requests and exports a span for each sampled one; with it the traceparent sent
	// upstream names fjord's span as the parent (see trace.go). nil = off: traceparent is started or passed on.
	Tracer *tracing.Tracer
}

// ClientLimits apply to client connections. Zero fields take the defaults in withDefaults.
type ClientLimits struct {
	ReadHeaderTimeout time.Duration // from the first byte of a request to the end of its head; default 10s
	IdleTimeout       time.Duration // keep-alive wait for the next request; default 60s
	MaxHeaderBytes    int           // request head size limit; default 16 KiB
	BodyIdleTimeout   time.Duration // max gap between body bytes from/to the client; default 60s
	// MinBodyRate, when positive, is the fewest request-body bytes that must arrive in each MinBodyRateWindow
	// (default 10s) of a streamed body; a slower body is cut with a 408 (bodyrate.go). 0 = off.
	MinBodyRate       int64
	MinBodyRateWindow time.Duration

	// MaxConnections caps the open client connections of the server, all listeners together; MaxConnectionsPerIP
	// caps those from one client address. 0 = unlimited (the engine's zero value; the config supplies the
	// gateway's default). A connection over either is closed right after accept, before any byte is read. Both
	// are read at each accept, so a reload applies to new connections; ones already open stay.
	MaxConnections      int
	MaxConnectionsPerIP int
}

func (l ClientLimits) withDefaults() ClientLimits {
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = 10 * time.Second
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 60 * time.Second
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 16 << 10
	}
	if l.BodyIdleTimeout <= 0 {
		l.BodyIdleTimeout = 60 * time.Second
	}
	if l.MinBodyRateWindow <= 0 {
		l.MinBodyRateWindow = 10 * time.Second
	}
	return l
}

// Timeouts bound one upstream exchange. Zero means no limit for Total, defaults otherwise.
type Timeouts struct {
	Connect        time.Duration // dial timeout; 0 = the instance's own (the service's connect timeout)
	ResponseHeader time.Duration // from request sent to response head received; default 60s
	Idle           time.Duration // max gap between body bytes in either direction; default 60s
	Total          time.Duration // whole exchange including bodies; 0 = unlimited
}

// HashSource says where a hash balancer takes its key from.
type HashSource uint8

const (
	HashClientIP HashSource = iota
	HashHeader
	HashCookie
)

// Service is a pool of instances plus the per-service settings the engine applies.
type Service struct {
	Name     string
	Pool     *upstream.Pool
	HashFrom HashSource
	HashName string // header or cookie name for HashHeader / HashCookie

	// Limiter is the service's bulkhead: requests beyond its cap wait in its queue for up to QueueTimeout, then
	// get a 503. nil = unlimited.
	Limiter      *limit.Limiter
	QueueTimeout time.Duration
	// FailureStatuses are the response statuses that count as failures for outlier ejection.
	FailureStatuses StatusSet
	Retry           RetryPolicy
	Stats           *metrics.ServiceStats // nil: not counted

	// Protocol is what the instances speak. ProtoH2C and ProtoH2 services are reached through H2 (see
	// NewH2Transport), which must then be set; HTTP/1.1 clients get a 502 from them.
	Protocol Protocol
	H2       http.RoundTripper
}

// Protocol is the wire protocol of a service's instances.
type Protocol uint8

const (
	ProtoHTTP1 Protocol = iota // HTTP/1.1 over the pooled connections of each instance (plain or TLS)
	ProtoH2C                   // HTTP/2 with prior knowledge over plain TCP (gRPC services)
	ProtoH2                    // HTTP/2 over TLS (ALPN h2)
)

// RetryPolicy says which failed attempts are tried again on another instance. Attempts that reached the upstream
// are retried only for idempotent methods whose body (if any) is still in memory; a connect failure is always
// safe to retry. Budget bounds retries to a share of the service's requests.
type RetryPolicy struct {
	Attempts                      int // retries after the first attempt; 0 = none
	OnConnect, OnReset, OnTimeout bool
	Statuses                      StatusSet // response statuses retried (5xx)
	Budget                        *limit.Budget
	PerTryTimeout                 time.Duration // response-header timeout of each attempt; 0 = the route's
}

// StatusSet is a set of HTTP status codes (100-599).
type StatusSet [10]uint64

// Add puts status in the set; statuses outside 0-639 are ignored.
func (s *StatusSet) Add(status int) {
	if status >= 0 && status < 640 {
		s[status/64] |= 1 << (status % 64)
	}
}

// Has reports whether status is in the set.
func (s *StatusSet) Has(status int) bool {
	return status >= 0 && status < 640 && s[status/64]&(1<<(status%64)) != 0
}

// HostMode says what Host header goes upstream.
type HostMode uint8

const (
	HostPass     HostMode = iota // the client's Host
	HostUpstream                 // the instance address
	HostTemplate                 // Route.HostValue rendered
)

// Route is a compiled route: where requests go and how they are rewritten on the way.
type Route struct {
	Name    string
	Stats   *metrics.RouteStats // requests and latency; nil: not counted
	Service *Service            // nil when Return or Static is set
	Return  *Return
	// Static, when non-nil, answers from files (static.go); StaticFallback is the route a try_files miss is
	// forwarded to (nil: 404).
	Static         *static.Server
	StaticFallback *Route

	StripPrefix string         // removed from the start of the path
	AddPrefix   string         // then prepended (nginx's proxy_pass with a URI part)
	Rewrite     *regexp.Regexp // applied to the path when non-nil ...
	RewriteWith string         // ... with this replacement ($1 etc.)

	Host      HostMode
	HostValue Template

	// NoForwarded turns off the gateway's X-Forwarded-For/-Proto/-Host, X-Real-IP and X-Request-Id: the client's own
	// headers of those names pass unchanged.
	NoForwarded bool

	Request  HeaderOps
	Response HeaderOps
	Timeouts Timeouts

	// MaxBodyBytes is the largest request body forwarded; 0 = unlimited. A larger Content-Length is answered 413
	// before anything goes upstream; a chunked body is cut at the chunk that crosses it (the upstream sees an
	// unfinished request, the client a 413) and the client connection is closed.
	MaxBodyBytes int64

	// RateLimit, when non-nil, answers 429 to requests over the limit, after routing and the body-size check and
	// before the service's bulkhead.
	RateLimit *RateLimit

	// Canary, when non-nil, sends a share of the route's requests to another service (canary.go); nil: all go to
	// Service.
	Canary *Canary
	// Shadow, when non-nil, mirrors sampled requests to a shadow service and compares its answers (shadow.go).
	Shadow *shadow.Mirror

	// Access, when non-nil, is the route's allow/deny list (the server-wide one is compiled into each route that
	// has none of its own): a denied client address gets 403, checked after routing and before everything else.
	Access *acl.List

	// Compress, when non-nil, compresses eligible responses for clients that accept it (compress.go); nil: off.
	Compress *compress.Policy

	// ErrorPages, when non-nil, replace the built-in error answers of this route's requests (Config.ErrorPages are
	// then not consulted: an empty map turns the server's pages off). RewriteLocation rewrites upstream redirects
	// (head.go).
	ErrorPages      ErrorPages
	RewriteLocation *LocationRewrite
}

// HeaderOps edits headers: Remove drops incoming headers by name, Set replaces, Add appends. Build it with
// NewHeaderOps; the zero value edits nothing.
type HeaderOps struct {
	Set    []HeaderValue
	Add    []HeaderValue
	Remove []string

	drop       []string // lower-case names not forwarded: Remove and the names of Set
	builtinOff uint8    // bit per hdr* constant: the gateway's own header is suppressed
	traceOff   bool     // the route removes or sets traceparent itself
}

// HeaderValue is one header to write, its value rendered per request.
type HeaderValue struct {
	Name  string
	Value Template
}

// Return is a response sent by the gateway itself. Headers and Body are static; Templates and BodyTemplate, when
// set, are rendered per request (nginx's `return 301 https://$host$request_uri`). A Return without templates is
// written without rendering anything.
type Return struct {
	Status    int
	Headers   [][2]string
	Body      []byte
	Templates []HeaderValue // headers whose values use variables, written after Headers
	// BodyTemplate, when non-nil, replaces Body.
	BodyTemplate *Template
}
