package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/limit"
	"github.com/fjord-gw/fjord/internal/upstream"
)

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// failKind says how an attempt failed before any byte of a response reached the client.
type failKind uint8

const (
	failConnect failKind = iota + 1 // the connection could not be opened: the request never left
	failReset                       // the connection broke before a response head arrived
	failTimeout                     // no response head within the attempt's timeout
	failStatus                      // the upstream answered with a status listed for retries
)

// attempt is how one try over an upstream connection ended.
type attempt uint8

const (
	attemptDone  attempt = iota // the exchange is over (answered, or failed for good and answered with an error)
	attemptStale                // a reused idle connection was dead: try again on a fresh one, same instance
	attemptRetry                // retry on retrier.next
)

// retrier decides, after a failed attempt, whether the request is tried again and where.
type retrier struct {
	svc        *Service
	key        uint64
	left       int
	replayable bool // the whole request is still in memory (no body, or a body that fit the read buffer)
	idempotent bool
	next       *upstream.Instance
	done       int // retries made
}

// allow reports whether a failure of kind k (status for failStatus) on inst is retried, and picks the instance to
// try next. A connect failure never reached the upstream, so any request may be retried; other failures only for
// idempotent requests that can be replayed. The service's retry budget has the last word.
func (r *retrier) allow(k failKind, status int, inst *upstream.Instance) bool {
	p := &r.svc.Retry
	if r.left <= 0 {
		return false
	}
	switch k {
	case failConnect:
		if !p.OnConnect {
			return false
		}
	case failReset:
		if !p.OnReset || !r.replayable || !r.idempotent {
			return false
		}
	case failTimeout:
		if !p.OnTimeout || !r.replayable || !r.idempotent {
			return false
		}
	case failStatus:
		if !p.Statuses.Has(status) || !r.replayable || !r.idempotent {
			return false
		}
	}
	// The budget first: a pick advances the balancer, which a retry that is not made must not do. (A budget token
	// taken when no other instance turns out to be usable is the smaller waste.)
	if p.Budget != nil && !p.Budget.TryRetry() {
		return false
	}
	next := r.svc.Pool.PickExcept(r.key, inst)
	if next == nil {
		return false
	}
	r.left--
	r.done++
	r.next = next
	if st := r.svc.Stats; st != nil {
		st.Retries.Add(1)
	}
	return true
}

// idempotent reports whether a method may be sent twice (RFC 9110, section 9.2.2).
func idempotent(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// forward proxies the current request to rt's service and reports whether the client connection stays open.
func (c *conn) forward(cfg *Config, rt *Route) bool {
	rt = c.chooseRoute(rt) // a canary's side, for both engines
	if c.lc.inLoop {
		return c.lc.lp.forward(c, cfg, rt)
	}
	svc := rt.Service
	c.log.Service = svc.Name
	if ge := takeSlot(context.Background(), svc); ge != nil {
		return c.gatewayFail(rt, nil, ge)
	}
	if svc.Limiter != nil {
		defer svc.Limiter.Release()
	}
	if svc.Protocol != ProtoHTTP1 {
		return c.gatewayFail(rt, nil, &gatewayError{status: 502,
			reason: "service " + svc.Name + " speaks HTTP/2 only; HTTP/1.1 clients cannot reach it"})
	}
	key := c.hashKey(svc)
	inst, ge := pickInstance(svc, key)
	if ge != nil {
		return c.gatewayFail(rt, nil, ge)
	}
	var hard time.Time
	if rt.Timeouts.Total > 0 {
		hard = c.start.Add(rt.Timeouts.Total)
	}
	c.inlineBody = c.bufferedBody(maxInlineBody)
	defer c.discardInlineBody()
	rs := retrier{svc: svc, key: key, left: svc.Retry.Attempts, idempotent: idempotent(c.req.Method),
		replayable: c.req.Framing == http1.FramingNone || c.inlineBody != nil}
	// The request's span reports its retries (trace.go).
	defer func() { c.retries = rs.done }()
	fresh := false // dial instead of reusing an idle connection (after a stale one failed)
	for {
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
				c.report(rt, inst, false)
				c.srv.log.Warn("upstream connect failed", "service", svc.Name, "upstream", inst.Addr, "err", err)
				if rs.allow(failConnect, 0, inst) {
					inst, fresh = rs.next, false
					continue
				}
			}
			return c.gatewayFail(rt, inst, classify("connect", err).after(rs.done))
		}
		if !uc.Reused {
			inst.MarkUp()
			svc.observeConnect(uc)
		}
		inst.Begin()
		c.up.Store(uc) // lets a forced Shutdown unblock this exchange (see conn.up)
		how, keep := c.exchange(cfg, rt, uc, hard, &rs)
		c.up.Store(nil)
		inst.End()
		switch how {
		case attemptStale:
			fresh = true
		case attemptRetry:
			inst, fresh = rs.next, false
		default:
			return keep
		}
	}
}

