package proxy

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/fjord-gw/fjord/internal/compress"
	"github.com/fjord-gw/fjord/internal/http1"
)

// Compression and min_body_rate for HTTP/2 clients: the same policy (Route.Compress, chooseEncoding) and encoders
// as the HTTP/1.1 relay, and the same rate rule as rateReader, adapted to a stream whose bytes come through
// x/net/http2's request body rather than from the socket.

// h2CompressHeaders edits the response headers for enc (None: only Vary when the response varies).
func h2CompressHeaders(h http.Header, enc compress.Encoding, vary bool) {
	if enc != compress.None {
		h.Set("Content-Encoding", enc.String())
		h.Del("Content-Length")
		if et := h.Get("Etag"); et != "" && (len(et) < 2 || et[:2] != "W/") {
			h.Set("Etag", "W/"+et) // the coded bytes are not the upstream's: a strong validator would lie
		}
	}
	if vary {
		h.Add("Vary", "Accept-Encoding")
	}
}

// h2CompressBody copies the upstream body to the stream through an encoder, flushing after every upstream read so
// that streamed responses are not held back. It returns the bytes written to the stream.
func (st *h2stream) h2CompressBody(rt *Route, enc compress.Encoding, uc *http1.Reader, framing http1.Framing, length int64) (int64, error) {
	cw := &countWriter{w: st.w}
	e := rt.Compress.Get(enc, cw)
	defer rt.Compress.Put(e)
	fw := h2EncodeWriter{enc: e, rc: http.NewResponseController(st.w)}
	_, err := http1.CopyBody(fw, uc, framing, length, http1.FramingUntilClose, st.c.bodyBuf())
	if err == nil {
		err = e.Close()
	}
	return cw.n, err
}

// countWriter counts what reaches w.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// h2EncodeWriter writes into the encoder, then flushes it and the stream.
type h2EncodeWriter struct {
	enc compress.Encoder
	rc  *http.ResponseController
}

func (f h2EncodeWriter) Write(p []byte) (int, error) {
	if _, err := f.enc.Write(p); err != nil {
		return 0, err
	}
	if err := f.enc.Flush(); err != nil {
		return 0, err
	}
	return len(p), f.rc.Flush()
}

// h2RateReader enforces ClientLimits.MinBodyRate on a stream's request body: at least min bytes in each window,
// windows consecutive from the body's start. x/net/http2 ends a body for good when its read deadline passes, so
// the deadline is armed only where the verdict is certain: at the current window's end while it still lacks bytes,
// else at the next window's end (which starts empty). idle, when positive, caps each wait as BodyIdleTimeout does.
// Used by the stream's goroutine only.
type h2RateReader struct {
	body         io.Reader
	rc           *http.ResponseController
	min          int64
	window       time.Duration
	idle         time.Duration
	end          time.Time
	got          int64
	rateDeadline time.Time // the deadline armed for the rate, to tell it from the idle one
}

func newH2RateReader(body io.Reader, rc *http.ResponseController, lim *ClientLimits) *h2RateReader {
	return &h2RateReader{body: body, rc: rc, min: lim.MinBodyRate, window: lim.MinBodyRateWindow,
		idle: lim.BodyIdleTimeout, end: time.Now().Add(lim.MinBodyRateWindow)}
}

func (r *h2RateReader) Read(p []byte) (int, error) {
	now := time.Now()
	for !now.Before(r.end) {
		if r.got < r.min {
			return 0, errBodyTooSlow
		}
		r.end, r.got = r.end.Add(r.window), 0
	}
	limit := r.end
	if r.got >= r.min {
		limit = r.end.Add(r.window)
	}
	r.rateDeadline = limit
	if r.idle > 0 && now.Add(r.idle).Before(limit) {
		limit = now.Add(r.idle)
	}
	if err := r.rc.SetReadDeadline(limit); err != nil {
		return 0, err
	}
	n, err := r.body.Read(p)
	r.got += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && limit.Equal(r.rateDeadline) {
		return n, errBodyTooSlow
	}
	return n, err
}

// bodyTooSlow answers a stream whose body was cut for its rate with 408, as conn.bodyTooSlow does.
func (st *h2stream) bodyTooSlow(rt *Route, lim *ClientLimits) {
	reason := "request body slower than min_body_rate (" + itoa(lim.MinBodyRate) + " bytes per " +
		lim.MinBodyRateWindow.String() + ")"
	st.c.srv.log.Warn("request body too slow", "route", rt.Name, "client", st.c.remote.String(), "reason", reason,
		"request_id", string(st.c.requestID), "proto", "HTTP/2.0")
	st.fail(408, reason, nil)
}
