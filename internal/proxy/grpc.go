package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"

	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/limit"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// HTTP/2 to upstreams (services with protocol h2c or h2), which is what gRPC needs: trailers, and request and
// response bodies streaming at the same time. Each attempt is one RoundTrip of the service's transport to the picked
// instance's address; the transport keeps one multiplexed connection per instance.

// H2Options tune NewH2Transport. Zero values take the defaults noted.
type H2Options struct {
	// TLS, when non-nil, makes the connections TLS with ALPN h2 (the config is cloned; an empty ServerName means the
	// instance's host); nil: h2c, HTTP/2 with prior knowledge over plain TCP.
	TLS            *tls.Config
	ConnectTimeout time.Duration // dial plus TLS handshake; default 5s
	IdleTimeout    time.Duration // an unused connection is closed after this; default 60s
	// PingAfter sends a PING on a connection silent this long, and closes it when no answer comes within PingAfter
	// again, so a vanished instance is noticed without waiting for TCP. 0: 30s.
	PingAfter time.Duration
}

// NewH2Transport returns the HTTP/2 client of a ProtoH2C or ProtoH2 service. Dial and handshake failures come back
// from RoundTrip as *upstream.DialError, so they count as connect failures (instance skipped, safe retry).
// CloseIdleConnections releases its connections when a reload retires the service.
func NewH2Transport(o H2Options) *http2.Transport {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.PingAfter <= 0 {
		o.PingAfter = 30 * time.Second
	}
	var base *tls.Config
	if o.TLS != nil {
		base = o.TLS.Clone()
		base.NextProtos = []string{"h2"}
	}
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http2.Transport{
		AllowHTTP:          base == nil,
		IdleConnTimeout:    o.IdleTimeout,
		ReadIdleTimeout:    o.PingAfter,
		PingTimeout:        o.PingAfter,
		DisableCompression: true, // bodies pass as they are, like on HTTP/1.1
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
			defer cancel()
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &upstream.DialError{Addr: addr, Err: err}
			}
			if base == nil {
				return nc, nil
			}
			cfg := base
			if cfg.ServerName == "" {
				cfg = base.Clone()
				cfg.ServerName, _, _ = net.SplitHostPort(addr)
			}
			tc := tls.Client(nc, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				_ = nc.Close()
				return nil, &upstream.DialError{Addr: addr, Err: fmt.Errorf("tls handshake: %w", err)}
			}
			if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
				_ = tc.Close()
				return nil, &upstream.DialError{Addr: addr, Err: fmt.Errorf("instance does not speak HTTP/2 (ALPN %q)", p)}
			}
			return tc, nil
		},
	}
}

// forwardH2 runs the attempts of a stream on an HTTP/2 service. body is the request body when it is in memory (then
// the request is replayable), else the stream's body is passed on as it arrives.
func (st *h2stream) forwardH2(rt *Route, inst *upstream.Instance, rs *retrier, body []byte, hard time.Time) {
	c := st.c
	ctx, cancel := context.WithCancel(st.r.Context())
	defer cancel()
	if d, ok := grpcTimeout(st.r.Header.Get("Grpc-Timeout")); ok && st.grpc {
		if dl := c.start.Add(d); hard.IsZero() || dl.Before(hard) {
			hard = dl
		}
	}
	if !hard.IsZero() {
		var cancelDL context.CancelFunc
		ctx, cancelDL = context.WithDeadline(ctx, hard)
		defer cancelDL()
	}
	for {
		c.log.Upstream = inst.Addr
		out, err := st.upstreamRequest(ctx, rt, inst, body)
		if err != nil {
			st.gatewayFail(rt, inst, &gatewayError{status: 502, reason: "build upstream request: " + err.Error(), err: err})
			return
		}
		inst.Begin()
		resp, err := roundTripWithin(rt.Service.H2, out, responseHeaderDeadline(rt, hard))
		if err != nil {
			inst.End()
			if st.h2AttemptFailed(rt, inst, rs, err) {
				inst = rs.next
				continue
			}
			return
		}
		inst.MarkUp()
		status := resp.StatusCode
		c.srv.report(rt, inst, !rt.Service.FailureStatuses.Has(status))
		if status >= 500 && rs.allow(failStatus, status, inst) {
			_ = resp.Body.Close()
			inst.End()
			inst = rs.next
			continue
		}
		st.relayH2(rt, resp)
		inst.End()
		return
	}
}

