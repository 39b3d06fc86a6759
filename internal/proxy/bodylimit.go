package proxy

import (
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/fjord-gw/fjord/internal/http1"
)

// errBodyTooLarge ends the streaming of a chunked request body that went past its route's MaxBodyBytes.
var errBodyTooLarge = errors.New("request body larger than max_body_bytes")

// bodyTooLarge reports whether the request announces a body larger than rt allows. Only a Content-Length can say
// so before the body is read; chunked bodies are cut while they stream (see chunkLimiter).
func (c *conn) bodyTooLarge(rt *Route) bool {
	return rt.MaxBodyBytes > 0 && c.req.Framing == http1.FramingLength && c.req.ContentLength > rt.MaxBodyBytes
}

// refuseBody answers 413 to a request whose body is over the limit and closes the connection: the unread body
// would otherwise be parsed as the next request.
func (c *conn) refuseBody(rt *Route) bool {
	c.log.Reason = "request body larger than max_body_bytes (" + strconv.FormatInt(rt.MaxBodyBytes, 10) + ")"
	c.writeError(413, c.log.Reason, true)
	c.lingerClose()
	return false
}

// Bounds of lingerClose: enough for a client to see its 413, not enough to let it hold the connection.
const (
	lingerBytes = 4 << 20
	lingerTime  = time.Second
)

// lingerClose half-closes the connection and drains what the client still sends, for a bounded time and size,
// before the caller closes it. Closing a socket with unread input makes the kernel send a reset, which can destroy
// the error response before the client has read it (a client still busy uploading its body does not read yet).
func (c *conn) lingerClose() {
	tc, ok := c.nc.(interface {
		net.Conn
		CloseWrite() error
	})
	if !ok {
		return
	}
	if err := tc.CloseWrite(); err != nil {
		return
	}
	_ = tc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, tc, lingerBytes)
}

// chunkLimiter sits between http1.CopyBody and the upstream while a chunked request body is re-encoded, and fails
// the copy with errBodyTooLarge at the first chunk that would take the body past the limit; that chunk's data never
// goes upstream. CopyBody writes the canonical encoding ("HEX\r\n", data, "\r\n", ..., "0\r\n", trailers, "\r\n"),
// so only the size lines need reading: data is skipped by length and costs nothing per byte.
//
// It is a field of conn and is reset per request (no allocation); owned by the serve goroutine.
type chunkLimiter struct {
	w    io.Writer
	left int64 // payload bytes still allowed
	skip int64 // bytes of chunk data and its CRLF still to pass before the next size line
	size int64 // the size line being read
	last bool  // the last chunk was seen: trailers pass unchecked
}

func (l *chunkLimiter) reset(w io.Writer, limit int64) {
	*l = chunkLimiter{w: w, left: limit}
}

func (l *chunkLimiter) Write(p []byte) (int, error) {
	if l.last {
		return l.w.Write(p)
	}
	for i := 0; i < len(p); {
		if l.skip > 0 {
			n := int(min(l.skip, int64(len(p)-i)))
			i += n
			l.skip -= int64(n)
			continue
		}
		b := p[i]
		i++
		switch {
		case b == '\n':
			if l.size == 0 {
				l.last = true
				return l.w.Write(p)
			}
			if l.size > l.left {
				// Send what came before this chunk's data (its size line included: the upstream sees a body
				// that stops mid-message, never a complete smaller one).
				if _, err := l.w.Write(p[:i]); err != nil {
					return 0, err
				}
				return i, errBodyTooLarge
			}
			l.left -= l.size
			l.skip = l.size + 2
			l.size = 0
		case b == '\r':
		default:
			l.size = l.size<<4 | int64(unhex(b))
		}
	}
	return l.w.Write(p)
}

// unhex is the value of a hex digit of CopyBody's canonical size line.
func unhex(b byte) byte {
	switch {
	case b >= 'a':
		return b - 'a' + 10
	case b >= 'A':
		return b - 'A' + 10
	}
	return b - '0'
}
