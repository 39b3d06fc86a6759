package proxy

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// maxConnectTries bounds how many instances one request tries when connecting fails. A failed connect never reached
// the upstream, so trying another instance is safe for every method.
const maxConnectTries = 2

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// forward proxies the current request to rt's service and reports whether the client connection stays open.
func (c *conn) forward(cfg *Config, rt *Route) bool {
	svc := rt.Service
	c.log.Service = svc.Name
	key := c.hashKey(svc)
	inst := svc.Pool.Pick(key)
	if inst == nil {
		return c.gatewayFail(rt, nil, &gatewayError{status: 503, reason: "no usable instance in service " + svc.Name})
	}
	var hard time.Time
	if rt.Timeouts.Total > 0 {
		hard = c.start.Add(rt.Timeouts.Total)
	}
	fresh := false // dial instead of reusing an idle connection (after a stale one failed)
	for tries := 1; ; tries++ {
		var uc *upstream.Conn
		var err error
		c.log.Upstream = inst.Addr
		if fresh {
			uc, err = inst.Dial(context.Background(), rt.Timeouts.Connect)
		} else {
			uc, err = inst.Get(context.Background(), rt.Timeouts.Connect)
		}
		if err != nil {
			var de *upstream.DialError
			if errors.As(err, &de) {
				inst.MarkFailed()
				c.srv.log.Warn("upstream connect failed", "service", svc.Name, "upstream", inst.Addr, "err", err)
				if next := svc.Pool.PickExcept(key, inst); next != nil && tries < maxConnectTries {
					inst = next
					continue
				}
			}
			return c.gatewayFail(rt, inst, classify("connect", err))
		}
		if !uc.Reused {
			inst.MarkUp()
		}
		inst.Begin()
		c.up.Store(uc) // lets a forced Shutdown unblock this exchange (see conn.up)
		keep, retry := c.exchange(cfg, rt, uc, hard)
		c.up.Store(nil)
		inst.End()
		if !retry {
			return keep
		}
		fresh = true
	}
}

// exchange runs one request/response over uc. retry is true when uc was a reused keep-alive connection that the
// upstream had closed before answering and nothing irreversible happened: the caller tries again on a new one.
func (c *conn) exchange(cfg *Config, rt *Route, uc *upstream.Conn, hard time.Time) (keep, retry bool) {
	b := c.appendRequestHead(c.wbuf[:0], rt, uc.Instance())
	inline := c.req.Framing == http1.FramingNone
	if c.req.Framing == http1.FramingLength {
		if body := c.r.Buffered(); int64(len(body)) >= c.req.ContentLength && len(b)+int(c.req.ContentLength) <= cap(b) {
			b = append(b, body[:c.req.ContentLength]...)
			inline = true
		}
	}
	c.wbuf = b[:0]
	// One deadline per exchange in the common case: when the whole request is in b, the response-header deadline
	// also bounds the write. A streamed body gets per-operation idle deadlines instead, then its own head deadline.
	var err error
	if inline {
		err = uc.Set(0, responseHeaderDeadline(rt, hard))
	} else {
		err = uc.Set(rt.Timeouts.Idle, hard)
	}
	if err != nil {
		_ = uc.Close()
		return c.gatewayFail(rt, uc.Instance(), classify("send request", err)), false
	}
	if _, err := uc.Write(b); err != nil {
		_ = uc.Close()
		if uc.Reused && inline {
			return false, true
		}
		return c.gatewayFail(rt, uc.Instance(), classify("send request", err)), false
	}
	if inline {
		if c.req.Framing == http1.FramingLength {
			c.r.Discard(int(c.req.ContentLength))
		}
	} else if ok, keep := c.sendBody(cfg, rt, uc, hard); !ok {
		return keep, false
	} else if err := uc.Set(0, responseHeaderDeadline(rt, hard)); err != nil {
		_ = uc.Close()
		return c.gatewayFail(rt, uc.Instance(), classify("read response", err)), false
	}
	ok, keep, retry := c.readResponseHead(rt, uc, hard, inline)
	if !ok {
		return keep, retry
	}
	if c.resp.Status == 101 {
		return c.tunnel(rt, uc, hard), false
	}
	return c.relayResponse(cfg, rt, uc, hard), false
}