// takeSlot runs the policy steps every forwarded request takes before its first attempt, whatever its protocol: it
// counts the request for the retry budget and takes a slot of the service's bulkhead (the caller releases it when
// the limiter is non-nil and takeSlot returned nil). It blocks in the bulkhead's queue, up to its queue timeout or
// until ctx ends.
func takeSlot(ctx context.Context, svc *Service) *gatewayError {
	if b := svc.Retry.Budget; b != nil {
		b.Request()
	}
	if svc.Limiter == nil {
		return nil
	}
	if err := svc.Limiter.Acquire(ctx, svc.QueueTimeout); err != nil {
		if svc.Stats != nil {
			svc.Stats.Rejections.Add(1)
		}
		return limitError(svc, err)
	}
	return nil
}

// pickInstance is the balancer's pick for a request's first attempt, or the 503 that explains why none is usable.
func pickInstance(svc *Service, key uint64) (*upstream.Instance, *gatewayError) {
	if inst := svc.Pool.Pick(key); inst != nil {
		return inst, nil
	}
	if svc.Stats != nil {
		svc.Stats.NoInstance.Add(1)
	}
	return nil, &gatewayError{status: 503,
		reason: "no usable instance in service " + svc.Name + " (" + svc.Pool.Why() + ")"}
}

// observeConnect records how long a new upstream connection took to open.
func (s *Service) observeConnect(uc *upstream.Conn) {
	if s.Stats != nil {
		s.Stats.Connect.Observe(uc.Dialed)
	}
}

// observeHeader records the time from a request sent (at sent) to its response head (at now).
func (s *Service) observeHeader(sent, now time.Time) {
	if s.Stats != nil {
		s.Stats.Header.Observe(now.Sub(sent))
	}
}

// bufferedBody returns the request body when it is entirely in the read buffer and at most limit bytes, so that it
// travels in the same write as the head and can be sent again on a retry, or when an event loop collected it; else
// nil. The goroutine engine's limit is maxInlineBody; an event loop's is maxLoopBody.
func (c *conn) bufferedBody(limit int64) []byte {
	if c.lc.body != nil {
		return c.lc.body.b[:c.lc.bodyN] // collected by an event loop, which serves the request or handed it on
	}
	if c.req.Framing != http1.FramingLength {
		return nil
	}
	n := c.req.ContentLength
	if body := c.r.Buffered(); int64(len(body)) >= n && n <= limit {
		return body[:n]
	}
	return nil
}

// maxInlineBody is the largest request body sent with its head in one write and kept for a replay: bodies up to it
// are retried like bodiless requests, larger ones stream and are never retried after they started.
const maxInlineBody = 8 << 10

func (c *conn) discardInlineBody() {
	if c.lc.body != nil { // collected by an event loop outside the read buffer
		c.srv.uploadBufs.put(c.lc.body)
		c.lc.body, c.inlineBody = nil, nil
		return
	}
	if c.inlineBody != nil {
		c.r.Discard(len(c.inlineBody))
		c.inlineBody = nil
	}
}

// report feeds an attempt's outcome to the outlier detector and logs an ejection.
func (c *conn) report(rt *Route, inst *upstream.Instance, ok bool) { c.srv.report(rt, inst, ok) }

// report is conn.report for any protocol's request path.
func (s *Server) report(rt *Route, inst *upstream.Instance, ok bool) {
	if rt.Service.Pool.Report(inst, ok) {
		s.log.Warn("upstream ejected as an outlier", "service", rt.Service.Name, "upstream", inst.Addr)
	}
}

