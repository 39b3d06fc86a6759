package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The types in this file mirror the YAML schema documented in
// docs/configuration.md. Struct tags name the YAML key; the options after the
// name are read by the decoder in decode.go:
//
//	required     the key must be present
//	short=FIELD  (on a list of structs) an element may be a bare scalar that
//	             sets FIELD, e.g. `- "127.0.0.1:9001"` for an instance
//	single=KEY   (on a list of strings) KEY is an alternative spelling that
//	             takes one scalar, e.g. `host: x` for `hosts: [x]`
//
// Fields without a yaml tag are filled in by Parse (names, defaults).

// Positions records where a struct and its values appear in the file, so
// that later stages (the compiler that builds the runtime objects) can report
// their own errors at the right place. Every schema struct embeds it.
//
// Keys maps a YAML key of the struct to the position of its value. Values
// nested in lists and maps that are not structs themselves are recorded under
// dotted paths: "methods.1" is the second method of a Match, "set.X-User-Ip"
// the value of that header in a HeaderOps. A key is present in Keys exactly
// when it was written in the file, so Has tells "set" from "defaulted".
type Positions struct {
	Pos  Pos // position of the struct's mapping (or short-form scalar)
	Keys map[string]Pos
}

// At returns the position of the value of key, or the struct's own position
// when key was not written in the file.
func (p Positions) At(key string) Pos {
	if q, ok := p.Keys[key]; ok {
		return q
	}
	return p.Pos
}

// Has reports whether key was written in the file.
func (p Positions) Has(key string) bool {
	_, ok := p.Keys[key]
	return ok
}

// Duration is a time.Duration that remembers whether it was written in the
// file. Parse fills defaults in with Set false, so a consumer can tell an
// explicit "60s" from the default 60s; for route timeouts an unset Duration
// means "inherit from the service".
type Duration struct {
	time.Duration
	Set bool
}

// Config is a whole fjord configuration. Parse applies the defaults listed in
// docs/configuration.md before returning it.
type Config struct {
	Positions
	Listeners []Listener          `yaml:"listeners,required"`
	Admin     *Admin              `yaml:"admin"` // nil when absent
	AccessLog AccessLog           `yaml:"access_log"`
	Server    Server              `yaml:"server"`
	Services  map[string]*Service `yaml:"services"`        // may be empty: a gateway of return and static routes needs none
	Routes    []Route             `yaml:"routes,required"` // in file order, which is match order
	// Maps are named lookups that templates use as ${map.NAME} (nginx's map); see validate_maps.go.
	Maps map[string]*Map `yaml:"maps"`
	// Tracing exports a span per request to an OpenTelemetry collector; nil (absent) = off. See validate_tracing.go.
	Tracing *Tracing `yaml:"tracing"`
}

// Map chooses a value per request: Source (a template) is rendered and compared with the exact entries
// (ignoring ASCII case, as nginx does), then with the regex entries in order; Default (a template, default "")
// when none matches. Sources and values must not use maps themselves.
type Map struct {
	Positions
	Name    string     // the key under `maps`
	NamePos Pos        // position of that key
	Source  string     `yaml:"source,required"`
	Default string     `yaml:"default"`
	Entries []MapEntry `yaml:"entries"`
}

// MapEntry is one line of a map: exactly one of Exact (which may be "") and Regex, and the Value (a template) it
// selects.
type MapEntry struct {
	Positions
	Exact string `yaml:"exact"`
	Regex string `yaml:"regex"`
	Value string `yaml:"value"`
}

