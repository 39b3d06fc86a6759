package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fjord-gw/fjord/internal/compress"
	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// forward sends an HTTP/2 stream's request to rt's service: the same canary split, bulkhead, balancer pick, retry
// policy and budget, outlier reports and timeouts as conn.forward, then an HTTP/1.1 exchange (attemptH1) or an
// HTTP/2 one (forwardH2, for h2c/h2 services such as gRPC).
func (st *h2stream) forward(cfg *Config, rt *Route) {
	rt = st.c.chooseRoute(rt) // a canary's side, keyed as for HTTP/1.1 (the stream's c.req and client address)
	c, svc := st.c, rt.Service
	c.log.Service = svc.Name
	if ge := takeSlot(st.r.Context(), svc); ge != nil {
		st.gatewayFail(rt, nil, ge)
		return
	}
	if svc.Limiter != nil {
		defer svc.Limiter.Release()
	}
	key := c.hashKey(svc)
	inst, ge := pickInstance(svc, key)
	if ge != nil {
		st.gatewayFail(rt, nil, ge)
		return
	}
	var hard time.Time
	if rt.Timeouts.Total > 0 {
		hard = c.start.Add(rt.Timeouts.Total)
	}
	body, ok := st.readSmallBody(cfg, rt)
	if !ok {
		return
	}
	// The body in memory is what conn.mirror copies for a shadow, as an HTTP/1.1 body still in the read buffer is.
	c.inlineBody = body
	rs := retrier{svc: svc, key: key, left: svc.Retry.Attempts, idempotent: idempotent(c.req.Method),
		replayable: c.req.Framing == http1.FramingNone || body != nil}
	// The request's span reports its retries (trace.go).
	defer func() { c.retries = rs.done }()
	if svc.Protocol != ProtoHTTP1 {
		st.forwardH2(rt, inst, &rs, body, hard)
		return
	}
	fresh := false
	for {
		c.log.Upstream = inst.Addr
		how := st.attemptH1(cfg, rt, inst, fresh, &rs, body, hard)
		switch how {
		case attemptStale:
			fresh = true
		case attemptRetry:
			inst, fresh = rs.next, false
		default:
			return
		}
	}
}

// readSmallBody reads a request body of known length up to maxInlineBody into memory, so that it goes with the head
// and can be sent again on a retry (as HTTP/1.1 does with a body that fits its read buffer). Larger or unannounced
// bodies stream and are never replayed. ok is false when the stream was answered (client gone or too slow).
func (st *h2stream) readSmallBody(cfg *Config, rt *Route) (body []byte, ok bool) {
	c := st.c
	if c.req.Framing != http1.FramingLength || c.req.ContentLength > maxInlineBody {
		return nil, true
	}
	body = make([]byte, c.req.ContentLength)
	rc := http.NewResponseController(st.w)
	_ = rc.SetReadDeadline(time.Now().Add(cfg.Client.BodyIdleTimeout))
	var src io.Reader = st.r.Body
	if cfg.Client.MinBodyRate > 0 {
		src = newH2RateReader(src, rc, &cfg.Client)
	}
	_, err := io.ReadFull(src, body)
	_ = rc.SetReadDeadline(time.Time{})
	if errors.Is(err, errBodyTooSlow) {
		st.bodyTooSlow(rt, &cfg.Client)
		return nil, false
	}
	if err != nil {
		c.log.Status, c.log.Reason = 499, "client failed while sending the request body: "+err.Error()
		return nil, false
	}
	return body, true
}

// attemptH1 runs one attempt over an HTTP/1.1 connection to inst. The client stream's cancellation (a reset, the
// connection closing) closes the upstream connection, which ends whatever the attempt waits for.
func (st *h2stream) attemptH1(cfg *Config, rt *Route, inst *upstream.Instance, fresh bool, rs *retrier, body []byte, hard time.Time) attempt {
	c := st.c
	var uc *upstream.Conn
	var err error
	if fresh {
		uc, err = inst.Dial(st.r.Context(), rt.Timeouts.Connect)
	} else {
		uc, err = inst.Get(st.r.Context(), rt.Timeouts.Connect)
	}
	if err != nil {
		return st.connectFailed(rt, inst, rs, err)
	}
	if !uc.Reused {
		inst.MarkUp()
	}
	inst.Begin()
	defer inst.End()
	stop := context.AfterFunc(st.r.Context(), func() { _ = uc.Close() })
	defer stop()
	inline := rs.replayable
	b := c.appendRequestHead(c.wbuf[:0], rt, inst)
	b = append(b, body...)
	c.wbuf = b[:0]
	if inline {
		err = uc.Set(0, responseHeaderDeadline(rt, hard))
	} else {
		err = uc.Set(rt.Timeouts.Idle, hard)
	}
	if err == nil {
		_, err = uc.Write(b)
	}
	if err != nil {
		_ = uc.Close()
		if uc.Reused && inline {
			return attemptStale
		}
		return st.attemptFailed(rt, inst, rs, failReset, "send request", err)
	}
	if !inline && !st.sendBody(cfg, rt, uc, hard) {
		return attemptDone
	}
	if err := st.readResponseHead(uc); err != nil {
		_ = uc.Close()
		if uc.Reused && inline && len(uc.R.Buffered()) == 0 && !isTimeout(err) {
			return attemptStale
		}
		kind := failReset
		if isTimeout(err) {
			kind = failTimeout
		}
		return st.attemptFailed(rt, inst, rs, kind, "read response", err)
	}
	status := c.resp.Status
	c.srv.report(rt, inst, !rt.Service.FailureStatuses.Has(status))
	if status >= 500 && rs.allow(failStatus, status, inst) {
		_ = uc.Close()
		c.srv.log.Info("retrying on another instance", "route", rt.Name, "upstream", inst.Addr, "status", status,
			"next", rs.next.Addr, "request_id", string(c.requestID))
		return attemptRetry
	}
	st.relayH1(cfg, rt, uc, hard)
	return attemptDone
}

