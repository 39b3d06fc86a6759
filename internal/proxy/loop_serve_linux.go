//go:build linux

package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/fjord-gw/fjord/internal/compress"
	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// This file is the request path of an event loop. It runs the same steps as the goroutine engine (handle.go,
// forward.go), mostly by calling them: only the waits differ. Where the goroutine engine blocks, the loop records
// the phase and returns; the next epoll event for the connection or its upstream continues from there.

// serveNext reads and serves requests on c until one has to wait for the client, an upstream or a goroutine, or c
// closes.
func (l *loop) serveNext(c *conn) {
	for c.lc.slot != 0 {
		cfg := l.srv.cfg.Load()
		if !l.readRequest(c, cfg) || !l.serve(c, cfg) {
			return
		}
	}
}

// readRequest reads and parses the next request head, reporting whether one is ready. It waits (returns false)
// when the socket has no more data, and closes c on EOF or a bad request.
func (l *loop) readRequest(c *conn, cfg *Config) bool {
	if c.lc.phase != lcHead {
		c.detached = false
		if len(c.r.Buffered()) == 0 {
			if l.closing || l.srv.closing.Load() {
				l.closeConn(c)
				return false
			}
			if !c.lc.src.ready {
				l.idle(c, cfg)
				return false
			}
			c.attachReadBuffer(cfg.Client.MaxHeaderBytes)
			if err := c.r.Fill(); err != nil {
				if err == errWouldBlock {
					l.idle(c, cfg)
				} else {
					l.closeConn(c) // closed or reset between requests
				}
				return false
			}
		}
		c.acquireWrite()
		c.start = l.clock
		c.lc.phase, c.lc.closing = lcHead, false
		c.lc.deadline = c.start.UnixNano() + int64(cfg.Client.ReadHeaderTimeout)
	}
	err := http1.ReadRequest(c.r, &c.req, http1.Limits{})
	if err == errWouldBlock {
		return false
	}
	if err != nil {
		c.readFailed(err)
		l.closeAfter(c)
		return false
	}
	c.head = c.r.Buffered()[:c.req.HeadLen]
	c.r.Discard(c.req.HeadLen)
	c.lc.deadline = 0
	return true
}

// idle waits for the next request without holding buffers.
func (l *loop) idle(c *conn, cfg *Config) {
	c.releaseBuffers()
	c.lc.phase = lcIdle
	c.lc.deadline = l.now + int64(cfg.Client.IdleTimeout)
}

// serve serves the request just read and reports whether c is ready for the next one now; false when the request
// goes on asynchronously (an upstream exchange, or a goroutine) or c closed.
func (l *loop) serve(c *conn, cfg *Config) bool {
	if !l.servable(c, cfg) {
		l.handOff(c, cfg)
		return false
	}
	if rt := c.lc.pre; rt != nil && rt.Return == nil {
		switch {
		case c.req.Framing == http1.FramingChunked:
			if len(c.r.Buffered())+http1.MaxChunkHeader > maxLoopBody {
				l.handOff(c, cfg) // more came with the head than the loop keeps (max_header_bytes over 64 KiB)
			} else {
				l.startChunked(c, cfg)
			}
			return false
		case c.req.Framing == http1.FramingLength && int64(len(c.r.Buffered())) < c.req.ContentLength:
			l.startCollect(c, cfg)
			return false
		}
	}
	return l.serveNow(c, cfg)
}

// serveNow serves a request whose head (and body, if any) is in: like serve, true when c is ready for the next one.
func (l *loop) serveNow(c *conn, cfg *Config) bool {
	c.beginRequest()
	keep := c.serveRequest(cfg)
	if c.lc.phase != lcHead {
		return false // forward started an exchange or handed the request to a goroutine
	}
	return l.complete(c, cfg, keep)
}