// ServiceNames returns the names of all services, sorted.
func (c *Config) ServiceNames() []string {
	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// RouteTimeouts returns the timeouts that apply to r: each field r sets
// overrides its service's value. For a route without a (known) service it
// returns r's own timeouts.
func (c *Config) RouteTimeouts(r *Route) Timeouts {
	s := c.Services[r.Service]
	if s == nil {
		return r.Timeouts
	}
	return s.Timeouts.Override(r.Timeouts)
}

// Listener is one address fjord accepts client connections on.
type Listener struct {
	Positions
	Name    string `yaml:"name"` // default "listener-N", 1-based
	Address string `yaml:"address,required"`
	TLS     *TLS   `yaml:"tls"` // nil: plain HTTP

	// RedirectToTLS names a TLS listener: this (plain) listener then answers every request with a 308 to the same
	// host and URI on that listener's port, or on RedirectPort when set (the public port when a NAT or container
	// maps ports).
	RedirectToTLS string `yaml:"redirect_to_tls"`
	RedirectPort  int    `yaml:"redirect_port"` // 0: the port of the RedirectToTLS listener's address

	// HTTP2 offers HTTP/2 by ALPN on a TLS listener; nil: on (with tls). H2C serves HTTP/2 with prior knowledge on a
	// plain listener, next to HTTP/1.1; default off.
	HTTP2 *bool `yaml:"http2"`
	H2C   bool  `yaml:"h2c"`
	// ProxyProtocol requires a PROXY protocol v1 or v2 header on every connection, which must come from one of
	// server.trusted_proxies; the header's source address is then the client's.
	ProxyProtocol bool `yaml:"proxy_protocol"`
	// DeferAccept has the kernel hand a connection over only once its first bytes arrived (TCP_DEFER_ACCEPT, Linux):
	// fjord then reads the request as it accepts, and a connection that never sends holds nothing of fjord's.
	DeferAccept bool `yaml:"defer_accept"`
}

// TLS terminates TLS on a listener. The certificate files are read by the
// compiler (internal/app), not by Parse; Parse checks only the shape.
type TLS struct {
	Positions
	// Certificates are chosen by the client's SNI name against each certificate's DNS names (wildcards included);
	// the first is the default when no name matches or the client sends none.
	Certificates []Certificate `yaml:"certificates,required"`
	MinVersion   string        `yaml:"min_version"` // "1.2" (default) or "1.3"
	Ciphers      []string      `yaml:"ciphers"`     // TLS 1.2 suites by Go name; nil: Go's defaults
	// OCSPStapling fetches and staples OCSP responses for certificates whose leaf names a responder; nil: on.
	OCSPStapling *bool `yaml:"ocsp_stapling"`
}

// Certificate is a PEM certificate chain and its private key. Relative paths
// are relative to the directory of the configuration file.
type Certificate struct {
	Positions
	Cert string `yaml:"cert,required"`
	Key  string `yaml:"key,required"`
}

// Admin is the optional admin endpoint.
type Admin struct {
	Positions
	Address string `yaml:"address,required"`
	// Token, when set, is required as "Authorization: Bearer TOKEN" on every admin endpoint except /live and /ready.
	Token string `yaml:"token"`
}

// AccessLog configures request logging.
type AccessLog struct {
	Positions
	Format string `yaml:"format"` // "off" (default), "json" or "combined"
	Path   string `yaml:"path"`   // "stdout" (default), "stderr" or a file path
}

// Server holds client-side limits and timeouts.
type Server struct {
	Positions
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"` // default 10s
	IdleTimeout       Duration `yaml:"idle_timeout"`        // default 60s
	MaxHeaderBytes    int      `yaml:"max_header_bytes"`    // default 16384
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`    // default 30s
	// MaxBodyBytes is the largest request body forwarded, for routes that do not set their own; default 1 GiB,
	// 0 = unlimited.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxConnections caps open client connections, all listeners together; default DefaultMaxConnections,
	// 0 = unlimited. MaxConnectionsPerIP caps those from one client address; default 0 = unlimited.
	MaxConnections      int `yaml:"max_connections"`
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`

	// Engine is how plain-HTTP connections are served: "loop" (default: event loops, one per core) or
	// "goroutines" (a goroutine per connection). TLS connections always use goroutines.
	Engine string `yaml:"engine"`

	// Access is the allow/deny list of routes that have none of their own: "allow CIDR", "deny CIDR", "allow all",
	// "deny all", first match wins, an address no rule matches is allowed (nginx's allow/deny). See docs/security.md.
	Access []string `yaml:"access"`
	// TrustedProxies are the peers (CIDRs or addresses) believed about the client address: their PROXY protocol
	// header and their RealIPHeader. RealIPHeader defaults to "X-Forwarded-For"; "none" believes no header.
	// RealIPRecursive (default true) skips trusted addresses in the header from the right, like nginx's
	// real_ip_recursive on; false takes the rightmost address.
	TrustedProxies  []string `yaml:"trusted_proxies"`
	RealIPHeader    string   `yaml:"real_ip_header"`
	RealIPRecursive *bool    `yaml:"real_ip_recursive"`
	// ErrorPages replace fjord's built-in error answers for routes without their own and for requests no route
	// matches (schema_errorpage.go).
	ErrorPages []ErrorPage `yaml:"error_pages"`

	// Compression is the response compression of routes that have none of their own; nil: off (schema_edge.go).
	Compression *Compression `yaml:"compression"`
	// MinBodyRate cuts request bodies that arrive slower than Bytes per Window; nil: off.
	MinBodyRate *BodyRate `yaml:"min_body_rate"`
}

// Service is a named group of upstream instances.
type Service struct {
	Positions
	Name      string     // the key under `services`
	NamePos   Pos        // position of that key
	Balancer  string     `yaml:"balancer"` // default "round_robin"
	HashKey   string     `yaml:"hash_key"` // "client_ip", "header:NAME" or "cookie:NAME"
	Instances []Instance `yaml:"instances,short=address"`
	Timeouts  Timeouts   `yaml:"timeouts"`
	Keepalive Keepalive  `yaml:"keepalive"`

	// SlowStart ramps a recovered instance's share of traffic up linearly over this window (after its health checks
	// pass again or its ejection ends). Zero: off.
	SlowStart Duration `yaml:"slow_start"`

	HealthCheck *HealthCheck `yaml:"health_check"` // nil: no active checks
	Outlier     Outlier      `yaml:"outlier"`
	Limits      Limits       `yaml:"limits"`
	Retries     Retries      `yaml:"retries"`
	TLS         *UpstreamTLS `yaml:"tls"` // nil: plain TCP to the instances
	// Protocol is what the instances speak: "http1" (default), "h2c" (HTTP/2 with prior knowledge, e.g. gRPC) or
	// "h2" (HTTP/2 over the service's tls).
	Protocol string `yaml:"protocol"`
}

// UpstreamTLS makes fjord a TLS client of a service's instances. The files are read by the compiler (internal/app),
// not by Parse; Parse checks only the shape. Relative paths are relative to the directory of the configuration file.
type UpstreamTLS struct {
	Positions
	CA         string `yaml:"ca"`          // PEM bundle of trusted roots; "": the system roots
	ServerName string `yaml:"server_name"` // name verified and sent as SNI; "": each instance's host
	Cert       string `yaml:"cert"`        // client certificate chain (mTLS); needs key
	Key        string `yaml:"key"`         // private key of cert
	// InsecureSkipVerify accepts any certificate: the traffic is encrypted but not authenticated.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// HealthCheck configures active probes of every instance of a service.
type HealthCheck struct {
	Positions
	Type         string   `yaml:"type"`          // "http" (default) or "tcp"
	Method       string   `yaml:"method"`        // default GET
	Path         string   `yaml:"path"`          // default /
	Host         string   `yaml:"host"`          // Host header; default the instance address
	ExpectStatus string   `yaml:"expect_status"` // "200-399" (default), "200" or "200-299"
	BodyContains string   `yaml:"body_contains"`
	Interval     Duration `yaml:"interval"` // default 5s
	Jitter       Duration `yaml:"jitter"`   // default interval/10
	Timeout      Duration `yaml:"timeout"`  // default 2s
	Rise         int      `yaml:"rise"`     // default 2
	Fall         int      `yaml:"fall"`     // default 3

	StatusMin, StatusMax int // parsed from ExpectStatus
}

// Outlier configures passive health: ejecting instances that fail real requests.
type Outlier struct {
	Positions
	ConsecutiveFailures int      `yaml:"consecutive_failures"` // default 5; 0 = off
	BaseEjection        Duration `yaml:"base_ejection"`        // default 30s
	MaxEjection         Duration `yaml:"max_ejection"`         // default 5m
	MaxEjectedPercent   int      `yaml:"max_ejected_percent"`  // default 50
	FailWindow          Duration `yaml:"fail_window"`          // default 0: failures must be consecutive
	FailureStatuses     []int    `yaml:"failure_statuses"`     // default [502, 503, 504]
}

// Limits are a service's bulkhead: how much of the gateway one service may hold.
type Limits struct {
	Positions
	MaxConcurrent  int      `yaml:"max_concurrent"`   // default 1024; 0 = unlimited
	MaxPerInstance int      `yaml:"max_per_instance"` // default 0 = unlimited
	Queue          int      `yaml:"queue"`            // default 256
	QueueTimeout   Duration `yaml:"queue_timeout"`    // default 1s
}

// Retries says when a failed request is tried again on another instance.
type Retries struct {
	Positions
	Attempts      int      `yaml:"attempts"`        // retries after the first try; default 1; 0 = off
	On            []string `yaml:"on"`              // default [connect_failure, reset, 502, 503]
	BudgetPercent int      `yaml:"budget_percent"`  // retries at most this share of requests; default 20
	MinPerSecond  int      `yaml:"min_per_second"`  // retries always allowed per second; default 3
	PerTryTimeout Duration `yaml:"per_try_timeout"` // response-header timeout of each try; default: response_header
}

// Instance is one upstream server.
type Instance struct {
	Positions
	Address string `yaml:"address,required"` // host:port
	Weight  int    `yaml:"weight"`           // default 1
	Backup  bool   `yaml:"backup"`
}

// Timeouts bound an upstream exchange. In a Service every field carries a
// value (defaults filled in, Set false); in a Route only the fields written
// in the file are Set and the rest inherit from the service (see Override).
type Timeouts struct {
	Positions
	Connect        Duration `yaml:"connect"`         // default 5s
	ResponseHeader Duration `yaml:"response_header"` // default 60s
	Idle           Duration `yaml:"idle"`            // default 60s
	Total          Duration `yaml:"total"`           // default 0 = unlimited
}

// Override returns t with every field that o sets replaced by o's value.
// Positions stay t's.
func (t Timeouts) Override(o Timeouts) Timeouts {
	for _, f := range []struct{ dst, src *Duration }{
		{&t.Connect, &o.Connect}, {&t.ResponseHeader, &o.ResponseHeader},
		{&t.Idle, &o.Idle}, {&t.Total, &o.Total},
	} {
		if f.src.Set {
			*f.dst = *f.src
		}
	}
	return t
}

// any reports whether at least one field is Set.
func (t Timeouts) any() bool {
	return t.Connect.Set || t.ResponseHeader.Set || t.Idle.Set || t.Total.Set
}

// Keepalive controls upstream connection reuse.
type Keepalive struct {
	Positions
	MaxIdlePerInstance int      `yaml:"max_idle_per_instance"` // default 64; 0 disables reuse
	IdleTimeout        Duration `yaml:"idle_timeout"`          // default 60s
}

// Route maps matching requests to a service or to a direct response.
type Route struct {
	Positions
	Name  string `yaml:"name"` // default "route-N", 1-based
	Match Match  `yaml:"match"`
	// Internal routes are never matched by a request: only a static route's fallback reaches them (nginx's named
	// locations, `try_files ... @name`). They take no match.
	Internal       bool      `yaml:"internal"`
	Service        string    `yaml:"service"` // empty when Return is set
	Return         *Return   `yaml:"return"`  // nil when proxying
	Static         *Static   `yaml:"static"`  // nil unless the route serves files
	Rewrite        Rewrite   `yaml:"rewrite"`
	RequestHeaders HeaderOps `yaml:"request_headers"`
	// ForwardedHeaders says whether fjord sets X-Forwarded-For/-Proto/-Host, X-Real-IP and X-Request-Id on the
	// request it sends upstream (default true). false passes the client's own headers of those names unchanged, as
	// nginx does unless told otherwise.
	ForwardedHeaders *bool     `yaml:"forwarded_headers"`
	ResponseHeaders  HeaderOps `yaml:"response_headers"`
	Timeouts         Timeouts  `yaml:"timeouts"` // only Set fields override the service
	// MaxBodyBytes overrides server.max_body_bytes when written (Has("max_body_bytes")); 0 = unlimited.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// RateLimit limits the requests of the route per key; nil = unlimited.
	RateLimit *RateLimit `yaml:"rate_limit"`
	// Canary sends a share of the route's requests to another service; nil = none (schema_canary.go).
	Canary *Canary `yaml:"canary"`
	// Shadow mirrors the route's requests to another service and compares the answers; nil = none.
	Shadow *Shadow `yaml:"shadow"`
	// Captures is a regular expression run on the normalized path whose groups the route's templates use as
	// ${1}..${9} (nginx's rewrite captures); "" = match.path_regex.
	Captures string `yaml:"captures"`
	// Access, when written (Has("access")), replaces server.access for this route; an empty list allows all.
	Access []string `yaml:"access"`
	// ErrorPages, when written (Has("error_pages")), replace server.error_pages for this route (schema_errorpage.go).
	ErrorPages []ErrorPage `yaml:"error_pages"`
	// RewriteLocation is "auto" (upstream redirects that point at the upstream are rewritten to the client-visible
	// URL, nginx's proxy_redirect default) or "off" (default); LocationRewrites are explicit rules tried after it.
	RewriteLocation  string            `yaml:"rewrite_location"`
	LocationRewrites []LocationRewrite `yaml:"location_rewrites"`
	// Compression replaces server.compression for this route; nil: the server's.
	Compression *Compression `yaml:"compression"`
}

// RateLimit is a token bucket per key: Rate ("100/s", "600/m") refills it, Burst (default: the rate's count) is its
// size. Key says what a bucket belongs to: "client_ip" (default), "header:NAME" (clients without the header are
// keyed by IP) or "route" (one bucket for the whole route). Limits are per gateway instance.
type RateLimit struct {
	Positions
	Key   string `yaml:"key"`
	Rate  string `yaml:"rate,required"`
	Burst int    `yaml:"burst"`
	// Status is the refusal's status: 429 (default, with RateLimit headers) or another 4xx/5xx (nginx's
	// limit_req_status, 503 by default there).
	Status int `yaml:"status"`
}

// ParseRate reads a rate "N/s", "N/m" or "N/h" (N a positive integer) as a count per period.
func ParseRate(s string) (count int, per time.Duration, err error) {
	n, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("invalid rate %q: want COUNT/s, COUNT/m or COUNT/h", s)
	}
	switch strings.TrimSpace(unit) {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		return 0, 0, fmt.Errorf("invalid rate %q: the period must be s, m or h", s)
	}
	count, err = strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count <= 0 {
		return 0, 0, fmt.Errorf("invalid rate %q: the count must be a positive integer", s)
	}
	return count, per, nil
}

// Match selects requests. After Parse exactly one of Path, PathPrefix and
// PathRegex is non-empty (PathPrefix "/" when none was written; check
// Has("path_prefix") to tell).
type Match struct {
	Positions
	Listeners  []string `yaml:"listeners"`         // nil = every listener; else only these (by name)
	Hosts      []string `yaml:"hosts,single=host"` // nil or "*" = any host; nginx server_name forms
	Path       string   `yaml:"path"`
	PathPrefix string   `yaml:"path_prefix"`
	PathRegex  string   `yaml:"path_regex"`
	// PrefixFirst (only with PathPrefix) is nginx's "location ^~": when this
	// is the longest matching prefix, regex routes are not tried.
	PrefixFirst bool              `yaml:"prefix_first"`
	Methods     []string          `yaml:"methods"` // nil = any method
	Headers     map[string]string `yaml:"headers"` // "*" = present, "~re" = regexp
}

// Return is a direct response served without contacting a service.
type Return struct {
	Positions
	Status  int               `yaml:"status"` // default 200
	Body    string            `yaml:"body"`
	Headers map[string]string `yaml:"headers"`
}

// Static serves files (see docs/configuration.md, "static"). Exactly one of Root (nginx's root: the file is root +
// path) and Alias (nginx's alias: the route's path_prefix is replaced by the directory) is set.
type Static struct {
	Positions
	Root  string   `yaml:"root"`
	Alias string   `yaml:"alias"`
	Index []string `yaml:"index"` // default [index.html]
	// TryFiles lists candidates ($uri, $uri/, /file); a last entry "=CODE" or "/uri" is what a miss gets.
	TryFiles []string `yaml:"try_files"`
	// Fallback names the route a try_files miss is forwarded to (nginx's try_files ... @name).
	Fallback      string            `yaml:"fallback"`
	Precompressed bool              `yaml:"precompressed"`
	HiddenFiles   string            `yaml:"hidden_files"` // "deny" (default: 404) or "allow"
	Types         map[string]string `yaml:"types"`        // extension -> Content-Type; replaces the built-in table
	DefaultType   string            `yaml:"default_type"` // default application/octet-stream
	CacheControl  string            `yaml:"cache_control"`
}

// Rewrite changes the request before it is sent upstream.
type Rewrite struct {
	Positions
	StripPrefix string       `yaml:"strip_prefix"`
	AddPrefix   string       `yaml:"add_prefix"` // prepended after strip_prefix (nginx's proxy_pass with a URI part)
	ReplacePath *ReplacePath `yaml:"replace_path"`
	Host        string       `yaml:"host"` // "pass" (default), "upstream" or a template
}

// ReplacePath rewrites the path with a regexp; With may use $1-style groups.
type ReplacePath struct {
	Positions
	Regex string `yaml:"regex,required"`
	With  string `yaml:"with,required"`
}

// HeaderOps edits headers. Values of Set and Add are templates (see
// ParseTemplate); Remove holds header names.
type HeaderOps struct {
	Positions
	Set    map[string]string `yaml:"set"`
	Add    map[string]string `yaml:"add"`
	Remove []string          `yaml:"remove"`
}