// limitError explains a bulkhead refusal.
func limitError(svc *Service, err error) *gatewayError {
	l := svc.Limiter
	reason := fmt.Sprintf("service %s is at max_concurrent (%d in flight) and its queue is full (%d waiting)",
		svc.Name, l.Max(), l.Waiting())
	if errors.Is(err, limit.ErrQueueTimeout) {
		reason = fmt.Sprintf("service %s is at max_concurrent (%d in flight): no slot within queue_timeout %s",
			svc.Name, l.Max(), svc.QueueTimeout)
	}
	return &gatewayError{status: 503, reason: reason, err: err}
}

// exchange runs one attempt over uc and says how it ended; keep is whether the client connection stays open
// (meaningful with attemptDone).
func (c *conn) exchange(cfg *Config, rt *Route, uc *upstream.Conn, hard time.Time, rs *retrier) (attempt, bool) {
	inst := uc.Instance()
	b := c.appendRequestHead(c.wbuf[:0], rt, inst)
	inline := rs.replayable
	b = append(b, c.inlineBody...)
	c.wbuf = b[:0]
	// One deadline per exchange in the common case: when the whole request is in b, the response-header deadline
	// also bounds the write. A streamed body gets per-operation idle deadlines instead, then its own head deadline.
	var err error
	if inline {
		err = uc.Set(0, c.responseHeaderDeadline(rt, hard))
	} else {
		err = uc.Set(rt.Timeouts.Idle, hard)
	}
	if err != nil {
		_ = uc.Close()
		return attemptDone, c.gatewayFail(rt, inst, classify("send request", err))
	}
	sent := time.Now()
	if _, err := uc.Write(b); err != nil {
		_ = uc.Close()
		if uc.Reused && inline {
			return attemptStale, false
		}
		return c.attemptFailed(rt, inst, rs, failReset, "send request", err)
	}
	if !inline {
		if ok, keep := c.sendBody(cfg, rt, uc, hard); !ok {
			return attemptDone, keep
		}
		if err := uc.Set(0, c.responseHeaderDeadline(rt, hard)); err != nil {
			_ = uc.Close()
			return attemptDone, c.gatewayFail(rt, inst, classify("read response", err))
		}
		sent = time.Now() // the head timer starts once the body is out
	}
	if err := c.readResponseHead(uc); err != nil {
		_ = uc.Close()
		var gone *clientGoneError
		if errors.As(err, &gone) {
			c.log.Reason = gone.Error()
			return attemptDone, false
		}
		if uc.Reused && inline && len(uc.R.Buffered()) == 0 && !isTimeout(err) {
			return attemptStale, false
		}
		kind := failReset
		if isTimeout(err) {
			kind = failTimeout
		}
		return c.attemptFailed(rt, inst, rs, kind, "read response", err)
	}
	rt.Service.observeHeader(sent, time.Now())
	status := c.resp.Status
	c.report(rt, inst, !rt.Service.FailureStatuses.Has(status))
	if status >= 500 && rs.allow(failStatus, status, inst) {
		_ = uc.Close()
		c.srv.log.Info("retrying on another instance", "route", rt.Name, "upstream", inst.Addr, "status", status,
			"next", rs.next.Addr, "request_id", string(c.requestID))
		return attemptRetry, false
	}
	if status == 101 {
		return attemptDone, c.tunnel(rt, uc, hard)
	}
	return attemptDone, c.relayResponse(cfg, rt, uc, hard)
}