// servable reports whether the loop can serve the current request without blocking: its body, if any, is already
// in the buffer and small, it is no upgrade, and its route is a direct response or a plain HTTP/1.1 service. It has
// no side effects, so that a request it turns down is served by a goroutine from the start.
func (l *loop) servable(c *conn, cfg *Config) bool {
	req := &c.req
	if req.Upgrade != nil || req.Expect100 {
		return false
	}
	chunked := false
	switch req.Framing {
	case http1.FramingNone:
	case http1.FramingLength:
		if req.ContentLength > maxLoopBody {
			return false // streamed by a goroutine
		}
	case http1.FramingChunked:
		// Taken in here only when it goes to a service (startChunked); the answers the loop writes itself (400, 404,
		// a direct response) leave a chunked body to a goroutine, which reads past it.
		chunked = true
	default:
		return false
	}
	var err error
	if c.path, err = http1.AppendCleanPath(c.path[:0], req.Path); err != nil {
		return !chunked // a 400, written at once
	}
	rt, ok := c.match(cfg)
	switch {
	case !ok:
		return !chunked // a 404
	case rt.Return != nil:
		if chunked {
			return false
		}
	case rt.Static != nil:
		return false // file I/O blocks
	case c.bodyTooLarge(rt):
		return false // the 413 lingers to let the client read it
	case rt.Service.Protocol != ProtoHTTP1 || !loopable(rt.Service):
		return false
	case rt.Canary != nil && (rt.Canary.Route.Service.Protocol != ProtoHTTP1 || !loopable(rt.Canary.Route.Service)):
		return false // the canary's side may need a goroutine
	}
	c.lc.pre = rt
	return true
}

// loopable reports whether the loop can talk to a service's instances itself (plain TCP; TLS needs a goroutine).
func loopable(svc *Service) bool {
	ins := svc.Pool.Instances()
	return len(ins) == 0 || ins[0].Plain()
}

// complete ends a request: it is counted and logged, and c either waits for the rest of the response to drain,
// closes, or is ready for the next request (true).
func (l *loop) complete(c *conn, cfg *Config, keep bool) bool {
	c.discardInlineBody() // a collected body that no exchange used (a request refused before it started)
	keep = c.endRequest(cfg, keep)
	if len(c.lc.pending) > 0 {
		c.lc.phase, c.lc.closing = lcFlush, !keep
		c.lc.deadline = l.now + int64(cfg.Client.BodyIdleTimeout)
		return false
	}
	if !keep {
		l.closeConn(c)
		return false
	}
	c.lc.phase = lcIdle
	return true
}

// closeAfter closes c once its pending output is written.
func (l *loop) closeAfter(c *conn) {
	if len(c.lc.pending) == 0 {
		l.closeConn(c)
		return
	}
	c.lc.phase, c.lc.closing = lcFlush, true
	c.lc.deadline = l.now + int64(l.srv.cfg.Load().Client.BodyIdleTimeout)
}

// away gives c to a goroutine until it posts c back (msgBack). The goroutine uses the socket through an fdConn,
// whose waits the loop's events end.
func (l *loop) away(c *conn) {
	if c.lc.fc == nil {
		if c.lc.addrs[1] == nil {
			c.lc.addrs[1] = net.TCPAddrFromAddrPort(c.peer)
		}
		c.lc.fc = newFDConn(c.lc.fd, c.lc.addrs[0], c.lc.addrs[1])
	}
	c.nc = c.lc.fc
	c.dc.Conn = c.nc
	c.lc.phase, c.lc.inLoop, c.lc.deadline, c.lc.pre = lcAway, false, 0, nil
	c.lc.away.Store(true)
	c.r.SetSource(&c.dc)
	_ = c.nc.SetDeadline(time.Time{})
}

// handOff serves the whole current request in a goroutine, exactly as the goroutine engine would.
func (l *loop) handOff(c *conn, cfg *Config) {
	l.away(c)
	l.serveAway(c, cfg)
}

// serveAway serves c's current request in a goroutine with the goroutine engine's code; c was given away (away).
func (l *loop) serveAway(c *conn, cfg *Config) {
	go func() {
		keep := c.handle(cfg)
		l.post(loopMsg{kind: msgBack, c: c, keep: keep})
	}()
}

// forward is conn.forward for a connection the loop serves: it takes the service's slot without waiting and
// starts the first attempt. A full bulkhead hands the request to a goroutine, which queues for a slot.
func (l *loop) forward(c *conn, cfg *Config, rt *Route) bool {
	svc := rt.Service
	if svc.Limiter != nil && !svc.Limiter.TryAcquire() {
		l.away(c)
		go func() {
			keep := c.endRequest(cfg, c.forward(cfg, rt))
			l.post(loopMsg{kind: msgBack, c: c, keep: keep})
		}()
		return false
	}
	c.lc.limited = svc.Limiter != nil
	c.lc.rt, c.lc.cfg = rt, cfg
	c.log.Service = svc.Name
	if b := svc.Retry.Budget; b != nil {
		b.Request()
	}
	key := c.hashKey(svc)
	inst, ge := pickInstance(svc, key)
	if ge != nil {
		l.endExchange(c)
		return c.gatewayFail(rt, nil, ge)
	}
	c.lc.hard = time.Time{}
	if rt.Timeouts.Total > 0 {
		c.lc.hard = c.start.Add(rt.Timeouts.Total)
	}
	c.inlineBody = c.bufferedBody(maxLoopBody) // collected (collectBody, collectChunked), or in the read buffer
	c.lc.rs = retrier{svc: svc, key: key, left: svc.Retry.Attempts, idempotent: idempotent(c.req.Method),
		replayable: true}
	l.attempt(c, inst, false)
	return false
}

