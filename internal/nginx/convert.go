package nginx

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Severity grades a conversion diagnostic.
type Severity int

const (
	// SeverityError means the config cannot be converted faithfully: fjord
	// would behave differently from nginx, so it must not run it.
	SeverityError Severity = iota
	// SeverityWarning flags a directive that was ignored because it only
	// tunes nginx itself or fjord has no counterpart that matters here.
	SeverityWarning
	// SeverityInfo notes a mapping worth knowing about (a `down` server
	// left out, a default that differs in detail).
	SeverityInfo
)

// String returns "error", "warning" or "info".
func (s Severity) String() string {
	switch s {
	case SeverityWarning:
		return "warning"
	case SeverityInfo:
		return "info"
	}
	return "error"
}

// Diag is one conversion diagnostic, positioned in the nginx source.
type Diag struct {
	Pos      Pos
	Severity Severity
	Msg      string
}

// String returns "file:line:col: severity: msg".
func (d Diag) String() string { return fmt.Sprintf("%s: %s: %s", d.Pos, d.Severity, d.Msg) }

// HasErrors reports whether any diagnostic is an error.
func HasErrors(ds []Diag) bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Convert translates a parsed nginx configuration (the result of ParseFile,
// includes expanded) into fjord's native YAML configuration. Comments in the
// YAML name the nginx position each entry came from. The diagnostics come
// sorted by position; when any is an error the YAML is incomplete and must
// not be used. docs/nginx.md lists every mapping.
//
// Convert is a pure function of its input: it reads no files.
func Convert(ds []*Directive) ([]byte, []Diag) {
	y, _, diags := ConvertWithMap(ds)
	return y, diags
}

// ConvertWithMap is Convert that also returns, for each 1-based line of the
// YAML, the nginx position it was translated from, so that diagnostics of
// the native config (config.Parse) can be reported in the nginx file.
func ConvertWithMap(ds []*Directive) ([]byte, map[int]Pos, []Diag) {
	c := newConverter()
	c.main(ds)
	if !HasErrors(c.diags) {
		c.finish()
	}
	sort.SliceStable(c.diags, func(i, j int) bool { return posLess(c.diags[i].Pos, c.diags[j].Pos) })
	y, m := c.emit()
	return y, m, c.diags
}

func posLess(a, b Pos) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Col < b.Col
}

// converter holds the state of one Convert call; it is not shared.
type converter struct {
	realIP    realIP // set_real_ip_from and friends (convert_access.go)
	diags     []Diag
	upstreams map[string]*service // by nginx upstream name
	services  []*service          // in emission order
	svcNames  map[string]bool
	listeners []*listener
	byAddr    map[string]*listener
	// serverListeners are the listeners of each server block.
	serverListeners map[*Directive][]*listener
	routes          []*route
	rtNames         map[string]bool
	accessLog       *accessLog
	idle            string // server.idle_timeout from keepalive_timeout
	readHead        string // server.read_header_timeout from client_header_timeout
	httpPos         Pos
	serverInfos     []*serverInfo        // every server block, in order (their error pages)
	serverPages     []nativePage         // server.error_pages: the first server's error_page, for requests no route matches
	httpDir         *Directive           // the http block: its types and default_type apply to static locations
	maps            map[string]*nginxMap // by variable name, lower case
	reqZones        map[string]*reqZone  // limit_req_zone by zone name
	connZones       map[string]bool      // limit_conn_zone names
	connPerIP       int                  // limit_conn: server.max_connections_per_ip; 0: none
	servers         []*Directive         // server blocks in file order
	tlsOf           map[*Directive]*tlsScope
	tlsAt           map[*listener]*tlsListener
	mainDir         string // directory of the main file: nginx's conf prefix
}

type accessLog struct {
	format, path string
	pos          Pos
}

func newConverter() *converter {
	return &converter{upstreams: map[string]*service{}, svcNames: map[string]bool{},
		byAddr: map[string]*listener{}, serverListeners: map[*Directive][]*listener{}, rtNames: map[string]bool{},
		maps: map[string]*nginxMap{}, reqZones: map[string]*reqZone{}, connZones: map[string]bool{},
		tlsOf: map[*Directive]*tlsScope{}, tlsAt: map[*listener]*tlsListener{}}
}