// attemptFailed handles an attempt that broke before its response head: it is reported to the outlier detector,
// then retried elsewhere when the policy allows, else answered with the mapped error.
func (c *conn) attemptFailed(rt *Route, inst *upstream.Instance, rs *retrier, k failKind, stage string, err error) (attempt, bool) {
	c.report(rt, inst, false)
	if rs.allow(k, 0, inst) {
		c.srv.log.Info("retrying on another instance", "route", rt.Name, "upstream", inst.Addr, "err", err,
			"next", rs.next.Addr, "request_id", string(c.requestID))
		return attemptRetry, false
	}
	return attemptDone, c.gatewayFail(rt, inst, classify(stage, err).after(rs.done))
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
	var err error
	slow := cfg.Client.MinBodyRate > 0 // splice cannot count the rate: such bodies take the copy path
	if dst, src, ok := spliceable(uc.Conn.Conn, c.nc); ok && !slow && c.req.Framing == http1.FramingLength && c.req.ContentLength >= spliceMin {
		err = c.spliceRequestBody(dst, src, minPositive(rt.Timeouts.Idle, cfg.Client.BodyIdleTimeout), hard)
	} else {
		var dst io.Writer = uc
		if rt.MaxBodyBytes > 0 && c.req.Framing == http1.FramingChunked {
			c.climit.reset(uc, rt.MaxBodyBytes)
			dst = &c.climit
		}
		_ = c.dc.Set(cfg.Client.BodyIdleTimeout, hard)
		if slow {
			c.brate.reset(&c.dc, cfg.Client.MinBodyRate, cfg.Client.MinBodyRateWindow)
			c.r.SetSource(&c.brate)
		}
		_, err = http1.CopyBody(dst, c.r, c.req.Framing, c.req.ContentLength, c.req.Framing, c.bodyBuf())
		if slow {
			c.r.SetSource(&c.dc)
		}
		_ = c.dc.Clear()
	}
	if err == nil {
		return true, false
	}
	_ = uc.Close()
	if errors.Is(err, errBodyTooLarge) {
		return false, c.refuseBody(rt)
	}
	if errors.Is(err, errBodyTooSlow) {
		return false, c.bodyTooSlow(rt, cfg.Client.MinBodyRate, cfg.Client.MinBodyRateWindow)
	}
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

// spliceRequestBody sends a large request body of known length: the bytes already read with the head first, the
// rest socket to socket. A failure is reported as the client's (a SourceError) unless the upstream side timed out.
func (c *conn) spliceRequestBody(dst, src spliceConn, idle time.Duration, hard time.Time) error {
	n := c.req.ContentLength
	if buf := c.r.Buffered(); len(buf) > 0 {
		k := min(int64(len(buf)), n)
		if _, err := dst.Write(buf[:k]); err != nil {
			return &http1.DestError{Err: err}
		}
		c.r.Discard(int(k))
		n -= k
	}
	_, err := splice(dst, src, n, idle, hard)
	_ = c.nc.SetReadDeadline(time.Time{})
	if err != nil {
		return &http1.SourceError{Err: err}
	}
	return nil
}

// responseHeaderDeadline is when the response head must have arrived, for a request sent now: the retry policy's
// per-try timeout, else the route's response_header timeout, never past the total deadline.
func (c *conn) responseHeaderDeadline(rt *Route, hard time.Time) time.Time {
	return responseHeaderDeadline(rt, hard)
}

// responseHeaderDeadline is conn.responseHeaderDeadline for any protocol's request path.
func responseHeaderDeadline(rt *Route, hard time.Time) time.Time {
	return headerDeadlineFrom(rt, hard, time.Now())
}

// headerDeadlineFrom is responseHeaderDeadline for a request sent at now.
func headerDeadlineFrom(rt *Route, hard, now time.Time) time.Time {
	rh := rt.Service.Retry.PerTryTimeout
	if rh <= 0 {
		rh = rt.Timeouts.ResponseHeader
	}
	if rh <= 0 {
		rh = 60 * time.Second
	}
	d := now.Add(rh)
	if !hard.IsZero() && hard.Before(d) {
		d = hard
	}
	return d
}

// readResponseHead reads the upstream's response head (its deadline is already set), passing 1xx interim
// responses on to the client.
func (c *conn) readResponseHead(uc *upstream.Conn) error {
	headReq := isHead(c.req.Method)
	for {
		if err := http1.ReadResponse(uc.R, &c.resp, headReq, http1.Limits{}); err != nil {
			return err
		}
		if c.resp.Status >= 200 || c.resp.Status == 101 {
			return nil
		}
		// Interim response. 100 Continue was already answered by the gateway itself; others (103 Early Hints) go on
		// to HTTP/1.1 clients.
		if c.resp.Status != 100 && c.req.Minor == 1 {
			if err := c.send(uc.R.Buffered()[:c.resp.HeadLen]); err != nil {
				return &clientGoneError{err}
			}
		}
		uc.R.Discard(c.resp.HeadLen)
	}
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