// sendBody streams the request body to the upstream. ok is false when the exchange ended; keep then says whether
// the client connection stays open (never, after a partial body).
func (c *conn) sendBody(cfg *Config, rt *Route, uc *upstream.Conn, hard time.Time) (ok, keep bool) {
	if err := c.detachHead(); err != nil {
		_ = uc.Close()
		return false, c.writeError(400, "bad request: "+err.Error(), true)
	}
	if c.req.Expect100 && c.req.Minor == 1 && len(c.r.Buffered()) == 0 {
		if _, err := c.nc.Write(continue100); err != nil {
			_ = uc.Close()
			return false, false
		}
	}
	_ = c.dc.Set(cfg.Client.BodyIdleTimeout, hard)
	_, err := http1.CopyBody(uc, c.r, c.req.Framing, c.req.ContentLength, c.req.Framing, c.bodyBuf())
	_ = c.dc.Clear()
	if err == nil {
		return true, false
	}
	_ = uc.Close()
	var se *http1.SourceError
	if errors.As(err, &se) {
		var he *http1.Error
		if errors.As(err, &he) {
			return false, c.writeError(he.Status, "bad request body: "+he.Msg, true)
		}
		c.log.Status, c.log.Reason = 499, "client closed while sending the request body: "+err.Error()
		return false, false
	}
	return false, c.gatewayFail(rt, uc.Instance(), classify("send request body", err))
}

// responseHeaderDeadline is when the response head must have arrived, for a request sent now.
func responseHeaderDeadline(rt *Route, hard time.Time) time.Time {
	rh := rt.Timeouts.ResponseHeader
	if rh <= 0 {
		rh = 60 * time.Second
	}
	d := time.Now().Add(rh)
	if !hard.IsZero() && hard.Before(d) {
		d = hard
	}
	return d
}

// readResponseHead reads the upstream's response head (its deadline is already set), passing 1xx interim
// responses on to the client. When ok is false the exchange is over: keep says whether the client connection stays
// open, retry whether to try again on a fresh upstream connection.
func (c *conn) readResponseHead(rt *Route, uc *upstream.Conn, hard time.Time, replayable bool) (ok, keep, retry bool) {
	headReq := isHead(c.req.Method)
	for {
		err := http1.ReadResponse(uc.R, &c.resp, headReq, http1.Limits{})
		if err != nil {
			_ = uc.Close()
			if uc.Reused && replayable && len(uc.R.Buffered()) == 0 && !isTimeout(err) {
				return false, false, true
			}
			return false, c.gatewayFail(rt, uc.Instance(), classify("read response", err)), false
		}
		if c.resp.Status >= 200 || c.resp.Status == 101 {
			return true, false, false
		}
		// Interim response. 100 Continue was already answered by the gateway itself; others (103 Early Hints) go on
		// to HTTP/1.1 clients.
		if c.resp.Status != 100 && c.req.Minor == 1 {
			if _, err := c.nc.Write(uc.R.Buffered()[:c.resp.HeadLen]); err != nil {
				_ = uc.Close()
				return false, false, false
			}
		}
		uc.R.Discard(c.resp.HeadLen)
	}
}