// h2AttemptFailed reports a failed RoundTrip and says whether to try rs.next; otherwise the stream was answered.
func (st *h2stream) h2AttemptFailed(rt *Route, inst *upstream.Instance, rs *retrier, err error) bool {
	c := st.c
	if st.r.Context().Err() != nil {
		c.log.Status, c.log.Reason = 499, "client cancelled the stream"
		return false
	}
	var de *upstream.DialError
	kind, stage := failReset, "exchange"
	switch {
	case errors.As(err, &de):
		inst.MarkFailed()
		kind, stage = failConnect, "connect"
		c.srv.log.Warn("upstream connect failed", "service", rt.Service.Name, "upstream", inst.Addr, "err", err)
	case isTimeout(err):
		kind = failTimeout
	}
	c.srv.report(rt, inst, false)
	if rs.allow(kind, 0, inst) {
		c.srv.log.Info("retrying on another instance", "route", rt.Name, "upstream", inst.Addr, "err", err,
			"next", rs.next.Addr, "request_id", string(c.requestID))
		return true
	}
	st.gatewayFail(rt, inst, classify(stage, err).after(rs.done))
	return false
}

// errHeaderTimeout is the cause of a RoundTrip cut by the response-header timeout.
var errHeaderTimeout = fmt.Errorf("no response head in time: %w", os.ErrDeadlineExceeded)

