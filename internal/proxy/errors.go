package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// statusText is the reason phrase for a status (net/http's table: the words are the standard's, not its code path).
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Status " + strconv.Itoa(code)
}

// gatewayError is a failure of the upstream exchange before the response head reached the client, with the status
// it maps to and the reason that is logged.
type gatewayError struct {
	status int
	reason string
	err    error
}

func (e *gatewayError) Error() string { return e.reason }

// after notes in the reason how many retries preceded the final failure.
func (e *gatewayError) after(retries int) *gatewayError {
	if retries > 0 {
		e.reason = fmt.Sprintf("%s (after %d retries)", e.reason, retries)
	}
	return e
}

// clientGoneError is a failed write to the client while relaying an interim response.
type clientGoneError struct{ err error }

func (e *clientGoneError) Error() string { return "client write failed: " + e.err.Error() }
func (e *clientGoneError) Unwrap() error { return e.err }
func (e *gatewayError) Unwrap() error    { return e.err }

// classify is the one place that maps upstream failures to statuses: connect timeout and response timeout -> 504,
// connect failure, reset, malformed response -> 502, no usable instance -> 503.
func classify(stage string, err error) *gatewayError {
	var ge *gatewayError
	if errors.As(err, &ge) {
		return ge
	}
	var de *upstream.DialError
	timeout := isTimeout(err)
	switch {
	case errors.As(err, &de) && timeout:
		return &gatewayError{504, "connect timeout: " + de.Addr, err}
	case errors.As(err, &de):
		return &gatewayError{502, "connect failed: " + err.Error(), err}
	case timeout:
		return &gatewayError{504, stage + ": upstream timed out", err}
	}
	var he *http1.Error
	if errors.As(err, &he) {
		return &gatewayError{502, stage + ": invalid response from upstream: " + he.Msg, err}
	}
	return &gatewayError{502, stage + ": " + err.Error(), err}
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeError answers the request with a short body naming the problem (JSON when the client accepts JSON), or with
// the error page configured for the status (errorpage.go), and reports whether the connection stays open.
func (c *conn) writeError(status int, reason string, closeAfter bool) bool {
	closeAfter = closeAfter || c.req.Close
	c.log.Status = status
	if c.log.Reason == "" {
		c.log.Reason = reason
	}
	if p := c.errorPage(status); p != nil {
		return c.writeErrorPage(status, p, closeAfter)
	}
	var body []byte
	accept, _ := c.req.Header("Accept")
	jsonBody := bytes.Contains(accept, []byte("json"))
	if jsonBody {
		body = append(body, `{"error":`...)
		body = strconv.AppendQuote(body, statusText(status))
		body = append(body, `,"status":`...)
		body = strconv.AppendInt(body, int64(status), 10)
		body = append(body, `,"request_id":`...)
		body = strconv.AppendQuote(body, string(c.requestID))
		body = append(body, "}\n"...)
	} else {
		body = strconv.AppendInt(body, int64(status), 10)
		body = append(body, ' ')
		body = append(body, statusText(status)...)
		body = append(body, " (request id "...)
		body = append(body, c.requestID...)
		body = append(body, ")\n"...)
	}
	b := appendStatusLine(c.wbuf[:0], status)
	if jsonBody {
		b = appendHeader(b, "Content-Type", "application/json")
	} else {
		b = appendHeader(b, "Content-Type", "text/plain; charset=utf-8")
	}
	return c.sendError(b, status, body, closeAfter)
}

// sendError completes an error response whose status line and content headers are in b: the request id, the
// status's own headers (Retry-After, the rate-limit headers), framing and body; it sends it and reports whether the
// connection stays open. writeError and the configured error pages share it.
func (c *conn) sendError(b []byte, status int, body []byte, closeAfter bool) bool {
	b = appendHeader(b, "X-Request-Id", string(c.requestID))
	switch status {
	case 503:
		b = appendHeader(b, "Retry-After", "1")
	case 429:
		b = appendRateHeaders(b, c.rate)
	}
	b = appendContentLength(b, int64(len(body)))
	b = appendConnection(b, c.req.Minor, closeAfter)
	b = append(b, "\r\n"...)
	if !isHead(c.req.Method) {
		b = append(b, body...)
		c.log.BytesSent = int64(len(body))
	}
	c.wbuf = b[:0]
	if err := c.send(b); err != nil {
		return false
	}
	return !closeAfter
}