// attempt starts one try on inst, over an idle connection when there is one (unless fresh), else after a dial in
// a goroutine (msgDialed).
func (l *loop) attempt(c *conn, inst *upstream.Instance, fresh bool) {
	c.log.Upstream = inst.Addr
	c.lc.inst = inst
	if !fresh {
		if u := l.popIdle(inst); u != nil {
			l.send(c, u)
			return
		}
	}
	c.lc.phase, c.lc.deadline = lcConnect, 0 // Dial bounds itself by the connect timeout
	connect := c.lc.rt.Timeouts.Connect
	go func() {
		uc, err := inst.Dial(context.Background(), connect)
		l.post(loopMsg{kind: msgDialed, c: c, uc: uc, err: err})
	}()
}

func (l *loop) dialed(c *conn, uc *upstream.Conn, err error) {
	if c.lc.slot == 0 || c.lc.phase != lcConnect {
		if uc != nil {
			_ = uc.Close() // the client went away meanwhile (forced shutdown)
		}
		return
	}
	rt, inst := c.lc.rt, c.lc.inst
	if err != nil {
		var de *upstream.DialError
		if errors.As(err, &de) {
			inst.MarkFailed()
			c.report(rt, inst, false)
			l.srv.log.Warn("upstream connect failed", "service", rt.Service.Name, "upstream", inst.Addr, "err", err)
			if c.lc.rs.allow(failConnect, 0, inst) {
				l.attempt(c, c.lc.rs.next, false)
				return
			}
		}
		l.finish(c, c.gatewayFail(rt, inst, classify("connect", err).after(c.lc.rs.done)))
		return
	}
	inst.MarkUp()
	rt.Service.observeConnect(uc)
	u, err := l.registerUp(uc)
	if err != nil {
		_ = uc.Close()
		l.finish(c, c.gatewayFail(rt, inst, classify("connect", err)))
		return
	}
	l.send(c, u)
}

// send writes the request head (and its small body) to the upstream in one write.
func (l *loop) send(c *conn, u *loopUp) {
	inst := u.uc.Instance()
	inst.Begin()
	c.lc.begun = true
	c.lc.up, u.c = u, c
	b := c.appendRequestHead(c.wbuf[:0], c.lc.rt, inst)
	c.lc.outBody = nil
	if len(c.inlineBody) <= cap(b)-len(b) {
		b = append(b, c.inlineBody...)
	} else {
		c.lc.outBody = c.inlineBody // written with the head by one sendmsg, rather than copied into a larger buffer
	}
	c.wbuf = b[:0]
	c.lc.out, c.lc.sent = b, 0
	c.lc.sentAt = l.clock
	c.lc.phase = lcSend
	c.lc.deadline = headerDeadlineFrom(c.lc.rt, c.lc.hard, c.lc.sentAt).UnixNano()
	l.writeUp(c)
}

func (l *loop) writeUp(c *conn) {
	u := c.lc.up
	for {
		rest := len(c.lc.out) - c.lc.sent
		if rest == 0 {
			if len(c.lc.outBody) == 0 {
				break
			}
			c.lc.out, c.lc.outBody, c.lc.sent = c.lc.outBody, nil, 0
			continue
		}
		var n int
		var err error
		if len(c.lc.outBody) > 0 {
			n, err = writeFD2(u.fd, c.lc.out[c.lc.sent:], c.lc.outBody) // head and body in one system call
		} else {
			n, err = writeFD(u.fd, c.lc.out[c.lc.sent:])
		}
		if err == errWouldBlock {
			if err = u.fc.armOut(); err == nil {
				return // EPOLLOUT goes on
			}
		}
		if err != nil {
			l.upFailed(c, "send request", err)
			return
		}
		c.lc.out, c.lc.outBody, c.lc.sent = advanceOut(c.lc.out, c.lc.outBody, c.lc.sent, n)
	}
	c.lc.out = nil
	c.lc.phase = lcWait
	if u.src.ready {
		l.readUp(c)
	}
}

// advanceOut accounts for n more bytes written of out[sent:] followed by body (writeFD2 may end inside either) and
// returns what is left to write: out and body again, or the body alone once out is done.
func advanceOut(out, body []byte, sent, n int) ([]byte, []byte, int) {
	if rest := len(out) - sent; n > rest {
		return body, nil, n - rest
	}
	return out, body, sent + n
}