// connectFailed handles a failed Get or Dial: a connect failure marks the instance and may move to another.
func (st *h2stream) connectFailed(rt *Route, inst *upstream.Instance, rs *retrier, err error) attempt {
	var de *upstream.DialError
	if errors.As(err, &de) {
		inst.MarkFailed()
		st.c.srv.report(rt, inst, false)
		st.c.srv.log.Warn("upstream connect failed", "service", rt.Service.Name, "upstream", inst.Addr, "err", err)
		if rs.allow(failConnect, 0, inst) {
			return attemptRetry
		}
	}
	st.gatewayFail(rt, inst, classify("connect", err).after(rs.done))
	return attemptDone
}

// attemptFailed is conn.attemptFailed for a stream.
func (st *h2stream) attemptFailed(rt *Route, inst *upstream.Instance, rs *retrier, k failKind, stage string, err error) attempt {
	c := st.c
	c.srv.report(rt, inst, false)
	if st.r.Context().Err() != nil {
		c.log.Status, c.log.Reason = 499, "client cancelled the stream"
		return attemptDone
	}
	if rs.allow(k, 0, inst) {
		c.srv.log.Info("retrying on another instance", "route", rt.Name, "upstream", inst.Addr, "err", err,
			"next", rs.next.Addr, "request_id", string(c.requestID))
		return attemptRetry
	}
	st.gatewayFail(rt, inst, classify(stage, err).after(rs.done))
	return attemptDone
}

