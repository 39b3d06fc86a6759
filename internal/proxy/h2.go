package proxy

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/fjord-gw/fjord/internal/http1"
)

// HTTP/2 downstream. A connection that negotiates "h2" by ALPN, or starts with the client preface on an h2c listener,
// is handed to golang.org/x/net/http2's server, which owns the framing, flow control, HPACK and the RFC 9113 checks
// (connection-specific headers, CR/LF/NUL in fields, pseudo-header rules: a malformed request is reset, never
// downgraded). Each stream then goes through the same steps as an HTTP/1.1 request: it is given a per-stream conn
// (h2stream.c) whose req is filled from the stream's head, so routing, rate limits, hash keys, header templates, the
// forwarded headers and the upstream request head are built by the same code (route.go, head.go, template.go).

// h2Preface is what an HTTP/2 client sends first (RFC 9113 section 3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// serveH2IfNegotiated serves the connection as HTTP/2 when TLS negotiated h2 or an h2c listener sees the client
// preface, and reports whether it did (the connection is then finished). Otherwise the bytes read while looking stay
// in c.r for the HTTP/1.1 loop.
func (c *conn) serveH2IfNegotiated() bool {
	switch {
	case c.tls != nil:
		if c.tls.ConnectionState().NegotiatedProtocol != "h2" {
			return false
		}
		c.serveH2(c.nc)
		return true
	case c.h2c:
		pre, isH2, err := c.sniffH2C(c.srv.cfg.Load())
		if err != nil {
			return true // closed, timed out or shutting down before a whole request: nothing to answer
		}
		if !isH2 {
			return false
		}
		c.serveH2(&prefixConn{Conn: c.nc, pre: pre})
		return true
	}
	return false
}

// sniffH2C reads the first bytes of a connection until they either differ from the HTTP/2 preface or contain all of
// it. On a match it returns the bytes read (the preface and whatever followed) for the HTTP/2 server to read again.
// The wait is the keep-alive idle wait of a new connection and counts as idle for Shutdown.
func (c *conn) sniffH2C(cfg *Config) (pre []byte, isH2 bool, err error) {
	if err := c.nc.SetReadDeadline(time.Now().Add(cfg.Client.IdleTimeout)); err != nil {
		return nil, false, err
	}
	c.state.Store(stateIdle)
	defer c.state.Store(stateActive)
	if c.srv.closing.Load() {
		return nil, false, errShuttingDown
	}
	c.attachReadBuffer(cfg.Client.MaxHeaderBytes)
	for {
		buf := c.r.Buffered()
		n := min(len(buf), len(h2Preface))
		if string(buf[:n]) != h2Preface[:n] {
			return nil, false, nil
		}
		if n == len(h2Preface) {
			pre = append([]byte(nil), buf...)
			c.r.Discard(len(buf))
			return pre, true, nil
		}
		if err := c.r.Fill(); err != nil {
			return nil, false, err
		}
	}
}

// prefixConn reads pre before the connection's own bytes.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// serveH2 runs the HTTP/2 server on nc until the connection ends, then waits for its stream handlers.
func (c *conn) serveH2(nc net.Conn) {
	c.releaseBuffers()
	cfg := c.srv.cfg.Load()
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return
	}
	// The http.Server is only the hook x/net/http2 uses for graceful shutdown (its RegisterOnShutdown); it never
	// listens. One per connection, so Shutdown reaches exactly the connections that are open.
	hs := &http.Server{ErrorLog: slog.NewLogLogger(c.srv.log.Handler(), slog.LevelDebug)}
	h2s := &http2.Server{
		IdleTimeout:          cfg.Client.IdleTimeout,
		MaxConcurrentStreams: 250,
	}
	hs.MaxHeaderBytes = cfg.Client.MaxHeaderBytes // the same head size limit as HTTP/1.1
	if err := http2.ConfigureServer(hs, h2s); err != nil {
		c.srv.log.Warn("http2 setup failed", "err", err)
		return
	}
	// Stored before the closing check, which pairs with Shutdown's store-then-wake: one of the two sends GOAWAY.
	c.h2base.Store(hs)
	if c.srv.closing.Load() {
		c.shutdownH2(hs)
	}
	h := &h2Handler{conn: c}
	h2s.ServeConn(nc, &http2.ServeConnOpts{BaseConfig: hs, Handler: h})
	h.streams.wait()
}