// relayResponse sends the response head and body to the client and settles the upstream connection.
func (c *conn) relayResponse(cfg *Config, rt *Route, uc *upstream.Conn, hard time.Time) bool {
	resp := &c.resp
	// During Shutdown the connection closes after this response, so the response says so.
	out, closeAfter := resp.Framing, c.req.Close || c.srv.closing.Load()
	switch resp.Framing {
	case http1.FramingChunked:
		if c.req.Minor == 0 {
			out, closeAfter = http1.FramingUntilClose, true
		}
	case http1.FramingUntilClose:
		if c.req.Minor == 1 {
			out = http1.FramingChunked
		} else {
			closeAfter = true
		}
	}
	b := c.appendResponseHead(c.wbuf[:0], rt, out, closeAfter)
	c.log.Status = resp.Status
	headLen := resp.HeadLen
	uc.R.Discard(headLen)

	upstreamReusable := !resp.Close && resp.Framing != http1.FramingUntilClose
	remaining := int64(0)
	switch resp.Framing {
	case http1.FramingLength:
		// Send the head and as much of the body as is buffered in one write; the common small response is one
		// read from the upstream and one write to the client.
		buf := uc.R.Buffered()
		n := min(int64(len(buf)), resp.ContentLength, int64(cap(b)-len(b)))
		b = append(b, buf[:n]...)
		uc.R.Discard(int(n))
		remaining = resp.ContentLength - n
		c.log.BytesSent = n
	case http1.FramingNone:
	default:
		remaining = -1
	}
	c.wbuf = b[:0]
	if remaining == 0 && upstreamReusable {
		// The upstream's part is done: hand the connection back before the client write.
		uc.Instance().Put(uc)
		uc = nil
	}
	if _, err := c.nc.Write(b); err != nil {
		if uc != nil {
			_ = uc.Close()
		}
		c.log.Reason = "client write failed: " + err.Error()
		return false
	}
	if uc == nil {
		return !closeAfter
	}
	if remaining == 0 {
		_ = uc.Close()
		return !closeAfter
	}
	_ = uc.Set(rt.Timeouts.Idle, hard)
	_ = c.dc.Set(cfg.Client.BodyIdleTimeout, hard)
	n, err := http1.CopyBody(&c.dc, uc.R, resp.Framing, remaining, out, c.bodyBuf())
	_ = c.dc.Clear()
	c.log.BytesSent += n
	if err != nil {
		_ = uc.Close()
		var de *http1.DestError
		if errors.As(err, &de) {
			c.log.Reason = "client closed during the response body: " + err.Error()
		} else {
			c.log.Reason = classify("read response body", err).reason
			c.srv.log.Warn("upstream failed during response body", "route", rt.Name, "upstream", uc.Instance().Addr,
				"reason", c.log.Reason, "request_id", string(c.requestID))
		}
		return false
	}
	if upstreamReusable {
		uc.Instance().Put(uc)
	} else {
		_ = uc.Close()
	}
	return !closeAfter
}

// gatewayFail answers an upstream failure with its status and logs why.
func (c *conn) gatewayFail(rt *Route, inst *upstream.Instance, ge *gatewayError) bool {
	addr := ""
	if inst != nil {
		addr = inst.Addr
	}
	c.log.Reason = ge.reason
	c.srv.log.Warn("gateway error", "status", ge.status, "reason", ge.reason, "route", rt.Name,
		"upstream", addr, "request_id", string(c.requestID))
	// The request body may be unread (or half read): the connection can only stay open when there was none.
	return c.writeError(ge.status, ge.reason, c.req.Framing != http1.FramingNone)
}

func (c *conn) hashKey(s *Service) uint64 {
	if s.Pool.Policy != balancer.Hash {
		return 0
	}
	switch s.HashFrom {
	case HashHeader:
		v, _ := c.req.Header(s.HashName)
		return balancer.HashKey(v)
	case HashCookie:
		return balancer.HashKey(cookieValue(&c.req, s.HashName))
	}
	a := c.remote.Addr().As16()
	return balancer.HashKey(a[:])
}

// tunnel relays bytes both ways after a 101 Switching Protocols (WebSocket and other upgrades) until either side
// closes or stays silent past the route's idle timeout. The client connection is not reused afterwards.
func (c *conn) tunnel(rt *Route, uc *upstream.Conn, hard time.Time) bool {
	defer uc.Close()
	if c.req.Upgrade == nil {
		c.log.Status = 502
		c.gatewayFail(rt, uc.Instance(), &gatewayError{status: 502, reason: "upstream switched protocols without an upgrade request"})
		return false
	}
	b := c.appendResponseHead(c.wbuf[:0], rt, http1.FramingNone, false)
	uc.R.Discard(c.resp.HeadLen)
	b = append(b, uc.R.Buffered()...)
	uc.R.Discard(len(uc.R.Buffered()))
	c.wbuf = b[:0]
	c.log.Status = 101
	if _, err := c.nc.Write(b); err != nil {
		return false
	}
	idle := rt.Timeouts.Idle
	_ = uc.Set(idle, hard)
	_ = c.dc.Set(idle, hard)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(uc, c.r) // client -> upstream, starting with bytes the client sent early
		_ = uc.Close()
	}()
	n, _ := io.Copy(&c.dc, uc.R)
	c.log.BytesSent += n
	_ = c.nc.Close()
	_ = uc.Close()
	<-done
	return false
}