// readUp reads the response head, and a body that fits the read buffer, before anything goes to the client: the
// common small response then costs one read from the upstream and one write to the client.
func (l *loop) readUp(c *conn) {
	u := c.lc.up
	for {
		err := c.readResponseHead(u.uc)
		if err == nil {
			// A body still arriving is read on if the socket has more now (then head and body go out in one
			// write); otherwise the head goes out at once and the body follows as it comes (relayUp).
			if !bodyIncomplete(&c.resp, u.uc.R) || !u.src.ready {
				break
			}
			if err = u.uc.R.Fill(); err == nil {
				continue
			}
		}
		if errors.Is(err, errWouldBlock) {
			return
		}
		l.upFailed(c, "read response", err)
		return
	}
	l.gotResponse(c)
}

// bodyIncomplete reports whether a response's body of known length, small enough to sit in r with its head, has not
// fully arrived yet.
func bodyIncomplete(resp *http1.Response, r *http1.Reader) bool {
	if resp.Framing != http1.FramingLength {
		return false
	}
	have := int64(len(r.Buffered()) - resp.HeadLen)
	return have < resp.ContentLength && int64(resp.HeadLen)+resp.ContentLength <= int64(r.Size())
}

// upFailed ends an attempt that broke before its response head: a stale keep-alive connection is retried on a fresh
// one; other failures are retried elsewhere when the policy allows, else answered (see conn.attemptFailed).
func (l *loop) upFailed(c *conn, stage string, err error) {
	u := c.lc.up
	c.lc.up = nil
	reused, buffered := u.uc.Reused, len(u.uc.R.Buffered())
	l.closeUp(u)
	l.endAttempt(c)
	var gone *clientGoneError
	if errors.As(err, &gone) {
		c.log.Reason = gone.Error()
		l.finish(c, false)
		return
	}
	inst := c.lc.inst
	if reused && buffered == 0 && !isTimeout(err) {
		l.attempt(c, inst, true)
		return
	}
	kind := failReset
	if isTimeout(err) {
		kind = failTimeout
	}
	how, keep := c.attemptFailed(c.lc.rt, inst, &c.lc.rs, kind, stage, err)
	if how == attemptRetry {
		l.attempt(c, c.lc.rs.next, false)
		return
	}
	l.finish(c, keep)
}

// gotResponse has a response head (and a small body) in the upstream's buffer: it is retried, refused or relayed as
// exchange would; a body still to come is relayed by a goroutine.
func (l *loop) gotResponse(c *conn) {
	u, rt, inst := c.lc.up, c.lc.rt, c.lc.inst
	rt.Service.observeHeader(c.lc.sentAt, l.clock)
	status := c.resp.Status
	c.report(rt, inst, !rt.Service.FailureStatuses.Has(status))
	if status >= 500 && c.lc.rs.allow(failStatus, status, inst) {
		c.lc.up = nil
		l.closeUp(u)
		l.endAttempt(c)
		l.srv.log.Info("retrying on another instance", "route", rt.Name, "upstream", inst.Addr, "status", status,
			"next", c.lc.rs.next.Addr, "request_id", string(c.requestID))
		l.attempt(c, c.lc.rs.next, false)
		return
	}
	c.lc.deadline = 0
	if status == 101 {
		c.lc.up = nil
		l.closeUp(u)
		c.gatewayFail(rt, inst, &gatewayError{status: 502, reason: "upstream switched protocols without an upgrade request"})
		l.finish(c, false)
		return
	}
	rl, b := c.startRelay(rt, u.uc)
	if rl.uc != nil && rl.enc == compress.None && c.resp.Framing == http1.FramingChunked {
		// Decoded and re-framed here: the first chunks go out with the head, in the same write.
		c.lc.rl = rl
		c.lc.chunk.Reset(rl.out == http1.FramingChunked)
		c.lc.phase = lcBody
		l.relayChunked(c, b)
		return
	}
	ok := c.sendHead(&rl, b)
	if !ok || rl.uc == nil {
		l.finish(c, ok && !rl.closeAfter)
		return
	}
	// A compressed body (rl.enc) is never relayed here: compressing would stall the loop's other connections.
	if rl.enc == compress.None && rl.out == http1.FramingLength && c.resp.Framing == http1.FramingLength && rl.remaining < spliceMin {
		c.lc.rl = rl
		c.lc.phase = lcBody
		c.lc.deadline = l.now + int64(bodyIdle(rt, c.lc.cfg))
		l.relayUp(c)
		return
	}
	l.handOffRelay(c, rl)
}