// sendBody streams the request body upstream: a known length as is, an unannounced one chunked. A body over the
// route's max_body_bytes is cut (the upstream sees an unfinished request) and answered 413.
func (st *h2stream) sendBody(cfg *Config, rt *Route, uc *upstream.Conn, hard time.Time) bool {
	c := st.c
	var src io.Reader = st.r.Body
	if cfg.Client.MinBodyRate > 0 {
		rc := http.NewResponseController(st.w)
		src = newH2RateReader(src, rc, &cfg.Client)
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	if rt.MaxBodyBytes > 0 {
		src = &maxBodyReader{r: src, left: rt.MaxBodyBytes}
	}
	in := http1.FramingUntilClose
	if c.req.Framing == http1.FramingLength {
		in = http1.FramingLength
	}
	rd := http1.NewReader(src, bodyBufferSize)
	_, err := http1.CopyBody(uc, rd, in, c.req.ContentLength, c.req.Framing, c.bodyBuf())
	if err == nil {
		return uc.Set(0, responseHeaderDeadline(rt, hard)) == nil
	}
	_ = uc.Close()
	var se *http1.SourceError
	switch {
	case errors.Is(err, errBodyTooLarge):
		st.refuseBody(rt)
	case errors.Is(err, errBodyTooSlow):
		st.bodyTooSlow(rt, &cfg.Client)
	case errors.As(err, &se):
		c.log.Status, c.log.Reason = 499, "client failed while sending the request body: "+err.Error()
	default:
		st.gatewayFail(rt, uc.Instance(), classify("send request body", err))
	}
	return false
}

// maxBodyReader fails with errBodyTooLarge once more than left bytes were read.
type maxBodyReader struct {
	r    io.Reader
	left int64
}

func (m *maxBodyReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.left -= int64(n)
	if m.left < 0 {
		return n, errBodyTooLarge
	}
	return n, err
}

// readResponseHead reads the upstream's response head; interim responses are dropped (100 Continue is the gateway's
// business, and x/net/http2 has no way to relay 103).
func (st *h2stream) readResponseHead(uc *upstream.Conn) error {
	for {
		if err := http1.ReadResponse(uc.R, &st.c.resp, st.r.Method == http.MethodHead, http1.Limits{}); err != nil {
			return err
		}
		if st.c.resp.Status >= 200 {
			return nil
		}
		if st.c.resp.Status == 101 {
			return &http1.Error{Status: 502, Msg: "upstream switched protocols on a request that asked for none"}
		}
		uc.R.Discard(st.c.resp.HeadLen)
	}
}

// relayH1 sends an HTTP/1.1 response to the stream: end-to-end headers and the route's edits, then the body,
// flushed as it arrives. A shadowed route's copy is taken first, while the head and any buffered body are in uc's
// buffer (as relayHead does).
func (st *h2stream) relayH1(cfg *Config, rt *Route, uc *upstream.Conn, hard time.Time) {
	c, resp := st.c, &st.c.resp
	if rt.Shadow != nil {
		c.mirror(rt.Shadow, rt, uc)
	}
	h := st.w.Header()
	enc, vary := c.chooseEncoding(rt) // the HTTP/1.1 relay's policy (compress.go)
	for i := range resp.Headers {
		f := &resp.Headers[i]
		if f.Kind != http1.HeaderNormal || rt.Response.drops(f.Name) {
			continue
		}
		addH2Header(h, string(f.Name), string(f.Value))
	}
	addHeaderLines(h, rt.Response.appendOps(c.wbuf[:0], c))
	if resp.Framing == http1.FramingLength {
		h.Set("Content-Length", itoa(resp.ContentLength))
	}
	h2CompressHeaders(h, enc, vary)
	uc.R.Discard(resp.HeadLen)
	st.writeHead(resp.Status)
	_ = uc.Set(rt.Timeouts.Idle, hard)
	rc := http.NewResponseController(st.w)
	_ = rc.SetWriteDeadline(time.Time{})
	var n int64
	var err error
	if enc != compress.None {
		n, err = st.h2CompressBody(rt, enc, uc.R, resp.Framing, resp.ContentLength)
	} else {
		n, err = http1.CopyBody(flushWriter{st.w, rc}, uc.R, resp.Framing, resp.ContentLength, http1.FramingUntilClose, c.bodyBuf())
	}
	c.log.BytesSent = n
	if err != nil {
		_ = uc.Close()
		c.log.Reason = "response body relay failed: " + err.Error()
		panic(http.ErrAbortHandler) // resets the stream: the client must not take a cut body for a whole one
	}
	if !resp.Close && resp.Framing != http1.FramingUntilClose {
		uc.Instance().Put(uc)
	} else {
		_ = uc.Close()
	}
}

// flushWriter flushes every write to the client, so streamed responses (server-sent events, gRPC messages) are not
// held back in the HTTP/2 server's buffer.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

// gatewayFail answers an upstream failure and logs why, like conn.gatewayFail.
func (st *h2stream) gatewayFail(rt *Route, inst *upstream.Instance, ge *gatewayError) {
	addr := ""
	if inst != nil {
		addr = inst.Addr
	}
	c := st.c
	c.log.Reason = ge.reason
	c.srv.log.Warn("gateway error", "status", ge.status, "reason", ge.reason, "route", rt.Name,
		"upstream", addr, "request_id", string(c.requestID), "proto", "HTTP/2.0")
	st.fail(ge.status, ge.reason, ge)
}

// fail answers the stream with an error status: a gRPC status for gRPC requests (see grpc.go), else a short body
// like conn.writeError's. cause (may be nil) refines the gRPC code.
func (st *h2stream) fail(status int, reason string, cause error) {
	c := st.c
	if c.log.Reason == "" {
		c.log.Reason = reason
	}
	if st.wroteHead {
		panic(http.ErrAbortHandler)
	}
	h := st.w.Header()
	h.Set("X-Request-Id", string(c.requestID))
	if st.grpc {
		st.grpcFail(status, reason, cause)
		return
	}
	var body []byte
	jsonBody := strings.Contains(st.r.Header.Get("Accept"), "json")
	if jsonBody {
		body = append(body, `{"error":`...)
		body = strconv.AppendQuote(body, statusText(status))
		body = append(body, `,"status":`...)
		body = strconv.AppendInt(body, int64(status), 10)
		body = append(body, `,"request_id":`...)
		body = strconv.AppendQuote(body, string(c.requestID))
		body = append(body, "}\n"...)
		h.Set("Content-Type", "application/json")
	} else {
		body = append(body, itoa(int64(status))+" "+statusText(status)+" (request id "+string(c.requestID)+")\n"...)
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	switch status {
	case 503:
		h.Set("Retry-After", "1")
	case 429:
		addHeaderLines(h, appendRateHeaders(c.wbuf[:0], c.rate))
	}
	h.Set("Content-Length", itoa(int64(len(body))))
	st.writeHead(status)
	if st.r.Method != http.MethodHead {
		n, _ := st.w.Write(body)
		c.log.BytesSent = int64(n)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