// roundTripWithin is rt.RoundTrip(req) with a deadline on the response head only: the body that follows may take as
// long as the request's own context allows (a gRPC stream lives long).
func roundTripWithin(rt http.RoundTripper, req *http.Request, head time.Time) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	t := time.AfterFunc(time.Until(head), func() { cancel(errHeaderTimeout) })
	resp, err := rt.RoundTrip(req.WithContext(ctx))
	if !t.Stop() && err == nil {
		// The timer fired as the head arrived: the body would be cut, so treat it as the timeout it nearly was.
		_ = resp.Body.Close()
		return nil, errHeaderTimeout
	}
	if err != nil {
		cancel(nil)
		if cause := context.Cause(ctx); cause != nil && errors.Is(cause, errHeaderTimeout) {
			return nil, errHeaderTimeout
		}
		if req.Context().Err() != nil {
			return nil, req.Context().Err()
		}
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error { err := c.ReadCloser.Close(); c.cancel(); return err }

// upstreamRequest builds the HTTP/2 request for inst. Its head is the one conn.appendRequestHead builds for HTTP/1.1
// upstreams (rewritten path, forwarded headers, the route's edits), read back into fields: one implementation of the
// header policy for both protocols.
func (st *h2stream) upstreamRequest(ctx context.Context, rt *Route, inst *upstream.Instance, body []byte) (*http.Request, error) {
	c := st.c
	head := c.appendRequestHead(nil, rt, inst)
	var req http1.Request
	if err := http1.ReadRequest(http1.NewReader(bytes.NewReader(head), len(head)+1), &req, http1.Limits{}); err != nil {
		return nil, err
	}
	u, err := url.ParseRequestURI(string(req.URI))
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = "http", inst.Addr
	if rt.Service.Protocol == ProtoH2 {
		u.Scheme = "https"
	}
	out := &http.Request{Method: string(req.Method), URL: u, Host: string(req.Host), Header: make(http.Header, len(req.Headers)+1),
		ContentLength: c.req.ContentLength}
	for i := range req.Headers {
		if h := &req.Headers[i]; h.Kind == http1.HeaderNormal {
			out.Header.Add(string(h.Name), string(h.Value))
		}
	}
	if strings.EqualFold(st.r.Header.Get("Te"), "trailers") {
		out.Header.Set("Te", "trailers") // gRPC servers require it
	}
	switch {
	case body != nil:
		out.Body = io.NopCloser(bytes.NewReader(body))
	case c.req.Framing == http1.FramingNone:
		out.ContentLength = 0
	default:
		// Not closed by the transport: the stream's body belongs to the HTTP/2 server.
		var src io.Reader = st.r.Body
		if rt.MaxBodyBytes > 0 {
			src = &maxBodyReader{r: src, left: rt.MaxBodyBytes}
		}
		out.Body = io.NopCloser(src)
	}
	return out.WithContext(ctx), nil
}

// relayH2 sends an HTTP/2 upstream's response to the stream: headers with the route's edits, the body flushed
// message by message, then the trailers. A failure after the head can only end the stream: a gRPC request gets a
// grpc-status trailer (DEADLINE_EXCEEDED or UNAVAILABLE), others a reset.
func (st *h2stream) relayH2(rt *Route, resp *http.Response) {
	c := st.c
	defer resp.Body.Close()
	h := st.w.Header()
	for name, vals := range resp.Header {
		if rt.Response.drops([]byte(name)) {
			continue
		}
		for _, v := range vals {
			addH2Header(h, name, v)
		}
	}
	addHeaderLines(h, rt.Response.appendOps(c.wbuf[:0], c))
	st.writeHead(resp.StatusCode)
	rc := http.NewResponseController(st.w)
	n, err := io.CopyBuffer(flushWriter{st.w, rc}, onlyReader{resp.Body}, c.bodyBuf())
	c.log.BytesSent = n
	if err != nil {
		c.log.Reason = "response body relay failed: " + err.Error()
		if !st.grpc || st.r.Context().Err() != nil {
			panic(http.ErrAbortHandler)
		}
		code, msg := 14, "upstream failed during the response: "+err.Error()
		if isTimeout(err) {
			code, msg = 4, "deadline exceeded while streaming the response"
		}
		h.Set(http.TrailerPrefix+"Grpc-Status", strconv.Itoa(code))
		h.Set(http.TrailerPrefix+"Grpc-Message", grpcMessage(msg))
		return
	}
	for name, vals := range resp.Trailer {
		h[http.TrailerPrefix+name] = vals
	}
}

// onlyReader hides WriterTo, so io.CopyBuffer uses the buffer and flushWriter sees each read as it comes.
type onlyReader struct{ io.Reader }

// isGRPC reports whether a content type is gRPC's (application/grpc, application/grpc+proto, ...).
func isGRPC(ct string) bool {
	return strings.HasPrefix(ct, "application/grpc") &&
		(len(ct) == len("application/grpc") || ct[len("application/grpc")] == '+' || ct[len("application/grpc")] == ';')
}

// grpcTimeout parses a grpc-timeout header: at most 8 digits and a unit (H, M, S, m, u, n).
func grpcTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second, 'm': time.Millisecond,
		'u': time.Microsecond, 'n': time.Nanosecond}[v[len(v)-1]]
	if unit == 0 {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// grpcCode maps a gateway error status to a gRPC status code (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
func grpcCode(status int, cause error) int {
	switch {
	case status == 429, status == 413, errors.Is(cause, limit.ErrQueueFull), errors.Is(cause, limit.ErrQueueTimeout):
		return 8 // RESOURCE_EXHAUSTED
	case status == 504:
		return 4 // DEADLINE_EXCEEDED
	case status == 502, status == 503:
		return 14 // UNAVAILABLE
	case status == 404:
		return 12 // UNIMPLEMENTED
	case status == 400:
		return 13 // INTERNAL (gRPC's own mapping of HTTP 400)
	}
	return 2 // UNKNOWN
}

// grpcFail answers a gRPC request with a trailers-only response: HTTP 200, grpc-status and grpc-message.
func (st *h2stream) grpcFail(status int, reason string, cause error) {
	h := st.w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(grpcCode(status, cause)))
	h.Set("Grpc-Message", grpcMessage(reason))
	if status == 429 {
		addHeaderLines(h, appendRateHeaders(st.c.wbuf[:0], st.c.rate))
	}
	st.w.WriteHeader(200)
	st.wroteHead = true
	st.c.log.Status = status // the log and metrics keep the gateway's own verdict
}

// grpcMessage percent-encodes a grpc-message value (bytes outside printable ASCII, and '%').
func grpcMessage(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch < ' ' || ch > '~' || ch == '%' {
			fmt.Fprintf(&b, "%%%02X", ch)
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}