// maxLoopBody is the largest request body of known length an event loop takes in before it starts the exchange;
// larger ones are streamed by a goroutine. Taking the whole body first, as nginx does with proxy_request_buffering,
// keeps a slow upload from holding an upstream connection and a slot of the service's bulkhead while it trickles in,
// and makes the request replayable on another instance (the body is sent with the head and kept until the exchange
// ends).
const maxLoopBody = maxUploadBuffer

// startChunked begins taking in a chunked request body, as startCollect does one of known length: decoded and
// re-encoded (the canonical chunked form a goroutine's CopyBody sends, trailers included) into a body buffer, which
// then goes upstream with the head in one write and stays for a replay. A body that turns out longer than the loop
// keeps, or over the route's max_body_bytes, is handed to a goroutine from its start (handOffChunked).
func (l *loop) startChunked(c *conn, cfg *Config) {
	// The canonical form is never longer than what it re-encodes, so a buffer of the buffered size holds what came
	// with the head; collectChunked trades it for a larger one when more must be read.
	c.lc.body = c.srv.uploadBufs.get(int64(len(c.r.Buffered()) + http1.MaxChunkHeader))
	c.lc.bodyN = 0
	c.lc.chunk.Reset(true)
	l.beginBodyIn(c, cfg, len(c.r.Buffered()))
	l.collectChunked(c)
}

// collectChunked decodes what the read buffer holds of the chunked body being collected and reads more until the
// body is complete, then serves the request. The parsed head lives in the read buffer until the first read for the
// body, which detaches it (a copy) so that the buffer can take the body's bytes; bytes read past the body stay
// there for the next request, as with any pipelined request.
func (l *loop) collectChunked(c *conn) {
	cfg := l.srv.cfg.Load()
	rt := c.lc.pre
	for {
		out, n, err := c.lc.chunk.Decode(c.lc.body.b[:c.lc.bodyN], c.r.Buffered())
		c.r.Discard(n)
		c.lc.bodyN = len(out)
		switch {
		case err != nil, rt.MaxBodyBytes > 0 && c.lc.chunk.Payload() > rt.MaxBodyBytes:
			// A goroutine streams it up to the same fault and answers as it does for any streamed body (a 400, or a
			// 413 at max_body_bytes), so that both engines behave alike.
			l.handOffChunked(c, cfg)
			return
		case c.lc.chunk.Done():
			l.bodyCollected(c, cfg)
			return
		}
		// The next read may fill the read buffer; the body buffer must hold all of it re-encoded, so that Decode
		// never stops for room and what stays in the read buffer is only the start of a line.
		if need := c.lc.bodyN + c.r.Size() + http1.MaxChunkHeader; need > len(c.lc.body.b) {
			if need > maxLoopBody {
				l.handOffChunked(c, cfg)
				return
			}
			bigger := c.srv.uploadBufs.get(int64(need))
			copy(bigger.b, c.lc.body.b[:c.lc.bodyN])
			c.srv.uploadBufs.put(c.lc.body)
			c.lc.body = bigger
		}
		if !c.lc.src.ready {
			break
		}
		if !c.detached {
			if c.detachHead() != nil {
				l.handOffChunked(c, cfg)
				return
			}
		}
		before := len(c.r.Buffered())
		if err := c.r.Fill(); err != nil {
			if err == errWouldBlock {
				break
			}
			if err == http1.ErrBufferFull { // a chunk-size or trailer line longer than the read buffer: a 400
				l.handOffChunked(c, cfg)
				return
			}
			c.discardInlineBody()
			l.closeConn(c) // EOF or reset: the client is gone, and nothing was sent upstream
			return
		}
		c.lc.bodyGot += int64(len(c.r.Buffered()) - before)
		c.lc.bodyLast = l.now
	}
	l.waitBodyIn(c, cfg)
}

// handOffChunked gives a chunked request body that the loop will not keep, with its request, to a goroutine, which
// streams it from its start as it would have from the socket: what was decoded so far (already in canonical form),
// then what the read buffer holds (the start of a line, or the bytes from a fault on: collectChunked never reads
// past what it can decode), then the socket. The head stays where it is in the read buffer if it was not detached
// yet, and the goroutine detaches it before it reads the body.
func (l *loop) handOffChunked(c *conn, cfg *Config) {
	rest := append([]byte(nil), c.r.Buffered()...)
	c.r.Discard(len(rest))
	rc := &replayConn{pool: &c.srv.uploadBufs, buf: c.lc.body, prefix: c.lc.body.b[:c.lc.bodyN], rest: rest}
	if c.lc.bodyN == 0 { // nothing decoded yet: nothing to replay from the buffer
		c.srv.uploadBufs.put(c.lc.body)
		rc.buf = nil
	}
	c.lc.body = nil
	l.away(c)
	rc.Conn = c.dc.Conn
	c.dc.Conn = rc // every read of the request goes through it, a min_body_rate meter's too
	l.serveAway(c, cfg)
}

