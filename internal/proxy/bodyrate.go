package proxy

import (
	"errors"
	"os"
	"time"

	"github.com/fjord-gw/fjord/internal/deadline"
)

// errBodyTooSlow ends a request body that arrived slower than ClientLimits.MinBodyRate over a window.
var errBodyTooSlow = errors.New("request body slower than min_body_rate")

// rateReader reads a request body from the client connection and fails with errBodyTooSlow when fewer than min bytes
// arrived in a window. Windows are consecutive, starting when the body starts streaming. A read never waits past the
// end of its window (so a client that sends nothing at all is cut at the window's end, not at the idle timeout),
// nor past dc's idle and hard limits, which it applies itself in place of dc.Read. Used by the request's own
// goroutine only.
type rateReader struct {
	dc     *deadline.Conn
	min    int64
	window time.Duration
	end    time.Time // end of the current window
	got    int64     // bytes read in the current window
}

func (r *rateReader) reset(dc *deadline.Conn, min int64, window time.Duration) {
	*r = rateReader{dc: dc, min: min, window: window, end: time.Now().Add(window)}
}

func (r *rateReader) Read(p []byte) (int, error) {
	for {
		now := time.Now()
		if !now.Before(r.end) {
			if r.got < r.min {
				return 0, errBodyTooSlow
			}
			r.end, r.got = now.Add(r.window), 0
		}
		limit := r.end
		if r.dc.Idle > 0 && now.Add(r.dc.Idle).Before(limit) {
			limit = now.Add(r.dc.Idle)
		}
		if !r.dc.Hard.IsZero() && r.dc.Hard.Before(limit) {
			limit = r.dc.Hard
		}
		if err := r.dc.Conn.SetReadDeadline(limit); err != nil {
			return 0, err
		}
		n, err := r.dc.Conn.Read(p)
		r.got += int64(n)
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && limit.Equal(r.end) {
			continue // the window ended: judged at the top of the loop
		}
		return n, err
	}
}

// bodyTooSlow answers a request whose body was cut for its rate: a 408, and the connection closes (the rest of the
// body is unread). The upstream exchange was already aborted by the caller.
func (c *conn) bodyTooSlow(rt *Route, min int64, window time.Duration) bool {
	reason := "request body slower than min_body_rate (" + itoa(min) + " bytes per " + window.String() + ")"
	c.srv.log.Warn("request body too slow", "route", rt.Name, "client", c.remote.String(), "reason", reason,
		"request_id", string(c.requestID))
	return c.writeError(408, reason, true)
}