// shutdownH2 asks an HTTP/2 connection to finish: GOAWAY, streams in flight complete, then it closes. It does not
// block (the http.Server has no listeners or tracked connections of its own to wait for).
func (c *conn) shutdownH2(hs *http.Server) {
	_ = hs.Shutdown(context.Background())
}

// h2Handler serves the streams of one HTTP/2 connection. x/net/http2 calls ServeHTTP on a goroutine per stream.
type h2Handler struct {
	conn    *conn // the client connection (read-only here: scheme, listener, remote address, server)
	streams streamGroup
}

// streamGroup counts running stream handlers so that the connection's goroutine returns only after them.
type streamGroup struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0 while wait is waiting
}

func (g *streamGroup) enter() { g.mu.Lock(); g.n++; g.mu.Unlock() }

func (g *streamGroup) leave() {
	g.mu.Lock()
	g.n--
	if g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
	g.mu.Unlock()
}

func (g *streamGroup) wait() {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	g.idle = ch
	g.mu.Unlock()
	<-ch
}

// h2stream is one HTTP/2 request in flight.
type h2stream struct {
	c    *conn // per-stream view: req, path, requestID, log, buffers; nc is nil
	w    http.ResponseWriter
	r    *http.Request
	grpc bool // content-type application/grpc*: gateway errors are answered as gRPC statuses
	// wroteHead is set once the response head was handed to w: later failures can only reset the stream.
	wroteHead bool
}

func (h *h2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.streams.enter()
	defer h.streams.leave()
	pc := h.conn
	c := &conn{srv: pc.srv, scheme: pc.scheme, listener: pc.listener, remote: pc.remote,
		client: pc.client, peer: pc.peer, h2: true,
		path: make([]byte, 0, 128)}
	c.start = time.Now()
	cfg := c.srv.cfg.Load()
	st := &h2stream{c: c, w: w, r: r, grpc: isGRPC(r.Header.Get("Content-Type"))}
	c.acquireWrite()
	defer func() {
		// Also when the stream is aborted (http.ErrAbortHandler): it is logged and counted like any other.
		d := time.Since(c.start)
		if c.route != nil {
			c.route.Stats.Observe(c.req.Method, c.log.Status, d)
			if cn := c.route.Canary; cn != nil {
				c.observeCanary(cn, d)
			}
		}
		c.finishLog(cfg, d)
		c.releaseBuffers()
	}()
	if reason := c.loadH2Request(r); reason != "" {
		c.requestID = c.newRequestID()
		st.fail(400, "bad request: "+reason, nil)
		return
	}
	c.takeRequestID()
	st.serve(cfg)
}

// loadH2Request fills c.req from an HTTP/2 request head, the way http1.ReadRequest fills it from an HTTP/1.1 one.
// x/net/http2 has already rejected malformed heads (RFC 9113 section 8.2); what is left to refuse is what fjord
// cannot forward. It returns why the request is refused, or "".
func (c *conn) loadH2Request(r *http.Request) string {
	req := &c.req
	*req = http1.Request{Headers: req.Headers[:0], Minor: 1, ContentLength: -1}
	if r.Method == http.MethodConnect {
		return "CONNECT is not supported over HTTP/2"
	}
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' && uri != "*" {
		return "invalid :path " + uri
	}
	req.Method, req.URI, req.Host = []byte(r.Method), []byte(uri), []byte(r.Host)
	req.Path = req.URI
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		req.Path, req.Query = req.URI[:i], req.URI[i+1:]
	}
	_, hasCL := r.Header["Content-Length"]
	for name, vals := range r.Header {
		kind := http1.HeaderNormal
		switch name {
		case "Content-Length":
			kind = http1.HeaderFraming
		case "Te": // only "trailers" is allowed on HTTP/2; it is re-added for HTTP/2 upstreams (see grpc.go)
			kind = http1.HeaderHop
		}
		for _, v := range vals {
			req.Headers = append(req.Headers, http1.Header{Name: []byte(name), Value: []byte(v), Kind: kind})
		}
	}
	switch {
	case r.ContentLength > 0 || r.ContentLength == 0 && (hasCL || bodyMethod(r.Method)):
		req.Framing, req.ContentLength = http1.FramingLength, r.ContentLength
	case r.ContentLength < 0:
		req.Framing = http1.FramingChunked
	}
	return ""
}