func (c *converter) diag(p Pos, s Severity, format string, args ...any) {
	c.diags = append(c.diags, Diag{Pos: p, Severity: s, Msg: fmt.Sprintf(format, args...)})
}
func (c *converter) errorf(p Pos, format string, args ...any) {
	c.diag(p, SeverityError, format, args...)
}
func (c *converter) ignored(d *Directive, why string) {
	c.diag(d.Pos, SeverityWarning, "ignored: %s (%s)", d.Name, why)
}
func (c *converter) unsupported(d *Directive) {
	c.errorf(d.Pos, "not supported yet: %s", d.Name)
}
func (c *converter) unknown(d *Directive, ctx string) {
	c.errorf(d.Pos, "directive %q is not supported in %s", d.Name, ctx)
}

// nginxOnly are directives that tune nginx's own process, I/O or caches; fjord
// has nothing equivalent to tune, so they are accepted with a warning.
var nginxOnly = map[string]bool{
	"user": true, "worker_processes": true, "pid": true, "error_log": true, "daemon": true,
	"master_process": true, "load_module": true, "worker_rlimit_nofile": true, "pcre_jit": true,
	"env": true, "thread_pool": true, "worker_cpu_affinity": true, "worker_priority": true,
	"worker_shutdown_timeout": true, "timer_resolution": true, "lock_file": true,
	"sendfile": true, "tcp_nopush": true, "tcp_nodelay": true, "types_hash_max_size": true,
	"types_hash_bucket_size": true, "server_names_hash_max_size": true, "server_names_hash_bucket_size": true,
	"variables_hash_max_size": true, "variables_hash_bucket_size": true, "map_hash_max_size": true,
	"map_hash_bucket_size": true, "server_tokens": true,
	"keepalive_requests": true, "reset_timedout_connection": true, "client_body_buffer_size": true,
	"client_header_buffer_size": true, "large_client_header_buffers": true, "client_body_timeout": true,
	"send_timeout": true, "open_file_cache": true, "open_file_cache_valid": true, "open_file_cache_min_uses": true,
	"open_file_cache_errors": true, "resolver": true, "resolver_timeout": true, "charset": true,
	"client_body_temp_path": true, "proxy_temp_path": true, "fastcgi_temp_path": true,
	"uwsgi_temp_path": true, "scgi_temp_path": true, "proxy_buffer_size": true, "proxy_buffers": true,
	"proxy_busy_buffers_size": true, "proxy_max_temp_file_size": true, "proxy_temp_file_write_size": true,
	"log_not_found": true, "server_name_in_redirect": true, "port_in_redirect": true, "absolute_redirect": true,
}

// notYet are features of the proxy subset that later fjord versions add;
// until then a config using them is refused rather than run differently.
var notYet = map[string]bool{
	"if": true, "set": true,
	"auth_basic": true, "auth_basic_user_file": true, "auth_request": true, "proxy_cache": true,
	"proxy_cache_path": true, "fastcgi_pass": true, "uwsgi_pass": true, "scgi_pass": true, "proxy_ssl_verify": true, "sub_filter": true, "stream": true,
	"mail": true, "proxy_pass_request_headers": true, "proxy_pass_request_body": true, "proxy_method": true,
	"proxy_set_body":              true,
	"proxy_next_upstream_timeout": true, "proxy_ignore_headers": true, "proxy_cookie_domain": true,
	"proxy_cookie_path": true, "proxy_bind": true, "internal": true, "expires": true, "return_code": true,
}

// main handles the top level: main context, events and http.
func (c *converter) main(ds []*Directive) {
	c.mainDir = filepath.Dir(firstFile(ds))
	for _, d := range ds {
		switch {
		case d.Name == "http":
			if c.httpPos.IsValid() {
				c.errorf(d.Pos, `"http" directive is duplicate`)
				continue
			}
			c.httpPos = d.Pos
			c.http(d)
		case d.Name == "events":
			c.ignored(d, "fjord sizes its own connection handling")
		case nginxOnly[d.Name]:
			c.ignored(d, "tunes nginx itself")
		case notYet[d.Name]:
			c.unsupported(d)
		default:
			c.unknown(d, "the main context")
		}
	}
	if !c.httpPos.IsValid() && !HasErrors(c.diags) {
		c.errorf(Pos{File: firstFile(ds), Line: 1, Col: 1}, "no http block: nothing to serve")
	}
}

