package proxy

import (
	"errors"
	"io"
	"time"

	"github.com/fjord-gw/fjord/internal/compress"
	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// The response's way back: relayed to the client (both engines), or a two-way tunnel after a 101.

// relayResponse sends the response head and body to the client and settles the upstream connection.
func (c *conn) relayResponse(cfg *Config, rt *Route, uc *upstream.Conn, hard time.Time) bool {
	rl, ok := c.relayHead(rt, uc)
	if !ok {
		return false
	}
	if rl.uc == nil {
		return !rl.closeAfter
	}
	return c.relayBody(cfg, rt, &rl, hard)
}

// relay is a response whose head went to the client and whose body is still to come.
type relay struct {
	uc         *upstream.Conn    // nil once the upstream's part is over and the connection was released
	out        http1.Framing     // framing towards the client
	remaining  int64             // body bytes still to come with FramingLength; -1 for other framings
	reusable   bool              // the upstream connection can be pooled once the body is read
	closeAfter bool              // the client connection closes after this response
	enc        compress.Encoding // the body is compressed with enc on its way (compress.go); None: as is
}

// relayHead sends the response head to the client, with as much of the body as is buffered, in one write; the
// common small response is one read from the upstream and one write to the client. A connection whose part is over
// is released first (it goes back to its pool before the client write).
func (c *conn) relayHead(rt *Route, uc *upstream.Conn) (relay, bool) {
	rl, b := c.startRelay(rt, uc)
	return rl, c.sendHead(&rl, b)
}

// startRelay decides how the response is relayed and returns the head (with as much of a body of known length as is
// buffered) to send; the event loop adds the first chunks of a chunked body to it.
func (c *conn) startRelay(rt *Route, uc *upstream.Conn) (relay, []byte) {
	resp := &c.resp
	if rt.Shadow != nil {
		c.mirror(rt.Shadow, rt, uc)
	}
	// During Shutdown the connection closes after this response, so the response says so.
	rl := relay{uc: uc, out: resp.Framing, closeAfter: c.req.Close || c.srv.closing.Load(),
		reusable: !resp.Close && resp.Framing != http1.FramingUntilClose}
	switch resp.Framing {
	case http1.FramingChunked:
		if c.req.Minor == 0 {
			rl.out, rl.closeAfter = http1.FramingUntilClose, true
		}
	case http1.FramingUntilClose:
		if c.req.Minor == 1 {
			rl.out = http1.FramingChunked
		} else {
			rl.closeAfter = true
		}
	}
	if rt.Compress != nil {
		c.renc, c.rvary = c.chooseEncoding(rt)
		rl.enc = c.renc
		if rl.enc != compress.None && c.req.Minor == 1 {
			rl.out = http1.FramingChunked // the compressed length is known only at the end
		} else if rl.enc != compress.None {
			rl.out, rl.closeAfter = http1.FramingUntilClose, true
		}
	}
	b := c.appendResponseHead(c.wbuf[:0], rt, rl.out, rl.closeAfter)
	c.renc, c.rvary = compress.None, false
	c.log.Status = resp.Status
	uc.R.Discard(resp.HeadLen)
	switch {
	case rl.enc != compress.None: // the whole body goes through the encoder
		rl.remaining = resp.ContentLength
		if resp.Framing != http1.FramingLength {
			rl.remaining = -1
		}
	case resp.Framing == http1.FramingLength:
		buf := uc.R.Buffered()
		n := min(int64(len(buf)), resp.ContentLength, int64(cap(b)-len(b)))
		b = append(b, buf[:n]...)
		uc.R.Discard(int(n))
		rl.remaining = resp.ContentLength - n
		c.log.BytesSent = n
	case resp.Framing == http1.FramingNone:
	default:
		rl.remaining = -1
	}
	c.wbuf = b[:0]
	if rl.remaining == 0 {
		c.releaseUp(uc, rl.reusable)
		rl.uc = nil
	}
	return rl, b
}

// sendHead writes what startRelay prepared; false when the client is gone (the upstream connection is then closed).
func (c *conn) sendHead(rl *relay, b []byte) bool {
	if err := c.send(b); err != nil {
		if rl.uc != nil {
			c.releaseUp(rl.uc, false)
		}
		c.log.Reason = "client write failed: " + err.Error()
		return false
	}
	return true
}

// relayBody streams the rest of a response body to the client (socket to socket with splice where it can) and
// settles the upstream connection.
func (c *conn) relayBody(cfg *Config, rt *Route, rl *relay, hard time.Time) bool {
	uc, resp := rl.uc, &c.resp
	var n int64
	var err error
	if rl.enc != compress.None {
		_ = uc.Set(rt.Timeouts.Idle, hard)
		_ = c.dc.Set(cfg.Client.BodyIdleTimeout, hard)
		n, err = c.compressBody(rt, rl)
		_ = c.dc.Clear()
	} else if dst, src, ok := spliceable(c.nc, uc.Conn.Conn); ok && rl.out == http1.FramingLength && resp.Framing == http1.FramingLength &&
		rl.remaining >= spliceMin && len(uc.R.Buffered()) == 0 {
		n, err = splice(dst, src, rl.remaining, minPositive(rt.Timeouts.Idle, cfg.Client.BodyIdleTimeout), hard)
		_ = c.nc.SetWriteDeadline(time.Time{})
		if err != nil && !isTimeout(err) {
			err = &http1.DestError{Err: err} // splice cannot tell which side broke; a reset client is the common case
		}
	} else {
		_ = uc.Set(rt.Timeouts.Idle, hard)
		_ = c.dc.Set(cfg.Client.BodyIdleTimeout, hard)
		n, err = http1.CopyBody(&c.dc, uc.R, resp.Framing, rl.remaining, rl.out, c.bodyBuf())
		_ = c.dc.Clear()
	}
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
	c.releaseUp(uc, rl.reusable)
	return !rl.closeAfter
}

// releaseUp ends the exchange's use of an upstream connection: back to its pool when reusable, else closed. A
// connection of an event loop goes back to that loop.
func (c *conn) releaseUp(uc *upstream.Conn, reusable bool) {
	if c.lc.inLoop && c.lc.up != nil && c.lc.up.uc == uc {
		c.lc.lp.releaseUp(c, reusable)
		return
	}
	if c.lc.lent != nil && c.lc.lent.uc == uc {
		c.lc.lentKeep = reusable // the loop takes it back with the client connection (loop.takeBack)
		return
	}
	if reusable {
		uc.Instance().Put(uc)
	} else {
		_ = uc.Close()
	}
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