// replayConn is the client connection of a request handed to a goroutine in the middle of its chunked body
// (handOffChunked): reads return the body's canonical re-encoding so far, then the bytes of it left in the read
// buffer, then what the socket has. Its buffer goes back to the pool once read.
type replayConn struct {
	net.Conn
	pool         *uploadPools
	buf          *buffer
	prefix, rest []byte
}

func (r *replayConn) Read(p []byte) (int, error) {
	switch {
	case len(r.prefix) > 0:
		n := copy(p, r.prefix)
		if r.prefix = r.prefix[n:]; len(r.prefix) == 0 {
			r.pool.put(r.buf)
			r.buf = nil
		}
		return n, nil
	case len(r.rest) > 0:
		n := copy(p, r.rest)
		r.rest = r.rest[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

// startCollect begins taking in a request body that has not fully arrived with its head: what is buffered moves to a
// body buffer (the read buffer holds the parsed head, which must stay as it is), and the rest is read straight into
// it as it comes.
func (l *loop) startCollect(c *conn, cfg *Config) {
	c.lc.body = c.srv.uploadBufs.get(c.req.ContentLength)
	buf := c.r.Buffered()
	c.lc.bodyN = copy(c.lc.body.b[:c.req.ContentLength], buf)
	c.r.Truncate(c.lc.bodyN) // its space behind the head takes whatever the client sends after the body (collectBody)
	l.beginBodyIn(c, cfg, c.lc.bodyN)
	l.collectBody(c)
}

// beginBodyIn puts c in the lcBodyIn phase with got bytes of the body in: the body idle timeout and the first
// min_body_rate window count from now. cfg is the configuration the route was matched in (see bodyCollected).
func (l *loop) beginBodyIn(c *conn, cfg *Config, got int) {
	c.lc.bodyWin, c.lc.bodyGot, c.lc.bodyLast = 0, int64(got), l.now
	if cfg.Client.MinBodyRate > 0 {
		c.lc.bodyWin = l.now + int64(cfg.Client.MinBodyRateWindow)
	}
	c.lc.phase, c.lc.cfg = lcBodyIn, cfg
}

// waitBodyIn sets the deadline of a wait for more of the body being collected: the body idle timeout after the last
// bytes, or the end of the min_body_rate window if that comes first.
func (l *loop) waitBodyIn(c *conn, cfg *Config) {
	c.lc.deadline = c.lc.bodyLast + int64(cfg.Client.BodyIdleTimeout)
	if c.lc.bodyWin != 0 && c.lc.bodyWin < c.lc.deadline {
		c.lc.deadline = c.lc.bodyWin
	}
}

// collectBody reads the rest of the request body being collected and serves the request once it is all in. A
// client that stalls past the body idle timeout, or sends slower than min_body_rate, gets a 408 and is closed.
func (l *loop) collectBody(c *conn) {
	cfg := l.srv.cfg.Load()
	want := int(c.req.ContentLength)
	for c.lc.bodyN < want && c.lc.src.ready {
		rest := c.lc.body.b[c.lc.bodyN:want]
		n, err := c.lc.src.Read2(rest, c.r.Spare())
		if err == errWouldBlock {
			break
		}
		if err != nil { // EOF or reset: the client is gone, and nothing was sent upstream
			l.closeConn(c)
			return
		}
		if n > len(rest) { // the start of the next request, behind this one's head in the read buffer
			c.r.Extend(n - len(rest))
			n = len(rest)
		}
		c.lc.bodyN += n
		c.lc.bodyGot += int64(n)
		c.lc.bodyLast = l.now
	}
	if c.lc.bodyN < want {
		l.waitBodyIn(c, cfg)
		return
	}
	l.bodyCollected(c, cfg)
}

// bodyCollected serves a request whose body the loop has taken in.
func (l *loop) bodyCollected(c *conn, cfg *Config) {
	c.lc.phase, c.lc.deadline = lcHead, 0
	if c.lc.cfg != cfg {
		// A reload came while the body did: match the route again in the configuration in force, and let a
		// goroutine serve the request if the new route needs one (it sends the collected body).
		c.lc.pre = nil
		if !l.servable(c, cfg) {
			l.handOff(c, cfg)
			return
		}
	}
	if l.serveNow(c, cfg) {
		l.serveNext(c)
	}
}

// collectIn goes on collecting the request body being taken in.
func (l *loop) collectIn(c *conn) {
	if c.req.Framing == http1.FramingChunked {
		l.collectChunked(c)
	} else {
		l.collectBody(c)
	}
}

// bodyInTimeout handles a deadline while a request body is collected: the end of a min_body_rate window (judged,
// then the next window starts) or the body idle timeout.
func (l *loop) bodyInTimeout(c *conn) {
	cfg := l.srv.cfg.Load()
	if w := c.lc.bodyWin; w != 0 && l.now >= w {
		if c.lc.bodyGot >= cfg.Client.MinBodyRate {
			c.lc.bodyWin, c.lc.bodyGot = l.now+int64(cfg.Client.MinBodyRateWindow), 0
			l.collectIn(c) // sets the next deadline
			return
		}
		c.beginRequest()
		c.bodyTooSlow(c.lc.pre, cfg.Client.MinBodyRate, cfg.Client.MinBodyRateWindow)
	} else {
		c.beginRequest()
		c.writeError(408, "request body not received in time", true)
	}
	c.discardInlineBody()
	c.endRequest(cfg, false)
	l.closeAfter(c)
}

// bodyIdle is the longest a body may stall in either direction.
func bodyIdle(rt *Route, cfg *Config) time.Duration {
	return minPositive(rt.Timeouts.Idle, cfg.Client.BodyIdleTimeout)
}

// relayUp streams the rest of a response body of known length from the upstream to the client as it arrives,
// reading only while the client keeps up (nothing pending), with the route's idle timeout between reads. A chunked
// body goes to relayChunked.
func (l *loop) relayUp(c *conn) {
	if c.resp.Framing == http1.FramingChunked {
		l.relayChunked(c, c.wbuf[:0])
		return
	}
	u, rl := c.lc.up, &c.lc.rl
	for rl.remaining > 0 {
		if len(c.lc.pending) > 0 {
			return // the client's EPOLLOUT goes on
		}
		r := u.uc.R
		if len(r.Buffered()) == 0 {
			if !u.src.ready {
				return
			}
			if err := r.Fill(); err != nil {
				if err != errWouldBlock {
					l.bodyFailed(c, err)
				}
				return
			}
		}
		b := r.Buffered()
		n := int(min(int64(len(b)), rl.remaining))
		if err := l.write(c, b[:n]); err != nil {
			c.lc.up = nil
			l.closeUp(u)
			c.log.Reason = "client closed during the response body: " + err.Error()
			l.finish(c, false)
			return
		}
		r.Discard(n)
		rl.remaining -= int64(n)
		c.log.BytesSent += int64(n)
		c.lc.deadline = l.now + int64(bodyIdle(c.lc.rt, c.lc.cfg))
	}
	c.releaseUp(u.uc, rl.reusable)
	l.finish(c, !rl.closeAfter)
}

// relayChunked relays a chunked response body as it arrives, checked chunk by chunk (http1.ChunkedDecoder):
// re-encoded canonically for an HTTP/1.1 client, as plain data for an HTTP/1.0 one (which reads until the connection
// closes). out is output not sent yet (the response head, the first time): the chunks that arrived with it join it
// in one write. The upstream is read only while the client keeps up; a wait for the upstream times out after the
// route's idle timeout (or its total limit), as the goroutine engine's relay does, so a quiet event stream lives as
// long there as here.
func (l *loop) relayChunked(c *conn, out []byte) {
	u, d := c.lc.up, &c.lc.chunk
	r := u.uc.R
	for {
		if len(c.lc.pending) > 0 {
			if len(out) > 0 {
				_ = l.write(c, out) // queued behind what is pending: it cannot fail
			}
			c.lc.deadline = l.now + int64(c.lc.cfg.Client.BodyIdleTimeout) // the client's EPOLLOUT goes on
			return
		}
		before := d.Payload()
		var n int
		var err error
		out, n, err = d.Decode(out, r.Buffered())
		r.Discard(n)
		c.log.BytesSent += d.Payload() - before
		if len(out) > 0 {
			if werr := l.write(c, out); werr != nil {
				c.lc.up = nil
				l.closeUp(u)
				c.log.Reason = "client closed during the response body: " + werr.Error()
				l.finish(c, false)
				return
			}
		}
		out = c.wbuf[:0]
		if err != nil {
			l.bodyFailed(c, &http1.SourceError{Err: err})
			return
		}
		if d.Done() {
			// Bytes past the body are not a response to anything: such a connection is not reused.
			c.releaseUp(u.uc, c.lc.rl.reusable && len(r.Buffered()) == 0)
			l.finish(c, !c.lc.rl.closeAfter)
			return
		}
		if n > 0 {
			continue // out was full, or the next element is incomplete: the next Decode tells
		}
		if !u.src.ready {
			c.lc.deadline = l.streamDeadline(c)
			return
		}
		if err := r.Fill(); err != nil {
			switch {
			case err == errWouldBlock:
				c.lc.deadline = l.streamDeadline(c)
				return
			case errors.Is(err, http1.ErrBufferFull):
				err = &http1.SourceError{Err: &http1.Error{Status: 400, Msg: "chunked: line too long"}}
			}
			l.bodyFailed(c, err)
			return
		}
	}
}

// streamDeadline is when a wait for more of a streamed response body times out: the route's idle timeout, capped by
// the exchange's total limit; 0 (none) when neither is set.
func (l *loop) streamDeadline(c *conn) int64 {
	var d int64
	if idle := c.lc.rt.Timeouts.Idle; idle > 0 {
		d = l.now + int64(idle)
	}
	if !c.lc.hard.IsZero() {
		if h := c.lc.hard.UnixNano(); d == 0 || h < d {
			d = h
		}
	}
	return d
}

// bodyFailed ends an exchange whose upstream broke or stalled during the response body: the client connection
// closes, so the client sees a short body.
func (l *loop) bodyFailed(c *conn, err error) {
	u := c.lc.up
	c.lc.up = nil
	l.closeUp(u)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	c.log.Reason = classify("read response body", err).reason
	l.srv.log.Warn("upstream failed during response body", "route", c.lc.rt.Name, "upstream", u.uc.Instance().Addr,
		"reason", c.log.Reason, "request_id", string(c.requestID))
	l.finish(c, false)
}

// handOffRelay lets a goroutine stream the rest of a response body (large, compressed or until close), with the
// goroutine engine's code (splice included). The upstream connection is lent with it (read through its fdConn) and
// comes back with the client connection (takeBack).
func (l *loop) handOffRelay(c *conn, rl relay) {
	u := c.lc.up
	c.lc.up = nil
	u.c, u.lent = nil, true
	u.uc.R.SetSource(&u.uc.Conn)
	c.lc.lent, c.lc.lentKeep = u, false
	cfg, rt, hard := c.lc.cfg, c.lc.rt, c.lc.hard
	pending := c.lc.pending
	c.lc.pending = nil
	l.away(c)
	go func() {
		keep := false
		if _, err := c.nc.Write(pending); err != nil {
			_ = rl.uc.Close()
			c.log.Reason = "client write failed: " + err.Error()
		} else {
			keep = c.relayBody(cfg, rt, &rl, hard)
		}
		l.endAttempt(c)
		l.endExchange(c)
		keep = c.endRequest(cfg, keep)
		l.post(loopMsg{kind: msgBack, c: c, keep: keep})
	}()
}

// finish ends an exchange the loop ran and goes on with the connection.
func (l *loop) finish(c *conn, keep bool) {
	l.endAttempt(c)
	l.endExchange(c)
	if l.complete(c, c.lc.cfg, keep) {
		l.serveNext(c)
	}
}

// endAttempt ends the in-flight accounting of the current attempt.
func (l *loop) endAttempt(c *conn) {
	if c.lc.begun {
		c.lc.inst.End()
		c.lc.begun = false
	}
}

// endExchange releases what the exchange held: the bulkhead slot and the small body kept for a replay.
func (l *loop) endExchange(c *conn) {
	if c.lc.limited {
		c.lc.rt.Service.Limiter.Release()
		c.lc.limited = false
	}
	c.discardInlineBody()
}

// timeout handles a connection whose current wait ran past its deadline.
func (l *loop) timeout(c *conn) {
	c.lc.deadline = 0
	switch c.lc.phase {
	case lcIdle, lcFlush:
		l.closeConn(c)
	case lcHead:
		c.readFailed(os.ErrDeadlineExceeded) // a 408 when part of a request came
		l.closeAfter(c)
	case lcSend, lcWait:
		l.upFailed(c, "read response", os.ErrDeadlineExceeded)
	case lcBody:
		l.bodyFailed(c, os.ErrDeadlineExceeded)
	case lcBodyIn:
		l.bodyInTimeout(c)
	}
}