func firstFile(ds []*Directive) string {
	if len(ds) > 0 {
		return ds[0].Pos.File
	}
	return ""
}

// http handles the http block: upstreams first (servers refer to them by
// name wherever they appear), then settings, then servers.
func (c *converter) http(h *Directive) {
	c.httpDir = h
	for _, d := range h.Find("upstream") {
		c.upstream(d)
	}
	for _, d := range h.Find("map") {
		c.collectMap(d)
	}
	for _, d := range h.Find("limit_req_zone") {
		c.limitReqZone(d)
	}
	for _, d := range h.Find("limit_conn_zone") {
		c.limitConnZone(d)
	}
	sc := &scope{}
	for _, d := range h.Block {
		switch {
		case d.Name == "upstream" || d.Name == "server" || d.Name == "map" || d.Name == "limit_req_zone" ||
			d.Name == "limit_conn_zone":
		case d.Name == "limit_conn":
			c.limitConn(d)
		case c.setting(d, sc):
		case d.Name == "keepalive_timeout":
			c.idle = c.duration(d, 0)
			if c.idle == "0s" {
				c.errorf(d.Pos, "keepalive_timeout 0 (no client keep-alive) is not supported yet")
			}
		case d.Name == "client_header_timeout":
			c.readHead = c.duration(d, 0)
		case d.Name == "access_log":
			c.accessLogDirective(d)
		case d.Name == "log_format":
			if len(d.Args) > 0 && d.Args[0].Value == "combined" {
				continue
			}
			c.ignored(d, "fjord's access log formats are json and combined")
		case strings.HasPrefix(d.Name, "gzip"):
			c.ignored(d, "fjord does not compress responses yet")
		case c.tlsSetting(d, &sc.tls):
		case d.Name == "types" || d.Name == "default_type":
			// read by the locations that serve files (convert_static.go)
		case staticFiles[d.Name]:
			c.errorf(d.Pos, "%s at http level: not supported yet (set it in the server or location)", d.Name)
		case nginxOnly[d.Name]:
			c.ignored(d, "tunes nginx itself")
		case notYet[d.Name]:
			c.unsupported(d)
		default:
			c.unknown(d, "http")
		}
	}
	for _, d := range h.Find("server") {
		c.servers = append(c.servers, d)
		c.listens(d)
	}
	for _, d := range h.Find("server") {
		c.server(d, sc.clone())
	}
}

// accessLogDirective maps access_log at http level.
func (c *converter) accessLogDirective(d *Directive) {
	vs := d.Values()
	if len(vs) == 0 {
		c.errorf(d.Pos, "access_log needs a path or off")
		return
	}
	if c.accessLog != nil {
		c.diag(d.Pos, SeverityWarning, "ignored: second access_log (fjord writes one access log)")
		return
	}
	if vs[0] == "off" {
		c.accessLog = &accessLog{format: "off", pos: d.Pos}
		return
	}
	path := vs[0]
	switch path {
	case "/dev/stdout":
		path = "stdout"
	case "/dev/stderr":
		path = "stderr"
	}
	if strings.HasPrefix(path, "syslog:") || strings.Contains(path, "$") {
		c.errorf(d.Pos, "access_log to %q is not supported yet", path)
		return
	}
	if len(vs) > 1 && vs[1] != "combined" {
		c.diag(d.Args[1].Pos, SeverityWarning, "access_log format %q is not supported; fjord writes combined", vs[1])
	}
	if len(vs) > 2 {
		c.diag(d.Args[2].Pos, SeverityWarning, "ignored: access_log options %s", strings.Join(vs[2:], " "))
	}
	c.accessLog = &accessLog{format: "combined", path: path, pos: d.Pos}
}
