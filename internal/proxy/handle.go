package proxy

import (
	"strconv"
	"time"

	"github.com/fjord-gw/fjord/internal/accesslog"
	"github.com/fjord-gw/fjord/internal/http1"
)

// handle serves one parsed request and reports whether the connection stays open for the next.
func (c *conn) handle(cfg *Config) bool {
	c.beginRequest()
	return c.endRequest(cfg, c.serveRequest(cfg))
}

// beginRequest resets the per-request state before a request is served.
func (c *conn) beginRequest() {
	c.takeRequestID()
	c.log = accesslog.Entry{}
	c.route = nil
	c.tr, c.retries, c.lc.rs.done = traceState{}, 0, 0
}

// endRequest counts and logs a served request and reports whether the connection stays open (keep, unless the
// server is shutting down).
func (c *conn) endRequest(cfg *Config, keep bool) bool {
	d := c.now().Sub(c.start)
	if c.route != nil {
		c.route.Stats.Observe(c.req.Method, c.log.Status, d)
		if cn := c.route.Canary; cn != nil {
			c.observeCanary(cn, d)
		}
	}
	c.finishLog(cfg, d)
	return keep && !c.srv.closing.Load()
}

func (c *conn) serveRequest(cfg *Config) bool {
	c.resolveClient(cfg) // first: every answer, a 400 or 404 too, is logged with the client it was for
	if c.lc.pre == nil { // else the event loop cleaned the path and matched the route already (loop.servable)
		var err error
		c.path, err = http1.AppendCleanPath(c.path[:0], c.req.Path)
		if err != nil {
			return c.writeError(400, "bad request: "+err.Error(), true)
		}
	}
	rt, ok := c.match(cfg)
	if !ok {
		return c.writeErrorAfterBody(404, "no route for this host and path")
	}
	c.log.Route = rt.Name
	c.route = rt
	if c.accessDenied(rt) {
		return c.refuseAccess()
	}
	// The body limit comes first: a request refused for its size takes no token. A direct response (which never
	// reads the body) is rate limited too.
	if rt.Return == nil && c.bodyTooLarge(rt) {
		return c.refuseBody(rt)
	}
	if c.rateLimited(rt) {
		return c.refuseRate(rt)
	}
	if rt.Return != nil {
		return c.writeReturn(rt.Return)
	}
	if rt.Static != nil {
		return c.serveStatic(cfg, rt)
	}
	return c.forward(cfg, rt)
}

// match finds the route of the current request in its listener's table (HTTP/1.1 and HTTP/2 alike).
func (c *conn) match(cfg *Config) (*Route, bool) {
	if rt := c.lc.pre; rt != nil {
		c.lc.pre = nil // matched already by the event loop (loop.servable)
		return rt, true
	}
	table := cfg.Routes
	if len(cfg.ByListener) > 0 {
		if t, ok := cfg.ByListener[c.listener]; ok {
			table = t
		}
	}
	rt, _, ok := table.Match(c)
	return rt, ok
}

// writeErrorAfterBody answers with an error before reading the request body; the connection stays open only when
// the body is absent (its bytes would otherwise be read as the next request).
func (c *conn) writeErrorAfterBody(status int, reason string) bool {
	closeAfter := c.req.Close || c.req.Framing != http1.FramingNone
	return c.writeError(status, reason, closeAfter)
}

// writeReturn sends a configured response. A templated body is rendered first, at the start of the write buffer,
// because its length goes in the head; the message then follows it in the same buffer and is written at once.
func (c *conn) writeReturn(r *Return) bool {
	closeAfter := c.req.Close || c.req.Framing != http1.FramingNone
	b, body := c.wbuf[:0], r.Body
	if r.BodyTemplate != nil {
		b = r.BodyTemplate.render(b, c)
		body = b
	}
	start := len(b)
	b = appendStatusLine(b, r.Status)
	for _, h := range r.Headers {
		b = appendHeader(b, h[0], h[1])
	}
	for i := range r.Templates {
		h := &r.Templates[i]
		b = append(b, h.Name...)
		b = append(b, ": "...)
		b = h.Value.render(b, c)
		b = append(b, "\r\n"...)
	}
	b = appendContentLength(b, int64(len(body)))
	b = appendConnection(b, c.req.Minor, closeAfter)
	b = append(b, "\r\n"...)
	if !isHead(c.req.Method) {
		if r.BodyTemplate != nil {
			body = b[:start] // b may have moved while growing
		}
		b = append(b, body...)
		c.log.BytesSent = int64(len(body))
	}
	c.wbuf = b[:0]
	c.log.Status = r.Status
	if err := c.send(b[start:]); err != nil {
		return false
	}
	return !closeAfter
}

// The append helpers below each add one complete line, CRLF included.

func appendStatusLine(b []byte, status int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, statusText(status)...)
	return append(b, "\r\n"...)
}

func appendHeader(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

func appendContentLength(b []byte, n int64) []byte {
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, "\r\n"...)
}

// appendConnection adds the Connection header that the response's keep-alive disposition needs, if any.
func appendConnection(b []byte, minor int, closeAfter bool) []byte {
	switch {
	case closeAfter:
		return append(b, "Connection: close\r\n"...)
	case minor == 0:
		return append(b, "Connection: keep-alive\r\n"...)
	}
	return b
}

func isHead(m []byte) bool { return len(m) == 4 && string(m) == "HEAD" }

// finishLog completes the access log entry from the request head (still valid: the head is only overwritten by the
// next read, or was detached) and hands it to the logger.
func (c *conn) finishLog(cfg *Config, d time.Duration) {
	if cfg.Tracer != nil || c.tr.decided {
		c.endTrace(cfg, d) // the span ends with the log line (also for HTTP/2 streams and redirects)
	}
	if cfg.AccessLog == nil {
		return
	}
	e := &c.log
	e.Time = c.start
	e.Duration = d
	e.ClientIP, e.ClientPort = c.remote.Addr(), c.remote.Port()
	e.Method, e.URI, e.Host, e.RequestID = c.req.Method, c.req.URI, c.req.Host, c.requestID
	e.Referer, _ = c.req.Header("Referer")
	e.UserAgent, _ = c.req.Header("User-Agent")
	e.Proto = "HTTP/1.1"
	if c.h2 {
		e.Proto = "HTTP/2.0"
	} else if c.req.Minor == 0 {
		e.Proto = "HTTP/1.0"
	}
	cfg.AccessLog.Log(e)
}
