package proxy

import (
	"io"
	"net/http"
	"os"
	"time"

	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/static"
)

// Static routes answer from files (internal/static decides what; this file writes it). Serving blocks on the file
// system, so the event loops never run it: loop.servable hands these requests to a goroutine, where the body moves
// with sendfile(2) on plain TCP connections (net.TCPConn.ReadFrom of an *os.File) and with a buffered copy on TLS.

// staticInline is the largest file body copied into the write buffer behind its head, so that a small file costs
// one write; larger ones are sent with sendfile after the head.
const staticInline = 16 << 10

// staticRequest is the view of the current request that internal/static reads.
func (c *conn) staticRequest() *static.Request {
	h := func(name string) string {
		v, _ := c.req.Header(name)
		return string(v)
	}
	return &static.Request{
		Method:          string(c.req.Method),
		Path:            string(c.path),
		Query:           string(c.req.Query),
		IfNoneMatch:     h("If-None-Match"),
		IfModifiedSince: h("If-Modified-Since"),
		IfRange:         h("If-Range"),
		Range:           h("Range"),
		AcceptEncoding:  h("Accept-Encoding"),
	}
}

// staticError reports whether a result is answered with fjord's own error body (a status without a file whose
// headers, if any, do not matter to the client).
func staticError(res *static.Result) bool {
	return res.File == nil && res.Status >= 400 && res.Status != 405 && res.Status != 416
}

// serveStatic answers a static route's request over HTTP/1.1 and reports whether the connection stays open. It
// blocks on file I/O and must not run on an event loop.
func (c *conn) serveStatic(cfg *Config, rt *Route) bool {
	res := rt.Static.Serve(c.staticRequest())
	if res.Fallback {
		if fb := rt.StaticFallback; fb != nil {
			return c.forward(cfg, fb)
		}
		res.Status, res.Reason = 404, "static: no file and no fallback route"
	}
	// The request body, if any, is never read: its bytes would be taken for the next request.
	closeAfter := c.req.Close || c.req.Framing != http1.FramingNone
	if res.File != nil {
		defer res.File.Close()
	}
	if staticError(&res) {
		return c.writeError(res.Status, res.Reason, closeAfter)
	}
	c.log.Status, c.log.Reason = res.Status, res.Reason
	b := appendStatusLine(c.wbuf[:0], res.Status)
	for _, h := range res.Header {
		if !rt.Response.drops([]byte(h[0])) {
			b = appendHeader(b, h[0], h[1])
		}
	}
	b = rt.Response.appendOps(b, c)
	if res.Status != 304 {
		b = appendContentLength(b, res.Length)
	}
	b = appendConnection(b, c.req.Minor, closeAfter)
	b = append(b, "\r\n"...)
	body := res.File != nil && !isHead(c.req.Method) && res.Length > 0
	inline := body && res.Length <= staticInline && int64(cap(b)-len(b)) >= res.Length
	if inline {
		n, err := res.File.ReadAt(b[len(b):len(b)+int(res.Length)], res.Offset)
		if int64(n) != res.Length {
			c.log.Reason = "static: read " + res.File.Name() + ": " + errText(err)
			return c.writeError(500, c.log.Reason, true)
		}
		b = b[:len(b)+n]
	}
	c.wbuf = b[:0]
	deadline := time.Now().Add(cfg.Client.BodyIdleTimeout)
	if c.nc != nil {
		_ = c.nc.SetWriteDeadline(deadline)
		defer c.nc.SetWriteDeadline(time.Time{})
	}
	if err := c.send(b); err != nil {
		return false
	}
	if inline {
		c.log.BytesSent = res.Length
		return !closeAfter
	}
	if body {
		n, err := c.sendFile(cfg, res.File, res.Offset, res.Length)
		c.log.BytesSent = n
		if err != nil {
			c.log.Reason = "static: send " + res.File.Name() + ": " + err.Error()
			return false
		}
	}
	return !closeAfter
}

// sendFile writes n bytes of f from off to the client. On a *net.TCPConn io.Copy reaches TCPConn.ReadFrom, which
// uses sendfile(2) for an *os.File behind an io.LimitedReader: the bytes never enter the process. Each chunk must
// complete within the body idle timeout.
func (c *conn) sendFile(cfg *Config, f *os.File, off, n int64) (int64, error) {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	var done int64
	for done < n {
		if err := c.nc.SetWriteDeadline(time.Now().Add(cfg.Client.BodyIdleTimeout)); err != nil {
			return done, err
		}
		m, err := io.Copy(c.nc, &io.LimitedReader{R: f, N: min(n-done, spliceChunk)})
		done += m
		if err != nil {
			return done, err
		}
		if m == 0 {
			return done, io.ErrUnexpectedEOF // the file shrank under us
		}
	}
	return done, nil
}

func errText(err error) string {
	if err == nil {
		return "short read"
	}
	return err.Error()
}

// serveStatic answers a static route's request on an HTTP/2 stream.
func (st *h2stream) serveStatic(cfg *Config, rt *Route) {
	c := st.c
	res := rt.Static.Serve(c.staticRequest())
	if res.Fallback {
		if fb := rt.StaticFallback; fb != nil {
			st.forward(cfg, fb)
			return
		}
		res.Status, res.Reason = 404, "static: no file and no fallback route"
	}
	if res.File != nil {
		defer res.File.Close()
	}
	if staticError(&res) {
		st.fail(res.Status, res.Reason, nil)
		return
	}
	c.log.Reason = res.Reason
	h := st.w.Header()
	for _, kv := range res.Header {
		if !rt.Response.drops([]byte(kv[0])) {
			addH2Header(h, kv[0], kv[1])
		}
	}
	addHeaderLines(h, rt.Response.appendOps(c.wbuf[:0], c))
	if res.Status != 304 {
		h.Set("Content-Length", itoa(res.Length))
	}
	st.writeHead(res.Status)
	if res.File == nil || st.r.Method == http.MethodHead || res.Length == 0 {
		return
	}
	n, _ := io.Copy(st.w, io.NewSectionReader(res.File, res.Offset, res.Length))
	c.log.BytesSent = n
}