// bodyMethod reports whether a method's request normally has a body, so an empty one is still declared upstream.
func bodyMethod(m string) bool { return m == "POST" || m == "PUT" || m == "PATCH" }

// serve routes the stream and applies the route's policies, in the order of conn.serveRequest.
func (st *h2stream) serve(cfg *Config) {
	c := st.c
	c.resolveClient(cfg)
	var err error
	c.path, err = http1.AppendCleanPath(c.path[:0], c.req.Path)
	if err != nil {
		st.fail(400, "bad request: "+err.Error(), nil)
		return
	}
	rt, ok := c.match(cfg)
	if !ok {
		st.fail(404, "no route for this host and path", nil)
		return
	}
	c.log.Route, c.route = rt.Name, rt
	if c.accessDenied(rt) {
		st.fail(403, c.log.Reason, nil)
		return
	}
	if rt.Return == nil && c.bodyTooLarge(rt) {
		st.refuseBody(rt)
		return
	}
	if c.rateLimited(rt) {
		st.fail(429, "rate limited (key "+c.rateKeyText(rt.RateLimit)+")", nil)
		return
	}
	if rt.Return != nil {
		st.writeReturn(rt.Return)
		return
	}
	if rt.Static != nil {
		st.serveStatic(cfg, rt)
		return
	}
	st.forward(cfg, rt)
}

func (st *h2stream) refuseBody(rt *Route) {
	st.fail(413, "request body larger than max_body_bytes ("+itoa(rt.MaxBodyBytes)+")", nil)
}

// writeReturn sends a route's configured response.
func (st *h2stream) writeReturn(r *Return) {
	c := st.c
	h := st.w.Header()
	for _, kv := range r.Headers {
		addH2Header(h, kv[0], kv[1])
	}
	if len(r.Templates) > 0 {
		b := c.wbuf[:0]
		for i := range r.Templates {
			b = appendRendered(b, &r.Templates[i], c)
		}
		addHeaderLines(h, b)
	}
	body := r.Body
	if r.BodyTemplate != nil {
		body = r.BodyTemplate.render(nil, c)
	}
	h.Set("Content-Length", itoa(int64(len(body))))
	st.writeHead(r.Status)
	if st.r.Method != http.MethodHead {
		n, _ := st.w.Write(body)
		c.log.BytesSent = int64(n)
	}
}

func (st *h2stream) writeHead(status int) {
	st.c.log.Status = status
	st.wroteHead = true
	st.w.WriteHeader(status)
}

// connectionSpecific names the header fields that must not appear in an HTTP/2 message (RFC 9113 section 8.2.2).
func connectionSpecific(name string) bool {
	switch strings.ToLower(name) {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// addH2Header adds a header to an HTTP/2 response, leaving out the connection-specific ones.
func addH2Header(h http.Header, name, value string) {
	if !connectionSpecific(name) {
		h.Add(name, value)
	}
}

// addHeaderLines adds the "Name: value\r\n" lines that the HTTP/1.1 append helpers (header ops, templates, rate-limit
// headers) produce, so both protocols render headers with the same code.
func addHeaderLines(h http.Header, b []byte) {
	for len(b) > 0 {
		end := indexByte(b, '\n')
		if end < 0 {
			end = len(b)
		}
		line := b[:end]
		b = b[min(end+1, len(b)):]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if i := indexByte(line, ':'); i > 0 {
			addH2Header(h, string(line[:i]), strings.TrimLeft(string(line[i+1:]), " "))
		}
	}
}
