package nginx

import (
	"strconv"
	"strings"
	"time"
)

// header is one proxy_set_header / add_header entry, value untranslated.
type header struct {
	name, value string
	pos         Pos
}

// scope is the proxy configuration in force at one level. nginx merges a
// level's settings with its parent's after parsing, so the order of
// directives inside a block does not matter; each list below is replaced,
// not extended, by a level that sets any entry of it (nginx's array rule).
type scope struct {
	setHeaders  []header // proxy_set_header; nil: nginx's defaults only
	setAny      bool     // some level set proxy_set_header
	setHere     bool     // this level started its own proxy_set_header list
	addHere     bool
	hideHere    bool
	addHeaders  []header // add_header
	hideHeaders []header // proxy_hide_header (value unused)
	connect     time.Duration
	read, send  time.Duration
	nextUp      []string // proxy_next_upstream; nil: "error timeout"
	nextUpPos   Pos
	tries       int   // proxy_next_upstream_tries; 0: no limit
	maxBody     int64 // client_max_body_size, when maxBodySet
	maxBodySet  bool
	reqs        []*limitReq // limit_req (array rule like the header lists)
	reqHere     bool
	reqStatus   int // limit_req_status; 0: nginx's 503
	tls         tlsScope
	grpc        grpcScope
	access      []string // allow/deny rules as fjord writes them (array rule)
	accessHere  bool
	errorPages  []errorPageDecl // error_page (array rule); nil: none
	errorHere   bool
	redirects   []redirectRule // proxy_redirect (array rule); nil: never set, nginx's default
	redirHere   bool
}

// clone returns a copy whose lists a child level may replace freely.
func (s *scope) clone() *scope {
	n := *s
	n.beginLevel()
	return &n
}

// Nginx's defaults for the proxy timeouts.
const nginxTimeout = 60 * time.Second

func (s *scope) timeouts() (connect, read, send time.Duration) {
	def := func(d time.Duration) time.Duration {
		if d == 0 {
			return nginxTimeout
		}
		return d
	}
	return def(s.connect), def(s.read), def(s.send)
}

// setting applies d to sc when d is a proxy setting valid at every level and
// reports whether it was one. The caller calls sc.beginLevel() on entering
// a block, so list directives replace the parent's list (see push).
func (c *converter) setting(d *Directive, sc *scope) bool {
	switch d.Name {
	case "proxy_set_header":
		if c.nargs(d, 2, 2) {
			push(&sc.setHeaders, &sc.setHere, header{d.Args[0].Value, d.Args[1].Value, d.Pos})
			sc.setAny = true
		}
	case "add_header":
		if c.nargs(d, 2, 3) {
			if len(d.Args) == 3 && d.Args[2].Value != "always" {
				c.errorf(d.Args[2].Pos, `add_header: invalid parameter %q`, d.Args[2].Value)
			}
			push(&sc.addHeaders, &sc.addHere, header{d.Args[0].Value, d.Args[1].Value, d.Pos})
		}
	case "proxy_hide_header":
		if c.nargs(d, 1, 1) {
			push(&sc.hideHeaders, &sc.hideHere, header{name: d.Args[0].Value, pos: d.Pos})
		}
	case "proxy_connect_timeout":
		sc.connect = c.durationValue(d)
	case "proxy_read_timeout":
		sc.read = c.durationValue(d)
	case "proxy_send_timeout":
		sc.send = c.durationValue(d)
	case "proxy_next_upstream":
		if c.nargs(d, 1, 20) {
			sc.nextUp, sc.nextUpPos = d.Values(), d.Pos
		}
	case "proxy_next_upstream_tries":
		if c.nargs(d, 1, 1) {
			n, err := strconv.Atoi(d.Args[0].Value)
			if err != nil || n < 0 {
				c.errorf(d.Args[0].Pos, "proxy_next_upstream_tries: invalid number %q", d.Args[0].Value)
			}
			sc.tries = n
		}
	case "proxy_http_version", "proxy_buffering":
		c.diag(d.Pos, SeverityInfo, "%s accepted: fjord streams requests and responses over HTTP/1.1", d.Name)
	case "proxy_request_buffering":
		c.diag(d.Pos, SeverityInfo, "%s accepted: fjord reads a request body of known length up to 64 KiB, or a "+
			"chunked one up to about 48 KiB, before it contacts the upstream, and streams larger ones", d.Name)
	case "proxy_redirect":
		c.proxyRedirect(d, sc)
	case "error_page":
		c.errorPage(d, sc)
	case "proxy_intercept_errors":
		c.interceptErrors(d)
	case "proxy_pass_header":
		c.diag(d.Pos, SeverityInfo, "proxy_pass_header accepted: fjord passes every upstream response header")
	default:
		return c.grpcSetting(d, &sc.grpc) || c.limitSetting(d, sc) || c.accessSetting(d, sc) || c.realIPSetting(d)
	}
	return true
}

// beginLevel marks sc as belonging to a new child level, so the first list
// directive at that level replaces the inherited list instead of extending it.
func (sc *scope) beginLevel() {
	sc.setHere, sc.addHere, sc.hideHere, sc.reqHere, sc.accessHere = false, false, false, false, false
	sc.errorHere, sc.redirHere = false, false
	sc.tls.certHere, sc.tls.keyHere = false, false
	sc.grpc.setHere = false
}

// push appends h to *list, first dropping the inherited entries unless this
// level already started its own list.
func push(list *[]header, here *bool, h header) {
	if !*here {
		*list, *here = nil, true
	}
	*list = append(*list, h)
}

func (c *converter) nargs(d *Directive, min, max int) bool {
	if len(d.Args) < min || len(d.Args) > max {
		c.errorf(d.Pos, "invalid number of arguments in %q directive", d.Name)
		return false
	}
	return true
}

// durationValue parses the single time argument of d.
func (c *converter) durationValue(d *Directive) time.Duration {
	if !c.nargs(d, 1, 1) {
		return 0
	}
	v, ok := parseNginxTime(d.Args[0].Value)
	if !ok {
		c.errorf(d.Args[0].Pos, "%s: invalid time %q", d.Name, d.Args[0].Value)
	}
	return v
}

// duration parses argument i of d and returns it in Go's notation.
func (c *converter) duration(d *Directive, i int) string {
	if len(d.Args) <= i {
		c.errorf(d.Pos, "invalid number of arguments in %q directive", d.Name)
		return ""
	}
	v, ok := parseNginxTime(d.Args[i].Value)
	if !ok {
		c.errorf(d.Args[i].Pos, "%s: invalid time %q", d.Name, d.Args[i].Value)
		return ""
	}
	return v.String()
}

// parseNginxTime reads nginx's time syntax: a sequence of NUMBER[UNIT] with
// units ms s m h d w M y, a bare number meaning seconds ("90", "1m30s").
func parseNginxTime(s string) (time.Duration, bool) {
	units := []struct {
		suffix string
		d      time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour},
		{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"M", 30 * 24 * time.Hour}, {"y", 365 * 24 * time.Hour}}
	if s == "" {
		return 0, false
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			return 0, false
		}
		n, _ := strconv.Atoi(s[:i])
		s = s[i:]
		unit := time.Second
		for _, u := range units {
			if strings.HasPrefix(s, u.suffix) {
				unit, s = u.d, s[len(u.suffix):]
				break
			}
		}
		total += time.Duration(n) * unit
	}
	return total, true
}
